import { describe, expect, it } from 'vitest';
import { describePlan, faultSchedule, OTHER_FAULTS, REQUIRED_FAULTS } from './fault-schedule.ts';

const shape = { others: 2, followers: 2, clientAgents: 2 };

describe('faultSchedule', () => {
  it('replays from the seed', () => {
    expect(faultSchedule(42, shape)).toEqual(faultSchedule(42, shape));
    expect(describePlan(faultSchedule(42, shape))).toBe(describePlan(faultSchedule(42, shape)));
  });

  it('always holds the leader kill, pause and isolation plus `others` distinct other faults, targets in range', () => {
    for (let seed = 0; seed < 200; seed++) {
      const plan = faultSchedule(seed, shape);
      const kinds = plan.map((f) => f.kind);
      expect(kinds).toHaveLength(5);
      expect(new Set(kinds).size).toBe(5);
      for (const k of REQUIRED_FAULTS) expect(kinds).toContain(k);
      for (const f of plan) {
        const among = f.kind === 'kill-client-agent' ? shape.clientAgents : f.kind.includes('follower') ? shape.followers : 1;
        expect(f.pick).toBeGreaterThanOrEqual(0);
        expect(f.pick).toBeLessThan(among);
      }
    }
  });

  it('varies order, kinds and targets with the seed', () => {
    const plans = Array.from({ length: 200 }, (_, seed) => faultSchedule(seed, shape));
    const seen = new Set(plans.flatMap((p) => p.map((f) => `${f.kind}#${f.pick}`)));
    for (const k of OTHER_FAULTS) for (const pick of [0, 1]) expect(seen).toContain(`${k}#${pick}`);
    expect(new Set(plans.map((p) => p[0]!.kind)).size).toBe(REQUIRED_FAULTS.length + OTHER_FAULTS.length);
  });
});
