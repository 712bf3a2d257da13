/**
 * The cluster benchmark (entry: bench/cluster/run.sh, `npm run bench:cluster`): a 3-server
 * Herald cluster against a 3-member etcd 3.4 cluster in the same invocation, one cluster running
 * at a time, on 127.0.0.1 with their own ports and temp data dirs (fsync on for both).
 *
 * For each system: start the three members pinned to the server cores, wait until all agree on
 * a leader, then
 * 1. sequential commit latency: one writer, one kept-alive connection, PUT to the leader, each
 *    write timed from send to answer (after unrecorded warm-up writes);
 * 2. throughput: bench/kv/load-runner.ts (autocannon, 64 connections, a different key per
 *    request) against the leader, pinned to the client core, after a warm-up; median of reps;
 * 3. (Herald only, G6) DNS propagation: two client agents join; a TTL check on client A is
 *    flipped (critical, passing, ...) over HTTP while client B's DNS (and A's) is polled; each flip
 *    is timed from its request being sent to B's first answer reflecting it (dns-propagation.ts).
 *    The clients are stopped afterwards;
 * 4. leader failover: SIGKILL the leader, then write through one survivor (alternating), a new
 *    overlapping attempt every 25 ms, until a write is acknowledged; the time from the kill to
 *    that answer is the trial's figure. The
 *    killed member is restarted from its data dir and must read the trial's write locally
 *    (caught up) and every member must agree on a leader before the next trial.
 * Writes JSON and markdown to bench/out/ and prints the markdown (the RESULTS.md section).
 *
 * Every child goes through the ProcessReaper (stopped on every exit path); every wait is bounded.
 *
 * Flags (environment variable in brackets):
 *   --trials N [BENCH_TRIALS=30]          failover trials per system
 *   --writes N [BENCH_WRITES=2000]        sequential writes per system (plus --seq-warmup)
 *   --seq-warmup N [BENCH_SEQ_WARMUP=100]
 *   --duration S [BENCH_DURATION=10]      seconds per throughput run
 *   --reps N [BENCH_REPS=3]               throughput runs per system (the median is reported)
 *   --warmup S [BENCH_WARMUP=2]           throughput warm-up per system
 *   --connections N [BENCH_CONNECTIONS=64]
 *   --flips N [BENCH_FLIPS=100]           health flips timed for G6 (Herald; 0 skips the phase)
 *   --dns-poll-ms N [BENCH_DNS_POLL_MS=2] how often each client agent's DNS is asked during G6
 *   --value-bytes N [BENCH_VALUE_BYTES=100]
 *   --systems LIST [BENCH_SYSTEMS=herald,etcd]
 *   --server-cpus LIST [BENCH_SERVER_CPUS=0]  taskset list for every member of both clusters (and the G6 client agents)
 *   --client-cpu N [BENCH_CLIENT_CPU=1]   the load runner (run.sh pins this process there too)
 *   --quiet-wait S [BENCH_QUIET_WAIT=30]  wait up to S s for both cores under 15 % busy per phase
 *   --work-dir DIR [BENCH_WORK_DIR=os.tmpdir()]  where the data dirs go (its filesystem is reported)
 *   --out DIR [BENCH_OUT=bench/out]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../src/version.ts';
import { busyBetween } from '../dns/cpu-busy.ts';
import { ProcessReaper } from '../dns/process-reaper.ts';
import { AUTOCANNON_VERSION } from '../http/autocannon-run.ts';
import { etcdVersion } from '../kv/etcd.ts';
import type { LoadSpec } from '../kv/load-runner.ts';
import { clockTicks, runLoad } from '../kv/orchestrate.ts';
import { coreIds, withCoreBusy } from './core-busy.ts';
import { dnsPropagation } from './dns-propagation.ts';
import { killMember, pollUntil, restartMember, waitForLeader, type Cluster, type Member } from './cluster.ts';
import { startEtcdCluster } from './etcd-cluster.ts';
import { startHeraldCluster } from './herald-cluster.ts';
import { call, singleSocketAgent } from './http-call.ts';
import {
  judgeTargets,
  renderMarkdown,
  throughputSummary,
  type ClusterBenchReport,
  type FailoverTrial,
  type SystemKind,
  type SystemResult,
  type ThroughputRun,
} from './report.ts';
import { summarizeMs } from './stats.ts';
import { hostFacts, runAsMain, stopBench, writeBenchReport } from '../bench-main.ts';
import { benchFlags } from '../bench-flags.ts';
import { sleep, waitQuiet } from '../quiet-cores.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ClusterBenchOptions {
  trials: number;
  writes: number;
  seqWarmup: number;
  durationSec: number;
  reps: number;
  warmupSec: number;
  connections: number;
  valueBytes: number;
  flips: number;
  dnsPollMs: number;
  systems: SystemKind[];
  serverCpus: string;
  clientCpu: number;
  quietWaitSec: number;
  workDir: string;
  out: string;
}

/** Flags override environment variables, which override the defaults in the file comment. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ClusterBenchOptions {
  const flags = benchFlags(argv, {
    trials: 'BENCH_TRIALS', writes: 'BENCH_WRITES', 'seq-warmup': 'BENCH_SEQ_WARMUP', duration: 'BENCH_DURATION', reps: 'BENCH_REPS',
    warmup: 'BENCH_WARMUP', connections: 'BENCH_CONNECTIONS', 'value-bytes': 'BENCH_VALUE_BYTES', flips: 'BENCH_FLIPS', 'dns-poll-ms': 'BENCH_DNS_POLL_MS', systems: 'BENCH_SYSTEMS',
    'server-cpus': 'BENCH_SERVER_CPUS', 'client-cpu': 'BENCH_CLIENT_CPU', 'quiet-wait': 'BENCH_QUIET_WAIT', 'work-dir': 'BENCH_WORK_DIR', out: 'BENCH_OUT',
  }, env);
  const { num } = flags;
  // Here an empty value means "the default" for strings too.
  const raw = (flag: string): string | undefined => flags.raw(flag) || undefined;
  const systems = flags.list('systems', ['herald', 'etcd'], ['herald', 'etcd'] as const);
  const serverCpus = raw('server-cpus') ?? '0';
  if (!/^\d+([-,]\d+)*$/.test(serverCpus)) throw new Error(`--server-cpus must be a taskset CPU list such as 0 or 0,1; got ${serverCpus}`);
  return {
    trials: num('trials', 30, 0),
    writes: num('writes', 2000, 0),
    seqWarmup: num('seq-warmup', 100, 0),
    durationSec: num('duration', 10, 0),
    reps: num('reps', 3, 1),
    warmupSec: num('warmup', 2, 0),
    connections: num('connections', 64, 1),
    valueBytes: num('value-bytes', 100, 1),
    flips: num('flips', 100, 0),
    dnsPollMs: num('dns-poll-ms', 2, 1),
    systems: systems as SystemKind[],
    serverCpus,
    clientCpu: num('client-cpu', 1, 0),
    quietWaitSec: num('quiet-wait', 30, 0),
    workDir: resolve(raw('work-dir') ?? tmpdir()),
    out: resolve(REPO_ROOT, raw('out') ?? 'bench/out'),
  };
}

const log = (msg: string) => process.stderr.write(`bench:cluster: ${msg}\n`);

/** How long one failover trial may take before it counts as failed. */
const FAILOVER_DEADLINE_MS = 30_000;
/** Per-attempt bound on a write during failover (attempts overlap, so this does not quantise the figure). */
const FAILOVER_ATTEMPT_MS = 10_000;
/** A new failover write attempt starts this often: the resolution of the failover figure. */
const FAILOVER_STAGGER_MS = 25;

