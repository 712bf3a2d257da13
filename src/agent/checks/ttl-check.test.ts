import { describe, it, expect } from 'vitest';
import type { HealthStatus } from '../../catalog/types.ts';
import { FakeClock } from './clock.ts';
import { TtlCheck } from './ttl-check.ts';

function setup(ttl = 10_000) {
  const clock = new FakeClock();
  const reports: [string, HealthStatus, string][] = [];
  const check = new TtlCheck({ checkId: 'web-ttl', ttl, sink: (id, s, o) => reports.push([id, s, o]), clock });
  return { clock, reports, check };
}

describe('TtlCheck', () => {
  it('expires to critical `TTL expired` when never updated', () => {
    const { clock, reports, check } = setup();
    check.start();
    clock.advance(9_999);
    expect(reports).toEqual([]);
    clock.advance(1);
    expect(reports).toEqual([['web-ttl', 'critical', 'TTL expired']]);
  });

  it('reports an update at once and appends its output to the expiry message', () => {
    const { clock, reports, check } = setup();
    check.start();
    expect(check.update('passing', 'all good')).toBe('all good');
    expect(reports).toEqual([['web-ttl', 'passing', 'all good']]);
    clock.advance(10_000);
    expect(reports[1]).toEqual(['web-ttl', 'critical', 'TTL expired (last output before timeout follows): all good']);
  });

  it('each update re-arms the TTL', () => {
    const { clock, reports, check } = setup();
    check.start();
    clock.advance(9_000);
    check.update('warning', 'w');
    clock.advance(9_000);
    check.update('passing', 'p');
    clock.advance(9_999);
    expect(reports.map((r) => r[1])).toEqual(['warning', 'passing']);
    clock.advance(1);
    expect(reports.map((r) => r[1])).toEqual(['warning', 'passing', 'critical']);
  });

  it('reports expiry once, and comes back on the next update', () => {
    const { clock, reports, check } = setup(1_000);
    check.start();
    clock.advance(60_000);
    expect(reports).toHaveLength(1);
    check.update('passing', '');
    clock.advance(1_000);
    expect(reports.map((r) => [r[1], r[2]])).toEqual([
      ['critical', 'TTL expired'],
      ['passing', ''],
      ['critical', 'TTL expired'],
    ]);
  });

  it("cuts output to 4 KB with Consul's marker", () => {
    const { reports, check } = setup();
    check.start();
    const stored = check.update('passing', 'y'.repeat(5000));
    expect(stored).toBe('y'.repeat(4096) + ' ... (captured 4096 of 5000 bytes)');
    expect(reports[0]![2]).toBe(stored);
  });

  it('reports nothing after stop', () => {
    const { clock, reports, check } = setup();
    check.start();
    check.stop();
    check.update('passing', 'late');
    clock.advance(100_000);
    expect(reports).toEqual([]);
    expect(clock.pending()).toBe(0);
  });
});
