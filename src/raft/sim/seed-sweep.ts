/**
 * Runs a range of seeds and adds up what they exercised, so a test (or the soak script) can
 * assert that the faults it claims to test actually happened. The first failure stops the
 * sweep and is rethrown with a line telling how to replay it.
 */
import { runSimulation, SimulationFailure, type SimResult } from './cluster-sim.ts';
import { optionsForSeed, type SimOptions } from './sim-options.ts';

/** Sums over a sweep. */
export interface SweepTotals {
  seeds: number;
  events: number;
  virtualSeconds: number;
  elections: number;
  crashes: number;
  restarts: number;
  pauses: number;
  partitions: number;
  asymmetricPartitions: number;
  membershipProposed: number;
  confChangesApplied: number;
  transfersStarted: number;
  slowDisks: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  writesLanded: number;
  writesLost: number;
  readsServed: number;
  messagesSent: number;
  messagesLost: number;
  messagesDuplicated: number;
  opsOk: number;
  opsIndeterminate: number;
  opsFailed: number;
  historyOps: number;
  checkerSteps: number;
}

export function emptyTotals(): SweepTotals {
  return {
    seeds: 0,
    events: 0,
    virtualSeconds: 0,
    elections: 0,
    crashes: 0,
    restarts: 0,
    pauses: 0,
    partitions: 0,
    asymmetricPartitions: 0,
    membershipProposed: 0,
    confChangesApplied: 0,
    transfersStarted: 0,
    slowDisks: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    writesLanded: 0,
    writesLost: 0,
    readsServed: 0,
    messagesSent: 0,
    messagesLost: 0,
    messagesDuplicated: 0,
    opsOk: 0,
    opsIndeterminate: 0,
    opsFailed: 0,
    historyOps: 0,
    checkerSteps: 0,
  };
}

export function addResult(t: SweepTotals, r: SimResult): void {
  t.seeds++;
  t.events += r.events;
  t.virtualSeconds += r.virtualTime / 1e6;
  t.elections += r.elections;
  t.crashes += r.nemesis.crashes;
  t.restarts += r.nemesis.restarts;
  t.pauses += r.nemesis.pauses;
  t.partitions += r.nemesis.partitions;
  t.asymmetricPartitions += r.nemesis.asymmetricPartitions;
  t.membershipProposed += r.nemesis.membershipProposed;
  t.confChangesApplied += r.confChangesApplied;
  t.transfersStarted += r.nemesis.transfersStarted;
  t.slowDisks += r.nemesis.slowDisks;
  t.snapshotsTaken += r.snapshotsTaken;
  t.snapshotsInstalled += r.snapshotsInstalled;
  t.writesLanded += r.writesLanded;
  t.writesLost += r.writesLost;
  t.readsServed += r.readsServed;
  t.messagesSent += r.network.sent;
  t.messagesLost += r.network.lost;
  t.messagesDuplicated += r.network.duplicated;
  t.opsOk += r.ops.ok;
  t.opsIndeterminate += r.ops.indeterminate;
  t.opsFailed += r.ops.failed;
  t.historyOps += r.historyLength;
  t.checkerSteps += r.checkerSteps;
}

/** How to replay one seed, printed with every failure. */
export function replayHint(seed: number, servers: number): string {
  return `replay: HERALD_SIM_SEED=${seed} HERALD_SIM_SERVERS=${servers} npx vitest run src/raft/sim/seed-replay.test.ts`;
}

/**
 * Runs seeds `first .. first + count - 1` with `servers` voters (options from optionsForSeed,
 * then `overrides`). Throws the first SimulationFailure, with the replay line appended.
 */
export function sweep(first: number, count: number, servers: number, overrides: Partial<SimOptions> = {}): SweepTotals {
  const totals = emptyTotals();
  for (let seed = first; seed < first + count; seed++) {
    try {
      addResult(totals, runSimulation(optionsForSeed(seed, servers, overrides)));
    } catch (err) {
      if (err instanceof SimulationFailure) err.message = `${err.message}\n${replayHint(seed, servers)}`;
      throw err;
    }
  }
  return totals;
}

/** One line per total, for logs. */
export function describeTotals(t: SweepTotals): string {
  return Object.entries(t)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : v}`)
    .join(' ');
}
