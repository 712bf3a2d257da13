/** The CI sweep, 5-server clusters (see cluster-sim.test.ts). */
import { describe, expect, it } from 'vitest';
import { describeTotals, sweep } from './seed-sweep.ts';

const SEEDS = 250;
const REPLAYING = process.env.HERALD_SIM_SEED !== undefined;

describe('cluster simulator, 5 servers', () => {
  // With HERALD_SIM_SEED set, only seed-replay.test.ts runs (that one seed).
  it.skipIf(REPLAYING)(`keeps every invariant, converges and stays linearizable over ${SEEDS} seeds`, { timeout: 60_000 }, () => {
    const t0 = performance.now();
    // Seeds from 100001: a different fault mix from the 3-server sweep's seeds.
    const t = sweep(100_001, SEEDS, 5);
    console.log(`5 servers: ${SEEDS} seeds in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${describeTotals(t)}`);
    expect(t.seeds).toBe(SEEDS);
    expect(t.elections).toBeGreaterThan(SEEDS * 2);
    expect(t.crashes).toBeGreaterThan(SEEDS / 2);
    expect(t.partitions).toBeGreaterThan(SEEDS / 2);
    expect(t.pauses).toBeGreaterThan(SEEDS / 4);
    expect(t.confChangesApplied).toBeGreaterThan(SEEDS / 4);
    expect(t.snapshotsInstalled).toBeGreaterThan(SEEDS / 4);
    expect(t.readsServed).toBeGreaterThan(SEEDS * 10);
    expect(t.opsOk).toBeGreaterThan(SEEDS * 40);
  });
});
