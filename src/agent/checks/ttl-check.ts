/**
 * A TTL check (Consul's CheckTTL): no probe; an outside caller sets the status, and if no
 * update arrives within `ttl` the check goes critical. TTL checks bypass the success/failure
 * thresholds, as in Consul.
 */
import type { HealthStatus } from '../../catalog/types.ts';
import { OUTPUT_MAX_SIZE, type CheckSink } from './check-runner.ts';
import { realClock, type Clock, type TimerHandle } from './clock.ts';

export interface TtlCheckOptions {
  checkId: string;
  /** ms an update stays valid. */
  ttl: number;
  sink: CheckSink;
  clock?: Clock;
  /** Bytes of output kept, default 4096. */
  outputMaxSize?: number;
}

/**
 * Holds the TTL timer of one check. `start()` arms it; every `update()` reports at once and
 * re-arms it; on expiry the sink gets critical `TTL expired` (plus the last output). The
 * timer is not re-armed after expiry until the next update, so expiry is reported once.
 */
export class TtlCheck {
  private readonly opts: TtlCheckOptions;
  private readonly clock: Clock;
  private timer: TimerHandle | undefined;
  private lastOutput = '';
  private stopped = false;

  constructor(opts: TtlCheckOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
  }

  /** Arms the TTL timer; the check's initial status stands until an update or expiry. */
  start(): void {
    if (this.stopped) return;
    this.arm();
  }

  /**
   * Sets the status, reports it to the sink and restarts the TTL. Output longer than the cap
   * is cut to `<first bytes> ... (captured N of M bytes)`, Consul's wording; that stored
   * output is returned. A stopped check ignores updates.
   */
  update(status: HealthStatus, output: string): string {
    const cap = this.opts.outputMaxSize && this.opts.outputMaxSize > 0 ? this.opts.outputMaxSize : OUTPUT_MAX_SIZE;
    const bytes = Buffer.from(output, 'utf8');
    if (bytes.length > cap) {
      output = `${bytes.subarray(0, cap).toString('utf8')} ... (captured ${cap} of ${bytes.length} bytes)`;
    }
    if (this.stopped) return output;
    this.opts.sink(this.opts.checkId, status, output);
    this.lastOutput = output;
    this.arm();
    return output;
  }

  /** Cancels the timer; nothing more reaches the sink. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimer(this.opts.ttl, () => {
      this.timer = undefined;
      if (this.stopped) return;
      this.opts.sink(this.opts.checkId, 'critical', this.expiredOutput());
    });
  }

  private expiredOutput(): string {
    return this.lastOutput === '' ? 'TTL expired' : `TTL expired (last output before timeout follows): ${this.lastOutput}`;
  }
}
