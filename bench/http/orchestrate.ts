/**
 * The HTTP load harness (entry: bench/http/run.sh, `npm run bench:http`).
 *
 * 1. Starts a `-dev` Herald agent with `-plugin http-api` pinned to the server core, loaded from a
 *    generated config file (services × instances, one passing TTL check each).
 * 2. Captures Herald's responses to the benchmarked endpoints and starts the framework ceiling
 *    (bench/http/ceiling-server.ts: bare fastify serving those exact bytes) in its own process on
 *    the same core, after checking it answers byte for byte what Herald does.
 * 3. For each endpoint, runs autocannon pinned to the client core against Herald and the ceiling,
 *    repetitions interleaved, recording req/s, p99 and the CPU each side used.
 * 4. Blocked watchers: parks N blocking `health/service` reads (`?index=<current>&wait=5m`) over
 *    real sockets, records the agent's RSS before/after and its CPU while they are parked, fails
 *    one check and counts who returned.
 * 5. Writes JSON and markdown to bench/out/ and prints the markdown (the RESULTS.md section).
 *
 * Every child goes through the ProcessReaper (stopped on every exit path); every wait is bounded.
 *
 * Flags (environment variable in brackets):
 *   --duration S [BENCH_DURATION=10]      seconds per autocannon run
 *   --reps N [BENCH_REPS=3]               repetitions, interleaved Herald/ceiling
 *   --connections N [BENCH_CONNECTIONS=50]
 *   --pipelining N [BENCH_PIPELINING=1]   requests in flight per connection
 *   --warmup S [BENCH_WARMUP=2]           per server and endpoint, before the first measured run
 *   --services N [BENCH_SERVICES=50] --instances N [BENCH_INSTANCES=3]
 *   --watchers N [BENCH_WATCHERS=10000]   0 skips the blocked-watcher figure
 *   --watch-window S [BENCH_WATCH_WINDOW=5]  CPU sampling window while parked
 *   --server-cpu N [BENCH_SERVER_CPU=0] --client-cpu N [BENCH_CLIENT_CPU=1]
 *   --quiet-wait S [BENCH_QUIET_WAIT=30]  before each run, wait up to S s until both bench cores
 *                                       are under 15% busy (0.3 s samples); runs that start on
 *                                       busy cores, or whose server core was busier than the
 *                                       server process, are flagged "contended"
 *   --out DIR [BENCH_OUT=bench/out]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentArgs, freePort, HERALD_BIN, waitForAgent } from '../../plugins/http-api/clients/agent-process.ts';
import { VERSION } from '../../src/version.ts';
import { busyBetween, readCoreTimes } from '../dns/cpu-busy.ts';
import { parseStat, parseStatusMemory } from '../dns/proc-status.ts';
import { ProcessReaper, type Tracked } from '../dns/process-reaper.ts';
import { AUTOCANNON_VERSION, runAutocannon } from './autocannon-run.ts';
import { WatcherPool, type WatcherTarget } from './blocked-watchers.ts';
import { benchServiceNames, benchServicesConfig, checkIdOf } from './catalog-config.ts';
import type { CapturedRoute } from './ceiling-server.ts';
import { renderMarkdown, summarize, type HttpBenchReport, type RunRecord, type ServerKind, type WatcherFigure } from './report.ts';
import { runAsMain, stopBench, writeBenchReport } from '../bench-main.ts';
import { benchFlags } from '../bench-flags.ts';
import { FOREIGN_BUSY, sleep, waitQuiet } from '../quiet-cores.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);

/** The endpoints the issue names, as autocannon requests them. */
export const ENDPOINTS = ['/v1/health/service/web?passing', '/v1/catalog/services'] as const;

export interface HttpBenchOptions {
  durationSec: number;
  reps: number;
  connections: number;
  pipelining: number;
  warmupSec: number;
  services: number;
  instances: number;
  watchers: number;
  watchWindowSec: number;
  serverCpu: number;
  clientCpu: number;
  quietWaitSec: number;
  out: string;
}

