/**
 * Runs one interval check (script, HTTP, TCP) on its schedule and passes its results through
 * Consul's success/failure thresholds to a sink. The probe does the I/O; this file only
 * decides when to run it and which results to report.
 */
import type { HealthStatus } from '../../catalog/types.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { realClock, type Clock, type TimerHandle } from './clock.ts';

/** Consul's default OutputMaxSize (checks.DefaultBufSize): bytes of output a check keeps. */
export const OUTPUT_MAX_SIZE = 4096;

/** One probe outcome. */
export interface CheckResult {
  status: HealthStatus;
  output: string;
}

/**
 * One run of a check. Must settle (it gets its own timeout) and must stop its I/O promptly
 * when `signal` aborts; a rejection is reported as critical with the error message.
 */
export type CheckProbe = (signal: AbortSignal) => Promise<CheckResult>;

/** Where results go (the check manager). Called synchronously, on the event loop. */
export type CheckSink = (checkId: string, status: HealthStatus, output: string) => void;

/**
 * Consul's StatusHandler (agent/checks/check.go): a status flips to passing only after
 * `successBeforePassing` consecutive non-critical results and to critical only after
 * `failuresBeforeCritical` consecutive critical ones. Warning counts as a success (it resets
 * the failure count and is reported once the success threshold is met), exactly as Consul
 * does. Both counters start at their thresholds, so the very first result is always reported.
 */
export class StatusHandler {
  private successCounter: number;
  private failuresCounter: number;

  constructor(
    private readonly successBeforePassing: number,
    private readonly failuresBeforeCritical: number,
  ) {
    this.successCounter = successBeforePassing;
    this.failuresCounter = failuresBeforeCritical;
  }

  /** Feeds one raw result; returns it when it is to be reported, undefined when held back. */
  filter(result: CheckResult): CheckResult | undefined {
    if (result.status === 'passing' || result.status === 'warning') {
      this.successCounter++;
      this.failuresCounter = 0;
      return this.successCounter >= this.successBeforePassing ? result : undefined;
    }
    this.failuresCounter++;
    this.successCounter = 0;
    // Consul's newer failures_before_warning defaults to failures_before_critical, which makes
    // its warning branch unreachable; Herald has no such field, so only this branch remains.
    return this.failuresCounter >= this.failuresBeforeCritical ? result : undefined;
  }
}

export interface CheckRunnerOptions {
  checkId: string;
  /** ms between the end of one run and the start of the next (Consul: `time.After(interval)`). */
  interval: number;
  probe: CheckProbe;
  sink: CheckSink;
  successBeforePassing: number;
  failuresBeforeCritical: number;
  clock?: Clock;
  /** Uniform [0, 1); staggers the first run within one interval. Default Math.random. */
  random?: () => number;
  logger?: Logger;
}

/**
 * Schedules a probe every `interval`, first after a random stagger in [0, interval).
 * Runs of one check never overlap; after `stop()` the in-flight probe is aborted and nothing
 * more reaches the sink.
 */
export class CheckRunner {
  private readonly opts: CheckRunnerOptions;
  private readonly clock: Clock;
  private readonly handler: StatusHandler;
  private readonly log: Logger;
  private timer: TimerHandle | undefined;
  private inFlight: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private started = false;
  private stopped = false;

  constructor(opts: CheckRunnerOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    this.handler = new StatusHandler(opts.successBeforePassing, opts.failuresBeforeCritical);
    this.log = opts.logger ?? silentLogger;
  }

  /** Arms the first run (staggered, as Consul's lib.RandomStagger does). Idempotent. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const random = this.opts.random ?? Math.random;
    this.schedule(Math.floor(random() * this.opts.interval));
  }

  /** Cancels the schedule and aborts an in-flight run; its result is dropped. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.abort?.abort();
  }

  /**
   * Runs the probe now and resolves once its result was handled. If a run is already in
   * flight, returns that run instead of starting a second one. Does not move the schedule.
   */
  runNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inFlight) return this.inFlight;
    const abort = new AbortController();
    this.abort = abort;
    const run = this.runOnce(abort.signal).finally(() => {
      if (this.inFlight === run) this.inFlight = undefined;
      if (this.abort === abort) this.abort = undefined;
    });
    this.inFlight = run;
    return run;
  }

  private schedule(ms: number): void {
    this.timer = this.clock.setTimer(ms, () => {
      this.timer = undefined;
      // The next run is timed from the end of this one, so a slow probe never stacks up.
      void this.runNow().then(() => {
        if (!this.stopped) this.schedule(this.opts.interval);
      });
    });
  }

  private async runOnce(signal: AbortSignal): Promise<void> {
    let result: CheckResult;
    try {
      result = await this.opts.probe(signal);
    } catch (err) {
      result = { status: 'critical', output: err instanceof Error ? err.message : String(err) };
    }
    if (this.stopped || signal.aborted) return;
    const reported = this.handler.filter(result);
    if (!reported) {
      this.log.debug(`check ${this.opts.checkId}: ${result.status} held back by threshold`);
      return;
    }
    try {
      this.opts.sink(this.opts.checkId, reported.status, reported.output);
    } catch (err) {
      // A failing sink must not end the schedule.
      this.log.error(`check ${this.opts.checkId}: sink failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
