/**
 * The simulator's only source of randomness: xoshiro128** (Blackman & Vigna, 2018) seeded
 * through splitmix32, so a 32-bit seed replays a whole run exactly. No Math.random anywhere in
 * the simulator.
 *
 * Each component takes its own stream (`fork(label)`): the network, the nemesis, every client
 * and every server draw from independent generators, so adding a draw in one component does
 * not shift what the others see, and a seed keeps meaning roughly the same scenario while the
 * code evolves. Not for anything secret.
 */

/** splitmix32 step: a well-mixed 32-bit value from a counter (used only for seeding). */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over a label, so `fork('client-3')` is a stable function of its name. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A seeded generator. Every method is deterministic given the seed and the call sequence. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed`: any integer (taken modulo 2^32). */
  constructor(readonly seed: number) {
    const st = { s: seed >>> 0 };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is a fixed point
  }

  /** The next 32 random bits, as an unsigned integer. */
  next32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next32() / 4294967296;
  }

  /** Uniform integer in [0, n); n must be a positive integer. */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = xs.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** An independent stream named `label`, derived from this generator's seed (not its position). */
  fork(label: string): Prng {
    return new Prng((this.seed ^ Math.imul(hashLabel(label), 0x9e3779b1)) >>> 0);
  }

  /** The `(n) => integer in [0, n)` shape RaftConfig.random wants. */
  asRandom(): (n: number) => number {
    return (n) => this.int(n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
