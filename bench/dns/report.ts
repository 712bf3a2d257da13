/**
 * Turning runs into the published numbers: medians with min–max per server and query set,
 * the ratios the issue asks for, the pass/fail of each target, and the markdown tables.
 * Pure functions of the recorded runs, so the same JSON always renders the same report.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DnsperfResult } from './dnsperf.ts';

/** The query sets, in report order. */
export const QUERY_KINDS = ['a', 'srv', 'nx', 'mix'] as const;
export type QueryKind = (typeof QUERY_KINDS)[number];

/** One dnsperf run against one server. */
export interface RunRecord {
  rep: number;
  server: string;
  query: QueryKind;
  result?: DnsperfResult;
  error?: string;
  /** Busy fraction of the server core inside the steady window. */
  serverBusy?: number;
  /** Busy fraction of the load-generator core inside the steady window. */
  clientBusy?: number;
  /** Hypervisor steal on the server core inside the window. */
  serverSteal?: number;
  /** Share of both bench cores used by processes other than the server and dnsperf in the window. */
  foreignBusy?: number;
  /** Share of the bench cores other processes used just before or after the run (no traffic). */
  backgroundBusy?: number;
  /** The host was not quiet before this run (see backgroundBusy). */
  contended?: boolean;
}

/** Median, min and max of a set of numbers. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Everything reported for one server and query set. */
export interface Cell {
  server: string;
  query: QueryKind;
  runs: number;
  failed: number;
  qps?: Spread;
  latencyAvgUs?: number;
  latencyStddevUs?: number;
  latencyMaxUs?: number;
  lost: number;
  sent: number;
  responseBytes?: number;
  serverBusy?: number;
  clientBusy?: number;
  /** Median share of the bench cores that other processes used during the runs. */
  foreignBusy?: number;
  /** Runs that started on a busy host. */
  contended: number;
  rcodes: Record<string, number>;
}

/** Median of a non-empty list (mean of the middle two for even lengths). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function spread(xs: number[]): Spread | undefined {
  return xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) } : undefined;
}

function med(xs: Array<number | undefined>): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return v.length ? median(v) : undefined;
}

/** Groups runs by (server, query) in the given server order and query order. */
export function summarize(runs: readonly RunRecord[], servers: readonly string[]): Cell[] {
  const cells: Cell[] = [];
  for (const query of QUERY_KINDS) {
    for (const server of servers) {
      const mine = runs.filter((r) => r.server === server && r.query === query);
      if (mine.length === 0) continue;
      const ok = mine.filter((r) => r.result).map((r) => ({ ...r, result: r.result! }));
      const rcodes: Record<string, number> = {};
      for (const r of ok) for (const [k, v] of Object.entries(r.result.rcodes)) rcodes[k] = (rcodes[k] ?? 0) + v;
      cells.push({
        server,
        query,
        runs: mine.length,
        failed: mine.length - ok.length,
        qps: spread(ok.map((r) => r.result.qps)),
        latencyAvgUs: med(ok.map((r) => r.result.latencyAvgUs)),
        latencyStddevUs: med(ok.map((r) => r.result.latencyStddevUs)),
        latencyMaxUs: ok.length ? Math.max(...ok.map((r) => r.result.latencyMaxUs)) : undefined,
        lost: ok.reduce((n, r) => n + r.result.lost, 0),
        sent: ok.reduce((n, r) => n + r.result.sent, 0),
        responseBytes: med(ok.map((r) => r.result.responseBytes)),
        serverBusy: med(mine.map((r) => r.serverBusy)),
        clientBusy: med(mine.map((r) => r.clientBusy)),
        foreignBusy: med(mine.map((r) => r.foreignBusy)),
        contended: mine.filter((r) => r.contended).length,
        rcodes,
      });
    }
  }
  return cells;
}

function qpsOf(cells: readonly Cell[], server: string, query: QueryKind): number | undefined {
  return cells.find((c) => c.server === server && c.query === query)?.qps?.median;
}

