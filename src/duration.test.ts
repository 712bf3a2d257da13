import { describe, it, expect } from 'vitest';
import { formatDuration, parseDuration } from './duration.ts';
import { ERR, HeraldError } from './errors.ts';

describe('parseDuration (Go time.ParseDuration)', () => {
  const ok: [string, number][] = [
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['0s', 0],
    ['10s', 10_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1h0m0s', 3_600_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    ['30000ms', 30_000],
    ['0.001s', 1],
    ['9.5s', 9_500],
    ['1.1s', 1_100],
    ['.5s', 500],
    ['1.s', 1_000],
    ['1500ns', 0.0015],
    ['1us', 0.001],
    ['1\u00b5s', 0.001], // micro sign
    ['1\u03bcs', 0.001], // Greek mu
    ['2h45m30.5s', 9_930_500],
    ['1s500ms', 1_500],
    ['-1m30s', -90_000],
    ['+5s', 5_000],
    ['87600h', 315_360_000_000],
    // Go's largest duration, and the most negative one.
    ['2562047h47m16.854775807s', 9_223_372_036_854.775807],
    ['-2562047h47m16.854775808s', -9_223_372_036_854.775808],
  ];
  it.each(ok)('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  it('is exact for decimals (integer nanosecond arithmetic)', () => {
    expect(parseDuration('1.1s')).toBe(1100);
    expect(parseDuration('0.3s')).toBe(300);
  });

  const bad: [string, string][] = [
    ['', 'invalid duration ""'],
    ['-', 'invalid duration "-"'],
    ['s', 'invalid duration "s"'],
    ['.s', 'invalid duration ".s"'],
    ['10', 'missing unit in duration "10"'],
    ['1m30', 'missing unit in duration "1m30"'],
    ['1d', 'unknown unit "d" in duration "1d"'],
    ['1 s', 'unknown unit " s" in duration "1 s"'],
    ['1S', 'unknown unit "S" in duration "1S"'],
    ['s1', 'invalid duration "s1"'],
    ['2562047h47m16.854775808s', 'invalid duration "2562047h47m16.854775808s"'],
    ['99999999999999999999h', 'invalid duration "99999999999999999999h"'],
  ];
  it.each(bad)('%j is refused: %s', (text, message) => {
    let err: unknown;
    try {
      parseDuration(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeraldError);
    expect((err as HeraldError).code).toBe(ERR.DURATION_INVALID);
    expect((err as HeraldError).message).toBe(message);
  });
});

describe('formatDuration (Go Duration.String)', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [-0, '0s'],
    [10_000, '10s'],
    [90_000, '1m30s'],
    [3_600_000, '1h0m0s'],
    [5_400_000, '1h30m0s'],
    [500, '500ms'],
    [1.5, '1.5ms'],
    [0.0015, '1.5\u00b5s'],
    [0.001, '1\u00b5s'],
    [0.000001, '1ns'],
    [1_100, '1.1s'],
    [61_001, '1m1.001s'],
    [-2_000, '-2s'],
    [-0.5, '-500\u00b5s'],
    [315_360_000_000, '87600h0m0s'],
    [86_400_000.000001, '24h0m0.000000001s'],
  ];
  it.each(cases)('%d ms prints as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    for (const text of ['1h0m0s', '1m30s', '10s', '500ms', '1.5\u00b5s', '3ns', '-1m1.001s', '0s']) {
      expect(formatDuration(parseDuration(text))).toBe(text);
    }
  });

  it('refuses values that are not durations', () => {
    for (const ms of [NaN, Infinity, -Infinity, 1e16]) {
      expect(() => formatDuration(ms)).toThrow(HeraldError);
    }
  });
});
