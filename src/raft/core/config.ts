/**
 * RaftNode configuration: every knob, its default and the reason for it, in one place
 * (hashicorp/memberlist's config.go style). Time is in ticks; the driver decides how long a
 * tick is (anchors §5 suggest a 50 ms heartbeat: tick = 50 ms, heartbeat 1, election 6-12).
 */
import { ERR, HeraldError } from '../../errors.ts';
import type { LogView } from './log-view.ts';
import type { NodeId } from './types.ts';

/** How ReadIndex requests are confirmed. */
export type ReadOnlyMode =
  /** A heartbeat round acknowledged by a quorum after the request arrived (dissertation §6.4). */
  | 'safe'
  /**
   * The leader's lease (§6.4.1): answered at once while a quorum acknowledged a heartbeat sent
   * less than `leaseTicks` ago; otherwise falls back to `safe`. Relies on every server's ticks
   * running at about the same rate, and requires `checkQuorum`.
   */
  | 'lease';

/** What a driver passes to `new RaftNode(...)`. */
export interface RaftConfig {
  /** This server's id. */
  id: NodeId;
  /** The durable log, snapshot and hard state, loaded before construction (see log-view.ts). */
  storage: LogView;
  /**
   * Returns an integer in [0, n). Used only to randomize election timeouts; inject a seeded
   * generator (seeded-random.ts) in tests and simulations, a real one in production.
   */
  random: (n: number) => number;
  /** T: a follower campaigns after a random timeout in [T, 2T) ticks without hearing from a leader. */
  electionTicks?: number;
  /** A leader sends heartbeats every this many ticks. Must be < electionTicks. */
  heartbeatTicks?: number;
  /** Highest index the state machine already holds at start (after restoring its own snapshot); entries up to it are not handed out again. */
  applied?: bigint;
  /** Campaign with a PreVote round first (§9.6), so a server that was partitioned does not inflate terms when it rejoins. */
  preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum for an election timeout; followers then also ignore votes while they hear from a leader. */
  checkQuorum?: boolean;
  readOnly?: ReadOnlyMode;
  /** Lease length for readOnly 'lease'; must be < electionTicks to leave room for clock drift. */
  leaseTicks?: number;
  /** Most entries in one MsgApp (batching). */
  maxEntriesPerAppend?: number;
  /** Most entry data bytes in one MsgApp (at least one entry is always sent). */
  maxBytesPerAppend?: number;
  /** Most MsgApp messages in flight to one follower in replicate state (pipelining window). */
  maxInflight?: number;
  /** Most entry bytes in flight to one follower. */
  maxInflightBytes?: number;
  /** Most entry data bytes handed out for applying in one Ready. */
  maxCommittedBytesPerReady?: number;
  /** Ticks after which a snapshot with no answer is assumed lost and may be sent again. */
  snapshotRetryTicks?: number;
}

/** RaftConfig with every default filled in. */
export type ResolvedRaftConfig = Required<Omit<RaftConfig, 'applied'>> & { applied: bigint };

/**
 * The defaults, with the reason for each.
 * - electionTicks 10, heartbeatTicks 1: etcd's ratio (election = 10 x heartbeat, §0 of the
 *   anchors); broadcastTime << electionTimeout (Raft §5.6).
 * - leaseTicks = floor(T / 2): anchors §5, "leader lease <= 0.5 x the minimum election timeout"
 *   (hashicorp/raft ships LeaderLeaseTimeout 500 ms against a 1 s election timeout).
 * - maxEntriesPerAppend 64: hashicorp/raft MaxAppendEntries.
 * - maxBytesPerAppend 1 MiB: keeps one MsgApp well under a socket buffer burst while batching
 *   thousands of small commands.
 * - maxInflight 256 (etcd's typical MaxInflightMsgs), maxInflightBytes 32 MiB: bounds memory
 *   held for one slow follower.
 * - maxCommittedBytesPerReady 4 MiB: bounds one apply batch so the event loop stays responsive.
 * - snapshotRetryTicks = 5 x T: long enough for a large snapshot on a LAN, short enough that a
 *   lost one does not strand a follower.
 */
