/**
 * One simulated server process: a RaftNode over a MemoryLogView loaded from its SimDisk, a
 * ReadyDriver, the KV state machine, and the request handling a real server does for clients
 * (propose writes, serve reads through ReadIndex, answer once applied).
 *
 * Lifecycle, as the nemesis sees it:
 * - `start()`: load the disk, restore the state machine from the snapshot, build the node
 *   (applied = the snapshot index: later committed entries are handed out again).
 * - `crash()`: everything volatile is gone — node, view, state machine, pending requests, the
 *   messages of the Ready being persisted. A write in flight either reached the disk or did not.
 * - `pause()` / `resume()`: the process stops (SIGSTOP): no ticks, no input, no completions;
 *   messages and a finished disk write wait. On resume the driver first catches up the ticks
 *   its clock says it missed (a production driver must derive ticks from a monotonic clock and
 *   tick before reading input, or a paused leader would trust a stale lease), then the disk
 *   completion, then the held messages in arrival order.
 */
import { MemoryLogView, RaftNode, type Entry, type Message, type Ready, type ReadState, type Snapshot } from '../core/index.ts';
import { forgetVote } from './core-peek.ts';
import type { RaftInvariants } from './invariants.ts';
import { encodeCommand, KvStateMachine, type KvResult } from './kv-state-machine.ts';
import type { Prng } from './prng.ts';
import { ReadyDriver } from './ready-driver.ts';
import type { SimDisk } from './sim-disk.ts';
import type { ClientRequest, ClientResponse } from './sim-network.ts';
import type { SimOptions } from './sim-options.ts';

/** What a server needs from the simulation around it. */
export interface ServerEnv {
  readonly options: SimOptions;
  readonly checks: RaftInvariants;
  now(): number;
  /** Runs `run` after `delay` µs as one event, labelled for the transcript. */
  schedule(delay: number, label: string, run: () => void): void;
  sendRaft(messages: readonly Message[]): void;
  reply(from: string, resp: ClientResponse): void;
  /** Counters for the run's statistics. */
  count(what: 'snapshotsTaken' | 'snapshotsInstalled' | 'writesLanded' | 'writesLost' | 'readsServed'): void;
  /** A check that is not about Raft's own state failed (e.g. a read released before it was applied). */
  fail(property: string, detail: string): never;
}

export type ProcessState = 'down' | 'up' | 'paused';

interface PendingWrite {
  readonly term: bigint;
  readonly req: ClientRequest;
}

export class ServerProcess {
  state: ProcessState = 'down';
  node: RaftNode | undefined;
  view: MemoryLogView | undefined;
  sm: KvStateMachine | undefined;
  driver: ReadyDriver | undefined;
  /** Bumped at every start and crash: completions from an earlier incarnation are ignored. */
  private epoch = 0;
  private inflight: Ready | undefined;
  private readonly pendingWrites = new Map<bigint, PendingWrite>();
  private readonly pendingReads = new Map<string, ClientRequest>();
  /** Input that arrived while paused, in order. */
  private held: (() => void)[] = [];
  private heldDisk: (() => void) | undefined;
  /** Ticks missed while paused. */
  private missedTicks = 0;
  /** Until this virtual time, disk writes are slow (an fsync stall). */
  slowDiskUntil = 0;
  /** A crash waiting for the next matching disk write (see crashDuringNextWrite). */
  private armed: { kind: 'any' | 'vote'; then: () => void } | undefined;

  constructor(
    readonly id: string,
    readonly disk: SimDisk,
    private readonly rng: Prng,
    private readonly env: ServerEnv,
  ) {}

  get live(): boolean {
    return this.state !== 'down';
  }

  start(): void {
    if (this.state !== 'down') return;
    this.epoch++;
    const o = this.env.options;
    const view = new MemoryLogView(this.disk.load());
    const sm = new KvStateMachine();
    const snap = view.snapshot();
    sm.restore(snap.data, snap.index);
    const node = new RaftNode({
      id: this.id,
      storage: view,
      random: this.rng.fork(`election-${this.epoch}`).asRandom(),
      applied: snap.index,
      electionTicks: o.electionTicks,
      heartbeatTicks: o.heartbeatTicks,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
      readOnly: o.readOnly,
      maxEntriesPerAppend: o.maxEntriesPerAppend,
      maxInflight: o.maxInflight,
    });
    this.view = view;
    this.sm = sm;
    this.node = node;
    this.driver = new ReadyDriver(
      node,
      view,
      {
        persist: (rd, done) => this.persist(rd, done),
        send: (msgs) => this.env.sendRaft(msgs),
        restore: (s) => this.restore(s),
        apply: (e) => this.apply(e),
        answerReads: (rs) => this.answerReads(rs),
        afterAdvance: () => this.maybeCompact(),
      },
      o.sendEarly,
    );
    this.state = 'up';
    this.env.checks.onStart(this.id, node, this.disk);
    this.driver.pump();
  }

