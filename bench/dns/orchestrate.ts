/**
 * The DNS load harness (entry: bench/dns/run.sh, `npm run bench:dns`). Generates one data set
 * for every server, starts each server on its own loopback port pinned to the server core, checks
 * that they all give the same answers, warms each up, then runs dnsperf pinned to the other core
 * for every query set, repetitions interleaved across servers, and reports medians (min–max),
 * ratios and the issue's targets as markdown on stdout plus JSON and markdown in bench/out/.
 * Every child process is stopped on every exit path (ProcessReaper); every wait is bounded.
 *
 * Flags (environment variable in brackets):
 *   --duration S [BENCH_DURATION=3]     seconds per dnsperf run
 *   --reps N [BENCH_REPS=3]             repetitions, interleaved across servers
 *   --servers a,b [BENCH_SERVERS]       default: herald,knot,dnsmasq,node-responder,node-responder-defbuf
 *   --queries a,srv,nx,mix [BENCH_QUERIES]
 *   --services N [BENCH_SERVICES=200]   catalog size (x 3 instances)
 *   --seed N [BENCH_SEED=1]
 *   --warmup S [BENCH_WARMUP=1]         per server, before the first measured run
 *   --server-cpu N [BENCH_SERVER_CPU=0] --client-cpu N [BENCH_CLIENT_CPU=1]
 *   --ready-timeout S [BENCH_READY_TIMEOUT=60]
 *   --quiet-wait S [BENCH_QUIET_WAIT=30]  before each run, wait up to S s until other processes
 *   --quiet-busy F [BENCH_QUIET_BUSY=0.15] use under F of the two bench cores (0.3 s samples);
 *                                       runs with other work before, during or after them are
 *                                       flagged "contended" in the report
 *   --quiet-budget S [BENCH_QUIET_BUDGET=300] cap on all those waits together
 *   --herald-args "..." [HERALD_ARGS]   extra arguments for `herald agent` (split on spaces)
 *   --baseline FILE                     an earlier JSON report to compare Herald's mix QPS with
 *   --out DIR [BENCH_OUT=bench/out]     --keep (keep the generated data and server dirs)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { availableParallelism, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { RecordType } from 'dns-packet';
import { busyBetween, foreignBetween, readCoreTimes, stealBetween, type CoreTimes } from './cpu-busy.ts';
import { queryUdp, RCODE_NAMES, replyContent } from './dns-probe.ts';
import { runDnsperf } from './dnsperf.ts';
import { writeBenchData, type BenchPaths } from './gen-data.ts';
import { groupAffinity, groupCpuTicks, groupMemory, parseStat } from './proc-status.ts';
import { ProcessReaper } from './process-reaper.ts';
import {
  evaluateTargets,
  fmtQps,
  QUERY_KINDS,
  quietSubset,
  ratios,
  renderMarkdown,
  summarize,
  type AnswerSample,
  type BenchReport,
  type QueryKind,
  type RunRecord,
  type ServerFacts,
} from './report.ts';
import { SERVER_NAMES, startServer, type RunningServer, type ServerName } from './servers.ts';

/** Harness options after flags and environment are merged. */
export interface BenchOptions {
  duration: number;
  reps: number;
  servers: ServerName[];
  queries: QueryKind[];
  services: number;
  seed: number;
  warmup: number;
  serverCpu: number;
  clientCpu: number;
  readyTimeout: number;
  /** Seconds to wait, before each run, for both cores to go quiet (other work on the host). */
  quietWait: number;
  /** Share of the bench cores other work may use for the host to count as quiet. */
  quietBusy: number;
  /** Seconds all the quiet waits of one run may add up to, so a busy host cannot stretch it without bound. */
  quietBudget: number;
  heraldArgs: string[];
  baseline?: string;
  out: string;
  keep: boolean;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function positive(name: string, v: string, integer: boolean): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, got "${v}"`);
  return n;
}

function nonNegative(name: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got "${v}"`);
  return n;
}

