/**
 * The cluster benchmark's report: per system (Herald, etcd) the failover trials, the sequential
 * commit latency and the 64-writer throughput runs, and for Herald the DNS propagation of health
 * flips between client agents; the targets from /work/shared/spec/distributed-anchors.md §5
 * (G1, G3, G4, G6) judged for Herald with etcd alongside, the load on both cores, and the machine
 * and versions, rendered as the bench/RESULTS.md section.
 */
import { median } from '../kv/report.ts';
import { summarizeMs, type LatencySummary } from './stats.ts';

/** G1: leader failover, kill to first acknowledged write through a survivor, in ms. */
export const FAILOVER_P50_MS = 1000;
export const FAILOVER_P99_MS = 2000;
/** G3: one sequential writer, PUT to the leader, in ms. */
export const COMMIT_P50_MS = 2;
export const COMMIT_P99_MS = 10;
/** G4: 64 concurrent writers. */
export const THROUGHPUT_PER_SEC = 2000;
export const THROUGHPUT_P99_MS = 50;
/** G6: a health flip on one client agent to the DNS answer changing on another, in ms. */
export const DNS_PROPAGATION_P99_MS = 1000;

export type SystemKind = 'herald' | 'etcd';

export interface FailoverTrial {
  trial: number;
  killed: string;
  writeThrough: string;
  /** Kill to acknowledged write, ms; undefined when no write was acknowledged in time. */
  ms: number | undefined;
  attempts: number;
  /** The last refused attempt's status or error, for the record. */
  lastRefusal: string;
  newLeader: string;
  /** Restart to caught-up (the killed member reads the trial's marker locally), ms. */
  catchUpMs: number;
}

export interface ThroughputRun {
  rep: number;
  reqPerSec: number;
  /** 2xx answers per second: acknowledged writes. */
  okPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** The leader process's CPU, in cores. */
  leaderCores: number;
  core0Busy: number | undefined;
  core1Busy: number | undefined;
}

/** Busy fraction of each core over one phase (index = CPU number). */
export type CoreBusy = (number | undefined)[];

/** One health flip of the G6 phase, timed from the moment its request was sent. */
export interface DnsFlip {
  flip: number;
  /** The check's new status: critical (the A record must go), passing (it must come back). */
  to: 'critical' | 'passing';
  /** To the first answer on client B's DNS reflecting the flip, ms; undefined: none before the deadline. */
  remoteMs: number | undefined;
  /** The same on client A's own DNS (the agent that took the flip). */
  localMs: number | undefined;
  /** To the flip request's answer from A, ms. */
  httpMs: number;
  /** 200 expected; 0 when no answer came. */
  httpStatus: number;
  /** The rcode of B's answer that reflected the flip (NXDOMAIN or NOERROR without records for critical). */
  remoteRcode: string;
}

/** What the G6 figures are made of, computed from the flips (see dnsFlipSummary). */
export interface DnsFlipSummary {
  /** Client B (another agent): every flip, then each direction. */
  remote: LatencySummary;
  remoteToCritical: LatencySummary;
  remoteToPassing: LatencySummary;
  /** Client A's own DNS (local path), for reference. */
  local: LatencySummary;
  /** The flip request's HTTP answer from A. */
  http: LatencySummary;
  /** Flips B never reflected before the deadline (they fail the target). */
  remoteFailures: number;
  localFailures: number;
  /** Flip requests not answered 200. */
  httpFailures: number;
}

export interface DnsPropagationResult extends DnsFlipSummary {
  /** The check and how it was flipped, in words. */
  trigger: string;
  /** Which server each client agent follows and which is the leader, in words. */
  path: string;
  /** What the remote figure includes, in words. */
  timed: string;
  /** The DNS poll interval asked for on each client, ms. */
  pollIntervalMs: number;
  /** The gap achieved between successive queries (the figures' resolution), ms. */
  pollGap: { remote: LatencySummary; local: LatencySummary };
  /** Queries without an answer within 500 ms (re-sent). */
  lostQueries: number;
  /** Set when the phase stopped early (a flip left the answers in an unexpected state). */
  stopped?: string;
  flips: DnsFlip[];
  coreBusy: CoreBusy;
}

/** Summaries of the flips' times; a flip not reflected in time counts as a failure, not a sample. */
export function dnsFlipSummary(flips: readonly DnsFlip[]): DnsFlipSummary {
  const times = (xs: readonly DnsFlip[], k: 'remoteMs' | 'localMs') => xs.map((f) => f[k]).filter((x): x is number => x !== undefined);
  const byTo = (to: DnsFlip['to']) => flips.filter((f) => f.to === to);
  return {
    remote: summarizeMs(times(flips, 'remoteMs')),
    remoteToCritical: summarizeMs(times(byTo('critical'), 'remoteMs')),
    remoteToPassing: summarizeMs(times(byTo('passing'), 'remoteMs')),
    local: summarizeMs(times(flips, 'localMs')),
    http: summarizeMs(flips.filter((f) => f.httpStatus === 200).map((f) => f.httpMs)),
    remoteFailures: flips.filter((f) => f.remoteMs === undefined).length,
    localFailures: flips.filter((f) => f.localMs === undefined).length,
    httpFailures: flips.filter((f) => f.httpStatus !== 200).length,
  };
}

