/**
 * The Raft protocol as a pure state machine (etcd-io/raft raft.go): messages and ticks go in;
 * messages, log changes and read states accumulate for the next Ready. No clock, timers,
 * randomness (beyond the injected function), sockets or disk.
 *
 * Internal to src/raft/core: drivers use RaftNode (raft-node.ts), which owns one of these and
 * packages its output into Ready values.
 *
 * Choices, with the sources they follow:
 * - Elections: randomized timeouts in [T, 2T) (§5.2); PreVote (dissertation §9.6) so a
 *   rejoining server cannot inflate terms; with CheckQuorum a leader steps down after an
 *   election timeout without hearing from a quorum, and a server that heard from a leader
 *   within the election timeout ignores (pre)votes (leader stickiness, §4.2.3 / §9.6).
 * - A new leader appends a no-op (§6.4) and commits only entries of its own term by counting
 *   replicas (§5.4.2); earlier entries commit with it.
 * - Replication: probe / replicate / snapshot flow control per follower (progress.ts), batched
 *   MsgApp, optimistic pipelining with an inflight window, and fast backtracking by term on
 *   rejection (etcd's findConflictByTerm on both sides).
 * - Membership: one voter added or removed at a time (§4.1). A change takes effect when it is
 *   APPLIED (at advance() past the Ready that carried it as committed), as in etcd; a leader
 *   refuses a second change until the first is applied, and a new leader refuses changes until
 *   its no-op is applied (the fix for the single-server change bug Ongaro posted in 2015). A
 *   leader that applies its own removal steps down, handing off with MsgTimeoutNow.
 * - Leadership transfer (§3.10): catch the target up, send MsgTimeoutNow, refuse proposals
 *   meanwhile, abort after an election timeout.
 * - Linearizable reads: ReadIndex (§6.4) confirmed by a heartbeat quorum; optional lease
 *   (§6.4.1) bounded below the election timeout.
 */
import { ERR, HeraldError } from '../../errors.ts';
import { applyConfChange, decodeConfChange, encodeConfChange, type ConfChange } from './conf-change.ts';
import { resolveConfig, type RaftConfig, type ResolvedRaftConfig } from './config.ts';
import { Progress, type ProgressState } from './progress.ts';
import { majority, quorumIndex, quorumTick, voteResult } from './quorum.ts';
import { RaftLog } from './raft-log.ts';
import { ReadOnlyQueue, type ReadRequest } from './read-only.ts';
import type {
  Entry,
  EntryKind,
  HardState,
  Message,
  MessageType,
  NodeId,
  ProposeResult,
  ReadState,
  RequestResult,
  Role,
  Snapshot,
  SnapshotMeta,
  SoftState,
} from './types.ts';

const EMPTY = Buffer.alloc(0);

type CampaignKind = 'pre' | 'election' | 'transfer';

/** A message under construction: `from` is filled in, `term` defaults to ours. */
type Outgoing = Omit<Message, 'from' | 'term'> & { term?: bigint };

/** What `status()` reports about one follower (leader only). */
export interface ProgressStatus {
  readonly match: bigint;
  readonly next: bigint;
  readonly state: ProgressState;
  readonly paused: boolean;
  readonly inflight: number;
}

/** A read-only picture of a server, for drivers, tests and the simulator's invariant checks. */
export interface Status {
  readonly id: NodeId;
  readonly term: bigint;
  readonly vote: NodeId | undefined;
  readonly commit: bigint;
  readonly applied: bigint;
  readonly firstIndex: bigint;
  readonly lastIndex: bigint;
  readonly leader: NodeId | undefined;
  readonly role: Role;
  readonly voters: readonly NodeId[];
  readonly leadTransferee: NodeId | undefined;
  /** Leader with readOnly 'lease' only: whether a read would be answered now without a heartbeat round. */
  readonly leaseValid: boolean;
  /** Leader only: each voter's replication state. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus> | undefined;
}

/** The protocol state of one server. See the file comment; use through RaftNode. */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  readonly log: RaftLog;

  term = 0n;
  vote: NodeId | undefined;
  lead: NodeId | undefined;
  role: Role = 'follower';
  /** Voters in effect: those of the last applied configuration. Sorted. */
  voters: readonly NodeId[];
  /** Configurations applied since (and including) the one in effect at the latest snapshot. */
  private confHistory: { index: bigint; voters: readonly NodeId[] }[];

