/**
 * mulberry32: the one small seeded PRNG for tests, simulations, fuzzing and bench data. The same
 * seed gives the same sequence on every platform, so a failing run replays from its seed.
 * Not for anything secret. (The cluster simulator has its own forkable generator:
 * src/raft/sim/prng.ts.)
 */

/** Floats in [0, 1), deterministic for `seed` (any integer, taken modulo 2^32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integers in [0, n), from the same sequence as seededRandom(seed). */
export function seededInt(seed: number): (n: number) => number {
  const next = seededRandom(seed);
  return (n: number) => Math.floor(next() * n);
}
