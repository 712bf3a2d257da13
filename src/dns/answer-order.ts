/**
 * The order interchangeable answers (instances) are served in. Consul shuffles on every
 * response; Herald caches a few orders per answer and rotates through them on hits.
 */

/** Fisher-Yates, in place. Answers are not protocol state, so Math.random is fine here. */
export function shuffleInPlace<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const tmp = a[i]!;
    a[i] = a[j]!;
    a[j] = tmp;
  }
  return a;
}

/** `a` rotated left by `by` places (a new array). */
export function rotate<T>(a: readonly T[], by: number): T[] {
  return a.slice(by).concat(a.slice(0, by));
}
