/**
 * The core's clock: ticks derived from a monotonic clock, not counted interval callbacks.
 *
 * A timer that fires late (a blocked event loop, SIGSTOP) must not make the server believe less
 * time passed than did: a paused leader that resumed and trusted its old view of time could
 * serve a lease read after it was deposed, and a follower would campaign late. So every
 * callback, and every input the driver takes (`catchUp()` before stepping a message), first
 * replays the ticks the clock says are due, at most `maxCatchUp` at once (anything beyond is
 * dropped: it would only repeat timeouts that already fired).
 */

export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private origin = 0;
  /** Ticks delivered (or skipped past) since start(). */
  private done = 0;

  constructor(
    private readonly tickMs: number,
    private readonly maxCatchUp: number,
    /** Receives the number of ticks due (>= 1), synchronously. */
    private readonly onTicks: (n: number) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts ticking; the first tick is due one tickMs from now. */
  start(): void {
    if (this.timer) return;
    this.origin = this.now();
    this.done = 0;
    this.timer = setInterval(() => this.catchUp(), this.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Delivers every tick due by now. Returns how many were delivered. */
  catchUp(): number {
    if (!this.timer) return 0;
    const due = Math.floor((this.now() - this.origin) / this.tickMs) - this.done;
    if (due <= 0) return 0;
    const n = Math.min(due, this.maxCatchUp);
    this.done += due;
    this.onTicks(n);
    return n;
  }
}
