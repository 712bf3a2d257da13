/**
 * RaftNode: the driver-facing API of the pure Raft core (etcd-io/raft rawnode.go). Feed it
 * ticks, messages and requests; collect a Ready; do what it says; advance. Synchronous,
 * deterministic given the injected `random`, no I/O.
 *
 * Driver loop:
 *
 *     node.tick() / node.step(msg) / node.propose(data) / ...
 *     while (node.hasReady()) {
 *       const rd = node.ready();
 *       persist(rd);            // snapshot, truncateAfter + entries, hardState; fsync if rd.mustSync;
 *                               // mirror into the LogView (applySnapshot / append / setHardState)
 *       send(rd.messages);      // only after persisting
 *       apply(rd.snapshot, rd.committedEntries);
 *       answer(rd.readStates);
 *       node.advance(rd);
 *     }
 *
 * Between ready() and advance() the driver may keep calling tick/step/propose (their output
 * goes into the next Ready), but not ready() again.
 */
import { ERR, HeraldError } from '../../errors.ts';
import type { ConfChange } from './conf-change.ts';
import type { RaftConfig } from './config.ts';
import { Raft, type Status } from './raft.ts';
import type { HardState, Message, NodeId, ProposeResult, Ready, RequestResult, SnapshotMeta, SoftState } from './types.ts';

export type { Status, ProgressStatus } from './raft.ts';

/** One Raft server's consensus core. See the file comment for the driver loop. */
export class RaftNode {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: Ready | undefined;

  /**
   * Builds the core over `config.storage`, which must already hold the durable state (see
   * log-view.ts). Throws RAFT_CONFIG_INVALID on bad settings, RAFT_DRIVER_MISUSE when the
   * stored state is inconsistent (commit past the log, applied past commit).
   */
  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.raft.softState();
    this.prevHard = config.storage.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  /** Advances logical time by one tick (elections, heartbeats, CheckQuorum, lease, transfer timeout). */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Hands the core a message received from a peer. Messages for another id, from ourselves,
   * or stale by term are ignored (stale leaders get a reply telling them the newer term).
   */
  step(message: Message): void {
    this.raft.step(message);
  }

  /** Starts an election now (PreVote first when enabled), as if the election timeout fired. */
  campaign(): void {
    this.raft.hup(false);
  }

  /**
   * Appends `data` as a normal entry if this server leads (copied; the caller may reuse its
   * buffer). `ok` means appended at (index, term), not committed: the entry is committed iff
   * an entry with that index AND term is later among committedEntries; if another term's
   * entry shows up at that index, the proposal was lost. Refused with 'not-leader' (and the
   * known leader) or 'transferring'.
   */
  propose(data: Buffer | Uint8Array): ProposeResult {
    return this.raft.propose('normal', Buffer.from(data));
  }

  /**
   * propose() for several commands at once: consecutive entries, one broadcast (one MsgApp per
   * follower for the batch). `index` is the last entry's; the i-th of n is at index - (n-1-i).
   * All or nothing: refused as propose() is. `datas` must not be empty.
   */
  proposeMany(datas: readonly (Buffer | Uint8Array)[]): ProposeResult {
    return this.raft.proposeMany(datas.map((d) => ({ kind: 'normal' as const, data: Buffer.from(d) })));
  }

  /**
   * Proposes adding or removing one voter. Takes effect when the entry is applied (advance()
   * past the Ready carrying it in committedEntries), on every server. Refused with
   * 'conf-pending' while an earlier change (or this term's no-op) is unapplied, 'invalid' when
   * it changes nothing or would leave no voter.
   */
  proposeConfChange(change: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(change);
  }

  /**
   * Asks for a linearizable read point. `context` must be unique among outstanding requests
   * (across the cluster, since followers forward it). The answer arrives as a ReadState in a
   * later Ready, released only once this server has applied up to its index; it may never
   * arrive (leader change, message loss): time out and retry. Refused with 'no-leader' when a
   * follower knows no leader to forward to.
   */
  readIndex(context: string): RequestResult {
    return this.raft.readIndex(context);
  }

  /**
   * Leader only: whether a quorum has heard from this leader within the last `leaseTicks` ticks
   * (with checkQuorum, each of them then ignores votes for an election timeout, so no other
   * leader can exist yet, given equal tick rates). False on a follower, without checkQuorum,
   * or during a transfer. Unlike readOnly 'lease' reads it makes no claim about restarted
   * followers (see inLease in raft.ts): callers use it for reads that may be stale by contract
   * (Consul's default mode), to refuse the local answer once the lease has visibly lapsed.
   */
  leaseValid(): boolean {
    return this.raft.leaseValid();
  }