export interface SystemResult {
  kind: SystemKind;
  version: string;
  settings: string;
  sequential?: { summary: LatencySummary; failures: number; coreBusy: CoreBusy };
  throughput?: { runs: ThroughputRun[]; okPerSec: number; p99Ms: number };
  failover?: { trials: FailoverTrial[]; summary: LatencySummary; failures: number; coreBusy: CoreBusy };
  /** G6, Herald only (etcd has no DNS). */
  dnsPropagation?: DnsPropagationResult;
}

export interface TargetRow {
  target: string;
  herald: string;
  etcd: string;
  /** Herald meets it; undefined: not measured. */
  met: boolean | undefined;
}

export interface ClusterBenchReport {
  when: string;
  command: string;
  machine: Record<string, string | number>;
  options: Record<string, string | number>;
  systems: SystemResult[];
  targets: TargetRow[];
  notes: string[];
  todo: string[];
}

/** Median of the runs' acknowledged rate and of their p99. */
export function throughputSummary(runs: readonly ThroughputRun[]): { okPerSec: number; p99Ms: number } {
  return { okPerSec: median(runs.map((r) => r.okPerSec)), p99Ms: median(runs.map((r) => r.p99Ms)) };
}

const ms = (x: number) => (Number.isNaN(x) ? 'n/a' : x < 10 ? x.toFixed(2) : x.toFixed(0));
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${Math.round(x * 100)} %`);

/** The targets, judged on Herald's figures; etcd's figures shown alongside (same measure). */
export function judgeTargets(systems: readonly SystemResult[]): TargetRow[] {
  const h = systems.find((s) => s.kind === 'herald');
  const e = systems.find((s) => s.kind === 'etcd');
  const fo = (s: SystemResult | undefined, k: 'p50' | 'p99') =>
    s?.failover ? `${ms(s.failover.summary[k])} ms${s.failover.failures ? ` (${s.failover.failures} failed)` : ''}` : 'not run';
  const seq = (s: SystemResult | undefined, k: 'p50' | 'p99') => (s?.sequential ? `${ms(s.sequential.summary[k])} ms` : 'not run');
  const tput = (s: SystemResult | undefined) => (s?.throughput ? `${int(s.throughput.okPerSec)}/s` : 'not run');
  const tp99 = (s: SystemResult | undefined) => (s?.throughput ? `${ms(s.throughput.p99Ms)} ms` : 'not run');
  const d = h?.dnsPropagation;
  // A failed trial (no write acknowledged before the deadline) fails the failover targets.
  const foMet = (k: 'p50' | 'p99', limit: number) => (h?.failover ? h.failover.failures === 0 && h.failover.summary[k] <= limit : undefined);
  return [
    { target: `G1 failover p50 <= ${FAILOVER_P50_MS} ms`, herald: fo(h, 'p50'), etcd: fo(e, 'p50'), met: foMet('p50', FAILOVER_P50_MS) },
    { target: `G1 failover p99 <= ${FAILOVER_P99_MS} ms`, herald: fo(h, 'p99'), etcd: fo(e, 'p99'), met: foMet('p99', FAILOVER_P99_MS) },
    { target: `G3 commit p50 <= ${COMMIT_P50_MS} ms (1 writer)`, herald: seq(h, 'p50'), etcd: seq(e, 'p50'), met: h?.sequential ? h.sequential.summary.p50 <= COMMIT_P50_MS : undefined },
    { target: `G3 commit p99 <= ${COMMIT_P99_MS} ms (1 writer)`, herald: seq(h, 'p99'), etcd: seq(e, 'p99'), met: h?.sequential ? h.sequential.summary.p99 <= COMMIT_P99_MS : undefined },
    {
      target: `G4 >= ${int(THROUGHPUT_PER_SEC)} acknowledged writes/s (64 writers)`,
      herald: tput(h),
      etcd: tput(e),
      met: h?.throughput ? h.throughput.okPerSec >= THROUGHPUT_PER_SEC : undefined,
    },
    { target: `G4 p99 <= ${THROUGHPUT_P99_MS} ms (64 writers)`, herald: tp99(h), etcd: tp99(e), met: h?.throughput ? h.throughput.p99Ms <= THROUGHPUT_P99_MS : undefined },
    {
      target: `G6 DNS propagation p99 <= ${DNS_PROPAGATION_P99_MS} ms (health flip on client A -> DNS on client B)`,
      herald: d ? `${ms(d.remote.p99)} ms${d.remoteFailures ? ` (${d.remoteFailures} failed)` : ''}` : 'not run',
      etcd: 'n/a (no DNS)',
      // A flip B never reflected, or a phase cut short, fails the target.
      met: d ? d.remoteFailures === 0 && !d.stopped && d.remote.p99 <= DNS_PROPAGATION_P99_MS : undefined,
    },
  ];
}

/** The markdown section for bench/RESULTS.md. */
export function renderMarkdown(r: ClusterBenchReport): string {
  const L: string[] = [];
  L.push(`## Cluster: 3 Herald servers vs 3 etcd members (${r.when})`, '');
  L.push(`Command: \`${r.command}\``, '');
  L.push('| | |', '| --- | --- |');
  for (const [k, v] of Object.entries(r.machine)) L.push(`| ${k} | ${v} |`);
  for (const [k, v] of Object.entries(r.options)) L.push(`| ${k} | ${v} |`);
  for (const s of r.systems) L.push(`| ${s.kind} ${s.version} | ${s.settings} |`);
  L.push('');
  L.push('| target | Herald | etcd | Herald result |', '| --- | ---: | ---: | --- |');
  for (const t of r.targets) L.push(`| ${t.target} | ${t.herald} | ${t.etcd} | ${t.met === undefined ? 'not measured' : t.met ? 'PASS' : 'FAIL'} |`);
  L.push('');
  L.push(
    '| system | failover trials (failed) | p50 / p99 / max ms | sequential writes (failed) | p50 / p99 / max ms | CPU0 / CPU1 busy (failover; sequential) |',
    '| --- | ---: | --- | ---: | --- | --- |',
  );
  for (const s of r.systems) {
    const f = s.failover;
    const q = s.sequential;
    L.push(
      `| ${s.kind} | ${f ? `${f.summary.n} (${f.failures})` : '-'} | ${f ? `${ms(f.summary.p50)} / ${ms(f.summary.p99)} / ${ms(f.summary.max)}` : '-'} | ${q ? `${q.summary.n} (${q.failures})` : '-'} | ${q ? `${ms(q.summary.p50)} / ${ms(q.summary.p99)} / ${ms(q.summary.max)}` : '-'} | ${f ? f.coreBusy.map(pct).join(' / ') : '-'}; ${q ? q.coreBusy.map(pct).join(' / ') : '-'} |`,
    );
  }
  L.push('');
  L.push('| system | rep | acked/s | req/s | p50 ms | p99 ms | errors | non-2xx | leader CPU (cores) | CPU0 / CPU1 busy |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const s of r.systems) {
    for (const t of s.throughput?.runs ?? []) {
      L.push(`| ${s.kind} | ${t.rep} | ${int(t.okPerSec)} | ${int(t.reqPerSec)} | ${t.p50Ms} | ${t.p99Ms} | ${t.errors} | ${t.non2xx} | ${t.leaderCores.toFixed(2)} | ${pct(t.core0Busy)} / ${pct(t.core1Busy)} |`);
    }
  }
  L.push('');
  const d = r.systems.find((s) => s.kind === 'herald')?.dnsPropagation;
  if (d) L.push(...renderDnsPropagation(d), '');
  for (const n of r.notes) L.push(`- Note: ${n}`);
  for (const t of r.todo) L.push(`- TODO: ${t}`);
  return L.join('\n') + '\n';
}

