/**
 * The KV benchmark's report: medians over repetitions per case and server, the targets
 * (Herald PUT throughput and p99 with 64 clients, Herald GET against the HTTP ceiling), Herald
 * against etcd, the load on both cores, and the machine and versions, rendered as the markdown
 * section that goes into bench/RESULTS.md.
 */
import type { LoadResult } from '../http/autocannon-run.ts';

/** Acknowledged (2xx) Herald PUTs per second the target asks for. */
export const PUT_TARGET_PER_SEC = 5000;
/** Herald PUT p99 must stay under this, in ms. */
export const PUT_P99_TARGET_MS = 20;
/** Herald GET must reach this fraction of the ceiling's req/s. */
export const GET_RATIO_TARGET = 0.7;

export type KvCase = 'put' | 'get';
export type KvServer = 'herald' | 'etcd' | 'ceiling';

/** One measured run and the CPU the server process and both bench cores used during it. */
export interface KvRunRecord {
  case: KvCase;
  server: KvServer;
  rep: number;
  load: LoadResult;
  durationSec: number;
  /** Server process CPU over the run, in cores (1.0 = one core fully busy). */
  serverCores: number;
  serverCoreBusy: number | undefined;
  clientCoreBusy: number | undefined;
  /** Other work was on the bench cores (not quiet before, or server core busier than the server). */
  contended: boolean;
}

export interface KvSummary {
  case: KvCase;
  server: KvServer;
  runs: number;
  /** Median of the runs' responses per second (all statuses). */
  reqPerSec: number;
  /** Median of the runs' 2xx answers per second: acknowledged writes for PUT. */
  okPerSec: number;
  min: number;
  max: number;
  p50Ms: number;
  /** Median and worst p99 over the runs. */
  p99Ms: number;
  p99MaxMs: number;
  serverCores: number;
  serverCoreBusy: number | undefined;
  clientCoreBusy: number | undefined;
  /** Errors, timeouts and non-2xx answers summed over the runs. */
  failures: number;
  contendedRuns: number;
}

export interface TargetRow {
  target: string;
  measured: string;
  met: boolean | undefined;
}

export interface KvBenchReport {
  when: string;
  command: string;
  machine: Record<string, string | number>;
  options: Record<string, string | number>;
  /** What each workload sends, in words. */
  workloads: Record<string, string>;
  runs: KvRunRecord[];
  summaries: KvSummary[];
  targets: TargetRow[];
  /** Facts checked after the runs (keys written, values read back). */
  checks: string[];
  notes: string[];
}

/** The median of `xs` (mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function medianDefined(xs: readonly (number | undefined)[]): number | undefined {
  const d = xs.filter((x): x is number => x !== undefined);
  return d.length ? median(d) : undefined;
}

/** 2xx answers per second of one run. */
export function okPerSec(r: KvRunRecord): number {
  const total = r.load.totalRequests;
  if (total <= 0) return 0;
  return (r.load.reqPerSec * (total - r.load.non2xx)) / total;
}

/** One summary per (case, server) present, in case then server order. */
export function summarize(runs: readonly KvRunRecord[]): KvSummary[] {
  const out: KvSummary[] = [];
  for (const c of ['put', 'get'] as const) {
    for (const s of ['herald', 'etcd', 'ceiling'] as const) {
      const rs = runs.filter((r) => r.case === c && r.server === s);
      if (rs.length === 0) continue;
      const rate = rs.map((r) => r.load.reqPerSec);
      out.push({
        case: c,
        server: s,
        runs: rs.length,
        reqPerSec: median(rate),
        okPerSec: median(rs.map(okPerSec)),
        min: Math.min(...rate),
        max: Math.max(...rate),
        p50Ms: median(rs.map((r) => r.load.latencyP50Ms)),
        p99Ms: median(rs.map((r) => r.load.latencyP99Ms)),
        p99MaxMs: Math.max(...rs.map((r) => r.load.latencyP99Ms)),
        serverCores: median(rs.map((r) => r.serverCores)),
        serverCoreBusy: medianDefined(rs.map((r) => r.serverCoreBusy)),
        clientCoreBusy: medianDefined(rs.map((r) => r.clientCoreBusy)),
        failures: rs.reduce((n, r) => n + r.load.errors + r.load.timeouts + r.load.non2xx, 0),
        contendedRuns: rs.filter((r) => r.contended).length,
      });
    }
  }
  return out;
}