function list<T extends string>(name: string, v: string, allowed: readonly T[]): T[] {
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const i of items) if (!allowed.includes(i as T)) throw new Error(`${name}: unknown "${i}" (known: ${allowed.join(', ')})`);
  if (items.length === 0) throw new Error(`${name} is empty`);
  return items as T[];
}

/** Merges `argv` flags over environment variables over defaults; throws on anything unknown or invalid. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--keep') {
      flags.set('keep', '1');
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unexpected argument "${a}"`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    flags.set(m[1]!, value);
  }
  const known = [
    'duration', 'reps', 'servers', 'queries', 'services', 'seed', 'warmup', 'server-cpu', 'client-cpu',
    'ready-timeout', 'quiet-wait', 'quiet-busy', 'quiet-budget', 'herald-args', 'baseline', 'out', 'keep',
  ];
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`unknown flag --${k}`);
  const get = (flag: string, envName: string, dflt: string) => flags.get(flag) ?? env[envName] ?? dflt;
  const cpu = (flag: string, envName: string, dflt: string) => {
    const v = get(flag, envName, dflt);
    if (!/^\d+$/.test(v)) throw new Error(`--${flag} must be a CPU number, got "${v}"`);
    return Number(v);
  };
  return {
    duration: positive('--duration', get('duration', 'BENCH_DURATION', '3'), false),
    reps: positive('--reps', get('reps', 'BENCH_REPS', '3'), true),
    servers: list('--servers', get('servers', 'BENCH_SERVERS', SERVER_NAMES.join(',')), SERVER_NAMES),
    queries: list('--queries', get('queries', 'BENCH_QUERIES', QUERY_KINDS.join(',')), QUERY_KINDS),
    services: positive('--services', get('services', 'BENCH_SERVICES', '200'), true),
    seed: Number(get('seed', 'BENCH_SEED', '1')) >>> 0,
    warmup: positive('--warmup', get('warmup', 'BENCH_WARMUP', '1'), false),
    serverCpu: cpu('server-cpu', 'BENCH_SERVER_CPU', '0'),
    clientCpu: cpu('client-cpu', 'BENCH_CLIENT_CPU', '1'),
    readyTimeout: positive('--ready-timeout', get('ready-timeout', 'BENCH_READY_TIMEOUT', '60'), false),
    quietWait: nonNegative('--quiet-wait', get('quiet-wait', 'BENCH_QUIET_WAIT', '30')),
    quietBusy: positive('--quiet-busy', get('quiet-busy', 'BENCH_QUIET_BUSY', '0.15'), false),
    quietBudget: nonNegative('--quiet-budget', get('quiet-budget', 'BENCH_QUIET_BUDGET', '300')),
    heraldArgs: get('herald-args', 'HERALD_ARGS', '').split(/\s+/).filter(Boolean),
    baseline: flags.get('baseline'),
    out: resolve(REPO_ROOT, get('out', 'BENCH_OUT', 'bench/out')),
    keep: flags.has('keep') || env.BENCH_KEEP === '1',
  };
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return 'n/a';
  }
}

/** Machine and version facts for the report. */
export function machineFacts(): Record<string, string> {
  const cpuinfo = (() => {
    try {
      return readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return '';
    }
  })();
  const pkg = (name: string) => tryRun('dpkg-query', ['-W', '-f=${Version}', name]);
  return {
    nproc: String(availableParallelism()),
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'n/a',
    kernel: release(),
    node: process.version,
    libuv: process.versions.uv ?? 'n/a',
    dnsperf: `pkg ${pkg('dnsperf')}`,
    knot: `${tryRun('knotd', ['-V']).split('\n')[0]} (pkg ${pkg('knot')})`,
    dnsmasq: `${tryRun('dnsmasq', ['-v']).split('\n')[0]?.replace(/\s+Copyright.*$/, '')} (pkg ${pkg('dnsmasq-base')})`,
    'dns-packet': (() => {
      try {
        return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/dns-packet/package.json'), 'utf8')) as { version: string }).version;
      } catch {
        return 'n/a';
      }
    })(),
    'herald commit': tryRun('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']),
  };
}

