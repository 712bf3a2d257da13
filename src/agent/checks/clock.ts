/**
 * The time seam of the check machinery: the check runner's schedule, the TTL timer, the
 * output-write deferral and the critical-service reaper all take a `Clock`, so their logic
 * is unit-tested with `FakeClock` and no real waiting. Per-run timeouts inside the script,
 * HTTP and TCP runners use real timers: they guard real I/O.
 */

/** A pending one-shot timer; `cancel()` is idempotent and safe after it fired. */
export interface TimerHandle {
  cancel(): void;
}

/** Milliseconds and one-shot timers. Callbacks run on the event loop, never re-entrantly. */
export interface Clock {
  /** Milliseconds on a monotonic-enough scale; only differences are meaningful. */
  now(): number;
  /** Calls `fn` once after `ms` (clamped to >= 0) unless cancelled first. */
  setTimer(ms: number, fn: () => void): TimerHandle;
}

/**
 * Production clock: `performance.now()` and `setTimeout`. Timers are unref'd so a forgotten
 * check timer never keeps the process alive; the agent's sockets do that.
 */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A manual clock for tests of pure logic. Time moves only in `advance()`, which fires due
 * timers in deadline order (ties in creation order), including timers set by those callbacks
 * when they fall inside the advanced span.
 */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: FakeTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      let next: FakeTimer | undefined;
      for (const x of this.timers) {
        if (x.at <= end && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x;
      }
      if (!next) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }

  /** Number of timers still pending (not fired, not cancelled). */
  pending(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }
}
