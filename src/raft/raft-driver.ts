/**
 * The production Raft driver: one RaftNode (the pure core) wired to a Storage, a Transport, a
 * ticker and a state machine. The loop follows the core's Ready contract (core README, "The
 * driver loop"), and mirrors the simulator's ReadyDriver (src/raft/sim/ready-driver.ts) step
 * for step:
 *
 *     while (node.hasReady()) {
 *       rd = node.ready()
 *       leader? send rd's MsgApp now (§10.2.1: the leader counts itself only after advance)
 *       persist rd (raft-storage.ts: snapshot first, then log + hard state, one group commit)
 *       mirror rd into the MemoryLogView; send the remaining messages
 *       restore rd.snapshot, apply rd.committedEntries in order; settle proposals
 *       answer rd.readStates; node.advance(rd)
 *     }
 *     snapshot + compact when due (between Readies, so no storage write races it)
 *
 * One Ready is in flight at a time. Ticks, received messages and proposals keep reaching the
 * node while a Ready persists; their output goes into the next one (the batching that makes
 * one fsync cover many proposals).
 *
 * Start-up loads the snapshot, the log and the hard state into a MemoryLogView, restores the
 * state machine from the snapshot and builds the node with `applied` = the snapshot's index;
 * the committed entries after it come out of the first Readies and are applied again, and
 * start() resolves once they are. The core replicates opaque entries: what a normal entry
 * means is the state machine's business (RaftStateMachine), except driver entries carrying the
 * servers' addresses (peer-book.ts).
 */
import { randomInt } from 'node:crypto';
import { ERR, HeraldError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Transport } from '../rpc/transport.ts';
import type { Storage } from '../storage/storage.ts';
import { decodeConfChange, MemoryLogView, RaftNode, type Entry, type Message, type ProposeResult, type Ready, type Refusal, type Role, type Snapshot } from './core/index.ts';
import { resolveDriverTuning, type RaftDriverTuning } from './driver-config.ts';
import { fromRemote, RAFT_METHOD, readApplied, readProposeBody, readServerBody } from './forwarding.ts';
import { decodePeersEntry, decodeSnapshotData, encodePeersEntry, encodeSnapshotData, isDriverEntry, type Peers } from './peer-book.ts';
import { ProposalTracker, type Applied, type ApplyOutcome } from './proposal-tracker.ts';
import { notLeader, RaftError, type LeaderHint } from './raft-error.ts';
import { loadRaftState, persistReady, saveBootstrap, saveSnapshot, viewInit } from './raft-storage.ts';
import { SnapshotTransfer } from './snapshot-transfer.ts';
import { fromWire, toWire } from './raft-wire.ts';
import { ReadWaiters } from './read-waiters.ts';
import { Ticker } from './ticker.ts';

export type { Applied } from './proposal-tracker.ts';

/**
 * What the driver applies committed entries to. Deterministic: the same entries at the same
 * indexes give the same state (and snapshot bytes) on every server.
 */
export interface RaftStateMachine {
  /** Optional early refusal on the leader, before the command gets an index. Throw to refuse. */
  validate?(data: Buffer): void;
  /**
   * Applies a committed entry's data. The return value becomes the proposal's `result`; a
   * throw refuses the command (the proposal rejects with it; the entry still counts as applied,
   * and must be refused identically on every server). Called in index order, never twice for
   * one index in one incarnation.
   */
  apply(index: bigint, data: Buffer): unknown;
  /** The state at the last applied index, as bytes (taken synchronously between applies). */
  snapshot(): Buffer;
  /** Replaces the whole state with snapshot bytes covering entries up to `index`. */
  restore(data: Buffer, index: bigint): void;
}

/** One server as the driver reports it. */
export interface RaftPeerStatus {
  readonly id: string;
  /** Its RPC address, when known. */
  readonly address: string | undefined;
  readonly voter: boolean;
  readonly leader: boolean;
  /** Leader only: the highest index known to be replicated on it. */
  readonly match?: bigint;
}

/** A picture of this server, for /v1/status/leader, /v1/status/peers and `operator raft list-peers`. */
export interface RaftStatus {
  readonly id: string;
  readonly role: Role;
  readonly term: bigint;
  readonly leader: LeaderHint | undefined;
  readonly commit: bigint;
  readonly applied: bigint;
  readonly firstIndex: bigint;
  readonly lastIndex: bigint;
  readonly snapshotIndex: bigint;
  /** The voters in effect, sorted by id. */
  readonly peers: readonly RaftPeerStatus[];
}