export function raftDefaults(electionTicks = 10): Omit<ResolvedRaftConfig, 'id' | 'storage' | 'random'> {
  return {
    electionTicks,
    heartbeatTicks: 1,
    applied: 0n,
    preVote: true,
    checkQuorum: true,
    readOnly: 'safe',
    leaseTicks: Math.floor(electionTicks / 2),
    maxEntriesPerAppend: 64,
    maxBytesPerAppend: 1 << 20,
    maxInflight: 256,
    maxInflightBytes: 32 << 20,
    maxCommittedBytesPerReady: 4 << 20,
    snapshotRetryTicks: 5 * electionTicks,
  };
}

/** Fills defaults and checks ranges; throws RAFT_CONFIG_INVALID naming the field. */
export function resolveConfig(cfg: RaftConfig): ResolvedRaftConfig {
  const d = raftDefaults(cfg.electionTicks ?? 10);
  const out: ResolvedRaftConfig = {
    id: cfg.id,
    storage: cfg.storage,
    random: cfg.random,
    electionTicks: d.electionTicks,
    heartbeatTicks: cfg.heartbeatTicks ?? d.heartbeatTicks,
    applied: cfg.applied ?? d.applied,
    preVote: cfg.preVote ?? d.preVote,
    checkQuorum: cfg.checkQuorum ?? d.checkQuorum,
    readOnly: cfg.readOnly ?? d.readOnly,
    leaseTicks: cfg.leaseTicks ?? d.leaseTicks,
    maxEntriesPerAppend: cfg.maxEntriesPerAppend ?? d.maxEntriesPerAppend,
    maxBytesPerAppend: cfg.maxBytesPerAppend ?? d.maxBytesPerAppend,
    maxInflight: cfg.maxInflight ?? d.maxInflight,
    maxInflightBytes: cfg.maxInflightBytes ?? d.maxInflightBytes,
    maxCommittedBytesPerReady: cfg.maxCommittedBytesPerReady ?? d.maxCommittedBytesPerReady,
    snapshotRetryTicks: cfg.snapshotRetryTicks ?? d.snapshotRetryTicks,
  };
  const bad = (field: string, why: string): never => {
    throw new HeraldError(ERR.RAFT_CONFIG_INVALID, `raft config ${field}: ${why}`);
  };
  if (typeof out.id !== 'string' || out.id === '') bad('id', 'must be a non-empty string');
  if (typeof out.random !== 'function') bad('random', 'must be a function returning an integer in [0, n)');
  const posInt = (field: keyof ResolvedRaftConfig, v: number) => {
    if (!Number.isInteger(v) || v < 1) bad(field, `${v} is not a positive integer`);
  };
  posInt('heartbeatTicks', out.heartbeatTicks);
  posInt('electionTicks', out.electionTicks);
  posInt('maxEntriesPerAppend', out.maxEntriesPerAppend);
  posInt('maxInflight', out.maxInflight);
  posInt('snapshotRetryTicks', out.snapshotRetryTicks);
  if (out.electionTicks <= out.heartbeatTicks) bad('electionTicks', `${out.electionTicks} must exceed heartbeatTicks ${out.heartbeatTicks}`);
  for (const f of ['maxBytesPerAppend', 'maxInflightBytes', 'maxCommittedBytesPerReady'] as const) {
    if (!(out[f] > 0)) bad(f, `${out[f]} must be > 0`);
  }
  if (out.readOnly !== 'safe' && out.readOnly !== 'lease') bad('readOnly', `${String(out.readOnly)} is not 'safe' or 'lease'`);
  if (out.readOnly === 'lease') {
    if (!out.checkQuorum) bad('readOnly', "'lease' needs checkQuorum (a leader must step down before its lease could be wrong)");
    if (!Number.isInteger(out.leaseTicks) || out.leaseTicks < 1 || out.leaseTicks >= out.electionTicks) {
      bad('leaseTicks', `${out.leaseTicks} must be an integer in [1, electionTicks ${out.electionTicks})`);
    }
  }
  if (typeof out.applied !== 'bigint' || out.applied < 0n) bad('applied', 'must be a non-negative bigint');
  return out;
}
