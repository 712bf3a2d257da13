/**
 * The simulator must be able to fail: each deliberately broken server or driver below is
 * caught within a bounded number of seeds, by the property one would expect. The bounds have
 * margin over the first failing seed seen when they were written (noted per case); if one
 * stops being caught, the simulator lost power, not just luck.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation, SimulationFailure } from './cluster-sim.ts';
import { optionsForSeed, type SimOptions } from './sim-options.ts';

function firstFailure(servers: number, overrides: Partial<SimOptions>, maxSeeds: number): SimulationFailure | undefined {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    try {
      runSimulation(optionsForSeed(seed, servers, overrides));
    } catch (err) {
      if (err instanceof SimulationFailure) return err;
      throw err;
    }
  }
  return undefined;
}

function expectCaught(f: SimulationFailure | undefined, property: string | RegExp): SimulationFailure {
  expect(f, 'the broken variant went unnoticed').toBeInstanceOf(SimulationFailure);
  expect(f!.message).toContain(`HERALD_SIM_SEED=${f!.seed} `);
  expect(f!.property).toMatch(property);
  return f!;
}

describe('the simulator catches broken variants', () => {
  it.each([3, 5])('a driver that sends before persisting (%i servers): persist-before-send check', (servers) => {
    // First failing seed when written: 1 (3 and 5 servers).
    const f = expectCaught(firstFailure(servers, { sendEarly: 'all' }, 5), 'persist before send');
    expect(f.message).toMatch(/grants its vote|acknowledges index/);
    // The transcript: the last 30 events, Raft messages as describeMessage lines.
    expect(f.message).toContain('last 30 events:');
    expect(f.message).toMatch(/\d+->\d+ Msg(Vote|App)/);
  });

  it('a driver that sends before persisting, without that check: caught by its consequences', { timeout: 30_000 }, () => {
    // First failing seed when written: 6 (the core refuses a commit past its log: the follower
    // lost entries it had acknowledged).
    const f = expectCaught(firstFailure(3, { sendEarly: 'all', checkSends: false }, 40), /.+/);
    expect(f.message).toContain('HERALD_SIM_SEED=');
  });

  it('a disk that does not store the vote: caught at the first grant', () => {
    // First failing seed when written: 1.
    expectCaught(firstFailure(3, { diskFault: 'forget-vote' }, 5), 'persist before send');
  });

  it.each([3, 5])('a server that grants two votes in one term (%i servers)', { timeout: 30_000 }, (servers) => {
    // First failing seed when written: 11 (3 servers), 4 (5 servers).
    expectCaught(firstFailure(servers, { sabotage: 'double-vote' }, 40), /one vote per term|election safety/);
  });

  it.each([3, 5])('a server that acknowledges a put before it commits (%i servers)', { timeout: 30_000 }, (servers) => {
    // First failing seed when written: 1 (3 servers), 6 (5 servers).
    const f = expectCaught(firstFailure(servers, { sabotage: 'ack-before-commit' }, 30), 'linearizability');
    expect(f.message).toContain('not linearizable: partition');
  });

  it.each([3, 5])('a server that serves reads locally, without ReadIndex (%i servers)', { timeout: 30_000 }, (servers) => {
    // First failing seed when written: 1 (3 servers), 5 (5 servers).
    const f = expectCaught(firstFailure(servers, { sabotage: 'local-reads' }, 30), 'linearizability');
    expect(f.message).toMatch(/cannot be placed/);
  });
});