/** The node ceiling the targets compare against: node-responder, else its default-buffer twin. */
export function ceilingServer(cells: readonly Cell[]): string | undefined {
  for (const s of ['node-responder', 'node-responder-defbuf']) if (cells.some((c) => c.server === s && c.qps)) return s;
  return undefined;
}

/** The ratios of the issue, per query set; undefined where a side was not measured. */
export interface RatioRow {
  query: QueryKind;
  heraldOverNode?: number;
  heraldOverDnsmasq?: number;
  knotOverHerald?: number;
  knotOverNode?: number;
  nodeOverDnsmasq?: number;
}

/** Median-QPS ratios per query set. */
export function ratios(cells: readonly Cell[]): RatioRow[] {
  const node = ceilingServer(cells);
  const div = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  return QUERY_KINDS.map((query) => {
    const h = qpsOf(cells, 'herald', query);
    const n = node ? qpsOf(cells, node, query) : undefined;
    const d = qpsOf(cells, 'dnsmasq', query);
    const k = qpsOf(cells, 'knot', query);
    return {
      query,
      heraldOverNode: div(h, n),
      heraldOverDnsmasq: div(h, d),
      knotOverHerald: div(k, h),
      knotOverNode: div(k, n),
      nodeOverDnsmasq: div(n, d),
    };
  });
}

/** One target of the issue and whether this run met it (undefined: not measured). */
export interface TargetCheck {
  target: string;
  measured: string;
  pass?: boolean;
}

/**
 * The issue's targets for cached answers with the server on one core: Herald >= 0.9 x the Node
 * ceiling (each query set), Herald >= 2 x dnsmasq on SRV and on the mix, and no lost queries.
 */
export function evaluateTargets(cells: readonly Cell[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const rows = ratios(cells);
  const node = ceilingServer(cells);
  for (const r of rows) {
    out.push({
      target: `herald >= 0.90 x ${node ?? 'node-responder'} QPS (${r.query})`,
      measured: fmtRatio(r.heraldOverNode),
      pass: r.heraldOverNode === undefined ? undefined : r.heraldOverNode >= 0.9,
    });
  }
  for (const r of rows.filter((x) => x.query === 'srv' || x.query === 'mix')) {
    out.push({
      target: `herald >= 2 x dnsmasq QPS (${r.query})`,
      measured: fmtRatio(r.heraldOverDnsmasq),
      pass: r.heraldOverDnsmasq === undefined ? undefined : r.heraldOverDnsmasq >= 2,
    });
  }
  const herald = cells.filter((c) => c.server === 'herald' && c.qps);
  const lost = herald.reduce((n, c) => n + c.lost, 0);
  const sent = herald.reduce((n, c) => n + c.sent, 0);
  out.push({
    target: 'herald loses no queries',
    measured: herald.length ? `${lost} lost of ${sent} sent` : 'n/a',
    pass: herald.length ? lost === 0 : undefined,
  });
  return out;
}

/** `123456` -> `123.5k`. */
export function fmtQps(q?: number): string {
  if (q === undefined) return 'n/a';
  return q >= 1000 ? `${(q / 1000).toFixed(1)}k` : q.toFixed(0);
}

/** `0.934` -> `0.93×`. */
export function fmtRatio(r?: number): string {
  return r === undefined ? 'n/a' : `${r.toFixed(2)}×`;
}

function pct(x?: number): string {
  return x === undefined ? 'n/a' : `${(x * 100).toFixed(0)} %`;
}

function us(x?: number): string {
  return x === undefined ? 'n/a' : x.toFixed(0);
}

/**
 * Which side limited a cell, from the steady-window busy figures: the server when its core was
 * >= 90 % busy, dnsperf when only the load core was, else neither (latency- or loss-bound).
 */
export function boundBy(c: Pick<Cell, 'serverBusy' | 'clientBusy'>): string {
  if (c.serverBusy === undefined || c.clientBusy === undefined) return 'n/a';
  if (c.serverBusy >= 0.9) return 'server';
  if (c.clientBusy >= 0.9) return 'dnsperf';
  return 'neither';
}

/** The line of a failure that says what went wrong (first line naming an error), for tables. */
export function shortReason(reason: string): string {
  const lines = reason.split('\n').map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => /error|==>|not ready|does not exist|cannot/i.test(l) && !/^at /.test(l));
  return (lines[0] ?? '') + (err && err !== lines[0] ? ` … ${err}` : '');
}

