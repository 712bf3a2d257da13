import { describe, expect, it } from 'vitest';
import { Prng } from './prng.ts';

const draw = (p: Prng, n: number) => Array.from({ length: n }, () => p.next32());

describe('Prng (xoshiro128**)', () => {
  it('replays a seed exactly and differs across seeds', () => {
    expect(draw(new Prng(42), 20)).toEqual(draw(new Prng(42), 20));
    expect(draw(new Prng(42), 20)).not.toEqual(draw(new Prng(43), 20));
  });

  it('forks independent streams named by label, not by position', () => {
    const a = new Prng(7);
    const b = new Prng(7);
    draw(b, 100); // b has moved on; its forks must not care
    expect(draw(a.fork('client-1'), 10)).toEqual(draw(b.fork('client-1'), 10));
    expect(draw(a.fork('client-1'), 10)).not.toEqual(draw(a.fork('client-2'), 10));
  });

  it('keeps int, between and float in range and roughly uniform', () => {
    const p = new Prng(1);
    const counts = new Array<number>(10).fill(0);
    let outOfRange = 0;
    for (let i = 0; i < 20_000; i++) {
      const x = p.int(10);
      if (!(Number.isInteger(x) && x >= 0 && x < 10)) outOfRange++;
      else counts[x]!++;
      const y = p.between(5, 7);
      if (!(y >= 5 && y <= 7)) outOfRange++;
      const f = p.float();
      if (!(f >= 0 && f < 1)) outOfRange++;
    }
    expect(outOfRange).toBe(0);
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
  });

  it('chance(0) never fires and chance(1) always does; shuffle permutes', () => {
    const p = new Prng(3);
    for (let i = 0; i < 100; i++) {
      expect(p.chance(0)).toBe(false);
      expect(p.chance(1)).toBe(true);
    }
    const xs = [1, 2, 3, 4, 5, 6, 7, 8];
    const s = p.shuffle(xs);
    expect([...s].sort()).toEqual(xs);
    expect(xs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