export interface RaftDriverOptions {
  /** This server's id; the transport's localId must be the same. */
  readonly id: string;
  readonly storage: Storage;
  /** The RPC transport; the driver sets peers on it from the replicated address book. */
  readonly transport: Transport;
  readonly stateMachine: RaftStateMachine;
  /**
   * A brand-new cluster's voters with their RPC addresses (this server included, the same list
   * on every initial member; one entry for a single-server cluster). Recorded at the first
   * start and ignored once storage holds state. Absent on a fresh server: it waits to be added
   * with addServer on the leader.
   */
  readonly bootstrap?: Peers;
  readonly tuning?: Partial<RaftDriverTuning>;
  readonly logger?: Logger;
  /** Integer in [0, n) for election timeouts (default crypto.randomInt); inject for reproducible tests. */
  readonly random?: (n: number) => number;
}

type State = 'new' | 'starting' | 'running' | 'stopped';

interface AppliedWaiter {
  readonly index: bigint;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** A leader's proposal waiting to be appended with the others queued in the same Ready's time (flushProposals). */
interface QueuedProposal {
  readonly data: Buffer;
  /** Called once: with the tracked outcome when appended, or the core's refusal. */
  readonly settle: (out: { applied: Promise<Applied> } | { refused: ProposeResult & { ok: false } }) => void;
}

interface LeaderWaiter {
  readonly match: (leader: string | undefined) => boolean;
  readonly resolve: (leader: string | undefined) => void;
  readonly reject: (e: unknown) => void;
}

function refused(reason: Refusal, what: string): RaftError {
  const why: Record<Refusal, string> = {
    'not-leader': 'this server is not the leader',
    transferring: 'a leadership transfer is in progress',
    'conf-pending': 'an earlier membership change is not applied yet',
    invalid: 'it changes nothing (or names a server that is not a voter)',
    'no-leader': 'no leader is known',
  };
  return new RaftError(ERR.RAFT_REFUSED, `raft: ${what} refused: ${why[reason]}`);
}

export class RaftDriver {
  readonly id: string;
  readonly tuning: RaftDriverTuning;
  private readonly storage: Storage;
  private readonly transport: Transport;
  private readonly sm: RaftStateMachine;
  private readonly logger: Logger;
  private readonly random: (n: number) => number;
  private readonly bootstrap: Peers | undefined;

  private state: State = 'new';
  private failure: unknown;
  private node!: RaftNode;
  private view!: MemoryLogView;
  /** The replicated address book (peer-book.ts). */
  private peers = new Map<string, string>();
  /** Mirrors of the node's soft state, updated from each Ready. */
  private role: Role = 'follower';
  private leader: string | undefined;
  private voters: readonly string[] = [];
  /** Index of the last entry applied (or of the snapshot restored). */
  private applied = 0n;
  /** Highest index this server handed to a local proposal. */
  private lastProposed = 0n;
  /** Leader proposals not yet handed to the core: appended together before the next Ready. */
  private queued: QueuedProposal[] = [];
  /** Resolved by the next flushProposals (validateOnLeader waits for queued commands to get indexes). */
  private flushWaiters: Array<() => void> = [];
  /** performance.now() before which the snapshot threshold is not checked (tuning.snapshotIntervalMs). */
  private nextSnapshotCheck = 0;

  private readonly proposals: ProposalTracker;
  private readonly reads: ReadWaiters;
  private readonly ticker: Ticker;
  /** InstallSnapshot for snapshots larger than a frame (snapshot-transfer.ts). */
  private readonly snapshots: SnapshotTransfer;
  private appliedWaiters: AppliedWaiter[] = [];
  private readonly leaderWaiters = new Set<LeaderWaiter>();
  private readonly leaderListeners = new Set<(leader: string | undefined) => void>();
  private readonly removals = new Map<string, NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;
  /** The running loop (undefined when idle). */
  private loop: Promise<void> | undefined;