/** Measured answer for one question from one server (one reply, no EDNS, like dnsperf). */
export interface AnswerSample {
  server: string;
  question: string;
  bytes?: number;
  rcode?: string;
  answers?: number;
  authority?: number;
  additional?: number;
  /** Same rcode, answer records and ADDITIONAL addresses as Knot's reply. */
  sameAsKnot?: boolean;
  error?: string;
}

/** Per-server facts recorded beside the runs. */
export interface ServerFacts {
  name: string;
  status: 'ran' | 'skipped';
  reason?: string;
  port?: number;
  readyMs?: number;
  /** Distinct CPU affinity lists over all threads. */
  affinity?: string[];
  /** Sum of VmRSS over the server's process group, KiB, after it loaded its data / after the load. */
  rssKiBReady?: number;
  rssKiBAfter?: number;
  hwmKiBAfter?: number;
}

/** Everything one harness run produced (also the JSON written to bench/out). */
export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  options: Record<string, unknown>;
  machine: Record<string, string>;
  servers: ServerFacts[];
  answers: AnswerSample[];
  runs: RunRecord[];
  cells: Cell[];
  ratios: RatioRow[];
  targets: TargetCheck[];
  baseline?: { file: string; services: number; heraldMix?: number; ratio?: number };
  /** The same statistics over uncontended runs only, when some runs were contended. */
  quiet?: { runs: number; cells: Cell[]; ratios: RatioRow[]; targets: TargetCheck[] };
}

function cellTable(cells: readonly Cell[]): string[] {
  const L = [
    '| query | server | QPS median (min–max) | avg lat µs | lat stddev µs | max lat ms | lost / sent | resp B | server core busy | dnsperf core busy | bound by | other work on bench cores | contended runs | rcodes |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of cells) {
    const q = c.qps ? `**${fmtQps(c.qps.median)}** (${fmtQps(c.qps.min)}–${fmtQps(c.qps.max)})` : 'failed';
    const rc = Object.entries(c.rcodes).map(([k, v]) => `${k} ${v}`).join(', ');
    L.push(
      `| ${c.query} | ${c.server} | ${q}${c.failed ? ` (${c.failed} failed)` : ''} | ${us(c.latencyAvgUs)} | ${us(c.latencyStddevUs)} | ${c.latencyMaxUs === undefined ? 'n/a' : (c.latencyMaxUs / 1000).toFixed(1)} | ${c.lost} / ${c.sent} | ${c.responseBytes ?? 'n/a'} | ${pct(c.serverBusy)} | ${pct(c.clientBusy)} | ${boundBy(c)} | ${pct(c.foreignBusy)} | ${c.contended}/${c.runs} | ${rc} |`,
    );
  }
  return L;
}

function ratioTable(cells: readonly Cell[], rows: readonly RatioRow[]): string[] {
  const node = ceilingServer(cells) ?? 'node-responder';
  return [
    `| query | herald / ${node} | herald / dnsmasq | knot / herald | knot / ${node} | ${node} / dnsmasq |`,
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (x) =>
        `| ${x.query} | ${fmtRatio(x.heraldOverNode)} | ${fmtRatio(x.heraldOverDnsmasq)} | ${fmtRatio(x.knotOverHerald)} | ${fmtRatio(x.knotOverNode)} | ${fmtRatio(x.nodeOverDnsmasq)} |`,
    ),
  ];
}