  /** Leader only: one per voter, self included (self's match is our durable last index). */
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  /** Messages produced since the last Ready. */
  msgs: Message[] = [];
  /** Confirmed read states, released in a Ready once applied reaches their index. */
  readStates: ReadState[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Ticks since construction: the leader's clock for leases. */
  private ticks = 0;
  leadTransferee: NodeId | undefined;
  /** Index of the latest conf entry (or the term's no-op) the leader appended; a new change waits until it is applied. */
  private pendingConfIndex = 0n;
  private readOnly = new ReadOnlyQueue();
  /** Reads that arrived before this leader committed an entry of its term (its commit index may be stale until then). */
  private pendingReadIndex: ReadRequest[] = [];
  /** Term of a MsgTimeoutNow that arrived while a committed conf change was unapplied: campaign once it is. */
  private deferredTransferTerm: bigint | undefined;
  /** Set once this leader sends MsgTimeoutNow: a forced election may depose it at any time now, so no lease reads this term. */
  private leaseRevoked = false;

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    const storage = this.cfg.storage;
    this.log = new RaftLog(storage);
    const hs = storage.hardState();
    this.term = hs.term;
    this.vote = hs.vote;
    const meta = storage.snapshotMeta();
    this.voters = [...meta.voters];
    this.confHistory = [{ index: meta.index, voters: this.voters }];
    const applied = this.cfg.applied;
    if (applied > this.log.applied) {
      if (applied > this.log.committed) {
        throw new HeraldError(ERR.RAFT_DRIVER_MISUSE, `applied ${applied} is past the stored commit ${this.log.committed}`);
      }
      // The state machine already holds these entries, so they will not be handed out again:
      // replay their membership changes here.
      const ents = this.log.slice(this.log.applied + 1n, applied + 1n) ?? [];
      for (const e of ents) if (e.kind === 'conf') this.applyConfEntry(e);
      this.log.appliedTo(applied);
    }
    this.becomeFollower(this.term, undefined);
  }

  // ---- state transitions -------------------------------------------------------------

