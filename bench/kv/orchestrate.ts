/**
 * The KV load harness (entry: bench/kv/run.sh, `npm run bench:kv`): Herald's `/v1/kv` against
 * etcd 3.4 in the same invocation, plus the HTTP ceiling for reads.
 *
 * 1. Starts `herald agent -data-dir <tmp> -plugin http-api -plugin kv` (storage engine rocksdb:
 *    every acknowledged write is fsync'd) and a one-member etcd with its own data dir (WAL fsync
 *    on, its default), both pinned to the server core.
 * 2. Writes the key the GET case reads (a ~100-byte value) to both; captures Herald's GET answer
 *    and starts the ceiling (bench/http/ceiling-server.ts: bare fastify sending those exact
 *    bytes) on the server core, after checking it answers byte for byte what Herald does.
 * 3. For each case (put, get) and server, runs bench/kv/load-runner.ts (autocannon, pinned to
 *    the client core): PUT with a different key on every request, GET of the one key;
 *    repetitions interleaved, after a warm-up, each run after (bounded) waiting for quiet cores.
 *    Records req/s, 2xx/s, p50/p99, the server process's CPU and both cores' busy time.
 * 4. Checks the writes landed (keys counted on both stores, a value read back) and writes JSON
 *    and markdown to bench/out/, printing the markdown (the RESULTS.md section).
 *
 * Every child goes through the ProcessReaper (stopped on every exit path); every wait is bounded.
 *
 * Flags (environment variable in brackets):
 *   --duration S [BENCH_DURATION=10]      seconds per measured run
 *   --reps N [BENCH_REPS=3]               repetitions, interleaved across servers
 *   --connections N [BENCH_CONNECTIONS=64]
 *   --pipelining N [BENCH_PIPELINING=1]
 *   --warmup S [BENCH_WARMUP=2]           per case and server, before the first measured run
 *   --value-bytes N [BENCH_VALUE_BYTES=100]
 *   --key-space N [BENCH_KEY_SPACE=100000] PUT keys cycle over this many names
 *   --cases LIST [BENCH_CASES=put,get]
 *   --servers LIST [BENCH_SERVERS=herald,etcd]  (the ceiling runs with the get case)
 *   --storage-engine E [BENCH_STORAGE_ENGINE=rocksdb]  Herald's storage_engine; '' leaves it unset
 *   --server-cpu N [BENCH_SERVER_CPU=0] --client-cpu N [BENCH_CLIENT_CPU=1]
 *   --quiet-wait S [BENCH_QUIET_WAIT=30]  wait up to S s for both cores under 15% busy per run
 *   --out DIR [BENCH_OUT=bench/out]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentArgs, freePort, HERALD_BIN, waitForAgent } from '../../plugins/http-api/clients/agent-process.ts';
import { busyBetween, readCoreTimes } from '../dns/cpu-busy.ts';
import { parseStat } from '../dns/proc-status.ts';
import { ProcessReaper, type Tracked } from '../dns/process-reaper.ts';
import { AUTOCANNON_VERSION, parseAutocannonJson } from '../http/autocannon-run.ts';
import type { CapturedRoute } from '../http/ceiling-server.ts';
import { detectGateway, etcdArgs, etcdCount, etcdGet, etcdHealthy, etcdPut, etcdVersion } from './etcd.ts';
import { START_MARKER, type LoadSpec, type Workload } from './load-runner.ts';
import { judgeTargets, renderMarkdown, summarize, type KvBenchReport, type KvCase, type KvRunRecord, type KvServer } from './report.ts';
import { hostFacts, runAsMain, stopBench, writeBenchReport } from '../bench-main.ts';
import { benchFlags } from '../bench-flags.ts';
import { FOREIGN_BUSY, sleep, waitQuiet } from '../quiet-cores.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const LOAD_RUNNER = join(REPO_ROOT, 'bench/kv/load-runner.ts');

/** The key the GET case reads and the prefix the PUT case writes under (the same on both stores). */
export const GET_KEY = 'bench/get';
export const PUT_PREFIX = 'bench/put/';

