/**
 * Replays one seed: `HERALD_SIM_SEED=<n> [HERALD_SIM_SERVERS=3|5] [HERALD_SIM_TRANSCRIPT=200]
 * npx vitest run src/raft/sim/seed-replay.test.ts`. The run is the same one the sweep did (same
 * options), with a longer transcript if asked.
 *
 * Without HERALD_SIM_SEED it checks what replaying rests on: one seed run twice gives the very
 * same run (every counter, every outcome), so a printed seed reproduces a failure exactly.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from './cluster-sim.ts';
import { optionsForSeed } from './sim-options.ts';

const seed = process.env.HERALD_SIM_SEED;
const servers = Number(process.env.HERALD_SIM_SERVERS ?? 3);
const transcript = Number(process.env.HERALD_SIM_TRANSCRIPT ?? 30);
const asJson = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

describe('replay one simulation seed', () => {
  if (seed !== undefined) {
    it(`HERALD_SIM_SEED=${seed} with ${servers} servers`, () => {
      const options = optionsForSeed(Number(seed), servers, { transcriptLength: transcript });
      console.log(`options: ${JSON.stringify(options)}`);
      const r = runSimulation(options);
      console.log(asJson(r));
      expect(r.seed).toBe(Number(seed));
    });
  } else {
    it.each([3, 5])('a seed replays exactly (%i servers)', (n) => {
      const first = asJson(runSimulation(optionsForSeed(4242, n)));
      const again = asJson(runSimulation(optionsForSeed(4242, n)));
      expect(again).toBe(first);
    });
  }
});