async function sequential(c: Cluster, o: ClusterBenchOptions, value: string): Promise<NonNullable<SystemResult['sequential']>> {
  const leader = await waitForLeader(c);
  const agent = singleSocketAgent();
  const samples: number[] = [];
  let failures = 0;
  const [, coreBusy] = await withCoreBusy(async () => {
    for (let i = 0; i < o.seqWarmup + o.writes; i++) {
      const t0 = performance.now();
      const r = await putVia(c, leader, `bench/seq/${i}`, value, 5000, agent);
      const dt = performance.now() - t0;
      if (!r) failures++;
      else if (i >= o.seqWarmup) samples.push(dt);
    }
  });
  agent.destroy();
  const summary = summarizeMs(samples);
  log(`${c.kind} sequential: ${samples.length} writes, p50 ${summary.p50.toFixed(2)} ms, p99 ${summary.p99.toFixed(2)} ms, ${failures} failed`);
  return { summary, failures, coreBusy };
}

/** One write through `m` on the given keep-alive agent (sequential phase); true when acknowledged. */
async function putVia(c: Cluster, m: Member, key: string, value: string, timeoutMs: number, agent: ReturnType<typeof singleSocketAgent>): Promise<boolean> {
  if (c.kind === 'herald') {
    const r = await call(m.origin, 'PUT', '/v1/kv/' + key, value, timeoutMs, agent);
    return r.status === 200 && r.text.trim() === 'true';
  }
  const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') });
  const r = await call(m.origin, 'POST', `${c.gateway}/kv/put`, body, timeoutMs, agent);
  return r.status === 200 && !r.text.includes('"error"');
}

