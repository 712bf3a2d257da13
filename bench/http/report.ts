/**
 * The HTTP benchmark's report: medians over repetitions, the Herald/ceiling ratio per endpoint
 * against the 0.70 target, the blocked-watcher figure, and the machine and versions, rendered as
 * the markdown section that goes into bench/RESULTS.md.
 */
import type { LoadResult } from './autocannon-run.ts';

/** Herald must reach this fraction of the bare-fastify ceiling's req/s on each endpoint. */
export const RATIO_TARGET = 0.7;

export type ServerKind = 'herald' | 'ceiling';

/** One measured autocannon run plus the CPU the server and the two cores used during it. */
export interface RunRecord {
  endpoint: string;
  server: ServerKind;
  rep: number;
  load: LoadResult;
  /** Server process CPU over the run, in cores (1.0 = one core fully busy). */
  serverCores: number;
  /** Busy fraction of the server core and the client core over the run (/proc/stat). */
  serverCoreBusy: number | undefined;
  clientCoreBusy: number | undefined;
  /**
   * Other work was on the bench cores: they were not quiet before the run (see the harness's
   * quiet wait), or the server core was busier than the server process accounts for.
   */
  contended: boolean;
}

export interface EndpointSummary {
  endpoint: string;
  herald: { reqPerSec: number; p99Ms: number; min: number; max: number; serverCores: number };
  ceiling: { reqPerSec: number; p99Ms: number; min: number; max: number; serverCores: number };
  /** median herald req/s ÷ median ceiling req/s. */
  ratio: number;
  /** The same ratio over uncontended runs only; undefined unless both servers have one. */
  quietRatio: number | undefined;
  meetsTarget: boolean;
  /** Max client-core busy fraction over the uncontended runs (all runs if none); near 1: client-bound. */
  clientCoreBusyMax: number | undefined;
  /** Errors, timeouts and non-2xx answers summed over every run of this endpoint. */
  failures: number;
  /** Runs of this endpoint flagged contended. */
  contendedRuns: number;
}

export interface WatcherFigure {
  requested: number;
  written: number;
  /** Parked on the agent according to its `herald.http.queries_blocking` gauge (undefined if unreadable). */
  parkedGauge: number | undefined;
  services: number;
  rssBeforeKiB: number;
  rssParkedKiB: number;
  /** Agent CPU while parked, in cores, over `windowSec`. */
  parkedCpuCores: number;
  windowSec: number;
  returnedBeforeChange: number;
  changedService: string;
  /** Watchers on the changed service. */
  expectedReturns: number;
  returnedForChanged: number;
  /** Watchers of other services that returned after the change (should be 0). */
  returnedOthers: number;
  /** From the write's reply to the last expected return, ms (informational). */
  allReturnedMs: number | undefined;
  parkErrors: number;
}

export interface MachineFacts {
  cpuModel: string;
  cpus: number;
  kernel: string;
  node: string;
  herald: string;
  fastify: string;
  autocannon: string;
  serverCpu: number;
  clientCpu: number;
}

export interface HttpBenchReport {
  when: string;
  command: string;
  machine: MachineFacts;
  options: { durationSec: number; reps: number; connections: number; pipelining: number; services: number; instances: number; watchers: number };
  bodies: Record<string, number>;
  runs: RunRecord[];
  summaries: EndpointSummary[];
  watchers?: WatcherFigure;
  notes: string[];
}

