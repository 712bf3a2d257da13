import { describe, expect, it } from 'vitest';
import { measureLoopDelay } from './loop-delay.ts';

// The harness itself, briefly, in both modes: it appends, syncs, measures and cleans up.
// Timing is reported by the script, never asserted here.
describe('storage loop-delay harness', () => {
  it.each(['main', 'worker'] as const)('runs with the binding on the %s thread', async (thread) => {
    const r = await measureLoopDelay({ thread, durationMs: 300, writers: 4, payloadBytes: 64 });
    expect(r.thread).toBe(thread);
    expect(r.appends).toBeGreaterThan(0);
    expect(r.syncs).toBeGreaterThan(0);
    expect(r.syncs).toBeLessThanOrEqual(r.appends);
    expect(r.loopDelay.count).toBeGreaterThan(0);
    expect(r.udpRtt.count).toBeGreaterThan(0);
  });
});
