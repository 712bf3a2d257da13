/** Session TTL timers and the tombstone GC, on an injected clock (no real waiting). */
import { describe, expect, it } from 'vitest';
import { SessionTimers } from './session-timers.ts';
import { TombstoneGc } from './tombstone-gc.ts';

/** A manual timer wheel. */
function fakeTimers() {
  let now = 0;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimer: (fn: () => void, ms: number) => {
      const id = ++seq;
      pending.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimer: (h: unknown) => void pending.delete(h as number),
    now: () => now,
    advance(ms: number) {
      now += ms;
      for (const [id, t] of [...pending].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now) {
          pending.delete(id);
          t.fn();
        }
      }
    },
    get count() {
      return pending.size;
    },
  };
}

describe('SessionTimers', () => {
  it('expires a session after 2 x TTL without renew; renew restarts the count; TTL 0 arms nothing', () => {
    const clock = fakeTimers();
    const expired: string[] = [];
    const t = new SessionTimers({ expire: (id) => expired.push(id), setTimer: clock.setTimer, clearTimer: clock.clearTimer });
    t.arm('a', 10_000);
    t.arm('none', 0);
    expect(t.size).toBe(1);
    clock.advance(15_000);
    t.arm('a', 10_000); // renew
    clock.advance(19_999);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(['a']);
    expect(t.has('a')).toBe(false);
    t.arm('b', 10_000);
    t.clear('b');
    clock.advance(60_000);
    expect(expired).toEqual(['a']);
  });
});

describe('TombstoneGc', () => {
  it('reaps each bucket once, after the TTL, up to the highest index hinted into it', () => {
    const clock = fakeTimers();
    const reaped: bigint[] = [];
    const gc = new TombstoneGc({ ttlMs: 15 * 60_000, granularityMs: 30_000, reap: (i) => reaped.push(i), ...clock });
    gc.hint(5n);
    clock.advance(10_000);
    gc.hint(9n); // same 30 s bucket
    expect(gc.pending).toBe(1);
    clock.advance(15 * 60_000 - 10_000 - 1);
    expect(reaped).toEqual([]);
    clock.advance(30_001);
    expect(reaped).toEqual([9n]);
    gc.hint(12n);
    gc.stop();
    clock.advance(60 * 60_000);
    expect(reaped).toEqual([9n]);
  });
});