/** Flags override environment variables, which override the defaults in the file comment. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): HttpBenchOptions {
  const { num, raw } = benchFlags(argv, {
    duration: 'BENCH_DURATION', reps: 'BENCH_REPS', connections: 'BENCH_CONNECTIONS', pipelining: 'BENCH_PIPELINING', warmup: 'BENCH_WARMUP',
    services: 'BENCH_SERVICES', instances: 'BENCH_INSTANCES', watchers: 'BENCH_WATCHERS', 'watch-window': 'BENCH_WATCH_WINDOW',
    'server-cpu': 'BENCH_SERVER_CPU', 'client-cpu': 'BENCH_CLIENT_CPU', 'quiet-wait': 'BENCH_QUIET_WAIT', out: 'BENCH_OUT',
  }, env);
  return {
    durationSec: num('duration', 10, 1),
    reps: num('reps', 3, 1),
    connections: num('connections', 50, 1),
    pipelining: num('pipelining', 1, 1),
    warmupSec: num('warmup', 2, 0),
    services: num('services', 50, 2),
    instances: num('instances', 3, 1),
    watchers: num('watchers', 10_000, 0),
    watchWindowSec: num('watch-window', 5, 1),
    serverCpu: num('server-cpu', 0, 0),
    clientCpu: num('client-cpu', 1, 0),
    quietWaitSec: num('quiet-wait', 30, 0),
    out: resolve(REPO_ROOT, raw('out') ?? 'bench/out'),
  };
}

const log = (msg: string) => process.stderr.write(`bench:http: ${msg}\n`);

/** USER_HZ, for /proc/<pid>/stat CPU ticks. */
function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

function procTicks(pid: number): number {
  return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuTicks;
}

function rssKiB(pid: number): number {
  return parseStatusMemory(pid, readFileSync(`/proc/${pid}/status`, 'utf8')).rssKiB;
}

/** Soft `Max open files` of a process, from /proc/<pid>/limits. */
function openFileLimit(pid: number | 'self'): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return !m ? 0 : m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