/** The questions whose single replies are measured and compared across servers. */
const SAMPLE_QUESTIONS: Array<[string, RecordType]> = [
  ['web-0.service.consul', 'A'],
  ['_web-0._tcp.service.consul', 'SRV'],
  ['web-1.service.consul', 'SRV'],
  ['missing-0.service.consul', 'A'],
  ['missing-1.service.consul', 'SRV'],
];

async function sampleAnswers(running: RunningServer[]): Promise<AnswerSample[]> {
  const samples: AnswerSample[] = [];
  const knot = running.find((s) => s.name === 'knot');
  for (const [name, type] of SAMPLE_QUESTIONS) {
    let reference: string | undefined;
    if (knot) {
      try {
        reference = replyContent(await queryUdp({ port: knot.port, name, type, timeoutMs: 1000 }));
      } catch {
        reference = undefined;
      }
    }
    for (const s of running) {
      const question = `${name} ${type}`;
      try {
        const r = await queryUdp({ port: s.port, name, type, timeoutMs: 1000 });
        samples.push({
          server: s.name,
          question,
          bytes: r.bytes,
          rcode: RCODE_NAMES[r.rcode] ?? String(r.rcode),
          answers: r.answers.length,
          authority: r.authorities.length,
          additional: r.additionals.length,
          // The node responders send one fixed reply to everything; there is nothing to compare.
          sameAsKnot:
            reference === undefined || s.name === 'knot' || s.name.startsWith('node-responder') ? undefined : replyContent(r) === reference,
        });
      } catch (err) {
        samples.push({ server: s.name, question, error: (err as Error).message });
      }
    }
  }
  return samples;
}

function groupRssKiB(pid: number): { rss: number; hwm: number } | undefined {
  const mem = groupMemory(pid);
  if (mem.length === 0) return undefined;
  return { rss: mem.reduce((n, m) => n + m.rssKiB, 0), hwm: mem.reduce((n, m) => n + m.hwmKiB, 0) };
}

/**
 * A run counts as contended when processes other than the server and dnsperf took more than this
 * share of the two bench cores inside its window (tick granularity and sampling skew stay under it).
 */
const FOREIGN_LIMIT = 0.05;

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/**
 * Samples the two bench cores for 300 ms at a time, while no server gets traffic, until processes
 * other than the bench's own use less than `quietBusy` of them, or `quietWait` seconds (capped by
 * `budgetMs`) have passed. Other work on a shared host would otherwise be measured as server or
 * dnsperf cost. Resolves with the last sample's foreign share and whether it was quiet.
 */
async function waitQuiet(opts: BenchOptions, budgetMs: number, reaper: ProcessReaper): Promise<{ background: number; quiet: boolean }> {
  const deadline = Date.now() + Math.min(opts.quietWait * 1000, budgetMs);
  // Our own processes (idle servers settling, this orchestrator) do not make the host busy.
  const own = () =>
    reaper.running().reduce((n, t) => n + groupCpuTicks(t.pid), 0) + parseStat(readFileSync('/proc/self/stat', 'utf8')).cpuTicks;
  let background = 1;
  do {
    const a = { cores: readCoreTimes(), own: own() };
    await sleep(300);
    const b = { cores: readCoreTimes(), own: own() };
    background = foreignBetween(a.cores, b.cores, [opts.serverCpu, opts.clientCpu], b.own - a.own) ?? 0;
    if (background < opts.quietBusy) return { background, quiet: true };
  } while (Date.now() < deadline);
  return { background, quiet: false };
}