  constructor(opts: RaftDriverOptions) {
    if (typeof opts.id !== 'string' || opts.id === '') throw new HeraldError(ERR.CONFIG_INVALID, 'raft: id must be a non-empty string');
    if (opts.transport.localId !== opts.id) {
      throw new HeraldError(ERR.CONFIG_INVALID, `raft: transport id ${opts.transport.localId} is not the server id ${opts.id}`);
    }
    this.id = opts.id;
    this.tuning = resolveDriverTuning(opts.tuning);
    this.storage = opts.storage;
    this.transport = opts.transport;
    this.sm = opts.stateMachine;
    this.logger = opts.logger ?? silentLogger;
    this.random = opts.random ?? ((n) => randomInt(n));
    this.bootstrap = opts.bootstrap;
    this.proposals = new ProposalTracker(this.tuning.proposalTimeoutMs);
    this.reads = new ReadWaiters(this.id, this.tuning.readTimeoutMs);
    this.ticker = new Ticker(this.tuning.tickMs, this.tuning.maxCatchUpTicks, (n) => this.onTicks(n));
    this.snapshots = new SnapshotTransfer({
      transport: this.transport,
      logger: this.logger,
      leading: (term) => this.state === 'running' && this.role === 'leader' && this.view.hardState().term === term,
      currentTerm: () => {
        this.checkRunning();
        return this.view.hardState().term;
      },
      deliver: (m) => {
        this.checkRunning();
        this.step(m);
      },
      reported: (to, ok) => {
        if (this.state !== 'running') return;
        this.node.reportSnapshot(to, ok);
        this.pump();
      },
    });
    this.onLeaderChange((leader) => this.snapshots.leaderChanged(leader));
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Loads storage, restores the state machine, starts ticking and taking messages, and resolves
   * once the entries committed before the restart are applied again. Rejects (and leaves the
   * driver stopped) when storage cannot be read or its snapshot cannot be restored.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new HeraldError(ERR.RAFT_DRIVER_MISUSE, 'raft: start() called twice');
    this.state = 'starting';
    try {
      await this.load();
    } catch (err) {
      this.state = 'stopped';
      this.failure = err;
      throw err;
    }
    this.unsubscribe = this.transport.onMessage((from, value) => this.receive(from, value));
    this.serveForwarding();
    this.state = 'running';
    this.ticker.start();
    // The first threshold check comes a random part of an interval after start, so servers
    // started together do not all stall on their first snapshot at the same moment.
    const interval = this.tuning.snapshotIntervalMs;
    if (interval > 0) this.nextSnapshotCheck = performance.now() + this.random(interval);
    // The only voter need not wait out an election timeout: nobody else could win.
    if (this.voters.length === 1 && this.voters[0] === this.id) this.node.campaign();
    this.pump();
    await this.waitForApplied(this.view.hardState().commit);
  }

  private async load(): Promise<void> {
    const stored = await loadRaftState(this.storage);
    for (const r of stored.repairs) this.logger.warn(`storage: ${r}`);
    let boot = stored.bootstrap;
    if (stored.fresh && this.bootstrap) {
      boot = { ...this.bootstrap };
      if (!(this.id in boot)) throw new HeraldError(ERR.CONFIG_INVALID, `raft: bootstrap peers ${Object.keys(boot).join(', ')} do not include this server (${this.id})`);
      await saveBootstrap(this.storage, boot);
      this.logger.info(`bootstrapping a new cluster with voters ${Object.keys(boot).sort().join(', ')}`);
    }
    this.view = new MemoryLogView(viewInit(stored, Object.keys(boot ?? {})));
    this.setPeers(new Map(Object.entries(boot ?? {})));
    const snap = this.view.snapshot();
    if (stored.snapshot) this.restoreSnapshot(snap);
    this.node = new RaftNode({
      id: this.id,
      storage: this.view,
      random: this.random,
      applied: this.applied,
      electionTicks: this.tuning.electionTicks,
      heartbeatTicks: this.tuning.heartbeatTicks,
      readOnly: this.tuning.readOnly,
    });
    const s = this.node.status();
    this.role = s.role;
    this.leader = s.leader;
    this.voters = s.voters;
    this.logger.info(
      `raft: loaded term ${s.term}, snapshot ${snap.index}, log ${s.firstIndex}..${s.lastIndex}, commit ${s.commit}; voters ${this.voters.join(', ') || '(none yet: waiting to be added)'}`,
    );
  }

  /**
   * Stops ticking and taking input, waits for the Ready in flight, and rejects everything
   * pending with RAFT_STOPPED (proposals as indeterminate). Storage and transport stay open:
   * their owner closes them. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.shutdown();
    await this.loop;
  }

  private shutdown(): void {
    this.ticker.stop();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const t of this.removals.values()) clearTimeout(t);
    this.removals.clear();
    const cause = this.failure;
    this.proposals.rejectAll(cause ? `the driver stopped: ${(cause as Error).message}` : 'the driver stopped');
    const stopped = () => this.stoppedError();
    // Never appended: definitely not applied.
    for (const q of this.queued.splice(0)) q.settle({ applied: Promise.reject(stopped()) });
    for (const w of this.flushWaiters.splice(0)) w();
    this.reads.rejectAll(stopped);
    for (const w of this.appliedWaiters) w.reject(stopped());
    this.appliedWaiters = [];
    for (const w of this.leaderWaiters) w.reject(stopped());
    this.leaderWaiters.clear();
  }

  private stoppedError(): RaftError {
    const cause = this.failure;
    return new RaftError(ERR.RAFT_STOPPED, `raft: ${this.id} is stopped${cause ? ` (${(cause as Error).message})` : ''}`, cause ? { cause } : {});
  }

  /** Storage failed under a Ready: nothing after it can be trusted; stop (the owner restarts). */
  private fail(err: unknown): void {
    if (this.state === 'stopped') return;
    this.failure = err;
    this.logger.error(`raft: stopping: ${(err as Error).message ?? String(err)}`);
    this.state = 'stopped';
    this.shutdown();
  }