async function throughput(reaper: ProcessReaper, c: Cluster, o: ClusterBenchOptions, valueBase64: string, hz: number): Promise<NonNullable<SystemResult['throughput']>> {
  const leader = await waitForLeader(c);
  const spec = (durationSec: number, rep: number): LoadSpec => ({
    workload: c.loadWorkload,
    origin: leader.origin,
    connections: o.connections,
    pipelining: 1,
    durationSec,
    // A fresh prefix per run: every write in a run creates a key.
    key: `bench/tput/${rep}/`,
    valueBase64,
    keySpace: 1_000_000,
    etcdGateway: c.gateway || undefined,
  });
  if (o.warmupSec > 0) {
    log(`${c.kind} throughput warm-up ${o.warmupSec} s`);
    await runLoad(reaper, spec(o.warmupSec, 0), o.clientCpu, leader.proc.pid, hz);
  }
  const runs: ThroughputRun[] = [];
  for (let rep = 1; rep <= o.reps; rep++) {
    if (!(await waitQuiet(coreIds(), o.quietWaitSec))) log('the cores did not get quiet before this run');
    const m = await runLoad(reaper, spec(o.durationSec, rep), o.clientCpu, leader.proc.pid, hz);
    const l = m.load;
    const t: ThroughputRun = {
      rep,
      reqPerSec: l.reqPerSec,
      okPerSec: l.totalRequests > 0 ? (l.reqPerSec * (l.totalRequests - l.non2xx)) / l.totalRequests : 0,
      p50Ms: l.latencyP50Ms,
      p99Ms: l.latencyP99Ms,
      errors: l.errors + l.timeouts,
      non2xx: l.non2xx,
      leaderCores: m.serverCores,
      core0Busy: busyBetween(m.cores0, m.cores1, 0),
      core1Busy: busyBetween(m.cores0, m.cores1, 1),
    };
    log(`${c.kind} throughput rep ${rep}: ${Math.round(t.okPerSec)} acked/s, p99 ${t.p99Ms} ms, errors ${t.errors}, non-2xx ${t.non2xx}`);
    runs.push(t);
  }
  return { runs, ...throughputSummary(runs) };
}

