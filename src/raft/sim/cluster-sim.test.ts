/**
 * The CI sweep, 3-server clusters (5-server ones are in cluster-sim-five.test.ts, a separate
 * file so the two run on both cores). Every seed runs a different fault mix (sim-options.ts);
 * a failure prints HERALD_SIM_SEED=<n> and the line that replays it (seed-replay.test.ts).
 * The totals assertions make sure the sweep really exercised what it claims to test.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from './cluster-sim.ts';
import { describeTotals, sweep } from './seed-sweep.ts';
import { optionsForSeed } from './sim-options.ts';

const SEEDS = 300;
const REPLAYING = process.env.HERALD_SIM_SEED !== undefined;

describe('cluster simulator, 3 servers', () => {
  // With HERALD_SIM_SEED set, only seed-replay.test.ts runs (that one seed).
  it.skipIf(REPLAYING)(`keeps every invariant, converges and stays linearizable over ${SEEDS} seeds`, { timeout: 60_000 }, () => {
    const t0 = performance.now();
    const t = sweep(1, SEEDS, 3);
    console.log(`3 servers: ${SEEDS} seeds in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${describeTotals(t)}`);
    expect(t.seeds).toBe(SEEDS);
    // Coverage floors, far below what the sweep produces (about a third of each), so a change
    // that quietly stops a fault from happening fails here.
    expect(t.elections).toBeGreaterThan(SEEDS * 2);
    expect(t.crashes).toBeGreaterThan(SEEDS / 2);
    expect(t.writesLanded + t.writesLost).toBeGreaterThan(SEEDS / 20);
    expect(t.partitions).toBeGreaterThan(SEEDS / 2);
    expect(t.asymmetricPartitions).toBeGreaterThan(SEEDS / 10);
    expect(t.pauses).toBeGreaterThan(SEEDS / 4);
    expect(t.confChangesApplied).toBeGreaterThan(SEEDS / 4);
    expect(t.transfersStarted).toBeGreaterThan(SEEDS / 10);
    expect(t.snapshotsInstalled).toBeGreaterThan(SEEDS / 4);
    expect(t.readsServed).toBeGreaterThan(SEEDS * 10);
    expect(t.opsOk).toBeGreaterThan(SEEDS * 40);
    expect(t.opsIndeterminate).toBeGreaterThan(SEEDS / 4);
  });

  it('replays a seed exactly', () => {
    const a = runSimulation(optionsForSeed(7, 3));
    const b = runSimulation(optionsForSeed(7, 3));
    expect(b).toEqual(a);
    const c = runSimulation(optionsForSeed(8, 3));
    expect(c.events).not.toBe(a.events);
  });
});
