/**
 * The failure detector's core on a hand-driven clock: what the leader decides about client
 * agents from heartbeats (direct and relayed), and when it must not decide (not leading, a
 * fresh leader's grace, its own stall, a single missed beat).
 */
import { describe, expect, it } from 'vitest';
import { ClientLivenessTable, livenessTuning, type JudgedNode } from './client-liveness.ts';

const tuning = livenessTuning(5_000);
const passing = (node: string): JudgedNode => ({ node, status: 'passing' });
const critical = (node: string): JudgedNode => ({ node, status: 'critical' });

/** A leader that took over at t=0, ticking every report interval up to `until`. */
function leaderAt(table: ClientLivenessTable, from: number, until: number): void {
  for (let t = from; t <= until; t += tuning.reportIntervalMs) table.tick(t, true);
}

describe('livenessTuning', () => {
  it('derives every knob from the failure timeout', () => {
    expect(tuning).toEqual({ failureTimeoutMs: 5_000, heartbeatIntervalMs: 1_000, reportIntervalMs: 1_000, aliveWindowMs: 2_500, stallMs: 2_500 });
    expect(livenessTuning().failureTimeoutMs).toBe(5_000);
    expect(() => livenessTuning(100)).toThrow(/at least 500 ms/);
  });
});

describe('ClientLivenessTable', () => {
  it('judges nothing unless this server leads', () => {
    const t = new ClientLivenessTable(tuning);
    t.tick(0, false);
    t.tick(60_000, false);
    expect(t.judge(60_000, [passing('a')])).toEqual([]);
  });

  it('gives a new leader a full failure timeout of grace for clients it never heard from', () => {
    const t = new ClientLivenessTable(tuning);
    leaderAt(t, 100_000, 105_000);
    expect(t.inGrace(105_000)).toBe(true);
    expect(t.judge(105_000, [passing('a')])).toEqual([]);
    t.tick(106_000, true);
    expect(t.inGrace(106_000)).toBe(false);
    expect(t.judge(106_000, [passing('a')])).toEqual([{ node: 'a', status: 'critical' }]);
  });

  it('marks a silent client critical only after the timeout, not on a missed beat', () => {
    const t = new ClientLivenessTable(tuning);
    leaderAt(t, 0, 10_000);
    t.heard('web-1', 10_000);
    leaderAt(t, 11_000, 13_000);
    // Two beats missed: still passing.
    expect(t.judge(13_000, [passing('web-1')])).toEqual([]);
    leaderAt(t, 14_000, 15_000);
    expect(t.judge(15_000, [passing('web-1')])).toEqual([]);
    t.tick(15_001, true);
    expect(t.judge(15_001, [passing('web-1')])).toEqual([{ node: 'web-1', status: 'critical' }]);
    // Already critical: nothing more to write.
    expect(t.judge(15_001, [critical('web-1')])).toEqual([]);
  });

  it('turns a failed client passing on a fresh beat, not on an old one', () => {
    const t = new ClientLivenessTable(tuning);
    leaderAt(t, 0, 20_000);
    // Relayed news 3 s old: inside the failure timeout, outside the alive window.
    t.heard('web-1', 20_000, 3_000);
    expect(t.judge(20_000, [critical('web-1')])).toEqual([]);
    t.heard('web-1', 20_500, 1_000);
    expect(t.judge(20_500, [critical('web-1')])).toEqual([{ node: 'web-1', status: 'passing' }]);
  });

  it('keeps the freshest news, matches names case-insensitively, and reports what is within the timeout', () => {
    const t = new ClientLivenessTable(tuning);
    t.heard('Web-1', 10_000);
    t.heard('web-1', 10_000, 4_000); // older relayed news does not move it back
    t.heard('db', 10_000, 4_900);
    t.heard('gone', 10_000, 6_000);
    expect(t.report(10_000)).toEqual([
      { node: 'web-1', ageMs: 0 },
      { node: 'db', ageMs: 4_900 },
    ]);
    leaderAt(t, 0, 10_000);
    expect(t.judge(10_000, [passing('WEB-1'), passing('db')])).toEqual([]);
  });

  it('starts the grace again after its own timer stalled (the beats it missed were not the clients\' fault)', () => {
    const t = new ClientLivenessTable(tuning);
    leaderAt(t, 0, 20_000);
    t.heard('web-1', 20_000);
    // The leader's event loop is blocked (or the process paused) for 6 s.
    t.tick(26_000, true);
    expect(t.inGrace(26_000)).toBe(true);
    expect(t.judge(26_000, [passing('web-1')])).toEqual([]);
    leaderAt(t, 27_000, 31_000);
    expect(t.judge(31_000, [passing('web-1')])).toEqual([]);
    t.tick(31_001, true);
    expect(t.judge(31_001, [passing('web-1')])).toEqual([{ node: 'web-1', status: 'critical' }]);
  });

  it('gives the grace again to a server that lost and regained leadership', () => {
    const t = new ClientLivenessTable(tuning);
    leaderAt(t, 0, 10_000);
    t.tick(11_000, false);
    t.tick(12_000, true);
    expect(t.judge(12_000, [passing('never-heard')])).toEqual([]);
    leaderAt(t, 13_000, 17_000);
    expect(t.judge(17_000, [passing('never-heard')])).toEqual([]);
    t.tick(17_001, true);
    expect(t.judge(17_001, [passing('never-heard')])).toEqual([{ node: 'never-heard', status: 'critical' }]);
  });
});