export interface KvBenchOptions {
  durationSec: number;
  reps: number;
  connections: number;
  pipelining: number;
  warmupSec: number;
  valueBytes: number;
  keySpace: number;
  cases: KvCase[];
  servers: ('herald' | 'etcd')[];
  storageEngine: string;
  serverCpu: number;
  clientCpu: number;
  quietWaitSec: number;
  out: string;
}

/** Flags override environment variables, which override the defaults in the file comment. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): KvBenchOptions {
  const { raw, num, list } = benchFlags(argv, {
    duration: 'BENCH_DURATION', reps: 'BENCH_REPS', connections: 'BENCH_CONNECTIONS', pipelining: 'BENCH_PIPELINING', warmup: 'BENCH_WARMUP',
    'value-bytes': 'BENCH_VALUE_BYTES', 'key-space': 'BENCH_KEY_SPACE', cases: 'BENCH_CASES', servers: 'BENCH_SERVERS',
    'storage-engine': 'BENCH_STORAGE_ENGINE', 'server-cpu': 'BENCH_SERVER_CPU', 'client-cpu': 'BENCH_CLIENT_CPU', 'quiet-wait': 'BENCH_QUIET_WAIT', out: 'BENCH_OUT',
  }, env);
  return {
    durationSec: num('duration', 10, 1),
    reps: num('reps', 3, 1),
    connections: num('connections', 64, 1),
    pipelining: num('pipelining', 1, 1),
    warmupSec: num('warmup', 2, 0),
    valueBytes: num('value-bytes', 100, 1),
    keySpace: num('key-space', 100_000, 1),
    cases: list('cases', ['put', 'get'], ['put', 'get'] as const),
    servers: list('servers', ['herald', 'etcd'], ['herald', 'etcd'] as const),
    storageEngine: raw('storage-engine') ?? 'rocksdb',
    serverCpu: num('server-cpu', 0, 0),
    clientCpu: num('client-cpu', 1, 0),
    quietWaitSec: num('quiet-wait', 30, 0),
    out: resolve(REPO_ROOT, raw('out') ?? 'bench/out'),
  };
}

const log = (msg: string) => process.stderr.write(`bench:kv: ${msg}\n`);

/** The kernel's clock ticks per second (USER_HZ), 100 when getconf is missing. */
export function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

function procTicks(pid: number): number {
  return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuTicks;
}

/** One load run and what the server and both cores did while it ran. */
export interface MeasuredLoad {
  load: ReturnType<typeof parseAutocannonJson>;
  wallSec: number;
  serverCores: number;
  cores0: ReturnType<typeof readCoreTimes>;
  cores1: ReturnType<typeof readCoreTimes>;
}

/**
 * Runs one load through the reaper, bounded by duration + 30 s. The measuring window opens when
 * the runner prints START_MARKER (its own start-up, node + tsx + autocannon, stays out of it;
 * the wait for it is a bounded poll of its output) and closes when it exits.
 */
export async function runLoad(reaper: ProcessReaper, spec: LoadSpec, cpu: number, serverPid: number, hz: number): Promise<MeasuredLoad> {
  const t = await reaper.spawn('load-runner', 'taskset', ['-c', String(cpu), process.execPath, '--import', 'tsx', LOAD_RUNNER, JSON.stringify(spec)], {
    cwd: REPO_ROOT,
    captureStdout: true,
  });
  const startBy = Date.now() + 30_000;
  while (!t.stdout().includes(START_MARKER) && !t.done && Date.now() < startBy) await sleep(5);
  const cores0 = readCoreTimes();
  const ticks0 = procTicks(serverPid);
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), (spec.durationSec + 30) * 1000)));
  const end = await Promise.race([t.exited, limit]);
  clearTimeout(timer);
  const wallSec = (performance.now() - t0) / 1000;
  const ticks1 = procTicks(serverPid);
  const cores1 = readCoreTimes();
  if (end === 'timeout') {
    await reaper.stop(t);
    throw new Error(`load-runner did not finish within ${spec.durationSec + 30} s: ${t.tail()}`);
  }
  if (end.code !== 0) throw new Error(`load-runner exited ${end.code ?? end.signal}: ${t.tail()}`);
  const load = parseAutocannonJson(`${spec.origin} ${spec.workload}`, t.stdout());
  return { load, wallSec, serverCores: (ticks1 - ticks0) / hz / wallSec, cores0, cores1 };
}

