/**
 * What the harness records about a server process from /proc (proc(5)): the pids of its process
 * group (a server may fork helpers), their resident memory, and the CPU affinity of every
 * thread (Knot pins its own workers, so taskset alone proves nothing).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Memory of one process, KiB, from /proc/<pid>/status. */
export interface ProcMemory {
  pid: number;
  rssKiB: number;
  /** Peak RSS ("high water mark"). */
  hwmKiB: number;
}

/** Parses VmRSS and VmHWM out of a /proc/<pid>/status text; 0 when absent (kernel thread). */
export function parseStatusMemory(pid: number, text: string): ProcMemory {
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s*(\\d+)\\s*kB`, 'm').exec(text)?.[1] ?? 0);
  return { pid, rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

/**
 * State (field 3), process-group id (field 5) and CPU time (utime + stime, fields 14-15, USER_HZ
 * ticks, all threads) of a /proc/<pid>/stat line; comm may contain spaces.
 */
export function parseStat(text: string): { state: string; pgrp: number; cpuTicks: number } {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0]!, pgrp: Number(rest[2]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
}

/** utime + stime, in ticks, summed over the live processes of group `pgid` (0 when it is gone). */
export function groupCpuTicks(pgid: number): number {
  let ticks = 0;
  for (const pid of groupPids(pgid)) {
    try {
      ticks += parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuTicks;
    } catch {
      // Exited meanwhile.
    }
  }
  return ticks;
}

/** Live pids (zombies left out) whose process group is `pgid`, the leader included, ascending. */
export function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const st = parseStat(readFileSync(`/proc/${entry}/stat`, 'utf8'));
      if (st.pgrp === pgid && st.state !== 'Z') pids.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return pids.sort((a, b) => a - b);
}

/** Memory of every process in group `pgid`; empty when the group is gone. */
export function groupMemory(pgid: number): ProcMemory[] {
  const out: ProcMemory[] = [];
  for (const pid of groupPids(pgid)) {
    try {
      out.push(parseStatusMemory(pid, readFileSync(`/proc/${pid}/status`, 'utf8')));
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

/**
 * The distinct `Cpus_allowed_list` values over every thread of every process in group `pgid`,
 * sorted, e.g. `['0']` when everything is on core 0.
 */
export function groupAffinity(pgid: number): string[] {
  const lists = new Set<string>();
  for (const pid of groupPids(pgid)) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
        if (m) lists.add(m[1]!);
      } catch {
        // Thread ended meanwhile.
      }
    }
  }
  return [...lists].sort();
}