  private reset(term: bigint): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = undefined;
    }
    this.lead = undefined;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = undefined;
    this.votes.clear();
    this.progress.clear();
    this.pendingConfIndex = 0n;
    this.readOnly = new ReadOnlyQueue();
    this.pendingReadIndex = [];
    this.leaseRevoked = false;
  }

  private resetRandomizedElectionTimeout(): void {
    const t = this.cfg.electionTicks;
    const r = this.cfg.random(t);
    this.randomizedElectionTimeout = t + (Number.isInteger(r) && r >= 0 && r < t ? r : 0);
  }

  becomeFollower(term: bigint, lead: NodeId | undefined): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    // Neither term nor vote changes: a PreVote round must leave no trace if it fails.
    this.votes.clear();
    this.lead = undefined;
    this.role = 'pre-candidate';
    this.resetRandomizedElectionTimeout();
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1n);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const last = this.log.lastIndex();
    for (const v of this.voters) this.progress.set(v, this.newProgress(last + 1n));
    const self = this.progress.get(this.id);
    if (self) self.match = this.log.persistedIndex();
    // No membership change until this term's no-op is applied (see file comment).
    this.pendingConfIndex = last + 1n;
    this.appendEntries([{ kind: 'noop', data: EMPTY }]);
  }

  private newProgress(next: bigint): Progress {
    const pr = new Progress(next, this.cfg.maxInflight, this.cfg.maxInflightBytes);
    pr.recentActive = true;
    return pr;
  }

  // ---- ticks ---------------------------------------------------------------------------

  tick(): void {
    this.ticks++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.checkQuorumActive()) {
        this.becomeFollower(this.term, undefined);
        return;
      }
      // A transfer that has not finished within an election timeout is abandoned (§3.10).
      this.leadTransferee = undefined;
    }
    for (const [id, pr] of this.progress) {
      if (pr.state === 'snapshot' && ++pr.snapshotTicks >= this.cfg.snapshotRetryTicks) {
        // No answer: assume the snapshot was lost and start over from probing.
        pr.pendingSnapshot = 0n;
        pr.becomeProbe();
        this.sendAppend(id);
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.last());
    }
  }

  /** CheckQuorum: was a quorum heard from since the last check? Resets the marks for the next round. */
  private checkQuorumActive(): boolean {
    let active = 0;
    for (const v of this.voters) {
      const pr = this.progress.get(v);
      if (v === this.id || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return active >= majority(this.voters.length);
  }

  private promotable(): boolean {
    return this.voters.includes(this.id) && this.log.unstable.snapshot === undefined;
  }

  /** The election-timeout lease: followers that heard from a leader recently ignore (pre)votes. */
  private inLease(): boolean {
    if (!this.cfg.checkQuorum || this.electionElapsed >= this.cfg.electionTicks) return false;
    if (this.lead !== undefined) return true;
    // With lease reads, a server that just (re)started may have acknowledged a leader before
    // it crashed: it must wait out one election timeout before voting, or that leader's
    // lease could be wrong. (Costs nothing in steady state: timeouts are >= T anyway.)
    return this.cfg.readOnly === 'lease' && this.ticks < this.cfg.electionTicks;
  }

  // ---- elections -----------------------------------------------------------------------

  /** Starts an election if allowed (`transfer`: after MsgTimeoutNow; skips PreVote and leases). */
  hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // Voters come from applied configuration: a committed but unapplied change means our
    // view of the voters may be stale, so wait for the driver to apply it.
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(transfer ? 'transfer' : this.cfg.preVote ? 'pre' : 'election');
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    const ents = this.log.slice(this.log.applied + 1n, this.log.committed + 1n) ?? [];
    return ents.some((e) => e.kind === 'conf');
  }

  private campaign(kind: CampaignKind): void {
    let type: MessageType;
    let term: bigint;
    if (kind === 'pre') {
      this.becomePreCandidate();
      type = 'MsgPreVote';
      term = this.term + 1n; // the term we would campaign in; ours does not change yet
    } else {
      this.becomeCandidate();
      type = 'MsgVote';
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter cluster wins on its own vote.
      if (kind === 'pre') this.campaign('election');
      else {
        this.becomeLeader();
        this.bcastAppend();
      }
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const v of this.voters) {
      if (v === this.id) continue;
      this.send({ type, to: v, term, index, logTerm, ...(kind === 'transfer' ? { transfer: true } : {}) });
    }
  }

  private poll(id: NodeId, granted: boolean) {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteResult(this.voters, this.votes);
  }

  // ---- step ----------------------------------------------------------------------------

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        if (!m.transfer && this.inLease()) return; // stickiness: do not even update our term
      }
      if (m.type === 'MsgPreVote') {
        // A PreVote does not change our term; answered below.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // A grant carries the term we would campaign in, not a newer real term.
      } else {
        const fromLeader = m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap';
        this.becomeFollower(m.term, fromLeader ? m.from : undefined);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')) {
        // A stale leader (e.g. back from a partition) that our lease or PreVote kept from
        // learning the new term: tell it, so it steps down instead of lingering.
        this.send({ type: 'MsgAppResp', to: m.from });
      } else if (m.type === 'MsgPreVote') {
        this.send({ type: 'MsgPreVoteResp', to: m.from, reject: true });
      }
      return;
    }

    if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === undefined && this.lead === undefined) ||
      (m.type === 'MsgPreVote' && m.term > this.term);
    const respType = m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
    if (canVote && this.log.isUpToDate(m.index ?? 0n, m.logTerm ?? 0n)) {
      // Answer in the request's term: a pre-candidate ignores responses from older terms.
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === 'MsgVote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, reject: true });
    }
  }

  private stepLeader(m: Message): void {
    if (m.type === 'MsgReadIndex') {
      this.handleReadRequest({ from: m.from, context: m.context ?? '' });
      return;
    }
    const pr = this.progress.get(m.from);
    if (!pr) return;
    if (m.type === 'MsgAppResp') this.handleAppendResponse(m, pr);
    else if (m.type === 'MsgHeartbeatResp') this.handleHeartbeatResponse(m, pr);
  }

  private stepCandidate(m: Message): void {
    const myResp: MessageType = this.role === 'pre-candidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
    switch (m.type) {
      case 'MsgApp':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      default:
        if (m.type !== myResp) return;
        switch (this.poll(m.from, !m.reject)) {
          case 'won':
            if (this.role === 'pre-candidate') this.campaign('election');
            else {
              this.becomeLeader();
              this.bcastAppend();
            }
            return;
          case 'lost':
            this.becomeFollower(this.term, undefined);
            return;
          case 'pending':
            return;
        }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'MsgApp':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'MsgHeartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'MsgTimeoutNow':
        // Typically sent by a leader that just applied its own removal; its commit of that
        // change may reach us in the same batch, before we apply it. Campaign once we have.
        if (this.hasUnappliedConfChanges()) this.deferredTransferTerm = this.term;
        else this.hup(true);
        return;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.index ?? 0n, context: m.context ?? '' });
        return;
      default:
        // MsgReadIndex sent to us by a server that thinks we lead: dropped (it retries);
        // forwarding again could bounce between two stale views.
        return;
    }
  }

  // ---- follower side of replication ----------------------------------------------------

  private handleAppend(m: Message): void {
    const index = m.index ?? 0n;
    if (index < this.log.committed) {
      this.send({ type: 'MsgAppResp', to: m.from, index: this.log.committed });
      return;
    }
    const last = this.log.maybeAppend(index, m.logTerm ?? 0n, m.commit ?? 0n, m.entries ?? []);
    if (last !== undefined) {
      this.send({ type: 'MsgAppResp', to: m.from, index: last });
      return;
    }
    // Our log does not match at `index`: hint the largest index whose term is <= the
    // leader's term there, skipping our whole divergent tail of higher terms at once.
    const from = index < this.log.lastIndex() ? index : this.log.lastIndex();
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(from, m.logTerm ?? 0n);
    this.send({ type: 'MsgAppResp', to: m.from, index, reject: true, rejectHint: hintIndex, logTerm: hintTerm });
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit ?? 0n);
    this.send({
      type: 'MsgHeartbeatResp',
      to: m.from,
      ...(m.context !== undefined ? { context: m.context } : {}),
      ...(m.tick !== undefined ? { tick: m.tick } : {}),
    });
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s && this.restore(s)) this.send({ type: 'MsgAppResp', to: m.from, index: this.log.lastIndex() });
    else this.send({ type: 'MsgAppResp', to: m.from, index: this.log.committed });
  }

  /** Installs `s` unless we already have what it covers; voters switch when it is applied (advance). */
  private restore(s: Snapshot): boolean {
    if (s.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.index, s.term)) {
      // Our log already has that entry, so everything up to it is committed; keep the log.
      this.log.commitTo(s.index);
      return false;
    }
    this.log.restore(s);
    return true;
  }

  // ---- leader side of replication ------------------------------------------------------

  private appendEntries(items: { kind: EntryKind; data: Buffer }[]): bigint {
    let index = this.log.lastIndex();
    const ents: Entry[] = items.map((it) => ({ index: ++index, term: this.term, kind: it.kind, data: it.data }));
    return this.log.append(ents);
  }

  /**
   * Sends `to` the entries it needs from `next` (a batch), or a snapshot when they are
   * compacted. With `sendIfEmpty` false, sends nothing when there are no new entries.
   * Returns whether a message went out.
   */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1n;
    const prevTerm = this.log.term(prevIndex);
    const ents =
      prevTerm === undefined
        ? undefined
        : this.log.slice(pr.next, pr.next + BigInt(this.cfg.maxEntriesPerAppend), this.cfg.maxBytesPerAppend);
    if (prevTerm === undefined || ents === undefined) return this.sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'MsgApp', to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    let bytes = 0;
    for (const e of ents) bytes += e.data.length;
    pr.sentEntries(ents.length, ents.length > 0 ? ents[ents.length - 1]!.index : prevIndex, bytes, this.log.committed);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    // A follower that has not answered lately is probably down: do not ship it a snapshot.
    if (!pr.recentActive) return false;
    const snapshot = this.log.storage.snapshot();
    pr.becomeSnapshot(snapshot.index);
    this.send({ type: 'MsgSnap', to, snapshot });
    return true;
  }

  private bcastAppend(): void {
    for (const v of this.voters) if (v !== this.id) this.sendAppend(v);
  }

  private bcastHeartbeat(context: string | undefined): void {
    for (const v of this.voters) {
      if (v === this.id) continue;
      const pr = this.progress.get(v);
      if (!pr) continue;
      // Never tell a follower a commit index beyond what it is known to hold.
      const commit = pr.match < this.log.committed ? pr.match : this.log.committed;
      this.send({
        type: 'MsgHeartbeat',
        to: v,
        commit,
        tick: this.ticks,
        ...(context !== undefined ? { context } : {}),
      });
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    const index = m.index ?? 0n;
    if (m.reject) {
      let hint = m.rejectHint ?? 0n;
      const hintTerm = m.logTerm ?? 0n;
      if (hintTerm > 0n) {
        // Skip every index where our term is above the follower's term at the hint: no
        // entry there can match (terms only grow along a log).
        hint = this.log.findConflictByTerm(hint, hintTerm)[0];
      }
      if (pr.maybeDecrTo(index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const probeAtMatch = pr.match === index && pr.state === 'probe';
    if (!pr.maybeUpdate(index) && !probeAtMatch) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match + 1n >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(index);

    if (this.maybeCommit()) this.onCommitAdvanced();
    else if (pr.canBumpCommit(this.log.committed)) {
      // The follower may not know the current commit index yet (it was paused when the
      // commit moved): tell it now rather than at the next heartbeat.
      this.sendAppend(m.from);
    }
    // Fill the pipeline: send as many batches as the window allows.
    while (this.sendAppend(m.from, false)) {
      /* keep sending */
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (m.tick !== undefined && m.tick > pr.ackedTick) pr.ackedTick = m.tick;
    // A full window may mean every MsgApp in it was lost: free one slot so an (empty)
    // MsgApp goes out and either succeeds or is rejected, and replication recovers.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.sendAppend(m.from);

    if (m.context === undefined) return;
    const acks = this.readOnly.ack(m.from, m.context);
    if (!acks || !this.hasQuorum(acks)) return;
    for (const r of this.readOnly.release(m.context)) this.respondRead(r.req, r.index);
  }

  private hasQuorum(ids: ReadonlySet<NodeId>): boolean {
    let n = 0;
    for (const v of this.voters) if (ids.has(v)) n++;
    return n >= majority(this.voters.length);
  }

  /** Advances commit to the quorum index if it is an entry of this term (§5.4.2). */
  private maybeCommit(): boolean {
    const mci = quorumIndex(this.voters, (v) => this.progress.get(v)?.match);
    if (mci <= this.log.committed || this.log.term(mci) !== this.term) return false;
    this.log.commitTo(mci);
    return true;
  }

  private onCommitAdvanced(): void {
    if (this.pendingReadIndex.length > 0 && this.committedEntryInCurrentTerm()) {
      const reqs = this.pendingReadIndex;
      this.pendingReadIndex = [];
      for (const r of reqs) this.processRead(r);
    }
    this.bcastAppend();
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.leaseRevoked = true;
    this.send({ type: 'MsgTimeoutNow', to });
  }

  // ---- reads ---------------------------------------------------------------------------

  private handleReadRequest(req: ReadRequest): void {
    if (this.voters.length === 1 && this.voters[0] === this.id) {
      this.respondRead(req, this.log.committed);
      return;
    }
    // Until an entry of this term commits, our commit index may lag the previous leader's.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndex.push(req);
      return;
    }
    this.processRead(req);
  }

  private processRead(req: ReadRequest): void {
    if (this.cfg.readOnly === 'lease' && this.leaseValid()) {
      this.respondRead(req, this.log.committed);
      return;
    }
    if (this.readOnly.add(this.log.committed, req)) {
      this.readOnly.ack(this.id, req.context);
      this.bcastHeartbeat(req.context);
    }
  }

  /**
   * True while a quorum is known to have heard from us within the last `leaseTicks` ticks:
   * each of them ignores votes for an election timeout (> leaseTicks) after hearing from us,
   * so no other leader can exist yet (given equal tick rates).
   */
  leaseValid(): boolean {
    if (this.role !== 'leader' || !this.cfg.checkQuorum || this.leaseRevoked || this.leadTransferee !== undefined) {
      return false;
    }
    const heardBy = quorumTick(this.voters, (v) =>
      v === this.id ? this.ticks : (this.progress.get(v)?.ackedTick ?? Number.NEGATIVE_INFINITY),
    );
    return this.ticks < heardBy + this.cfg.leaseTicks;
  }

  private respondRead(req: ReadRequest, index: bigint): void {
    if (req.from === this.id) this.readStates.push({ index, context: req.context });
    else this.send({ type: 'MsgReadIndexResp', to: req.from, index, context: req.context });
  }

  // ---- local requests --------------------------------------------------------------------

  private notLeader(): { ok: false; reason: 'not-leader'; leader?: NodeId } {
    return this.lead !== undefined && this.lead !== this.id
      ? { ok: false, reason: 'not-leader', leader: this.lead }
      : { ok: false, reason: 'not-leader' };
  }

  propose(kind: 'normal' | 'conf', data: Buffer): ProposeResult {
    return this.proposeMany([{ kind, data }]);
  }

  /**
   * Appends every item as consecutive entries and broadcasts once, so one MsgApp per follower
   * carries the whole batch (one message, one response) rather than one per entry. The result's
   * index is the LAST entry's; item i sits at index - (items.length - 1 - i).
   */
  proposeMany(items: { kind: 'normal' | 'conf'; data: Buffer }[]): ProposeResult {
    // A leader that was removed but has not applied that yet takes no new work.
    if (this.role !== 'leader' || !this.voters.includes(this.id)) return this.notLeader();
    if (this.leadTransferee !== undefined) return { ok: false, reason: 'transferring' };
    const index = this.appendEntries(items);
    this.bcastAppend();
    return { ok: true, index, term: this.term };
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    if (this.role !== 'leader') return this.notLeader();
    if (this.pendingConfIndex > this.log.applied) return { ok: false, reason: 'conf-pending' };
    const next = applyConfChange(this.voters, cc);
    if (!next) return { ok: false, reason: 'invalid' };
    const res = this.propose('conf', encodeConfChange({ type: cc.type, node: cc.node, voters: next }));
    if (res.ok) this.pendingConfIndex = res.index;
    return res;
  }

  readIndex(context: string): RequestResult {
    if (this.role === 'leader') {
      this.handleReadRequest({ from: this.id, context });
      return { ok: true };
    }
    if (this.role === 'follower' && this.lead !== undefined) {
      this.send({ type: 'MsgReadIndex', to: this.lead, context });
      return { ok: true };
    }
    return { ok: false, reason: 'no-leader' };
  }

  transferLeadership(to: NodeId): RequestResult {
    if (this.role !== 'leader') return this.notLeader();
    if (to === this.id || !this.voters.includes(to)) return { ok: false, reason: 'invalid' };
    if (this.leadTransferee === to) return { ok: true };
    // Transfer should finish within an election timeout; tickLeader aborts it after that.
    this.electionElapsed = 0;
    this.leadTransferee = to;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
    return { ok: true };
  }

  /** The transport could not deliver to `id`: in-flight appends are probably lost. */
  reportUnreachable(id: NodeId): void {
    const pr = this.role === 'leader' ? this.progress.get(id) : undefined;
    if (pr && pr.state === 'replicate') pr.becomeProbe();
  }

  /** The transport's verdict on a MsgSnap to `id` (optional: a lost one is also retried after snapshotRetryTicks). */
  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.role === 'leader' ? this.progress.get(id) : undefined;
    if (!pr || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0n;
    pr.becomeProbe();
    // Wait for the follower's MsgAppResp (or the next heartbeat) before probing.
    pr.probeSent = true;
  }

  // ---- applying (called by RaftNode.advance) --------------------------------------------

  /** The driver has applied `ents` (committed, in order). Membership changes take effect now. */
  appliedEntries(ents: readonly Entry[]): void {
    for (const e of ents) {
      this.log.appliedTo(e.index);
      if (e.kind === 'conf') this.applyConfEntry(e);
    }
    if (this.deferredTransferTerm !== undefined && !this.hasUnappliedConfChanges()) {
      const term = this.deferredTransferTerm;
      this.deferredTransferTerm = undefined;
      if (term === this.term && this.role === 'follower') this.hup(true);
    }
  }

  /** The driver has persisted and applied snapshot `s`. */
  appliedSnapshot(s: Snapshot): void {
    if (s.index > this.log.applied) this.log.applied = s.index;
    this.confHistory = [];
    this.setVoters(s.voters, s.index);
  }

  /** The driver has made everything up to the log's persisted index durable: a leader counts itself now. */
  selfPersisted(): void {
    if (this.role !== 'leader') return;
    const self = this.progress.get(this.id);
    if (self && self.maybeUpdate(this.log.persistedIndex()) && this.maybeCommit()) this.onCommitAdvanced();
  }

  private applyConfEntry(e: Entry): void {
    this.setVoters(decodeConfChange(e.data).voters, e.index);
  }

  private setVoters(voters: readonly NodeId[], index: bigint): void {
    this.voters = [...voters];
    this.confHistory.push({ index, voters: this.voters });
    if (this.role !== 'leader') return;
    const last = this.log.lastIndex();
    const added: NodeId[] = [];
    for (const v of this.voters) {
      if (this.progress.has(v)) continue;
      this.progress.set(v, this.newProgress(last + 1n));
      added.push(v);
    }
    for (const id of [...this.progress.keys()]) if (!this.voters.includes(id)) this.progress.delete(id);
    if (!this.voters.includes(this.id)) {
      this.stepDownRemoved();
      return;
    }
    if (this.leadTransferee !== undefined && !this.voters.includes(this.leadTransferee)) this.leadTransferee = undefined;
    // A smaller quorum may commit more now.
    if (this.maybeCommit()) this.onCommitAdvanced();
    // Start finding where a new voter's log ends now, not at the next heartbeat.
    for (const v of added) this.sendAppend(v);
  }

  /**
   * We applied our own removal (§4.2.2; its commit index was broadcast when it advanced):
   * hand leadership to the most up-to-date voter if one has our whole log, and stop leading.
   */
  private stepDownRemoved(): void {
    let best: NodeId | undefined;
    let bestMatch = -1n;
    for (const v of this.voters) {
      const m = this.progress.get(v)?.match ?? 0n;
      if (m > bestMatch) {
        best = v;
        bestMatch = m;
      }
    }
    if (best !== undefined && bestMatch === this.log.lastIndex()) this.sendTimeoutNow(best);
    this.becomeFollower(this.term, undefined);
  }

  /** Drops configuration history older than what the latest stored snapshot needs. */
  pruneConfHistory(snapshotIndex: bigint): void {
    let keepFrom = 0;
    for (let i = 0; i < this.confHistory.length; i++) if (this.confHistory[i]!.index <= snapshotIndex) keepFrom = i;
    if (keepFrom > 0) this.confHistory.splice(0, keepFrom);
  }

  /** The meta a snapshot of the state machine at applied index `index` must carry. */
  snapshotMetaAt(index: bigint): SnapshotMeta {
    if (index > this.log.applied) {
      throw new HeraldError(ERR.RAFT_DRIVER_MISUSE, `snapshot at ${index} is past applied ${this.log.applied}`);
    }
    // Applied entries are durable, so storage knows their term even while a snapshot from the
    // leader, not yet persisted, shadows the whole log in memory (found by the simulator, seed 1301).
    const term = this.log.term(index) ?? this.log.storage.term(index);
    let voters: readonly NodeId[] | undefined;
    for (const c of this.confHistory) if (c.index <= index) voters = c.voters;
    if (term === undefined || voters === undefined) {
      throw new HeraldError(ERR.RAFT_DRIVER_MISUSE, `snapshot at ${index}: that index is already compacted`);
    }
    return { index, term, voters };
  }

  // ---- output --------------------------------------------------------------------------

  private send(m: Outgoing): void {
    this.msgs.push({ ...m, from: this.id, term: m.term ?? this.term } as Message);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role, voters: this.voters };
  }

  status(): Status {
    let progress: Map<NodeId, ProgressStatus> | undefined;
    if (this.role === 'leader') {
      progress = new Map();
      for (const [id, pr] of this.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, paused: pr.isPaused(), inflight: pr.inflights.count });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      leader: this.lead,
      role: this.role,
      voters: this.voters,
      leadTransferee: this.leadTransferee,
      leaseValid: this.cfg.readOnly === 'lease' && this.leaseValid(),
      progress,
    };
  }
}