async function failover(reaper: ProcessReaper, c: Cluster, o: ClusterBenchOptions, value: string, work: string): Promise<NonNullable<SystemResult['failover']>> {
  const trials: FailoverTrial[] = [];
  const [, coreBusy] = await withCoreBusy(async () => {
    for (let trial = 1; trial <= o.trials; trial++) {
      const leader = await waitForLeader(c);
      const survivors = c.members.filter((m) => m !== leader);
      const through = survivors[trial % survivors.length]!;
      const key = `bench/failover/${trial}`;
      // Attempts overlap: a new one starts every FAILOVER_STAGGER_MS whatever the earlier ones
      // are doing, because a write the survivor forwarded to the dead leader can hang until its
      // own timeout, and waiting for it would measure that timeout instead of the failover.
      let attempts = 0;
      let lastRefusal = '';
      let ackMs: number | undefined;
      let ackKey = '';
      const inFlight: Promise<void>[] = [];
      const t0 = performance.now();
      process.kill(-leader.proc.pid, 'SIGKILL');
      const deadline = t0 + FAILOVER_DEADLINE_MS;
      while (ackMs === undefined && performance.now() < deadline) {
        const k = `${key}/${attempts++}`;
        inFlight.push(
          c.put(through, k, value, FAILOVER_ATTEMPT_MS).then((r) => {
            if (r.ok && ackMs === undefined) {
              ackMs = performance.now() - t0;
              ackKey = k;
            } else if (!r.ok) lastRefusal = r.detail;
          }),
        );
        await sleep(FAILOVER_STAGGER_MS);
      }
      // No stray write of this trial may overlap the next one (each is bounded by its timeout).
      await Promise.all(inFlight);
      await killMember(leader); // reaps the exit (the kill above was the measured moment)
      const newLeader = (await waitForLeader(c).catch(() => undefined))?.name ?? '(none)';
      const r0 = performance.now();
      await restartMember(reaper, leader, work);
      // Caught up: the restarted member holds the trial's write in its own copy.
      if (ackMs !== undefined) await pollUntil(`${leader.name} catching up`, async () => ((await c.readLocal(leader, ackKey)) === value ? true : undefined), 60_000, () => leader.proc.tail());
      const catchUpMs = performance.now() - r0;
      await waitForLeader(c, 60_000);
      const t: FailoverTrial = { trial, killed: leader.name, writeThrough: through.name, ms: ackMs, attempts, lastRefusal, newLeader, catchUpMs };
      log(`${c.kind} failover ${trial}/${o.trials}: killed ${t.killed}, ${ackMs === undefined ? 'NO write acknowledged' : `write acknowledged by ${through.name} after ${ackMs.toFixed(0)} ms`} (${attempts} attempts), new leader ${newLeader}, restarted member caught up in ${catchUpMs.toFixed(0)} ms`);
      trials.push(t);
    }
  });
  const ok = trials.map((t) => t.ms).filter((x): x is number => x !== undefined);
  return { trials, summary: summarizeMs(ok), failures: trials.length - ok.length, coreBusy };
}

async function runSystem(reaper: ProcessReaper, kind: SystemKind, o: ClusterBenchOptions, value: string, hz: number): Promise<SystemResult> {
  const work = await mkdtemp(join(o.workDir, `herald-bench-cluster-${kind}-`));
  try {
    log(`starting 3 ${kind} members on CPU ${o.serverCpus} (data under ${work})`);
    const herald = kind === 'herald' ? await startHeraldCluster(reaper, work, o.serverCpus, REPO_ROOT) : undefined;
    const c = herald ?? (await startEtcdCluster(reaper, work, o.serverCpus));
    const leader = await waitForLeader(c, 60_000);
    log(`${kind}: leader ${leader.name}`);
    const res: SystemResult = { kind, version: kind === 'herald' ? VERSION : (etcdVersion() ?? 'unknown'), settings: c.settings };
    if (o.writes > 0) {
      if (!(await waitQuiet(coreIds(), o.quietWaitSec))) log('the cores did not get quiet before the sequential phase');
      res.sequential = await sequential(c, o, value);
    }
    if (o.durationSec > 0) res.throughput = await throughput(reaper, c, o, Buffer.from(value).toString('base64'), hz);
    // Before failover, which restarts members and moves the leadership.
    if (herald && o.flips > 0) {
      res.dnsPropagation = await dnsPropagation(reaper, herald, { flips: o.flips, pollMs: o.dnsPollMs, serverCpus: o.serverCpus, quietWaitSec: o.quietWaitSec, work, cwd: REPO_ROOT }, log);
    }
    if (o.trials > 0) {
      if (!(await waitQuiet(coreIds(), o.quietWaitSec))) log('the cores did not get quiet before the failover phase');
      res.failover = await failover(reaper, c, o, value, kind === 'herald' ? REPO_ROOT : work);
    }
    return res;
  } finally {
    await stopBench(reaper, work, log);
  }
}