function targetTable(targets: readonly TargetCheck[]): string[] {
  return [
    '| target | measured | result |',
    '| --- | --- | --- |',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.pass === undefined ? 'not measured' : t.pass ? 'PASS' : 'FAIL'} |`),
  ];
}

/**
 * The uncontended subset of a run (undefined when every run was uncontended, so the main tables
 * already are that subset): statistics, ratios and targets over the runs with no other work on
 * the bench cores.
 */
export function quietSubset(runs: readonly RunRecord[], servers: readonly string[]): BenchReport['quiet'] {
  const quiet = runs.filter((r) => !r.contended);
  if (quiet.length === runs.length) return undefined;
  const cells = summarize(quiet, servers);
  return { runs: quiet.length, cells, ratios: ratios(cells), targets: evaluateTargets(cells) };
}

/** Renders the report as markdown: machine, servers, QPS table, ratios, targets, answers. */
export function renderMarkdown(r: BenchReport): string {
  const L: string[] = [];
  L.push(`### DNS benchmark ${r.startedAt}`, '');
  L.push(`Command: \`${r.command}\``, '');
  L.push(Object.entries(r.machine).map(([k, v]) => `- ${k}: ${v}`).join('\n'), '');
  L.push('| server | status | port | ready (ms) | thread affinity | RSS ready (MiB) | RSS after load (MiB) | peak RSS (MiB) |');
  L.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const mib = (k?: number) => (k === undefined ? 'n/a' : (k / 1024).toFixed(1));
  for (const s of r.servers) {
    L.push(
      `| ${s.name} | ${s.status === 'ran' ? 'ran' : `skipped: ${shortReason(s.reason ?? '').replace(/\|/g, '\\|').slice(0, 400)}`} | ${s.port ?? ''} | ${s.readyMs ?? ''} | ${s.affinity?.join(' ') ?? ''} | ${mib(s.rssKiBReady)} | ${mib(s.rssKiBAfter)} | ${mib(s.hwmKiBAfter)} |`,
    );
  }
  L.push('');
  L.push(...cellTable(r.cells));
  const contended = r.runs.filter((x) => x.contended).length;
  if (contended) L.push('', `**Warning:** ${contended} of ${r.runs.length} runs had other work on the bench cores (before, during or after the run); treat their numbers with care.`);
  L.push('', ...ratioTable(r.cells, r.ratios), '', ...targetTable(r.targets));
  if (r.quiet) {
    L.push(
      '',
      `#### Uncontended runs only (${r.quiet.runs} of ${r.runs.length})`,
      '',
      'The same statistics over the runs with no other work on the bench cores before, during or after them.',
      '',
      ...cellTable(r.quiet.cells),
      '',
      ...ratioTable(r.quiet.cells, r.quiet.ratios),
      '',
      ...targetTable(r.quiet.targets),
    );
  }
  if (r.baseline) {
    L.push(
      '',
      `Herald mix QPS against the baseline run with ${r.baseline.services} services (${r.baseline.file}): ${fmtQps(r.baseline.heraldMix)} there, ratio ${fmtRatio(r.baseline.ratio)}.`,
    );
  }
  L.push('', '| server | question | rcode | answer / authority / additional | bytes | same content as knot |', '| --- | --- | --- | --- | --- | --- |');
  for (const a of r.answers) {
    L.push(
      a.error
        ? `| ${a.server} | ${a.question} | error: ${a.error} | | | |`
        : `| ${a.server} | ${a.question} | ${a.rcode} | ${a.answers} / ${a.authority} / ${a.additional} | ${a.bytes} | ${a.sameAsKnot === undefined ? '' : a.sameAsKnot ? 'yes' : 'NO'} |`,
    );
  }
  return L.join('\n') + '\n';
}

/**
 * CLI: `node --import tsx bench/dns/report.ts <bench/out/X.json>` recomputes the statistics from
 * the recorded runs and prints the markdown again (for reports written by an older harness).
 */
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: report.ts <report.json>\n');
    process.exit(2);
  }
  const r = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  const servers = r.servers.filter((s) => s.status === 'ran').map((s) => s.name);
  const cells = summarize(r.runs, servers);
  process.stdout.write(renderMarkdown({ ...r, cells, ratios: ratios(cells), targets: evaluateTargets(cells), quiet: quietSubset(r.runs, servers) }));
}
