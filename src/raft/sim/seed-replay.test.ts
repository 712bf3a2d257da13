/**
 * Replays one seed: `HERALD_SIM_SEED=<n> [HERALD_SIM_SERVERS=3|5] [HERALD_SIM_TRANSCRIPT=200]
 * npx vitest run src/raft/sim/seed-replay.test.ts`. Skipped when HERALD_SIM_SEED is unset.
 * The run is the same one the sweep did (same options), with a longer transcript if asked.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from './cluster-sim.ts';
import { optionsForSeed } from './sim-options.ts';

const seed = process.env.HERALD_SIM_SEED;
const servers = Number(process.env.HERALD_SIM_SERVERS ?? 3);
const transcript = Number(process.env.HERALD_SIM_TRANSCRIPT ?? 30);

describe('replay one simulation seed', () => {
  it.skipIf(seed === undefined)(`HERALD_SIM_SEED=${seed ?? '-'} with ${servers} servers`, () => {
    const options = optionsForSeed(Number(seed), servers, { transcriptLength: transcript });
    console.log(`options: ${JSON.stringify(options)}`);
    const r = runSimulation(options);
    console.log(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    expect(r.seed).toBe(Number(seed));
  });
});
