/**
 * Per-core busy time from /proc/stat (proc(5)), sampled by the harness at the start and end of
 * each run's steady window. Whole-run figures would be diluted by dnsperf's end-of-run wait for
 * lost queries (dns-perf-anchors.md, "CPU accounting"), so only the window counts.
 */
import { readFileSync } from 'node:fs';

/** Cumulative jiffies of one core. */
export interface CoreTimes {
  /** user + nice + system + irq + softirq + steal. */
  busy: number;
  /** busy + idle + iowait. */
  total: number;
  steal: number;
  /** user + nice + system: the part of busy that is charged to processes (not irq/softirq/steal). */
  task: number;
}

/** Parses the `cpuN ...` lines of /proc/stat into a map from core number to its counters. */
export function parseProcStat(text: string): Map<number, CoreTimes> {
  const cores = new Map<number, CoreTimes>();
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    const f = m[2]!.trim().split(/\s+/).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const busy = user + nice + system + irq + softirq + steal;
    cores.set(Number(m[1]), { busy, total: busy + idle + iowait, steal, task: user + nice + system });
  }
  return cores;
}

/** Reads /proc/stat now. */
export function readCoreTimes(path = '/proc/stat'): Map<number, CoreTimes> {
  return parseProcStat(readFileSync(path, 'utf8'));
}

/**
 * Busy fraction (0..1) of `core` between two samples, or undefined when the core is missing or
 * no time passed between them.
 */
export function busyBetween(before: Map<number, CoreTimes>, after: Map<number, CoreTimes>, core: number): number | undefined {
  const a = before.get(core);
  const b = after.get(core);
  if (!a || !b) return undefined;
  const total = b.total - a.total;
  if (total <= 0) return undefined;
  return (b.busy - a.busy) / total;
}

/** Steal fraction (0..1) of `core` between two samples (hypervisor time taken from the VM). */
export function stealBetween(before: Map<number, CoreTimes>, after: Map<number, CoreTimes>, core: number): number | undefined {
  const a = before.get(core);
  const b = after.get(core);
  if (!a || !b || b.total - a.total <= 0) return undefined;
  return (b.steal - a.steal) / (b.total - a.total);
}

/**
 * Fraction (0..1) of the given cores' time spent in processes other than the ones measured:
 * process time on those cores minus `ownTicks` (the utime+stime the bench's own processes used
 * in the same window, from {@link import('./proc-status.ts').groupCpuTicks}), over the cores'
 * total time. Both are in USER_HZ ticks. Another tenant on a shared host shows up here even when
 * it starts and ends inside a run.
 */
export function foreignBetween(
  before: Map<number, CoreTimes>,
  after: Map<number, CoreTimes>,
  cores: readonly number[],
  ownTicks: number,
): number | undefined {
  let task = 0;
  let total = 0;
  for (const c of cores) {
    const a = before.get(c);
    const b = after.get(c);
    if (!a || !b) return undefined;
    task += b.task - a.task;
    total += b.total - a.total;
  }
  if (total <= 0) return undefined;
  return Math.max(0, task - ownTicks) / total;
}
