/**
 * The values that flow in and out of the pure Raft core (etcd-io/raft's raftpb, in TypeScript).
 * Indexes and terms are `bigint` (u64 on the wire, like src/storage); node ids are opaque
 * strings chosen by the driver. Nothing here does I/O.
 */

/** A server's id. Opaque to the core; the driver maps it to an address. */
export type NodeId = string;

/**
 * What an entry carries. `noop` is the empty entry a new leader appends at the start of its
 * term (dissertation §6.4; it lets the leader commit earlier-term entries, §5.4.2). `conf` is a
 * membership change (see conf-change.ts). `normal` is opaque application data.
 */
export type EntryKind = 'normal' | 'noop' | 'conf';

/** One log entry. `data` is owned by the log: do not mutate it after handing it in or out. */
export interface Entry {
  readonly index: bigint;
  readonly term: bigint;
  readonly kind: EntryKind;
  readonly data: Buffer;
}

/**
 * Raft's persistent per-server state (Figure 2 of the paper), plus the commit index so a
 * restart need not rediscover it. `vote` is undefined when no vote was cast in `term`.
 */
export interface HardState {
  readonly term: bigint;
  readonly vote: NodeId | undefined;
  readonly commit: bigint;
}

/** The role of a server. `pre-candidate` is the PreVote phase (dissertation §9.6). */
export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state a driver may want to show or react to; not persisted. */
export interface SoftState {
  readonly leader: NodeId | undefined;
  readonly role: Role;
  /** The voters in effect (the membership as of the last applied configuration). Sorted. */
  readonly voters: readonly NodeId[];
}

/** What a snapshot covers: the log prefix up to `index` (whose entry had `term`) and the voters then. */
export interface SnapshotMeta {
  readonly index: bigint;
  readonly term: bigint;
  /** Voters as of `index` (after applying every entry up to it). Sorted. */
  readonly voters: readonly NodeId[];
}

/** A state-machine snapshot: its meta and the application's opaque bytes. */
export interface Snapshot extends SnapshotMeta {
  readonly data: Buffer;
}

/** The result of a ReadIndex request: once applied >= index, a read of the state machine is linearizable. */
export interface ReadState {
  readonly index: bigint;
  /** The caller's request id, as given to `readIndex(ctx)`. */
  readonly context: string;
}

/**
 * Wire message types. Requests and their responses:
 * - MsgApp / MsgAppResp: AppendEntries (§5.3); an empty MsgApp also probes and carries the commit index.
 * - MsgVote / MsgVoteResp: RequestVote (§5.2). MsgPreVote / MsgPreVoteResp: the PreVote round (§9.6).
 * - MsgHeartbeat / MsgHeartbeatResp: leader liveness, commit index, ReadIndex confirmation, lease.
 * - MsgSnap: InstallSnapshot (§7); answered with MsgAppResp.
 * - MsgReadIndex / MsgReadIndexResp: a follower forwarding a ReadIndex request to the leader.
 * - MsgTimeoutNow: leadership transfer; the target campaigns at once (§3.10).
 */
export type MessageType =
  | 'MsgApp'
  | 'MsgAppResp'
  | 'MsgVote'
  | 'MsgVoteResp'
  | 'MsgPreVote'
  | 'MsgPreVoteResp'
  | 'MsgHeartbeat'
  | 'MsgHeartbeatResp'
  | 'MsgSnap'
  | 'MsgReadIndex'
  | 'MsgReadIndexResp'
  | 'MsgTimeoutNow';

