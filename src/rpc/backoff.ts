/**
 * Reconnect delays: capped exponential backoff with "equal jitter" (AWS Architecture Blog,
 * "Exponential Backoff and Jitter", 2015). The jitter spreads the reconnects of many agents
 * after a server restart so they do not arrive in lockstep; keeping half of the delay fixed
 * keeps a floor under it, so a refused peer is not hammered by near-zero delays.
 */

/** Knobs of the backoff. */
export interface BackoffOptions {
  /** Delay ceiling before jitter for attempt 0 (ms). */
  readonly baseMs: number;
  /** Ceiling of the exponential growth (ms). */
  readonly maxMs: number;
  /** Uniform in [0, 1); injected so tests (and simulations) are reproducible. */
  readonly random: () => number;
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry):
 * `c = min(maxMs, baseMs * 2^attempt)`, delay uniform in `[c/2, c)`.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const exp = Math.min(attempt, 30); // 2^30 * base overflows any sane cap already
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** exp);
  const r = opts.random();
  const u = r >= 0 && r < 1 ? r : 0;
  return ceiling / 2 + u * (ceiling / 2);
}