async function measuredRun(
  reaper: ProcessReaper,
  opts: BenchOptions,
  server: RunningServer,
  file: string,
  seconds: number,
): Promise<Omit<RunRecord, 'rep' | 'server' | 'query'>> {
  // Steady window: skip the ramp at the start and stop before dnsperf's end-of-run wait.
  const edgeMs = Math.min(500, seconds * 150);
  let before: { cores: Map<number, CoreTimes>; own: number } | undefined;
  let after: typeof before;
  const timers: NodeJS.Timeout[] = [];
  try {
    const { result } = await runDnsperf(
      reaper,
      { port: server.port, file, seconds, cpu: opts.clientCpu },
      {
        onStart: (dnsperf) => {
          // The bench's own CPU time (server + dnsperf) beside the cores' totals, so that work
          // from anything else on the host during the window can be told apart.
          const sample = () => ({ cores: readCoreTimes(), own: groupCpuTicks(server.process.pid) + groupCpuTicks(dnsperf.pid) });
          timers.push(setTimeout(() => (before = sample()), edgeMs));
          timers.push(setTimeout(() => (after = sample()), seconds * 1000 - edgeMs));
        },
      },
    );
    if (!before || !after) return { result };
    return {
      result,
      serverBusy: busyBetween(before.cores, after.cores, opts.serverCpu),
      clientBusy: busyBetween(before.cores, after.cores, opts.clientCpu),
      serverSteal: stealBetween(before.cores, after.cores, opts.serverCpu),
      foreignBusy: foreignBetween(before.cores, after.cores, [opts.serverCpu, opts.clientCpu], after.own - before.own),
    };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    for (const t of timers) clearTimeout(t);
  }
}

function readBaseline(file: string, heraldMix: number | undefined): BenchReport['baseline'] {
  const prev = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  const cell = prev.cells.find((c) => c.server === 'herald' && c.query === 'mix');
  const base = cell?.qps?.median;
  return {
    file,
    services: Number(prev.options.services),
    heraldMix: base,
    ratio: base && heraldMix ? heraldMix / base : undefined,
  };
}