/**
 * One message between servers. Fields beyond type/from/to/term are set only for the types
 * that use them (absent means unused):
 * - `index`: MsgApp: the entry before `entries`; MsgAppResp: the last index now matching
 *   (accept) or the rejected MsgApp's `index` (reject); MsgVote/MsgPreVote: the candidate's
 *   last index; MsgReadIndexResp: the read index.
 * - `logTerm`: MsgApp: term of entry `index`; MsgVote/MsgPreVote: the candidate's last term;
 *   MsgAppResp reject: the follower's term at `rejectHint`.
 * - `entries`: MsgApp. `commit`: MsgApp, MsgHeartbeat.
 * - `reject`, `rejectHint`: responses (rejectHint only on MsgAppResp, the follower's guess at
 *   the highest index where the logs may match).
 * - `snapshot`: MsgSnap. `context`: ReadIndex request id (heartbeats and MsgReadIndex*).
 * - `tick`: MsgHeartbeat: the leader's tick counter when sent, echoed by MsgHeartbeatResp (leases).
 * - `transfer`: MsgVote sent because of MsgTimeoutNow; voters then ignore their leader lease.
 * Messages are values: the core never mutates one it sent or received.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: bigint;
  readonly index?: bigint;
  readonly logTerm?: bigint;
  readonly entries?: readonly Entry[];
  readonly commit?: bigint;
  readonly reject?: boolean;
  readonly rejectHint?: bigint;
  readonly snapshot?: Snapshot;
  readonly context?: string;
  readonly tick?: number;
  readonly transfer?: boolean;
}

/**
 * Everything the driver must do after some input, in this order (the Ready contract):
 *
 * 1. Persist, durably (fsync when `mustSync`):
 *    a. `snapshot` if set: save it, drop the whole stored log, then call `LogView.applySnapshot`;
 *    b. if `truncateAfter` is set, drop every stored entry with index > truncateAfter
 *       (a conflicting suffix being replaced, §5.3); then append `entries`
 *       (and `LogView.append(entries)`, which does both for the in-memory view);
 *    c. `hardState` if set (and `LogView.setHardState`).
 * 2. Only then send `messages` (they may promise what step 1 stores: votes, acks).
 * 3. Apply `snapshot` (restore the state machine) if set, then `committedEntries` in order.
 *    They may include entries from this same Ready's `entries`: persist first, as above.
 * 4. Answer `readStates`: each one's index is <= the last entry applied in step 3 (or applied
 *    before), so a read of the state machine now is linearizable.
 * 5. Call `advance(ready)`.
 *
 * A leader counts its own log toward commit only when `advance()` confirms it is persisted, so
 * a future driver may send a leader's MsgApp messages in parallel with its own fsync
 * (dissertation §10.2.1); with that exception, nothing may be sent before it is persisted.
 */
export interface Ready {
  /** Set when leader, role or voters changed since the previous Ready. */
  readonly softState?: SoftState;
  /** Set when term, vote or commit changed since the previous Ready. */
  readonly hardState?: HardState;
  /** A snapshot received from the leader, to persist and then restore into the state machine. */
  readonly snapshot?: Snapshot;
  /** When set, stored entries above this index conflict with `entries` and must be dropped first. Always entries[0].index - 1. */
  readonly truncateAfter?: bigint;
  /** Entries to append to stable storage, ascending and contiguous. */
  readonly entries: readonly Entry[];
  /** True when the writes above must be fsync'd before sending (new entries, snapshot, term or vote). A commit-only change need not. */
  readonly mustSync: boolean;
  /** Messages to send once the writes above are durable. */
  readonly messages: readonly Message[];
  /** Committed entries to apply, ascending and contiguous, after the snapshot (if any). */
  readonly committedEntries: readonly Entry[];
  /** Linearizable-read points whose index is applied once committedEntries are. */
  readonly readStates: readonly ReadState[];
}

/** Why a request to the core was refused. */
export type Refusal =
  /** This server is not the leader (the known leader, if any, is in `leader`). */
  | 'not-leader'
  /** A leadership transfer is in progress; proposals wait until it ends (§3.10). */
  | 'transferring'
  /** An earlier membership change is not yet applied (one change at a time, §4.1). */
  | 'conf-pending'
  /** The change is not a change (adding a voter, removing a non-voter, emptying the cluster) or names a non-voter/self as transfer target. */
  | 'invalid'
  /** No leader is known, so a ReadIndex request cannot be forwarded. */
  | 'no-leader';

/** The answer to a proposal: the entry's position, or why nothing was appended. */
export type ProposeResult =
  | { readonly ok: true; readonly index: bigint; readonly term: bigint }
  | { readonly ok: false; readonly reason: Refusal; readonly leader?: NodeId };

/** The answer to a request that has no position of its own (readIndex, transferLeadership). */
export type RequestResult = { readonly ok: true } | { readonly ok: false; readonly reason: Refusal; readonly leader?: NodeId };
