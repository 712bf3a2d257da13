import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';

describe('backoffDelay', () => {
  const at = (random: number) => ({ baseMs: 50, maxMs: 2000, random: () => random });

  it('doubles the ceiling per attempt and caps it', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 10, 100].map((n) => backoffDelay(n, at(0)) * 2);
    expect(ceilings).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000, 2000]);
  });

  it('jitters within [ceiling/2, ceiling): half fixed, half random', () => {
    expect(backoffDelay(2, at(0))).toBe(100);
    expect(backoffDelay(2, at(0.5))).toBe(150);
    expect(backoffDelay(2, at(0.999999))).toBeLessThan(200);
    expect(backoffDelay(2, at(0.999999))).toBeGreaterThan(199);
  });

  it('treats a random source out of [0, 1) as 0 rather than leaving the range', () => {
    expect(backoffDelay(0, at(1))).toBe(25);
    expect(backoffDelay(0, at(-3))).toBe(25);
    expect(backoffDelay(0, at(NaN))).toBe(25);
  });
});