/** Runs the whole benchmark; resolves with the report (also written to `opts.out`). */
export async function runBench(opts: BenchOptions, command: string): Promise<BenchReport> {
  const cpus = availableParallelism();
  if (opts.serverCpu >= cpus || opts.clientCpu >= cpus) throw new Error(`this machine has ${cpus} CPU(s); cannot pin to ${opts.serverCpu} and ${opts.clientCpu}`);
  if (opts.serverCpu === opts.clientCpu) log('warning: server and dnsperf share a core; numbers are not per-core capacity');
  if (tryRun('sh', ['-c', 'command -v dnsperf']) === 'n/a') throw new Error('dnsperf is not installed (apt-get install dnsperf, or run bench/dns/run.sh)');

  const startedAt = new Date().toISOString();
  const reaper = new ProcessReaper();
  const uninstall = reaper.installSignalHandlers((m) => log(m));
  const work = await mkdtemp(join(tmpdir(), 'herald-bench-'));
  const cleanupDir = () => {
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
  };
  process.on('exit', cleanupDir);
  const facts: ServerFacts[] = [];
  const running: RunningServer[] = [];
  const runs: RunRecord[] = [];
  let answers: AnswerSample[] = [];
  try {
    log(`generating ${opts.services} services x 3 instances (seed ${opts.seed}) in ${work}`);
    const paths: BenchPaths = await writeBenchData(join(work, 'data'), opts.services, opts.seed);
    const ctx = {
      repoRoot: REPO_ROOT,
      paths,
      services: opts.services,
      workDir: work,
      cpu: opts.serverCpu,
      readyTimeoutMs: opts.readyTimeout * 1000,
      heraldExtraArgs: opts.heraldArgs,
    };
    for (const name of opts.servers) {
      log(`starting ${name}`);
      const s = await startServer(reaper, name, ctx);
      if ('skipped' in s) {
        log(`SKIPPING ${name}: ${s.skipped}`);
        facts.push({ name, status: 'skipped', reason: s.skipped });
        continue;
      }
      const mem = groupRssKiB(s.process.pid);
      log(`${name} ready on 127.0.0.1:${s.port} after ${s.readyMs} ms (pid ${s.process.pid})`);
      running.push(s);
      facts.push({ name, status: 'ran', port: s.port, readyMs: s.readyMs, affinity: groupAffinity(s.process.pid), rssKiBReady: mem?.rss });
    }
    if (running.length === 0) throw new Error('no server could be started');

    answers = await sampleAnswers(running);

    for (const s of running) {
      const w = await measuredRun(reaper, opts, s, paths.queries.warm, opts.warmup);
      log(`warm-up ${s.name}: ${w.result ? `${fmtQps(w.result.qps)} QPS` : `failed: ${w.error}`}`);
    }

    const total = opts.reps * opts.queries.length * running.length;
    let quietSpent = 0;
    let n = 0;
    for (let rep = 1; rep <= opts.reps; rep++) {
      // Rotate the server order every repetition so no server always runs first or last.
      const order = running.map((_, i) => running[(i + rep - 1) % running.length]!);
      for (const query of opts.queries) {
        for (const s of order) {
          const waitStart = Date.now();
          const q = await waitQuiet(opts, opts.quietBudget * 1000 - quietSpent, reaper);
          quietSpent += Date.now() - waitStart;
          if (!q.quiet) log(`host busy (other work on ${(q.background * 100).toFixed(0)} % of the bench cores) after waiting; running anyway, flagged`);
          const r = await measuredRun(reaper, opts, s, paths.queries[query], opts.duration);
          // A second look right after the run: work that started during it is often still there.
          const post = await waitQuiet({ ...opts, quietWait: 0 }, 0, reaper);
          const contended = !q.quiet || !post.quiet || (r.foreignBusy ?? 0) > FOREIGN_LIMIT;
          runs.push({ rep, server: s.name, query, ...r, backgroundBusy: Math.max(q.background, post.background), contended });
          n++;
          if (s.process.done) log(`${s.name} exited during the run: ${s.process.tail().slice(-500)}`);
          log(
            `[${n}/${total}] rep ${rep} ${query} ${s.name}: ` +
              (r.result
                ? `${fmtQps(r.result.qps)} QPS, lost ${r.result.lost}, avg ${r.result.latencyAvgUs.toFixed(0)} µs, server core ${r.serverBusy === undefined ? 'n/a' : (r.serverBusy * 100).toFixed(0) + ' %'}`
                : `failed: ${r.error}`) +
              (contended
                ? ` [contended: other work took ${(Math.max(q.background, post.background) * 100).toFixed(0)} % of the bench cores around the run, ${((r.foreignBusy ?? 0) * 100).toFixed(0)} % during it]`
                : ''),
          );
        }
      }
    }
    for (const s of running) {
      const f = facts.find((x) => x.name === s.name)!;
      const mem = groupRssKiB(s.process.pid);
      f.rssKiBAfter = mem?.rss;
      f.hwmKiBAfter = mem?.hwm;
      f.affinity = groupAffinity(s.process.pid);
    }
  } finally {
    const stuck = await reaper.stopAll(3000);
    if (stuck.length) log(`warning: would not stop: ${stuck.join(', ')}`);
    uninstall();
    cleanupDir();
    process.off('exit', cleanupDir);
  }

  const serverOrder = facts.filter((f) => f.status === 'ran').map((f) => f.name);
  const cells = summarize(runs, serverOrder);
  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    command,
    options: { ...opts, out: undefined },
    machine: machineFacts(),
    servers: facts,
    answers,
    runs,
    cells,
    ratios: ratios(cells),
    targets: evaluateTargets(cells),
    quiet: quietSubset(runs, serverOrder),
  };
  if (opts.baseline) {
    try {
      report.baseline = readBaseline(opts.baseline, cells.find((c) => c.server === 'herald' && c.query === 'mix')?.qps?.median);
    } catch (err) {
      log(`cannot read baseline ${opts.baseline}: ${(err as Error).message}`);
    }
  }
  await mkdir(opts.out, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, '-');
  const file = join(opts.out, `${stamp}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  await writeFile(join(opts.out, `${stamp}.md`), renderMarkdown(report));
  log(`wrote ${file}`);
  return report;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const command = process.env.BENCH_COMMAND ?? ['node', ...process.argv.slice(1)].join(' ');
  try {
    const report = await runBench(opts, command);
    process.stdout.write(renderMarkdown(report));
    for (const s of report.servers) if (s.status === 'skipped') process.stdout.write(`\nNOTE: ${s.name} was skipped: ${s.reason}\n`);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
}