  private checkRunning(): void {
    if (this.state !== 'running') throw this.stoppedError();
  }

  // ---- input -------------------------------------------------------------------------------

  private onTicks(n: number): void {
    for (let i = 0; i < n; i++) this.node.tick();
    this.pump();
  }

  private receive(from: string, value: unknown): void {
    if (this.state !== 'running') return;
    const m = fromWire(from, value);
    if (!m || m.to !== this.id) return;
    this.step(m);
  }

  /** Steps a message from a peer (one-way, or a snapshot reassembled from chunks) into the core. */
  private step(m: Message): void {
    // Time first: a message must not be judged by a clock that is behind (ticker.ts).
    this.ticker.catchUp();
    this.node.step(m);
    this.pump();
  }

  // ---- the Ready loop ------------------------------------------------------------------------

  /** Starts the loop unless it runs (it looks for more work before it stops). */
  private pump(): void {
    if (this.loop || this.state !== 'running') return;
    this.flushProposals();
    if (!this.node.hasReady()) return;
    this.loop = this.runLoop().finally(() => {
      this.loop = undefined;
      // Input that arrived on a microtask after the loop's last look must not wait for a tick.
      this.pump();
    });
  }

  private async runLoop(): Promise<void> {
    try {
      for (;;) {
        this.flushProposals();
        while (this.state === 'running' && this.node.hasReady()) {
          await this.handleReady(this.node.ready());
          // What queued while that Ready persisted goes out as one batch in the next.
          this.flushProposals();
        }
        if (this.state !== 'running' || !this.compactionDue()) return;
        await this.snapshotAndCompact();
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const before = { role: this.role, leader: this.leader };
    if (rd.softState) {
      this.role = rd.softState.role;
      this.leader = rd.softState.leader;
      this.voters = rd.softState.voters;
    }
    const early = this.tuning.sendAppendsEarly && this.role === 'leader' ? rd.messages.filter((m) => m.type === 'MsgApp') : [];
    this.send(early);
    if (rd.snapshot || rd.entries.length > 0 || rd.hardState) await persistReady(this.storage, rd);
    if (this.state !== 'running') return;
    // 1. Durable: mirror into the view the core reads.
    if (rd.snapshot) this.view.applySnapshot(rd.snapshot);
    this.view.append(rd.entries);
    if (rd.hardState) this.view.setHardState(rd.hardState);
    // 2. Send what may promise what was just stored (votes, acks).
    this.send(early.length === 0 ? rd.messages : rd.messages.filter((m) => m.type !== 'MsgApp'));
    // 3. Apply.
    if (rd.snapshot) this.restoreSnapshot(rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(e);
    // 4. Reads: the state machine holds each read index by now.
    for (const rs of rd.readStates) this.reads.answer(rs.context, rs.index);
    this.node.advance(rd);
    // 5. A role or leader change: after applying, so what this Ready committed resolves first.
    if (rd.softState) this.afterSoftState(before.role, before.leader);
    this.notifyApplied();
  }

  private send(messages: readonly Message[]): void {
    for (const m of messages) {
      // Larger than a chunk: it goes as a chunked transfer, which reports its own outcome.
      if (m.type === 'MsgSnap' && this.snapshots.send(m)) continue;
      let ok = false;
      try {
        ok = this.transport.send(m.to, toWire(m));
      } catch (err) {
        // Too large for a frame (a snapshot over maxFrameBytes) or unencodable: it can never go.
        this.logger.error(`raft: cannot send ${m.type} to ${m.to}: ${(err as Error).message}`);
      }
      if (ok) continue;
      if (m.type === 'MsgSnap') this.node.reportSnapshot(m.to, false);
      else this.node.reportUnreachable(m.to);
    }
  }

  /** Settles what a change of role or leader (already mirrored from the Ready) decides. */
  private afterSoftState(prevRole: Role, prevLeader: string | undefined): void {
    const leader = this.leader;
    if (prevRole === 'leader' && this.role !== 'leader') this.proposals.rejectAll(`${this.id} lost leadership with the entry in flight`);
    if (prevLeader === leader) return;
    if (prevLeader !== undefined) {
      this.reads.rejectAll(() => new RaftError(ERR.RAFT_TIMEOUT, `raft: leadership moved from ${prevLeader} before the read index was confirmed; retry`));
    }
    if (leader !== undefined) this.logger.info(`raft: leader is ${leader}${leader === this.id ? ' (this server)' : ''}`);
    for (const w of [...this.leaderWaiters]) {
      if (!w.match(leader)) continue;
      this.leaderWaiters.delete(w);
      w.resolve(leader);
    }
    for (const l of this.leaderListeners) l(leader);
  }

  private applyEntry(e: Entry): void {
    this.applied = e.index;
    let outcome: ApplyOutcome | undefined;
    if (e.kind === 'normal') {
      if (isDriverEntry(e.data)) this.applyPeersEntry(e);
      else {
        try {
          outcome = { ok: true, result: this.sm.apply(e.index, e.data) };
        } catch (err) {
          outcome = { ok: false, error: err };
        }
      }
    } else if (e.kind === 'conf') {
      const cc = decodeConfChange(e.data);
      this.logger.info(`raft: membership ${cc.type} ${cc.node} at ${e.index}; voters now ${cc.voters.join(', ')}`);
      if (cc.type === 'remove' && cc.node !== this.id) {
        const next = new Map(this.peers);
        next.delete(cc.node);
        this.setPeers(next);
      }
    }
    this.proposals.applied(e.index, e.term, outcome);
  }

  private applyPeersEntry(e: Entry): void {
    let added: Record<string, string>;
    try {
      added = decodePeersEntry(e.data);
    } catch (err) {
      this.logger.error(`raft: entry ${e.index}: ${(err as Error).message}`);
      return;
    }
    const next = new Map(this.peers);
    for (const [id, address] of Object.entries(added)) next.set(id, address);
    this.setPeers(next);
  }

  /** Restores the state machine and the address book from a snapshot (ours at start-up, or the leader's). */
  private restoreSnapshot(s: Snapshot): void {
    const { peers, app } = decodeSnapshotData(s.data);
    this.sm.restore(app, s.index);
    const next = new Map(this.peers);
    for (const [id, address] of Object.entries(peers)) next.set(id, address);
    this.setPeers(next);
    this.applied = s.index;
    this.proposals.coveredBySnapshot(s.index);
  }

  /** Replaces the address book and points the transport at it (a removed server is forgotten after a grace period). */
  private setPeers(next: Map<string, string>): void {
    for (const [id, address] of next) {
      if (id === this.id) continue;
      const t = this.removals.get(id);
      if (t) clearTimeout(t);
      this.removals.delete(id);
      if (this.peers.get(id) !== address) this.transport.setPeer(id, address);
    }
    for (const id of this.peers.keys()) {
      if (next.has(id) || id === this.id || this.removals.has(id)) continue;
      // Let the last messages (the commit of its removal) reach it before closing the link.
      const t = setTimeout(() => {
        this.removals.delete(id);
        if (!this.peers.has(id)) this.transport.removePeer(id);
      }, 2 * this.tuning.electionTicks * this.tuning.tickMs);
      t.unref();
      this.removals.set(id, t);
    }
    this.peers = next;
  }

  // ---- snapshots -----------------------------------------------------------------------------

  private compactionDue(): boolean {
    const every = this.tuning.snapshotThreshold;
    if (every <= 0 || performance.now() < this.nextSnapshotCheck) return false;
    if (this.applied - this.view.snapshotMeta().index < BigInt(every)) return false;
    const interval = this.tuning.snapshotIntervalMs;
    this.nextSnapshotCheck = performance.now() + interval + (interval > 0 ? this.random(interval) : 0);
    return true;
  }

  /**
   * Snapshots the state machine at the applied index, saves it, then compacts the log up to
   * `trailingEntries` below it (core README "Compaction"). Runs between Readies, so the
   * state machine, the view and storage all stand at the same index meanwhile.
   */
  private async snapshotAndCompact(): Promise<void> {
    const index = this.applied;
    const snap: Snapshot = { ...this.node.snapshotMetaAt(index), data: encodeSnapshotData(Object.fromEntries(this.peers), this.sm.snapshot()) };
    await saveSnapshot(this.storage, snap);
    if (this.state !== 'running') return;
    this.view.createSnapshot(snap);
    const upTo = index - BigInt(this.tuning.trailingEntries);
    if (upTo >= this.view.firstIndex()) {
      this.view.compact(upTo);
      await this.storage.log.compactUpTo(upTo);
    }
    this.logger.debug(`raft: snapshot at ${index} (${snap.data.length} bytes); log compacted up to ${upTo > 0n ? upTo : 0n}`);
  }

  // ---- proposals -----------------------------------------------------------------------------

  /**
   * Appends `data` as a command and resolves once it is applied on this server, with its index
   * and the state machine's result. On a follower the command is forwarded to the leader
   * (tuning.forwardProposals) and resolves with the leader's answer; otherwise it rejects
   * RAFT_NOT_LEADER naming the leader. While no leader is known (an election) it waits up to
   * the longest election timeout for one first. The state machine's
   * refusal rejects with its error. RAFT_PROPOSAL_DROPPED: not applied, retry; an
   * `indeterminate` RaftError: unknown outcome (see proposal-tracker.ts).
   */
  async propose(data: Buffer): Promise<Applied> {
    return this.proposeOnce(data, true);
  }

  private async proposeOnce(data: Buffer, mayWaitForLeader: boolean): Promise<Applied> {
    this.checkRunning();
    let r: ProposeResult;
    if (this.role === 'leader') {
      await this.validateOnLeader(data);
      const out = await this.proposeQueued(data);
      if ('applied' in out) return out.applied;
      r = out.refused;
    } else r = this.node.propose(data);
    if (r.ok) return this.trackLocal(r.index, r.term);
    if (r.reason !== 'not-leader') throw refused(r.reason, 'proposal');
    const leader = r.leader ?? this.leader;
    if (leader === undefined && mayWaitForLeader) {
      // An election is on (Consul holds an RPC up to its RPCHoldTimeout the same way): wait
      // for it, at most the longest election timeout, then try once more.
      const known = await this.waitForLeader(undefined, 2 * this.tuning.electionTicks * this.tuning.tickMs).catch(() => undefined);
      if (known !== undefined) return this.proposeOnce(data, false);
      this.checkRunning();
    }
    return this.forwardPropose(data, leader);
  }

  /**
   * Queues a leader's command; the loop appends everything queued at once before its next
   * Ready (flushProposals), so under load one MsgApp per follower carries a whole batch (and
   * gets one answer) instead of one message and one answer per command.
   */
  private proposeQueued(data: Buffer): Promise<{ applied: Promise<Applied> } | { refused: ProposeResult & { ok: false } }> {
    return new Promise((settle) => {
      this.queued.push({ data, settle });
      this.pump();
    });
  }

  /** Appends the queued commands as consecutive entries (one proposeMany) and tracks each. */
  private flushProposals(): void {
    const batch = this.queued;
    if (batch.length > 0 && this.state === 'running') {
      this.queued = [];
      const r = this.node.proposeMany(batch.map((q) => q.data));
      if (!r.ok) for (const q of batch) q.settle({ refused: r });
      else {
        if (r.index > this.lastProposed) this.lastProposed = r.index;
        const first = r.index - BigInt(batch.length - 1);
        batch.forEach((q, i) => q.settle({ applied: this.proposals.track(first + BigInt(i), r.term) }));
      }
    }
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w();
  }

  private trackLocal(index: bigint, term: bigint): Promise<Applied> {
    if (index > this.lastProposed) this.lastProposed = index;
    const done = this.proposals.track(index, term);
    this.pump();
    return done;
  }

  /**
   * The leader refuses what the state machine would refuse, before giving it an index. A
   * command may depend on one still in flight (a check proposed right behind its service), so
   * a refusal is final only once everything proposed before it has been applied.
   */
  private async validateOnLeader(data: Buffer): Promise<void> {
    if (!this.sm.validate) return;
    try {
      this.sm.validate(data);
    } catch (err) {
      // Commands queued but not yet appended count as in flight: wait for them to get indexes.
      if (this.queued.length > 0) await new Promise<void>((resolve) => this.flushWaiters.push(resolve));
      if (this.lastProposed <= this.applied) throw err;
      await this.waitForApplied(this.lastProposed, this.tuning.proposalTimeoutMs).catch(() => undefined);
      this.checkRunning();
      this.sm.validate(data);
    }
  }

  private async forwardPropose(data: Buffer, leader: string | undefined): Promise<Applied> {
    if (!this.tuning.forwardProposals || leader === undefined || leader === this.id) throw notLeader(this.id, this.hint(leader));
    try {
      return readApplied(await this.transport.request(leader, RAFT_METHOD.propose, { data }, { timeoutMs: this.tuning.proposalTimeoutMs }));
    } catch (err) {
      throw fromRemote(err, leader);
    }
  }

  /** The leader's side of forwarding; a server that is not the leader refuses (no second hop). */
  private serveForwarding(): void {
    const leaderOnly = () => {
      this.checkRunning();
      if (this.role !== 'leader') throw notLeader(this.id, this.hint(this.leader));
    };
    this.transport.handle(RAFT_METHOD.propose, async (body) => {
      leaderOnly();
      const data = readProposeBody(body);
      await this.validateOnLeader(data);
      const applied = await this.proposeOnLeader(data);
      return { index: applied.index, result: applied.result };
    });
    this.transport.handle(RAFT_METHOD.addServer, async (body) => {
      leaderOnly();
      const { id, address } = readServerBody(body, true);
      await this.addServer(id, address);
      return null;
    });
    this.transport.handle(RAFT_METHOD.removeServer, async (body) => {
      leaderOnly();
      await this.removeServer(readServerBody(body, false).id);
      return null;
    });
  }

  // ---- reads ---------------------------------------------------------------------------------

  /**
   * A linearizable read point (ReadIndex, §6.4): resolves with an index once a quorum has
   * confirmed this server's leader still leads at it AND the local state machine has applied
   * up to it, so reading the local state machine then is linearizable (`?consistent`). Works
   * on followers too (the core forwards to the leader). Rejects RAFT_NOT_LEADER when no leader
   * is known, RAFT_TIMEOUT when no quorum confirms in time (a deposed or partitioned leader
   * never resolves one) or leadership moves first.
   */
  readIndex(): Promise<bigint> {
    try {
      this.checkRunning();
    } catch (err) {
      return Promise.reject(err);
    }
    const { context, done } = this.reads.next();
    const r = this.node.readIndex(context);
    if (!r.ok) this.reads.fail(context, notLeader(this.id, this.hint(r.leader)));
    this.pump();
    return done;
  }

  // ---- membership ----------------------------------------------------------------------------

  /**
   * Makes server `id` at RPC `address` a voter (§4.1, one change at a time): commits its
   * address (with the whole book) and then the conf change; resolves once that is applied
   * here. Already a voter: only its address is updated. On a follower the request is
   * forwarded to the leader (RAFT_NOT_LEADER without one). RAFT_REFUSED when another change is
   * still pending past the proposal timeout.
   */
  async addServer(id: string, address: string): Promise<void> {
    this.checkRunning();
    if (this.role !== 'leader') return this.forwardMembership(RAFT_METHOD.addServer, { id, address });
    if (this.peers.get(id) !== address) {
      const book = { ...Object.fromEntries(this.peers), [id]: address };
      await this.proposeOnLeader(encodePeersEntry(book));
    }
    if (this.voters.includes(id)) return;
    await this.changeMembership('add', id);
  }

  /** Removes voter `id` (possibly this server: it then hands off leadership and steps down). */
  async removeServer(id: string): Promise<void> {
    this.checkRunning();
    if (this.role !== 'leader') return this.forwardMembership(RAFT_METHOD.removeServer, { id });
    if (!this.voters.includes(id)) return;
    await this.changeMembership('remove', id);
  }

  private async forwardMembership(method: string, body: { id: string; address?: string }): Promise<void> {
    const leader = this.leader;
    if (leader === undefined || leader === this.id) throw notLeader(this.id, this.hint(leader));
    try {
      await this.transport.request(leader, method, body, { timeoutMs: this.tuning.proposalTimeoutMs });
    } catch (err) {
      throw fromRemote(err, leader);
    }
  }

  /** A command proposed on the leader, with the others queued (proposeQueued); a refusal throws. */
  private async proposeOnLeader(data: Buffer): Promise<Applied> {
    const out = await this.proposeQueued(data);
    if ('applied' in out) return out.applied;
    const r = out.refused;
    throw r.reason === 'not-leader' ? notLeader(this.id, this.hint(r.leader)) : refused(r.reason, 'proposal');
  }

  /** Proposes a conf change, waiting out 'conf-pending' (an earlier change, or a new leader's no-op) until the proposal timeout. */
  private async changeMembership(type: 'add' | 'remove', id: string): Promise<void> {
    const deadline = performance.now() + this.tuning.proposalTimeoutMs;
    for (;;) {
      this.checkRunning();
      const r = this.node.proposeConfChange({ type, node: id });
      if (r.ok) {
        await this.trackLocal(r.index, r.term);
        return;
      }
      if (r.reason === 'not-leader') throw notLeader(this.id, this.hint(r.leader));
      const left = deadline - performance.now();
      if (r.reason !== 'conf-pending' || left <= 0) throw refused(r.reason, `${type} ${id}`);
      await this.waitForApplied(this.applied + 1n, left).catch(() => undefined);
    }
  }

  /**
   * Hands leadership to voter `to` (§3.10) and resolves once this server sees it lead.
   * RAFT_NOT_LEADER on a follower; RAFT_TIMEOUT when it has not happened within
   * tuning.transferTimeoutMs (the core abandons a transfer after an election timeout).
   */
  async transferLeadership(to: string): Promise<void> {
    this.checkRunning();
    if (this.leader === to) return;
    if (this.role !== 'leader') throw notLeader(this.id, this.hint(this.leader));
    const r = this.node.transferLeadership(to);
    if (!r.ok) throw r.reason === 'not-leader' ? notLeader(this.id, this.hint(r.leader)) : refused(r.reason, `transfer to ${to}`);
    this.pump();
    try {
      await this.waitForLeader((l) => l === to, this.tuning.transferTimeoutMs);
    } catch (err) {
      if ((err as RaftError).code === ERR.RAFT_TIMEOUT) {
        throw new RaftError(ERR.RAFT_TIMEOUT, `raft: leadership did not move to ${to} within ${this.tuning.transferTimeoutMs} ms`);
      }
      throw err;
    }
  }

  // ---- observation ---------------------------------------------------------------------------

  /**
   * Whether this server leads on a lease right now: it is the leader and a quorum heard from it
   * within the lease (RaftNode.leaseValid). The clock is caught up first, so a leader just back
   * from a pause (SIGSTOP, a long GC) sees its lease lapsed, and CheckQuorum steps it down,
   * before it can answer anything from its possibly stale state.
   */
  leaseHolds(): boolean {
    if (this.state !== 'running' || this.role !== 'leader') return false;
    this.ticker.catchUp();
    return this.node.leaseValid();
  }

  /** Whether this server led as of the last Ready (a deposed leader may still think so briefly: use readIndex to be sure). */
  get isLeader(): boolean {
    return this.role === 'leader';
  }

  /** Index of the last entry applied to the state machine here (or of the snapshot restored). */
  get appliedIndex(): bigint {
    return this.applied;
  }

  /** Index of the last entry in this server's log (appended, not necessarily committed). */
  get lastIndex(): bigint {
    return this.node ? this.node.status().lastIndex : this.applied;
  }

  /** The leader's id and address as this server knows them. */
  leaderHint(): LeaderHint | undefined {
    return this.hint(this.leader);
  }

  private hint(id: string | undefined): LeaderHint | undefined {
    if (id === undefined) return undefined;
    // The replicated address (what peers dial) first: our own listener may be bound to 0.0.0.0.
    const address = this.peers.get(id) ?? (id === this.id ? this.transport.address : undefined);
    return address === undefined ? { id } : { id, address };
  }

  /** This server's picture; throws RAFT_STOPPED before start() has loaded storage. */
  status(): RaftStatus {
    if (!this.node) throw this.stoppedError();
    const s = this.node.status();
    const peers = s.voters.map((v) => {
      const match = s.progress?.get(v)?.match;
      const address = this.peers.get(v) ?? (v === this.id ? this.transport.address : undefined);
      return { id: v, address, voter: true, leader: v === s.leader, ...(match !== undefined ? { match } : {}) };
    });
    return {
      id: this.id,
      role: s.role,
      term: s.term,
      leader: this.hint(s.leader),
      commit: s.commit,
      applied: this.applied,
      firstIndex: s.firstIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: this.view.snapshotMeta().index,
      peers,
    };
  }

  /** Calls `listener` with every change of known leader (undefined while none is known). Returns an unsubscribe function. */
  onLeaderChange(listener: (leader: string | undefined) => void): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  /** Resolves with the leader once one matching `match` (default: any) is known; RAFT_TIMEOUT after `timeoutMs`. */
  waitForLeader(match: (leader: string | undefined) => boolean = (l) => l !== undefined, timeoutMs = this.tuning.transferTimeoutMs): Promise<string | undefined> {
    if (this.state === 'stopped') return Promise.reject(this.stoppedError());
    if (match(this.leader)) return Promise.resolve(this.leader);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.leaderWaiters.delete(w);
        reject(new RaftError(ERR.RAFT_TIMEOUT, `raft: no matching leader within ${timeoutMs} ms (leader: ${this.leader ?? 'none'})`));
      }, timeoutMs);
      timer.unref();
      const w: LeaderWaiter = {
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.leaderWaiters.add(w);
    });
  }

  /** Resolves once the state machine here has applied `index`; RAFT_TIMEOUT after `timeoutMs` (default: none). */
  waitForApplied(index: bigint, timeoutMs?: number): Promise<void> {
    if (this.applied >= index) return Promise.resolve();
    if (this.state === 'stopped') return Promise.reject(this.stoppedError());
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const w: AppliedWaiter = {
        index,
        resolve: () => {
          if (timer) clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.appliedWaiters = this.appliedWaiters.filter((x) => x !== w);
          reject(new RaftError(ERR.RAFT_TIMEOUT, `raft: index ${index} not applied within ${timeoutMs} ms (applied ${this.applied})`));
        }, timeoutMs);
        timer.unref();
      }
      this.appliedWaiters.push(w);
    });
  }

  private notifyApplied(): void {
    if (this.appliedWaiters.length === 0) return;
    const still: AppliedWaiter[] = [];
    const ready: AppliedWaiter[] = [];
    for (const w of this.appliedWaiters) (w.index <= this.applied ? ready : still).push(w);
    this.appliedWaiters = still;
    for (const w of ready) w.resolve();
  }
}