/** Median of a non-empty list (mean of the middle two for even lengths). */
export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Per-endpoint medians and ratio, in the order endpoints first appear in `runs`. */
export function summarize(runs: RunRecord[]): EndpointSummary[] {
  const endpoints = [...new Set(runs.map((r) => r.endpoint))];
  return endpoints.map((endpoint) => {
    const of = (server: ServerKind) => {
      const rs = runs.filter((r) => r.endpoint === endpoint && r.server === server);
      if (rs.length === 0) throw new Error(`no ${server} runs for ${endpoint}`);
      const qps = rs.map((r) => r.load.reqPerSec);
      return {
        reqPerSec: median(qps),
        p99Ms: median(rs.map((r) => r.load.latencyP99Ms)),
        min: Math.min(...qps),
        max: Math.max(...qps),
        serverCores: median(rs.map((r) => r.serverCores)),
      };
    };
    const herald = of('herald');
    const ceiling = of('ceiling');
    const ratio = ceiling.reqPerSec > 0 ? herald.reqPerSec / ceiling.reqPerSec : 0;
    const mine = runs.filter((r) => r.endpoint === endpoint);
    const quiet = (server: ServerKind) => mine.filter((r) => r.server === server && !r.contended).map((r) => r.load.reqPerSec);
    const [qh, qc] = [quiet('herald'), quiet('ceiling')];
    const quietRatio = qh.length && qc.length && median(qc) > 0 ? median(qh) / median(qc) : undefined;
    // Client saturation is judged on uncontended runs when there are any (others' work also
    // makes the client core busy).
    const judged = mine.some((r) => !r.contended) ? mine.filter((r) => !r.contended) : mine;
    const busy = judged.map((r) => r.clientCoreBusy).filter((b): b is number => b !== undefined);
    return {
      endpoint,
      herald,
      ceiling,
      ratio,
      quietRatio,
      meetsTarget: ratio >= RATIO_TARGET,
      clientCoreBusyMax: busy.length ? Math.max(...busy) : undefined,
      failures: mine.reduce((n, r) => n + r.load.errors + r.load.timeouts + r.load.non2xx, 0),
      contendedRuns: mine.filter((r) => r.contended).length,
    };
  });
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (f: number | undefined) => (f === undefined ? 'n/a' : `${Math.round(f * 100)}%`);
const mib = (kib: number) => (kib / 1024).toFixed(1);

/** The markdown section for bench/RESULTS.md. */
export function renderMarkdown(r: HttpBenchReport): string {
  const m = r.machine;
  const o = r.options;
  const lines: string[] = [];
  lines.push(`### Run ${r.when}`, '');
  lines.push(
    `Machine: ${m.cpuModel}, ${m.cpus} CPUs, Linux ${m.kernel}. Node ${m.node}, Herald ${m.herald}, fastify ${m.fastify}, autocannon ${m.autocannon}. ` +
      `Servers pinned to CPU${m.serverCpu}, autocannon and the harness to CPU${m.clientCpu} (taskset).`,
  );
  lines.push(
    `Catalog: ${o.services} services × ${o.instances} instances (one passing TTL check each) on an agent with \`-data-dir\` (not \`-dev\`, which pretty-prints JSON) and \`-plugin http-api\`. ` +
      `autocannon ${o.connections} connections${o.pipelining > 1 ? ` × ${o.pipelining} pipelined` : ''}, ${o.durationSec} s per run, ${o.reps} repetitions interleaved (Herald, ceiling, Herald, ...); medians, min–max in brackets. ` +
      `Ceiling: a bare fastify route in its own process sending Herald's captured response (same status, headers, body bytes).`,
  );
  lines.push(`Command: \`${r.command}\``, '');
  lines.push('| endpoint | body bytes | Herald req/s | Herald p99 | ceiling req/s | ceiling p99 | Herald/ceiling | uncontended runs only | target ≥ 0.70 | client core busy (max, uncontended) |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|');
  for (const s of r.summaries) {
    lines.push(
      `| \`GET ${s.endpoint}\` | ${int(r.bodies[s.endpoint] ?? 0)} | ${int(s.herald.reqPerSec)} (${int(s.herald.min)}–${int(s.herald.max)}) | ${s.herald.p99Ms} ms | ` +
        `${int(s.ceiling.reqPerSec)} (${int(s.ceiling.min)}–${int(s.ceiling.max)}) | ${s.ceiling.p99Ms} ms | ${s.ratio.toFixed(2)} | ${s.quietRatio === undefined ? 'n/a' : s.quietRatio.toFixed(2)} | ${s.meetsTarget ? 'met' : '**not met**'} | ${pct(s.clientCoreBusyMax)} |`,
    );
  }
  const contended = r.summaries.filter((s) => s.contendedRuns > 0);
  if (contended.length) {
    lines.push('', `Contended runs (other work on the bench cores): ${contended.map((s) => `${s.endpoint}: ${s.contendedRuns} of ${r.runs.filter((x) => x.endpoint === s.endpoint).length}`).join('; ')}.`);
  }
  const failures = r.summaries.filter((s) => s.failures > 0);
  if (failures.length) lines.push('', `Errors/timeouts/non-2xx: ${failures.map((s) => `${s.endpoint}: ${s.failures}`).join('; ')}.`);
  const w = r.watchers;
  if (w) {
    lines.push('', `Blocked watchers: ${int(w.requested)} \`GET /v1/health/service/<s>?index=<current>&wait=5m\` over ${int(w.written)} real sockets, spread over ${w.services} services.`, '');
    lines.push('| figure | value |', '|---|---:|');
    lines.push(`| parked on the agent (its \`herald.http.queries_blocking\` gauge) | ${w.parkedGauge === undefined ? 'n/a' : int(w.parkedGauge)} |`);
    lines.push(`| agent RSS before | ${mib(w.rssBeforeKiB)} MiB |`);
    lines.push(`| agent RSS with all parked | ${mib(w.rssParkedKiB)} MiB (+${mib(w.rssParkedKiB - w.rssBeforeKiB)} MiB, ${((w.rssParkedKiB - w.rssBeforeKiB) * 1024 / Math.max(1, w.written)).toFixed(0)} B per watcher) |`);
    lines.push(`| agent CPU while parked (${w.windowSec} s window) | ${(w.parkedCpuCores * 100).toFixed(1)}% of a core |`);
    lines.push(`| returned before any change | ${int(w.returnedBeforeChange)} |`);
    lines.push(`| returned after one check of \`${w.changedService}\` failed | ${int(w.returnedForChanged)} of ${int(w.expectedReturns)} watching it |`);
    lines.push(`| watchers of other services that returned | ${int(w.returnedOthers)} |`);
    lines.push(`| write reply → last expected return | ${w.allReturnedMs === undefined ? 'n/a' : `${w.allReturnedMs} ms`} |`);
    if (w.parkErrors) lines.push(`| park errors | ${int(w.parkErrors)} |`);
  }
  for (const n of r.notes) lines.push('', `Note: ${n}`);
  return lines.join('\n') + '\n';
}