function fsType(dir: string): string {
  try {
    return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export async function runClusterBench(o: ClusterBenchOptions): Promise<ClusterBenchReport> {
  const reaper = new ProcessReaper();
  const uninstall = reaper.installSignalHandlers();
  const hz = clockTicks();
  const value = 'v'.repeat(o.valueBytes);
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
  const notes: string[] = [];
  try {
    if (o.systems.includes('etcd') && !etcdVersion()) throw new Error('etcd is not installed (Debian: apt-get install etcd-server); or run with --systems herald');
    const systems: SystemResult[] = [];
    for (const kind of o.systems) systems.push(await runSystem(reaper, kind, o, value, hz));
    for (const s of systems) {
      if (s.sequential?.failures) notes.push(`${s.kind}: ${s.sequential.failures} sequential writes were not acknowledged`);
      if (s.failover?.failures) notes.push(`${s.kind}: ${s.failover.failures} failover trials got no write acknowledged within ${FAILOVER_DEADLINE_MS / 1000} s`);
      const d = s.dnsPropagation;
      if (d?.remoteFailures || d?.httpFailures) notes.push(`${s.kind} DNS propagation: ${d.remoteFailures} flips not reflected on client B within 10 s, ${d.httpFailures} flip requests not answered 200`);
      for (const t of s.throughput?.runs ?? []) if (t.errors || t.non2xx) notes.push(`${s.kind} throughput rep ${t.rep}: ${t.errors} errors/timeouts, ${t.non2xx} non-2xx`);
    }
    if (o.trials < 30 || o.writes < 2000 || o.durationSec < 10 || (o.systems.includes('herald') && o.flips < 100)) {
      notes.push(`smoke run (${o.trials} trials, ${o.writes} writes, ${o.durationSec} s runs, ${o.flips} flips): too small for the figures to judge the targets`);
    }
    notes.push(`failover is timed from just before the SIGKILL to the answer of the first acknowledged write through a survivor (alternating survivors); a new attempt starts every ${FAILOVER_STAGGER_MS} ms without waiting for earlier ones (a write forwarded to the dead leader may hang), each bounded by ${FAILOVER_ATTEMPT_MS / 1000} s`);
    notes.push('sequential and throughput writes go to the leader; each system runs alone (the other cluster is stopped)');
    return {
      when: new Date().toISOString(),
      command: process.env.BENCH_COMMAND ?? `node --import tsx bench/cluster/orchestrate.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine: {
        ...hostFacts(),
        etcd: etcdVersion() ?? 'not installed',
        autocannon: AUTOCANNON_VERSION,
        'load average before (1/5/15 min)': loadBefore,
        'load average after (1/5/15 min)': loadavg().map((x) => x.toFixed(2)).join(' '),
        'server cores (all 6 members; the G6 client agents too)': o.serverCpus,
        'client core': o.clientCpu,
        'data dir filesystem': `${o.workDir} (${fsType(o.workDir)})`,
      },
      options: {
        'failover trials': o.trials,
        'sequential writes (+ warm-up)': `${o.writes} (+${o.seqWarmup})`,
        'throughput run (s) x reps': `${o.durationSec} x ${o.reps}`,
        'throughput warm-up (s)': o.warmupSec,
        connections: o.connections,
        'value bytes': o.valueBytes,
        'DNS propagation flips (Herald)': o.flips,
        'DNS poll interval (ms)': o.dnsPollMs,
      },
      systems,
      targets: judgeTargets(systems),
      notes,
      todo: [],
    };
  } finally {
    await reaper.stopAll();
    uninstall();
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const report = await runClusterBench(o);
  const stem = await writeBenchReport(o.out, 'cluster', report.when, report, renderMarkdown(report));
  log(`wrote ${stem}.{json,md}`);
}

runAsMain(import.meta.url, main, log);