/** The targets the issue sets, judged on the medians. Undefined `met`: not measured. */
export function judgeTargets(summaries: readonly KvSummary[]): TargetRow[] {
  const find = (c: KvCase, s: KvServer) => summaries.find((x) => x.case === c && x.server === s);
  const put = find('put', 'herald');
  const get = find('get', 'herald');
  const ceiling = find('get', 'ceiling');
  const rows: TargetRow[] = [
    {
      target: `Herald PUT >= ${PUT_TARGET_PER_SEC.toLocaleString('en-US')} acknowledged/s (64 clients)`,
      measured: put ? `${Math.round(put.okPerSec).toLocaleString('en-US')}/s` : 'not run',
      met: put ? put.okPerSec >= PUT_TARGET_PER_SEC : undefined,
    },
    {
      target: `Herald PUT p99 < ${PUT_P99_TARGET_MS} ms`,
      measured: put ? `${put.p99Ms} ms (worst run ${put.p99MaxMs} ms)` : 'not run',
      met: put ? put.p99Ms < PUT_P99_TARGET_MS : undefined,
    },
    {
      target: `Herald GET >= ${GET_RATIO_TARGET.toFixed(2)} x ceiling`,
      measured: get && ceiling ? `${(get.reqPerSec / ceiling.reqPerSec).toFixed(2)}x` : 'not run',
      met: get && ceiling ? get.reqPerSec / ceiling.reqPerSec >= GET_RATIO_TARGET : undefined,
    },
  ];
  return rows;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${Math.round(x * 100)} %`);

/** The markdown section for bench/RESULTS.md. */
export function renderMarkdown(r: KvBenchReport): string {
  const lines: string[] = [];
  lines.push(`## KV: Herald vs etcd (${r.when})`, '');
  lines.push(`Command: \`${r.command}\``, '');
  lines.push('| | |', '| --- | --- |');
  for (const [k, v] of Object.entries(r.machine)) lines.push(`| ${k} | ${v} |`);
  for (const [k, v] of Object.entries(r.options)) lines.push(`| ${k} | ${v} |`);
  lines.push('');
  lines.push('Workloads:', '');
  for (const [k, v] of Object.entries(r.workloads)) lines.push(`- **${k}**: ${v}`);
  lines.push('');
  lines.push(
    '| case | server | req/s median (min–max) | 2xx/s median | p50 ms | p99 ms (worst) | server CPU (cores) | server core busy | client core busy | failures | contended runs |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const s of r.summaries) {
    lines.push(
      `| ${s.case} | ${s.server} | **${int(s.reqPerSec)}** (${int(s.min)}–${int(s.max)}) | ${int(s.okPerSec)} | ${s.p50Ms} | ${s.p99Ms} (${s.p99MaxMs}) | ${s.serverCores.toFixed(2)} | ${pct(s.serverCoreBusy)} | ${pct(s.clientCoreBusy)} | ${s.failures} | ${s.contendedRuns}/${s.runs} |`,
    );
  }
  lines.push('');
  const find = (c: KvCase, s: KvServer) => r.summaries.find((x) => x.case === c && x.server === s);
  const ratios: string[] = [];
  for (const c of ['put', 'get'] as const) {
    const h = find(c, 'herald');
    const e = find(c, 'etcd');
    if (h && e) ratios.push(`| ${c} | ${(h.okPerSec / e.okPerSec).toFixed(2)}x | ${h.p99Ms} / ${e.p99Ms} |`);
  }
  if (ratios.length) lines.push('| case | Herald / etcd (2xx/s) | p99 ms Herald / etcd |', '| --- | ---: | --- |', ...ratios, '');
  lines.push('| target | measured | result |', '| --- | --- | --- |');
  for (const t of r.targets) lines.push(`| ${t.target} | ${t.measured} | ${t.met === undefined ? 'not measured' : t.met ? 'PASS' : 'FAIL'} |`);
  lines.push('');
  for (const c of r.checks) lines.push(`- Check: ${c}`);
  for (const n of r.notes) lines.push(`- Note: ${n}`);
  return lines.join('\n') + '\n';
}
