/** The ordered key set: UTF-8 byte order, prefix scans that visit only the prefix, chunk splits. */
import { describe, expect, it } from 'vitest';
import { compareKeys, SortedKeys } from './sorted-keys.ts';

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

describe('compareKeys', () => {
  it('orders as UTF-8 bytes, where JS string order differs (astral vs U+E000..U+FFFF)', () => {
    const astral = 'a\u{1F600}';
    const bmpHigh = 'a\uFF21';
    // UTF-16 puts the surrogate (0xD83D) first; UTF-8 (F0 9F.. vs EF BC..) puts it last.
    expect(astral < bmpHigh).toBe(true);
    expect(compareKeys(astral, bmpHigh)).toBeGreaterThan(0);
    expect(Math.sign(compareKeys(astral, bmpHigh))).toBe(utf8Order(astral, bmpHigh));
  });

  it('agrees with UTF-8 byte order on a mixed sample', () => {
    const sample = ['', 'a', 'a/', 'a/b', 'a\u0000', 'ab', 'b', '\u00e9', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}x', 'z', 'A', ' '];
    const mine = [...sample].sort(compareKeys);
    const bytes = [...sample].sort(utf8Order);
    expect(mine).toEqual(bytes);
  });
});

describe('SortedKeys', () => {
  it('keeps thousands of keys sorted across chunk splits and deletes', () => {
    const s = new SortedKeys();
    const keys: string[] = [];
    // Deterministic pseudo-random keys (LCG), enough to split chunks many times.
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      const k = `k/${(x % 97).toString(36)}/${x.toString(36)}`;
      keys.push(k);
      s.add(k);
    }
    const unique = [...new Set(keys)].sort(compareKeys);
    expect(s.size).toBe(unique.length);
    expect(s.all()).toEqual(unique);
    for (const k of unique.filter((_, i) => i % 3 === 0)) expect(s.delete(k)).toBe(true);
    expect(s.delete('not there')).toBe(false);
    const left = unique.filter((_, i) => i % 3 !== 0);
    expect(s.all()).toEqual(left);
    expect(s.prefixArray('k/1/')).toEqual(left.filter((k) => k.startsWith('k/1/')));
  });

  it('a prefix scan visits only the keys under the prefix', () => {
    const s = new SortedKeys();
    for (let i = 0; i < 3000; i++) s.add(`other/${i}`);
    for (let i = 0; i < 3; i++) s.add(`svc/${i}`);
    let visited = 0;
    for (const k of s.withPrefix('svc/')) {
      visited++;
      expect(k.startsWith('svc/')).toBe(true);
    }
    expect(visited).toBe(3);
    expect(s.prefixArray('')).toHaveLength(3003);
    expect(s.prefixArray('nothing')).toEqual([]);
  });
});
