import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { busyBetween, foreignBetween, parseProcStat, readCoreTimes, stealBetween } from './cpu-busy.ts';

const BEFORE = `cpu  200 0 200 800 10 0 20 0 0 0
cpu0 100 0 100 400 5 0 10 0 0 0
cpu1 100 0 100 400 5 0 10 0 0 0
intr 1 2 3
`;
// cpu0: +60 user, +20 system, +10 softirq, +5 steal, +5 idle -> 95 of 100 busy.
// cpu1: +10 user, +90 idle -> 10 of 100.
const AFTER = `cpu  ...
cpu0 160 0 120 405 5 0 20 5 0 0
cpu1 110 0 100 490 5 0 10 0 0 0
`;

describe('parseProcStat / busyBetween', () => {
  it('counts user+nice+system+irq+softirq+steal as busy, idle+iowait as not', () => {
    const a = parseProcStat(BEFORE);
    const b = parseProcStat(AFTER);
    expect([...a.keys()]).toEqual([0, 1]);
    expect(a.get(0)).toEqual({ busy: 210, total: 615, steal: 0, task: 200 });
    expect(busyBetween(a, b, 0)).toBeCloseTo(0.95, 10);
    expect(busyBetween(a, b, 1)).toBeCloseTo(0.1, 10);
    expect(stealBetween(a, b, 0)).toBeCloseTo(0.05, 10);
  });

  it('charges process time on the cores that the bench did not use to someone else', () => {
    const a = parseProcStat(BEFORE);
    const b = parseProcStat(AFTER);
    // Process time on both cores: cpu0 +80 (60 user + 20 system), cpu1 +10; 200 ticks in all.
    expect(foreignBetween(a, b, [0, 1], 90)).toBe(0);
    expect(foreignBetween(a, b, [0, 1], 70)).toBeCloseTo(0.1, 10);
    expect(foreignBetween(a, b, [0, 1], 500)).toBe(0);
    expect(foreignBetween(a, b, [0, 9], 0)).toBeUndefined();
  });

  it('returns undefined for a missing core or no elapsed time', () => {
    const a = parseProcStat(BEFORE);
    expect(busyBetween(a, a, 0)).toBeUndefined();
    expect(busyBetween(a, parseProcStat(AFTER), 7)).toBeUndefined();
  });

  it('reads one entry per online core from the real /proc/stat', () => {
    expect(readCoreTimes().size).toBe(availableParallelism());
  });
});
