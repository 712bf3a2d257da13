/**
 * Everything a simulation run can vary, and how a seed picks the mix. Time is virtual
 * microseconds. A run is a pure function of its options: `optionsForSeed(seed, servers)` is
 * itself deterministic, so a seed names a whole scenario (cluster size aside), and any field
 * can be overridden to pin a scenario down.
 */
import type { ReadOnlyMode } from '../core/index.ts';
import { Prng } from './prng.ts';
import type { SendEarly } from './ready-driver.ts';
import type { DiskFault } from './sim-disk.ts';

/** A deliberately broken server, for the simulator's self-test. */
export type Sabotage =
  /** Answers a put as soon as the leader appends it, before it commits. */
  | 'ack-before-commit'
  /** Answers gets from the local state machine, without ReadIndex. */
  | 'local-reads'
  /** A follower grants a vote to every up-to-date candidate of its term, even after voting for another. */
  | 'double-vote';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly loss: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  readonly duplicate: number;
  /** Delay bounds of an ordinary message (uniform), µs. Overlapping delays reorder messages. */
  readonly delayMin: number;
  readonly delayMax: number;
  /** Probability that a message is slow instead, delayed up to `slowMax` µs (long reordering). */
  readonly slow: number;
  readonly slowMax: number;
}

/** Mean time between faults of each kind, µs (0: never). The nemesis draws them as it runs. */
export interface FaultRates {
  readonly partitionEvery: number;
  /** How long a partition lasts (uniform), µs. */
  readonly partitionFor: readonly [number, number];
  /** Share of partitions that are one-way (a link or a node's sending or receiving side). */
  readonly asymmetric: number;
  readonly crashEvery: number;
  /**
   * Where a crash strikes (probabilities; the rest crash at once): during the next disk write
   * of the victim (the fsync window, where durability bugs live), or during the next write of a
   * new term or vote (where double votes come from).
   */
  readonly crashInWrite: number;
  readonly crashInVoteWrite: number;
  readonly downFor: readonly [number, number];
  /** Share of restarts that come almost at once (a supervisor restarting the process), 1-20 ms. */
  readonly quickRestart: number;
  /** Probability that a write in flight when its server crashes reached the disk anyway. */
  readonly inflightWriteLands: number;
  readonly pauseEvery: number;
  readonly pauseFor: readonly [number, number];
  readonly membershipEvery: number;
  readonly transferEvery: number;
  readonly slowDiskEvery: number;
  readonly slowDiskFor: readonly [number, number];
}

export interface SimOptions {
  readonly seed: number;
  /** Initial voters (3 or 5). One more server exists, outside the configuration, for membership changes. */
  readonly servers: number;
  /** Virtual time of the fault phase, µs; then everything heals and the cluster must converge. */
  readonly faultPhase: number;
  /** Most virtual time allowed for convergence after healing, µs. */
  readonly convergeWithin: number;
  readonly clients: number;
  /** Each client's operation budget. */
  readonly opsPerClient: number;
  /** Pause between a client's operations (uniform), µs. */
  readonly thinkTime: readonly [number, number];
  /** A client gives an attempt this long before trying another server, µs. */
  readonly attemptTimeout: number;
  /** A client gives up an operation this long after calling it (indeterminate if it may have taken effect), µs. */
  readonly opTimeout: number;
  readonly kvKeys: number;
  /** Share of gets that go through the log instead of ReadIndex. */
  readonly logReads: number;
  /** Share of operations on the catalog key space (register / deregister). */
  readonly catalogOps: number;

  // Raft
  readonly tick: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readOnly: ReadOnlyMode;
  readonly maxEntriesPerAppend: number;
  readonly maxInflight: number;
  /** Snapshot the state machine every this many applied entries. */
  readonly snapshotEvery: number;
  /** Entries kept below a snapshot when compacting (lagging followers then need no snapshot). */
  readonly trailingEntries: number;
  /** Disk write latency for a Ready that must sync (uniform), µs. */
  readonly diskLatency: readonly [number, number];
  readonly sendEarly: SendEarly;