  crash(): void {
    if (this.state === 'down') return;
    if (this.inflight) {
      // The process died with a write in flight: it may or may not have reached the platter.
      if (this.rng.chance(this.env.options.faults.inflightWriteLands)) {
        this.writeDisk(this.inflight);
        this.env.count('writesLanded');
      } else this.env.count('writesLost');
    }
    this.epoch++;
    this.armed = undefined;
    this.state = 'down';
    this.node = undefined;
    this.view = undefined;
    this.sm = undefined;
    this.driver = undefined;
    this.inflight = undefined;
    this.pendingWrites.clear();
    this.pendingReads.clear();
    this.held = [];
    this.heldDisk = undefined;
    this.missedTicks = 0;
  }

  /**
   * Crashes the process while its next disk write (`'vote'`: the next write of a new term or
   * vote) is in flight, at a random point before it completes; then calls `then`.
   */
  crashDuringNextWrite(kind: 'any' | 'vote', then: () => void): void {
    this.armed = { kind, then };
  }

  /** A crash armed by crashDuringNextWrite whose write never came: crash now instead. */
  fireArmedCrash(): void {
    const armed = this.armed;
    if (!armed) return;
    this.crash();
    armed.then();
  }

  get crashArmed(): boolean {
    return this.armed !== undefined;
  }

  disarmCrash(): void {
    this.armed = undefined;
  }

  pause(): void {
    if (this.state === 'up') this.state = 'paused';
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'up';
    const missed = this.missedTicks;
    this.missedTicks = 0;
    for (let i = 0; i < missed; i++) this.node!.tick();
    this.driver!.pump();
    const disk = this.heldDisk;
    this.heldDisk = undefined;
    disk?.();
    const held = this.held;
    this.held = [];
    for (const run of held) {
      if (this.state !== 'up') break;
      run();
    }
  }

  /** One clock tick (scheduled every `tick` µs whatever the state). */
  tick(): void {
    if (this.state === 'paused') this.missedTicks++;
    if (this.state !== 'up') return;
    this.node!.tick();
    this.driver!.pump();
  }

  /** A Raft message arrived. */
  receive(m: Message): void {
    if (this.state === 'paused') {
      this.held.push(() => this.receive(m));
      return;
    }
    if (this.state !== 'up') return;
    if (this.env.options.sabotage === 'double-vote' && m.type === 'MsgVote') forgetVote(this.node!, m.term);
    this.node!.step(m);
    this.driver!.pump();
  }

  /** A client request arrived. */
  request(req: ClientRequest): void {
    if (this.state === 'paused') {
      this.held.push(() => this.request(req));
      return;
    }
    if (this.state !== 'up') return;
    const node = this.node!;
    const sabotage = this.env.options.sabotage;
    if (req.cmd.op === 'get' && req.readIndex) {
      if (sabotage === 'local-reads') {
        this.answer(req, { kind: 'get', value: this.sm!.read(req.cmd.k) });
        return;
      }
      const ctx = `${req.client}.${req.seq}.${req.attempt}`;
      const r = node.readIndex(ctx);
      if (r.ok) this.pendingReads.set(ctx, req);
      else this.redirect(req, r.leader);
    } else {
      const r = node.propose(encodeCommand(req.cmd));
      if (!r.ok) this.redirect(req, r.leader);
      else {
        this.pendingWrites.set(r.index, { term: r.term, req });
        if (sabotage === 'ack-before-commit' && req.cmd.op === 'put') {
          this.answer(req, { kind: 'put', version: Number(r.index) });
        }
      }
    }
    this.driver!.pump();
  }

  /** A state transfer the nemesis asks of a leader; false when refused. */
  transferLeadership(to: string): boolean {
    if (this.state !== 'up') return false;
    const ok = this.node!.transferLeadership(to).ok;
    this.driver!.pump();
    return ok;
  }

  /** A membership change the nemesis asks of a leader; false when refused. */
  changeMembership(type: 'add' | 'remove', node: string): boolean {
    if (this.state !== 'up') return false;
    const ok = this.node!.proposeConfChange({ type, node }).ok;
    this.driver!.pump();
    return ok;
  }

  /** A final write at convergence time (not a client operation); the index if accepted. */
  proposeMarker(data: Buffer): bigint | undefined {
    if (this.state !== 'up') return undefined;
    const r = this.node!.propose(data);
    this.driver!.pump();
    return r.ok ? r.index : undefined;
  }

  // ---- driver I/O ----------------------------------------------------------------------

