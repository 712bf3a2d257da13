import { describe, it, expect } from 'vitest';
import type { HealthStatus } from '../../catalog/types.ts';
import { CheckRunner, StatusHandler, type CheckResult } from './check-runner.ts';
import { FakeClock } from './clock.ts';

/** Lets resolved promises run their continuations (no time passes). */
const settle = () => new Promise<void>((r) => setImmediate(r));

const R = (status: HealthStatus, output: string = status): CheckResult => ({ status, output });

describe('StatusHandler (Consul thresholds)', () => {
  // Each case: thresholds, then raw statuses in, then which of them are reported.
  const cases: { name: string; sbp: number; fbc: number; input: HealthStatus[]; reported: (HealthStatus | null)[] }[] = [
    {
      name: 'no thresholds: everything is reported',
      sbp: 0,
      fbc: 0,
      input: ['critical', 'passing', 'warning', 'critical'],
      reported: ['critical', 'passing', 'warning', 'critical'],
    },
    {
      name: 'first result is reported even below the thresholds',
      sbp: 3,
      fbc: 3,
      input: ['passing'],
      reported: ['passing'],
    },
    {
      name: 'critical needs 3 consecutive failures',
      sbp: 0,
      fbc: 3,
      input: ['passing', 'critical', 'critical', 'passing', 'critical', 'critical', 'critical', 'critical'],
      reported: ['passing', null, null, 'passing', null, null, 'critical', 'critical'],
    },
    {
      name: 'passing needs 2 consecutive successes',
      sbp: 2,
      fbc: 0,
      input: ['critical', 'passing', 'critical', 'passing', 'passing', 'passing'],
      reported: ['critical', null, 'critical', null, 'passing', 'passing'],
    },
    {
      name: 'warning counts as a success: resets failures, is held by the success threshold',
      sbp: 2,
      fbc: 2,
      input: ['critical', 'critical', 'warning', 'critical', 'warning', 'warning'],
      reported: ['critical', 'critical', null, null, null, 'warning'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const h = new StatusHandler(c.sbp, c.fbc);
      const out = c.input.map((s) => h.filter(R(s))?.status ?? null);
      expect(out).toEqual(c.reported);
    });
  }
});

/** A probe whose runs the test resolves by hand. */
function manualProbe() {
  const runs: { signal: AbortSignal; resolve: (r: CheckResult) => void; reject: (e: Error) => void }[] = [];
  const probe = (signal: AbortSignal) =>
    new Promise<CheckResult>((resolve, reject) => {
      runs.push({ signal, resolve, reject });
    });
  return { runs, probe };
}

function setup(extra: { random?: () => number; sbp?: number; fbc?: number; sinkThrows?: boolean } = {}) {
  const clock = new FakeClock();
  const { runs, probe } = manualProbe();
  const reports: [string, HealthStatus, string][] = [];
  const runner = new CheckRunner({
    checkId: 'c1',
    interval: 1000,
    probe,
    sink: (id, s, o) => {
      reports.push([id, s, o]);
      if (extra.sinkThrows) throw new Error('sink down');
    },
    successBeforePassing: extra.sbp ?? 0,
    failuresBeforeCritical: extra.fbc ?? 0,
    clock,
    random: extra.random ?? (() => 0.5),
  });
  return { clock, runs, reports, runner };
}

describe('CheckRunner', () => {
  it('staggers the first run by random * interval, then runs every interval after each run ends', async () => {
    const { clock, runs, reports, runner } = setup({ random: () => 0.25 });
    runner.start();
    clock.advance(249);
    expect(runs).toHaveLength(0);
    clock.advance(1);
    expect(runs).toHaveLength(1);

    // The run takes 5 s; the next one is timed from its end, not its start.
    clock.advance(5000);
    expect(runs).toHaveLength(1);
    runs[0]!.resolve(R('passing', 'ok'));
    await settle();
    expect(reports).toEqual([['c1', 'passing', 'ok']]);
    clock.advance(999);
    expect(runs).toHaveLength(1);
    clock.advance(1);
    expect(runs).toHaveLength(2);
    runner.stop();
  });

  it('never overlaps runs: runNow during a scheduled run joins it', async () => {
    const { clock, runs, reports, runner } = setup({ random: () => 0 });
    runner.start();
    clock.advance(0);
    expect(runs).toHaveLength(1);
    const joined = runner.runNow();
    const joinedAgain = runner.runNow();
    expect(runs).toHaveLength(1);
    runs[0]!.resolve(R('warning', 'w'));
    await joined;
    await joinedAgain;
    expect(reports).toEqual([['c1', 'warning', 'w']]);
    runner.stop();
  });

  it('a timer firing while runNow is in flight does not start a second run', async () => {
    const { clock, runs, runner } = setup({ random: () => 0.5 });
    runner.start();
    const manual = runner.runNow();
    expect(runs).toHaveLength(1);
    clock.advance(500); // the staggered first run falls due now
    expect(runs).toHaveLength(1);
    runs[0]!.resolve(R('passing'));
    await manual;
    await settle();
    // The scheduled tick re-arms after the shared run ended.
    clock.advance(1000);
    expect(runs).toHaveLength(2);
    runner.stop();
  });

  it('stop aborts the in-flight run and drops its result; no further runs', async () => {
    const { clock, runs, reports, runner } = setup({ random: () => 0 });
    runner.start();
    clock.advance(0);
    expect(runs[0]!.signal.aborted).toBe(false);
    runner.stop();
    expect(runs[0]!.signal.aborted).toBe(true);
    runs[0]!.resolve(R('passing'));
    await settle();
    clock.advance(10_000);
    expect(runs).toHaveLength(1);
    expect(reports).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('a rejected probe is reported as critical with the error text', async () => {
    const { runs, reports, runner } = setup();
    const p = runner.runNow();
    runs[0]!.reject(new Error('boom'));
    await p;
    expect(reports).toEqual([['c1', 'critical', 'boom']]);
  });

  it('applies the thresholds to what reaches the sink', async () => {
    const { runs, reports, runner } = setup({ fbc: 2 });
    for (const s of ['passing', 'critical', 'critical'] as HealthStatus[]) {
      const p = runner.runNow();
      runs[runs.length - 1]!.resolve(R(s));
      await p;
    }
    expect(reports.map((r) => r[1])).toEqual(['passing', 'critical']);
  });

  it('keeps its schedule when the sink throws', async () => {
    const { clock, runs, runner } = setup({ random: () => 0, sinkThrows: true });
    runner.start();
    clock.advance(0);
    runs[0]!.resolve(R('passing'));
    await settle();
    clock.advance(1000);
    expect(runs).toHaveLength(2);
    runner.stop();
  });
});

describe('FakeClock', () => {
  it('fires due timers in deadline order, including ones set by callbacks within the span', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    clock.setTimer(30, () => fired.push(`b@${clock.now()}`));
    clock.setTimer(10, () => {
      fired.push(`a@${clock.now()}`);
      clock.setTimer(5, () => fired.push(`c@${clock.now()}`));
    });
    const cancelled = clock.setTimer(20, () => fired.push('never'));
    cancelled.cancel();
    clock.advance(100);
    expect(fired).toEqual(['a@10', 'c@15', 'b@30']);
    expect(clock.now()).toBe(100);
    expect(clock.pending()).toBe(0);
  });
});
