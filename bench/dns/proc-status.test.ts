import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { groupAffinity, groupCpuTicks, groupMemory, groupPids, parseStat, parseStatusMemory } from './proc-status.ts';

describe('parsers', () => {
  it('reads state and process group even when comm contains spaces and parentheses', () => {
    const line = '1234 (my (odd) name) S 1 4321 4321 0 -1 4194560 100 0 0 0 250 40 0 0 20 0 3';
    expect(parseStat(line)).toEqual({ state: 'S', pgrp: 4321, cpuTicks: 290 });
    expect(parseStat('99 (x) Z 1 99 99 0 -1 0 0 0 0 0 0 0').state).toBe('Z');
  });

  it('reads VmRSS and VmHWM in KiB, 0 when absent', () => {
    const text = 'Name:\tnode\nVmHWM:\t  90000 kB\nVmRSS:\t   81234 kB\nThreads:\t7\n';
    expect(parseStatusMemory(5, text)).toEqual({ pid: 5, rssKiB: 81234, hwmKiB: 90000 });
    expect(parseStatusMemory(6, 'Name:\tkthreadd\n')).toEqual({ pid: 6, rssKiB: 0, hwmKiB: 0 });
  });
});

describe('a real process group', () => {
  it('finds the leader and its forked child, their memory, and their pinned affinity', async () => {
    // A group leader (sh) that forks a child (sleep), both pinned to CPU 0 by taskset.
    const leader = spawn('taskset', ['-c', '0', 'sh', '-c', 'sleep 20 & echo started; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await once(leader.stdout!, 'data');
      const pids = groupPids(leader.pid!);
      expect(pids).toContain(leader.pid);
      expect(pids.length).toBe(2);
      const mem = groupMemory(leader.pid!);
      expect(mem.map((m) => m.pid)).toEqual(pids);
      for (const m of mem) expect(m.rssKiB).toBeGreaterThan(0);
      expect(groupAffinity(leader.pid!)).toEqual(['0']);
      expect(groupCpuTicks(leader.pid!)).toBeGreaterThanOrEqual(0);
    } finally {
      process.kill(-leader.pid!, 'SIGKILL');
      await once(leader, 'exit');
    }
    expect(groupMemory(-1)).toEqual([]);
  });
});