  /**
   * Leader only: hands leadership to voter `to` (§3.10). Catches it up, then sends
   * MsgTimeoutNow; proposals are refused meanwhile; abandoned after an election timeout.
   */
  transferLeadership(to: NodeId): RequestResult {
    return this.raft.transferLeadership(to);
  }

  /** Transport hint: a message to `id` could not be delivered (its pipeline restarts from probing). */
  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  /** Transport hint: a MsgSnap to `id` was delivered (ok) or failed. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(id, ok);
  }

  /** Whether ready() would return something to do. False while a Ready is outstanding. */
  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.raft;
    if (!softEqual(r.softState(), this.prevSoft) || !hardEqual(r.hardState(), this.prevHard)) return true;
    if (r.log.unstable.snapshot || r.log.unstable.entries.length > 0 || r.msgs.length > 0) return true;
    if (r.log.hasNextCommittedEntries()) return true;
    return r.readStates.some((rs) => rs.index <= r.log.applied);
  }

  /**
   * Collects the work to do (see `Ready` for the contract and order). Takes the pending
   * messages and releasable read states out of the core. Throws RAFT_DRIVER_MISUSE if the
   * previous Ready was not advanced.
   */
  ready(): Ready {
    if (this.outstanding) throw misuse('ready() called again before advance() of the previous Ready');
    const r = this.raft;
    const soft = r.softState();
    const hard = r.hardState();
    const snapshot = r.log.unstable.snapshot;
    const entries = r.log.unstable.entries.slice();
    let truncateAfter: bigint | undefined;
    if (!snapshot && entries.length > 0 && entries[0]!.index <= r.log.storage.lastIndex()) {
      truncateAfter = entries[0]!.index - 1n;
    }
    const committedEntries = r.log.nextCommittedEntries(r.cfg.maxCommittedBytesPerReady);
    let appliedAfter = r.log.applied;
    if (snapshot && snapshot.index > appliedAfter) appliedAfter = snapshot.index;
    if (committedEntries.length > 0) appliedAfter = committedEntries[committedEntries.length - 1]!.index;
    const readStates = r.readStates.filter((rs) => rs.index <= appliedAfter);
    if (readStates.length > 0) r.readStates = r.readStates.filter((rs) => rs.index > appliedAfter);
    const messages = r.msgs;
    r.msgs = [];

    const softChanged = !softEqual(soft, this.prevSoft);
    const hardChanged = !hardEqual(hard, this.prevHard);
    if (softChanged) this.prevSoft = soft;
    const rd: Ready = {
      ...(softChanged ? { softState: soft } : {}),
      ...(hardChanged ? { hardState: hard } : {}),
      ...(snapshot ? { snapshot } : {}),
      ...(truncateAfter !== undefined ? { truncateAfter } : {}),
      entries,
      mustSync:
        entries.length > 0 ||
        snapshot !== undefined ||
        (hardChanged && (hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote)),
      messages,
      committedEntries,
      readStates,
    };
    this.outstanding = rd;
    return rd;
  }

  /**
   * Tells the core the Ready returned by the last ready() was carried out: persisted (and
   * mirrored into the LogView), sent and applied. Membership changes among its committed
   * entries take effect here. Throws RAFT_DRIVER_MISUSE for any other value or when the
   * LogView does not hold what was to be persisted.
   */
  advance(rd: Ready): void {
    if (rd !== this.outstanding) throw misuse('advance() must be given the Ready returned by the last ready()');
    this.outstanding = undefined;
    const r = this.raft;
    const storage = r.log.storage;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      if (storage.snapshotMeta().index < rd.snapshot.index) {
        throw misuse(`advance(): the LogView does not hold snapshot ${rd.snapshot.index}; call applySnapshot first`);
      }
      r.log.unstable.stableSnapTo(rd.snapshot.index);
      r.appliedSnapshot(rd.snapshot);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      if (storage.term(last.index) !== last.term) {
        throw misuse(`advance(): the LogView does not hold entry ${last.term}/${last.index}; call append(ready.entries) first`);
      }
      r.log.unstable.stableTo(last.index, last.term);
    }
    r.appliedEntries(rd.committedEntries);
    r.pruneConfHistory(storage.snapshotMeta().index);
    r.selfPersisted();
  }

  /** A snapshot of the state machine at applied index `index` must carry this meta (term and voters then). */
  snapshotMetaAt(index: bigint): SnapshotMeta {
    return this.raft.snapshotMetaAt(index);
  }

  /** A read-only picture of this server (term, roles, indexes, per-follower progress when leading). */
  status(): Status {
    return this.raft.status();
  }
}

function softEqual(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role && a.voters.join('\0') === b.voters.join('\0');
}

function hardEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function misuse(msg: string): HeraldError {
  return new HeraldError(ERR.RAFT_DRIVER_MISUSE, msg);
}
