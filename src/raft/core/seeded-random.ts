/**
 * A small seeded PRNG (mulberry32) for the `random` a RaftNode needs in tests and simulations:
 * the same seed gives the same election timeouts, so a failing run replays exactly.
 * Not for anything secret.
 */

/** Returns `(n) => integer in [0, n)`, deterministic for `seed` (any 32-bit integer). */
export function seededRandom(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(u * n);
  };
}
