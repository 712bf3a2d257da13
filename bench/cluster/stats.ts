/**
 * Latency statistics for the cluster benchmark: nearest-rank percentiles over raw samples (no
 * histogram, so p99 of 30 failover trials is an actual trial, not an interpolation).
 */

/** Percentiles of a sample set, in ms; NaN everywhere for an empty set. */
export interface LatencySummary {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * The nearest-rank `p`-th percentile (0 < p <= 100) of `xs`: the smallest sample with at least
 * p % of the samples at or below it. NaN for no samples.
 */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  if (!(p > 0 && p <= 100)) throw new Error(`percentile ${p} is outside (0, 100]`);
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** n, p50, p99, max and mean of `xs`. */
export function summarizeMs(xs: readonly number[]): LatencySummary {
  return {
    n: xs.length,
    p50: percentile(xs, 50),
    p99: percentile(xs, 99),
    max: xs.length ? Math.max(...xs) : NaN,
    mean: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN,
  };
}