const summaryCells = (s: LatencySummary, failed: number) => `${s.n + failed} (${failed}) | ${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}`;

/** The G6 table and the lines that say what was timed and how finely. */
function renderDnsPropagation(d: DnsPropagationResult): string[] {
  const failedTo = (to: DnsFlip['to']) => d.flips.filter((f) => f.to === to && f.remoteMs === undefined).length;
  const gap = (s: LatencySummary) => `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)} ms`;
  return [
    '| G6 DNS propagation (Herald) | flips (failed) | p50 / p99 / max ms |',
    '| --- | ---: | --- |',
    `| client B's DNS (another agent), every flip | ${summaryCells(d.remote, d.remoteFailures)} |`,
    `| client B, check -> critical (A record gone) | ${summaryCells(d.remoteToCritical, failedTo('critical'))} |`,
    `| client B, check -> passing (A record back) | ${summaryCells(d.remoteToPassing, failedTo('passing'))} |`,
    // A's DNS reads A's replica, which the change stream feeds too: the same path but for the last hop.
    `| client A's own DNS (local path, reference; A's replica is fed by the stream too) | ${summaryCells(d.local, d.localFailures)} |`,
    `| flip request answered by A (HTTP; before the catalog write commits) | ${summaryCells(d.http, d.httpFailures)} |`,
    '',
    `- G6 trigger: ${d.trigger}`,
    `- G6 path: ${d.path}`,
    `- G6 timed: ${d.timed}`,
    `- G6 resolution: each client's DNS asked every ${d.pollIntervalMs} ms (one query outstanding); achieved gap between queries p50 / p99 / max: B ${gap(d.pollGap.remote)}, A ${gap(d.pollGap.local)}; ${d.lostQueries} queries lost (re-sent after 500 ms); CPU0 / CPU1 busy over the flips ${d.coreBusy.map(pct).join(' / ')}`,
    ...(d.stopped ? [`- G6 stopped early: ${d.stopped}`] : []),
  ];
}