/** Polls `probe` every 50 ms until true; throws when `t` exits first or after `deadlineMs`. */
export async function waitFor(what: string, probe: () => Promise<boolean>, t: Tracked, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (let i = 0; i < 100_000; i++) {
    if (t.done) throw new Error(`${t.name} exited before ${what}: ${t.tail()}`);
    if (await probe()) return;
    if (Date.now() > end) throw new Error(`${t.name}: no ${what} within ${deadlineMs} ms: ${t.tail()}`);
    await sleep(50);
  }
}

interface ServerUnderTest {
  kind: KvServer;
  pid: number;
  origin: string;
}

function workloadFor(c: KvCase, s: KvServer): Workload {
  if (s === 'ceiling') return 'plain-get';
  return `${s}-${c}` as Workload;
}

export async function runKvBench(o: KvBenchOptions): Promise<KvBenchReport> {
  const reaper = new ProcessReaper();
  const uninstall = reaper.installSignalHandlers();
  const work = await mkdtemp(join(tmpdir(), 'herald-bench-kv-'));
  const hz = clockTicks();
  const notes: string[] = [];
  const checks: string[] = [];
  const value = randomBytes(Math.ceil(o.valueBytes * 0.75)).toString('base64').slice(0, o.valueBytes);
  const valueBase64 = Buffer.from(value).toString('base64');
  try {
    const servers: ServerUnderTest[] = [];
    let etcdGw = '/v3';
    let etcdVer: string | undefined;

    if (o.servers.includes('herald')) {
      const configDir = join(work, 'config');
      await mkdir(configDir);
      if (o.storageEngine !== '') await writeFile(join(configDir, 'storage.json'), JSON.stringify({ storage_engine: o.storageEngine }));
      const httpPort = await freePort();
      const dnsPort = await freePort();
      // Not -dev: dev agents keep state in memory and pretty-print JSON.
      const args = agentArgs({ httpPort, dnsPort, nodeName: 'bench-kv', configDir, dataDir: join(work, 'herald'), extraArgs: ['-plugin', 'kv'] });
      log(`starting herald on CPU${o.serverCpu} (http ${httpPort}, storage_engine ${o.storageEngine || '(default)'})`);
      const herald = await reaper.spawn('herald', 'taskset', ['-c', String(o.serverCpu), process.execPath, HERALD_BIN, ...args], { cwd: REPO_ROOT });
      const origin = `http://127.0.0.1:${httpPort}`;
      await waitForAgent(origin, herald.exited, () => herald.tail(), 60_000);
      const put = await fetch(`${origin}/v1/kv/${GET_KEY}`, { method: 'PUT', body: value, signal: AbortSignal.timeout(10_000) });
      const putText = await put.text();
      if (put.status !== 200 || putText.trim() !== 'true') throw new Error(`herald PUT ${GET_KEY}: ${put.status} ${putText.slice(0, 200)}`);
      servers.push({ kind: 'herald', pid: herald.pid, origin });
    }

    if (o.servers.includes('etcd')) {
      etcdVer = etcdVersion();
      if (!etcdVer) throw new Error('etcd is not installed (Debian: apt-get install etcd-server); or run with --servers herald');
      const ports = { client: await freePort(), peer: await freePort() };
      log(`starting etcd ${etcdVer} on CPU${o.serverCpu} (client ${ports.client})`);
      const etcd = await reaper.spawn('etcd', 'taskset', ['-c', String(o.serverCpu), 'etcd', ...etcdArgs(work, ports)], { cwd: work });
      const origin = `http://127.0.0.1:${ports.client}`;
      await waitFor('healthy /health', () => etcdHealthy(origin), etcd);
      const gw = await detectGateway(origin);
      if (!gw) throw new Error(`etcd at ${origin} answers no v3 JSON gateway (tried /v3, /v3beta)`);
      etcdGw = gw;
      await etcdPut(origin, gw, GET_KEY, Buffer.from(value));
      servers.push({ kind: 'etcd', pid: etcd.pid, origin });
    }

    const herald = servers.find((s) => s.kind === 'herald');
    let getBodyBytes: number | undefined;
    if (herald && o.cases.includes('get')) {
      const path = `/v1/kv/${GET_KEY}`;
      const res = await fetch(herald.origin + path, { signal: AbortSignal.timeout(10_000) });
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200) throw new Error(`herald GET ${path}: ${res.status} ${body.toString('utf8').slice(0, 200)}`);
      getBodyBytes = body.length;
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k] = v));
      const routesFile = join(work, 'routes.json');
      await writeFile(routesFile, JSON.stringify([{ path, status: res.status, headers, bodyBase64: body.toString('base64') } satisfies CapturedRoute]));
      const port = await freePort();
      log(`starting the fastify ceiling on CPU${o.serverCpu} (http ${port})`);
      const ceiling = await reaper.spawn('ceiling', 'taskset', ['-c', String(o.serverCpu), process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bench/http/ceiling-server.ts'), routesFile, String(port)], { cwd: REPO_ROOT });
      const origin = `http://127.0.0.1:${port}`;
      await waitFor('answer on the GET path', async () => {
        try {
          const r = await fetch(origin + path, { signal: AbortSignal.timeout(1000) });
          const b = Buffer.from(await r.arrayBuffer());
          if (!b.equals(body)) throw new Error(`the ceiling's body differs from Herald's (${b.length} vs ${body.length} bytes)`);
          return r.status === 200;
        } catch (err) {
          if ((err as Error).message.startsWith('the ceiling')) throw err;
          return false;
        }
      }, ceiling);
      servers.push({ kind: 'ceiling', pid: ceiling.pid, origin });
    }

    const specFor = (c: KvCase, s: ServerUnderTest, durationSec: number): LoadSpec => ({
      workload: workloadFor(c, s.kind),
      origin: s.origin,
      connections: o.connections,
      pipelining: o.pipelining,
      durationSec,
      key: c === 'put' ? PUT_PREFIX : s.kind === 'ceiling' ? `/v1/kv/${GET_KEY}` : GET_KEY,
      valueBase64,
      keySpace: o.keySpace,
      etcdGateway: etcdGw,
    });
    const serversFor = (c: KvCase) => servers.filter((s) => c === 'get' || s.kind !== 'ceiling');

    if (o.warmupSec > 0) {
      for (const c of o.cases) {
        for (const s of serversFor(c)) {
          log(`warm-up ${c} ${s.kind}`);
          await runLoad(reaper, specFor(c, s, o.warmupSec), o.clientCpu, s.pid, hz);
        }
      }
    }

    const runs: KvRunRecord[] = [];
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const c of o.cases) {
        const order = serversFor(c);
        for (const s of rep % 2 ? order : [...order].reverse()) {
          const quiet = await waitQuiet([o.serverCpu, o.clientCpu], o.quietWaitSec);
          const { load, serverCores, cores0, cores1 } = await runLoad(reaper, specFor(c, s, o.durationSec), o.clientCpu, s.pid, hz);
          const serverCoreBusy = busyBetween(cores0, cores1, o.serverCpu);
          const r: KvRunRecord = {
            case: c,
            server: s.kind,
            rep,
            load,
            durationSec: o.durationSec,
            serverCores,
            serverCoreBusy,
            clientCoreBusy: busyBetween(cores0, cores1, o.clientCpu),
            contended: !quiet || (serverCoreBusy ?? 0) - serverCores > FOREIGN_BUSY,
          };
          log(
            `rep ${rep} ${c} ${s.kind}: ${Math.round(load.reqPerSec)} req/s, p99 ${load.latencyP99Ms} ms, non-2xx ${load.non2xx}, errors ${load.errors}, server ${(serverCores * 100).toFixed(0)}% of a core${r.contended ? ' (contended)' : ''}`,
          );
          runs.push(r);
        }
      }
    }

    // The writes must have landed: count the keys, and read one back, on each store.
    const etcd = servers.find((s) => s.kind === 'etcd');
    if (o.cases.includes('put')) {
      if (herald) {
        const keys = (await (await fetch(`${herald.origin}/v1/kv/${PUT_PREFIX}?keys`, { signal: AbortSignal.timeout(30_000) })).json()) as string[];
        const first = await fetch(`${herald.origin}/v1/kv/${PUT_PREFIX}0?raw`, { signal: AbortSignal.timeout(10_000) });
        const back = await first.text();
        checks.push(`Herald holds ${keys.length.toLocaleString('en-US')} keys under ${PUT_PREFIX}; ${PUT_PREFIX}0 reads back ${back === value ? 'the value written' : `something else (${first.status}, ${back.length} bytes)`}`);
      }
      if (etcd) {
        const n = await etcdCount(etcd.origin, etcdGw, PUT_PREFIX);
        const back = await etcdGet(etcd.origin, etcdGw, `${PUT_PREFIX}0`);
        checks.push(`etcd holds ${n.toLocaleString('en-US')} keys under ${PUT_PREFIX}; ${PUT_PREFIX}0 reads back ${back?.toString('utf8') === value ? 'the value written' : 'something else'}`);
      }
    }

    const summaries = summarize(runs);
    for (const s of summaries) {
      if ((s.clientCoreBusy ?? 0) > 0.95) notes.push(`${s.case} ${s.server}: the client core was saturated (${Math.round((s.clientCoreBusy ?? 0) * 100)} %), so this figure is a floor`);
      if (s.failures > 0) notes.push(`${s.case} ${s.server}: ${s.failures} errors, timeouts or non-2xx answers over ${s.runs} runs`);
      if (s.contendedRuns > 0) notes.push(`${s.case} ${s.server}: ${s.contendedRuns} of ${s.runs} runs contended (other work on the bench cores)`);
    }
    if (o.durationSec < 5) notes.push(`smoke run: ${o.durationSec} s per run is too short for the figures to mean much`);

    return {
      when: new Date().toISOString(),
      command: process.env.BENCH_COMMAND ?? `node --import tsx bench/kv/orchestrate.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine: {
        ...hostFacts(),
        etcd: etcdVer ?? 'not run',
        fastify: (require('fastify/package.json') as { version: string }).version,
        autocannon: AUTOCANNON_VERSION,
        'server core': o.serverCpu,
        'client core': o.clientCpu,
      },
      options: {
        'duration (s)': o.durationSec,
        reps: o.reps,
        connections: o.connections,
        pipelining: o.pipelining,
        'warm-up (s)': o.warmupSec,
        'value bytes': o.valueBytes,
        'PUT key space': o.keySpace,
        'herald storage_engine': o.storageEngine || '(default)',
        'etcd gateway': etcdGw,
        'herald GET body bytes': getBodyBytes ?? 'n/a',
      },
      workloads: {
        'put herald': `PUT /v1/kv/${PUT_PREFIX}<n> with the ${o.valueBytes}-byte value as the body; <n> counts up per request (mod ${o.keySpace}), so every write goes to a different key`,
        'put etcd': `POST ${etcdGw}/kv/put {"key": base64("${PUT_PREFIX}<n>"), "value": base64(value)}, the same keys and value`,
        'get herald': `GET /v1/kv/${GET_KEY} (one key, ${o.valueBytes}-byte value; the DirEntry JSON array)`,
        'get etcd': `POST ${etcdGw}/kv/range {"key": base64("${GET_KEY}")}`,
        'get ceiling': 'bare fastify (bench/http/ceiling-server.ts) sending the exact status, headers and body Herald sent for the GET',
      },
      runs,
      summaries,
      targets: judgeTargets(summaries),
      checks,
      notes,
    };
  } finally {
    await stopBench(reaper, work, log, uninstall);
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const report = await runKvBench(o);
  const stem = await writeBenchReport(o.out, 'kv', report.when, report, renderMarkdown(report));
  log(`wrote ${stem}.{json,md}`);
}

runAsMain(import.meta.url, main, log);