async function httpGet(url: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

async function httpPut(url: string): Promise<void> {
  const res = await fetch(url, { method: 'PUT', signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`PUT ${url}: ${res.status} ${text}`);
}

/** Polls `url` until it answers 200, failing early if `t` exits. */
async function waitReady(url: string, t: Tracked, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (let i = 0; i < 100_000; i++) {
    if (t.done) throw new Error(`${t.name} exited before answering ${url}: ${t.tail()}`);
    try {
      if ((await httpGet(url)).status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > end) throw new Error(`${t.name} did not answer ${url} within ${deadlineMs} ms: ${t.tail()}`);
    await sleep(50);
  }
}

/** The agent's `herald.http.queries_blocking` gauge, or undefined when it cannot be read. */
async function blockingGauge(baseUrl: string): Promise<number | undefined> {
  try {
    const m = JSON.parse((await httpGet(`${baseUrl}/v1/agent/metrics`)).body.toString('utf8')) as { Gauges?: { Name: string; Value: number }[] };
    return m.Gauges?.find((g) => g.Name === 'herald.http.queries_blocking')?.Value;
  } catch {
    return undefined;
  }
}

function machineFacts(o: HttpBenchOptions): HttpBenchReport['machine'] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    // os.cpus(), not availableParallelism(): the harness itself is pinned to one core.
    cpus: cpus().length,
    kernel: release(),
    node: process.version,
    herald: VERSION,
    fastify: (require('fastify/package.json') as { version: string }).version,
    autocannon: AUTOCANNON_VERSION,
    serverCpu: o.serverCpu,
    clientCpu: o.clientCpu,
  };
}

/** Captured response of `path` from Herald, as the ceiling will replay it. */
async function capture(baseUrl: string, path: string): Promise<CapturedRoute> {
  const r = await httpGet(baseUrl + path);
  if (r.status !== 200) throw new Error(`GET ${path} on Herald answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => (headers[k] = v));
  return { path: path.split('?')[0]!, status: r.status, headers, bodyBase64: r.body.toString('base64') };
}

async function measure(
  reaper: ProcessReaper,
  o: HttpBenchOptions,
  server: { kind: ServerKind; pid: number; baseUrl: string },
  endpoint: string,
  rep: number,
  hz: number,
): Promise<RunRecord> {
  const quiet = await waitQuiet([o.serverCpu, o.clientCpu], o.quietWaitSec);
  const cores0 = readCoreTimes();
  const ticks0 = procTicks(server.pid);
  const t0 = performance.now();
  const load = await runAutocannon(reaper, { url: server.baseUrl + endpoint, connections: o.connections, pipelining: o.pipelining, durationSec: o.durationSec, cpu: o.clientCpu });
  const wallSec = (performance.now() - t0) / 1000;
  const ticks1 = procTicks(server.pid);
  const cores1 = readCoreTimes();
  const serverCores = (ticks1 - ticks0) / hz / wallSec;
  const serverCoreBusy = busyBetween(cores0, cores1, o.serverCpu);
  return {
    endpoint,
    server: server.kind,
    rep,
    load,
    serverCores,
    serverCoreBusy,
    clientCoreBusy: busyBetween(cores0, cores1, o.clientCpu),
    contended: !quiet || (serverCoreBusy ?? 0) - serverCores > FOREIGN_BUSY,
  };
}

async function blockedWatchers(o: HttpBenchOptions, agentPid: number, baseUrl: string, port: number, names: string[], hz: number, notes: string[]): Promise<WatcherFigure | undefined> {
  const needFds = o.watchers + 256;
  const mine = openFileLimit('self');
  const theirs = openFileLimit(agentPid);
  if (mine < needFds || theirs < needFds) {
    notes.push(`blocked-watcher figure skipped: open-file limit too low (harness ${mine}, agent ${theirs}, need ${needFds}); run through bench/http/run.sh, which raises ulimit -n`);
    return undefined;
  }
  const index = new Map<string, string>();
  for (const s of names) {
    const r = await httpGet(`${baseUrl}/v1/health/service/${s}`);
    index.set(s, r.headers.get('x-consul-index') ?? '1');
  }
  const targets: WatcherTarget[] = Array.from({ length: o.watchers }, (_, i) => {
    const s = names[i % names.length]!;
    return { key: s, path: `/v1/health/service/${s}?index=${index.get(s)}&wait=5m` };
  });
  const rssBeforeKiB = rssKiB(agentPid);
  const pool = new WatcherPool('127.0.0.1', port);
  try {
    log(`parking ${o.watchers} blocking queries`);
    const parked = await pool.park(targets, 500, 180_000);
    // The agent reads a request some time after the client wrote it: wait (bounded) until its
    // gauge counts them all, so RSS and CPU are measured with every watcher parked.
    let gauge = await blockingGauge(baseUrl);
    const end = Date.now() + 60_000;
    while (gauge !== undefined && gauge < parked.written && Date.now() < end) {
      await sleep(200);
      gauge = await blockingGauge(baseUrl);
    }
    if (gauge === undefined) notes.push('the agent exposes no herald.http.queries_blocking gauge; parked count not confirmed server-side');
    const returnedBeforeChange = pool.returned();
    if (!(await waitQuiet([o.serverCpu, o.clientCpu], o.quietWaitSec))) notes.push('the bench cores were busy with other work before the parked-CPU window');
    const ticks0 = procTicks(agentPid);
    const t0 = performance.now();
    await sleep(o.watchWindowSec * 1000);
    const parkedCpuCores = (procTicks(agentPid) - ticks0) / hz / ((performance.now() - t0) / 1000);
    const rssParkedKiB = rssKiB(agentPid);

    const changed = names[Math.min(7, names.length - 1)]!;
    const expected = targets.filter((t) => t.key === changed).length;
    const before = pool.returned();
    const beforeChanged = pool.returnedFor(changed);
    log(`failing ${checkIdOf(changed, 1)}; ${expected} watchers read ${changed}`);
    await httpPut(`${baseUrl}/v1/agent/check/fail/${checkIdOf(changed, 1)}?note=bench`);
    const tChange = performance.now();
    const all = await pool.waitFor(() => pool.returnedFor(changed) - beforeChanged >= expected, 30_000);
    const allReturnedMs = all ? Math.round(performance.now() - tChange) : undefined;
    // Give wrongly woken watchers of other services a moment to show up (a benchmark, not a test).
    await sleep(1000);
    const returnedForChanged = pool.returnedFor(changed) - beforeChanged;
    return {
      requested: o.watchers,
      written: parked.written,
      parkedGauge: gauge,
      services: names.length,
      rssBeforeKiB,
      rssParkedKiB,
      parkedCpuCores,
      windowSec: o.watchWindowSec,
      returnedBeforeChange,
      changedService: changed,
      expectedReturns: expected,
      returnedForChanged,
      returnedOthers: pool.returned() - before - returnedForChanged,
      allReturnedMs,
      parkErrors: parked.errors.length,
    };
  } finally {
    pool.close();
  }
}

export async function runHttpBench(o: HttpBenchOptions): Promise<HttpBenchReport> {
  const reaper = new ProcessReaper();
  const uninstall = reaper.installSignalHandlers();
  const work = await mkdtemp(join(tmpdir(), 'herald-bench-http-'));
  const hz = clockTicks();
  const notes: string[] = [];
  try {
    const names = benchServiceNames(o.services);
    const configDir = join(work, 'config');
    await mkdir(configDir);
    await writeFile(join(configDir, 'bench-services.json'), JSON.stringify(benchServicesConfig(names, o.instances)));

    const httpPort = await freePort();
    const dnsPort = await freePort();
    // Not -dev: a dev agent pretty-prints every answer; production agents send compact JSON.
    const args = agentArgs({ httpPort, dnsPort, nodeName: 'bench-node', configDir, dataDir: join(work, 'data') });
    log(`starting herald on CPU${o.serverCpu} (http ${httpPort})`);
    const herald = await reaper.spawn('herald', 'taskset', ['-c', String(o.serverCpu), process.execPath, HERALD_BIN, ...args], { cwd: REPO_ROOT });
    const heraldUrl = `http://127.0.0.1:${httpPort}`;
    await waitForAgent(heraldUrl, herald.exited, () => herald.tail(), 60_000);

    // The config's services reach the catalog through the agent's sync: wait (bounded) for all.
    const loadedBy = Date.now() + 30_000;
    for (let i = 0; ; i++) {
      const services = JSON.parse((await httpGet(`${heraldUrl}/v1/catalog/services`)).body.toString('utf8')) as Record<string, string[]>;
      const web = JSON.parse((await httpGet(`${heraldUrl}/v1/health/service/web?passing`)).body.toString('utf8')) as unknown[];
      const missing = names.filter((n) => !(n in services));
      if (missing.length === 0 && web.length === o.instances) break;
      if (Date.now() > loadedBy || i > 1000) {
        throw new Error(`catalog incomplete after 30 s: ${missing.length} bench services missing, health/service/web?passing has ${web.length} of ${o.instances}`);
      }
      await sleep(100);
    }

    const routes = await Promise.all(ENDPOINTS.map((e) => capture(heraldUrl, e)));
    const bodies = Object.fromEntries(ENDPOINTS.map((e, i) => [e, Buffer.from(routes[i]!.bodyBase64, 'base64').length]));
    const routesFile = join(work, 'routes.json');
    await writeFile(routesFile, JSON.stringify(routes));
    const ceilingPort = await freePort();
    log(`starting the fastify ceiling on CPU${o.serverCpu} (http ${ceilingPort})`);
    const ceiling = await reaper.spawn(
      'ceiling',
      'taskset',
      ['-c', String(o.serverCpu), process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bench/http/ceiling-server.ts'), routesFile, String(ceilingPort)],
      { cwd: REPO_ROOT },
    );
    const ceilingUrl = `http://127.0.0.1:${ceilingPort}`;
    await waitReady(ceilingUrl + ENDPOINTS[0], ceiling);
    for (const e of ENDPOINTS) {
      const [h, c] = [await httpGet(heraldUrl + e), await httpGet(ceilingUrl + e)];
      if (!h.body.equals(c.body)) throw new Error(`the ceiling's body for ${e} differs from Herald's (${c.body.length} vs ${h.body.length} bytes)`);
    }

    const servers = [
      { kind: 'herald' as const, pid: herald.pid, baseUrl: heraldUrl },
      { kind: 'ceiling' as const, pid: ceiling.pid, baseUrl: ceilingUrl },
    ];
    if (o.warmupSec > 0) {
      for (const e of ENDPOINTS) {
        for (const s of servers) {
          log(`warm-up ${s.kind} ${e}`);
          await runAutocannon(reaper, { url: s.baseUrl + e, connections: o.connections, pipelining: o.pipelining, durationSec: o.warmupSec, cpu: o.clientCpu });
        }
      }
    }
    const runs: RunRecord[] = [];
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const e of ENDPOINTS) {
        for (const s of rep % 2 ? servers : [...servers].reverse()) {
          const r = await measure(reaper, o, s, e, rep, hz);
          log(`rep ${rep} ${s.kind} ${e}: ${Math.round(r.load.reqPerSec)} req/s, p99 ${r.load.latencyP99Ms} ms, server ${(r.serverCores * 100).toFixed(0)}% of a core${r.contended ? ' (contended)' : ''}`);
          runs.push(r);
        }
      }
    }
    await reaper.stop(ceiling);

    let watchers: WatcherFigure | undefined;
    if (o.watchers > 0) watchers = await blockedWatchers(o, herald.pid, heraldUrl, httpPort, names, hz, notes);

    const summaries = summarize(runs);
    for (const s of summaries) {
      if ((s.clientCoreBusyMax ?? 0) > 0.95) notes.push(`${s.endpoint}: the client core was saturated (${Math.round((s.clientCoreBusyMax ?? 0) * 100)}%), so the ceiling figure is a floor and the ratio an upper bound`);
    }
    return {
      when: new Date().toISOString(),
      command: process.env.BENCH_COMMAND ?? `node --import tsx bench/http/orchestrate.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine: machineFacts(o),
      options: { durationSec: o.durationSec, reps: o.reps, connections: o.connections, pipelining: o.pipelining, services: o.services, instances: o.instances, watchers: o.watchers },
      bodies,
      runs,
      summaries,
      watchers,
      notes,
    };
  } finally {
    await stopBench(reaper, work, log, uninstall);
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const report = await runHttpBench(o);
  const stem = await writeBenchReport(o.out, 'http', report.when, report, renderMarkdown(report));
  log(`wrote ${stem}.{json,md}`);
}

runAsMain(import.meta.url, main, log);