  private persist(rd: Ready, done: () => void): void {
    if (!rd.mustSync) {
      // Nothing that needs an fsync (at most a commit index): written synchronously.
      this.writeDisk(rd);
      done();
      return;
    }
    this.inflight = rd;
    const epoch = this.epoch;
    const [lo, hi] = this.env.options.diskLatency;
    const slow = this.env.now() < this.slowDiskUntil;
    const latency = this.rng.between(lo, hi) * (slow ? 40 : 1);
    const armed = this.armed;
    if (armed && (armed.kind === 'any' || this.isVoteWrite(rd))) {
      this.armed = undefined;
      // Mostly before the write completes (its promises were never sent), sometimes just after
      // (its promises are out and must be on disk).
      const at = this.rng.between(0, armed.kind === 'any' ? 2 * latency : latency + 10_000);
      this.env.schedule(at, `nemesis crash ${this.id} around its write`, () => {
        if (epoch !== this.epoch) return;
        this.crash();
        armed.then();
      });
    }
    this.env.schedule(latency, `disk ${this.id} write done`, () => {
      if (epoch !== this.epoch) return; // the process crashed meanwhile (crash() decided the write's fate)
      const finish = () => {
        this.inflight = undefined;
        this.writeDisk(rd);
        done();
      };
      if (this.state === 'paused') this.heldDisk = finish;
      else finish();
    });
  }

  private isVoteWrite(rd: Ready): boolean {
    const hs = rd.hardState;
    if (!hs) return false;
    const old = this.disk.hardState();
    return hs.term !== old.term || hs.vote !== old.vote;
  }

  private writeDisk(rd: Ready): void {
    if (!rd.hardState && !rd.snapshot && rd.entries.length === 0) return;
    this.env.checks.beforePersist(this.id, this.disk, rd);
    this.disk.persist(rd);
    this.env.checks.afterPersist(this.id, this.disk, rd);
  }

  private restore(s: Snapshot): void {
    this.env.checks.onRestore(this.id, s);
    this.sm!.restore(s.data, s.index);
    this.env.count('snapshotsInstalled');
    // Writes this snapshot covers: whether ours took effect is unknown here; the client
    // times out and retries, and its session makes the retry safe.
    for (const i of [...this.pendingWrites.keys()]) if (i <= s.index) this.pendingWrites.delete(i);
  }

  private apply(e: Entry): void {
    // Entries are applied only once durable here (the Ready that carried them was persisted).
    if (this.disk.term(e.index) !== e.term) this.env.fail('apply after persist', `${this.id} applies ${e.term}/${e.index}, which its disk does not hold`);
    this.env.checks.onApply(this.id, e);
    const result = this.sm!.apply(e);
    const pending = this.pendingWrites.get(e.index);
    if (pending === undefined) return;
    this.pendingWrites.delete(e.index);
    // (index, term) names one entry: another term here means ours was replaced and never commits.
    if (e.term === pending.term && result !== undefined) this.answer(pending.req, result);
    else if (e.term !== pending.term) this.env.reply(this.id, { client: pending.req.client, seq: pending.req.seq, attempt: pending.req.attempt, kind: 'lost' });
  }

  private answerReads(readStates: readonly ReadState[]): void {
    const sm = this.sm!;
    for (const rs of readStates) {
      if (sm.applied < rs.index) this.env.fail('read index applied', `${this.id} released read ${rs.context} at ${rs.index} with only ${sm.applied} applied`);
      const req = this.pendingReads.get(rs.context);
      if (req === undefined) continue;
      this.pendingReads.delete(rs.context);
      this.env.count('readsServed');
      this.answer(req, { kind: 'get', value: sm.read(req.cmd.k) });
    }
  }

  /** The application's own snapshot and compaction, every `snapshotEvery` applied entries. */
  private maybeCompact(): void {
    const o = this.env.options;
    const view = this.view!;
    const applied = this.sm!.applied;
    if (applied - view.snapshotMeta().index < BigInt(o.snapshotEvery)) return;
    const snap: Snapshot = { ...this.node!.snapshotMetaAt(applied), data: this.sm!.snapshot() };
    this.disk.saveSnapshot(snap);
    view.createSnapshot(snap);
    this.env.count('snapshotsTaken');
    const upTo = applied - BigInt(o.trailingEntries);
    if (upTo >= view.firstIndex()) {
      this.disk.compactUpTo(upTo);
      view.compact(upTo);
    }
  }

  private answer(req: ClientRequest, result: KvResult): void {
    this.env.reply(this.id, { client: req.client, seq: req.seq, attempt: req.attempt, kind: 'ok', result });
  }

  private redirect(req: ClientRequest, leader: string | undefined): void {
    this.env.reply(this.id, { client: req.client, seq: req.seq, attempt: req.attempt, kind: 'redirect', ...(leader !== undefined ? { leader } : {}) });
  }
}