  readonly net: NetworkFaults;
  readonly faults: FaultRates;
  readonly sabotage?: Sabotage;
  /**
   * Check "persist before send" on every vote grant and append acknowledgement (invariants.ts).
   * The self-test turns it off to show that the end-to-end checks catch a driver that sends too
   * early on their own.
   */
  readonly checkSends: boolean;
  readonly diskFault?: DiskFault;
  /** Events kept for a failure's transcript. */
  readonly transcriptLength: number;
}

const MS = 1000;

/** No faults at all: a baseline the fault mix is applied to. */
export const NO_FAULTS: FaultRates = {
  partitionEvery: 0,
  partitionFor: [200 * MS, 800 * MS],
  asymmetric: 0.3,
  crashEvery: 0,
  crashInWrite: 0.3,
  crashInVoteWrite: 0.2,
  downFor: [50 * MS, 600 * MS],
  quickRestart: 0.3,
  inflightWriteLands: 0.5,
  pauseEvery: 0,
  pauseFor: [100 * MS, 700 * MS],
  membershipEvery: 0,
  transferEvery: 0,
  slowDiskEvery: 0,
  slowDiskFor: [50 * MS, 300 * MS],
};

/**
 * The scenario a seed names. Each fault class is switched on with some probability and at a
 * random rate, so across seeds every combination occurs, from a quiet network to everything at
 * once; a few seeds in ten run with no crash or partition at all (the steady-state path needs
 * coverage too).
 */
export function optionsForSeed(seed: number, servers: number, overrides: Partial<SimOptions> = {}): SimOptions {
  const r = new Prng(seed).fork('options');
  const on = (p: number) => r.chance(p);
  const every = (p: number, lo: number, hi: number) => (on(p) ? r.between(lo, hi) * MS : 0);
  const tick = 10 * MS;
  const electionTicks = 10;
  const lossy = on(0.6);
  const net: NetworkFaults = {
    loss: lossy ? r.pick([0.01, 0.03, 0.08, 0.15]) : 0,
    duplicate: on(0.4) ? r.pick([0.01, 0.05]) : 0,
    delayMin: 200,
    delayMax: r.pick([1, 3, 8]) * MS,
    slow: on(0.4) ? r.pick([0.01, 0.05]) : 0,
    slowMax: r.pick([30, 80, 200]) * MS,
  };
  const faults: FaultRates = {
    ...NO_FAULTS,
    partitionEvery: every(0.55, 300, 1200),
    crashEvery: every(0.5, 300, 1200),
    pauseEvery: every(0.4, 400, 1500),
    membershipEvery: every(0.35, 300, 1000),
    transferEvery: every(0.3, 300, 1000),
    slowDiskEvery: every(0.3, 300, 1000),
  };
  const preVote = on(0.8);
  const checkQuorum = on(0.8);
  const lease = checkQuorum && on(0.3);
  const base: SimOptions = {
    seed,
    servers,
    faultPhase: r.between(1500, 2500) * MS,
    convergeWithin: 10_000 * MS,
    clients: r.between(3, 5),
    opsPerClient: 40,
    thinkTime: [0, r.pick([2, 10, 30]) * MS],
    attemptTimeout: 120 * MS,
    opTimeout: 500 * MS,
    kvKeys: r.between(2, 5),
    logReads: r.pick([0, 0.2, 0.5]),
    catalogOps: r.pick([0, 0.15]),
    tick,
    electionTicks,
    heartbeatTicks: r.pick([1, 2, 3]),
    preVote,
    checkQuorum,
    readOnly: lease ? 'lease' : 'safe',
    maxEntriesPerAppend: r.pick([1, 4, 64]),
    maxInflight: r.pick([1, 4, 256]),
    snapshotEvery: r.pick([5, 12, 30, 1_000_000]),
    trailingEntries: r.pick([0, 2, 8]),
    diskLatency: r.pick([
      [50, 300],
      [200, 2 * MS],
    ] as const),
    sendEarly: on(0.5) ? 'leader-appends' : 'never',
    net,
    faults,
    checkSends: true,
    transcriptLength: 30,
  };
  return { ...base, ...overrides };
}
