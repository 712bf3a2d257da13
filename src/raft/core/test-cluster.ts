/**
 * Test-only harness (etcd-io/raft's interaction-test environment in miniature): N RaftNodes,
 * each over a MemoryLogView, a toy state machine (the list of applied normal entries as
 * strings), and an in-memory network whose messages are delivered only when the test says so.
 * Every delivered message is recorded as its describeMessage line (dropped ones as
 * "DROP <line>"), and every soft-state change as "<id> soft <state> term=<t>", so tests
 * assert on readable transcripts.
 *
 * Readies are processed (persist, then queue messages, apply, advance) right after every
 * input, so a node never holds unpersisted state between test steps.
 */
import { describeMessage, describeSoftState } from './describe.ts';
import { MemoryLogView } from './log-view.ts';
import { RaftNode } from './raft-node.ts';
import { seededRandom } from './seeded-random.ts';
import type { RaftConfig } from './config.ts';
import type { Entry, Message, NodeId, ReadState, Ready } from './types.ts';

/** Settings shared by all nodes of a TestCluster (id, storage and random are per node). */
export type ClusterOptions = Partial<Omit<RaftConfig, 'id' | 'storage' | 'random' | 'applied'>> & {
  /** Seeds each node's election-timeout randomness (with its id). */
  seed?: number;
};

/** One server in the harness. */
export class TestNode {
  node: RaftNode;
  /** The state machine: data of applied normal entries, in order. */
  sm: string[] = [];
  /** Every entry applied, in order (reset by a snapshot install or a restart). */
  applied: Entry[] = [];
  /** ReadStates handed out, in order. */
  readStates: ReadState[] = [];
  up = true;

  constructor(
    readonly id: NodeId,
    readonly view: MemoryLogView,
    private readonly make: (applied: bigint) => RaftNode,
  ) {
    this.node = make(0n);
  }

  /** Simulates a crash and restart: a fresh RaftNode over what was persisted; the state machine restarts from the snapshot. */
  restart(): void {
    const snap = this.view.snapshot();
    this.sm = snap.data.length > 0 ? (JSON.parse(snap.data.toString('utf8')) as string[]) : [];
    this.applied = [];
    this.node = this.make(snap.index);
    this.up = true;
  }
}

/** N nodes and a controllable network. See the file comment. */
export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered or dropped, in send order. */
  queue: Message[] = [];
  /** The transcript so far. */
  readonly lines: string[] = [];
  private readonly cut = new Set<string>();
  private mark = 0;
  /** Called for every committed entry a node applies (invariant checks). */
  onApply?: (id: NodeId, e: Entry) => void;
  /** Called for every Ready a node produces, before it is processed. */
  onReady?: (id: NodeId, rd: Ready) => void;

  constructor(
    ids: NodeId[],
    readonly opts: ClusterOptions = {},
  ) {
    for (const id of ids) this.addNode(id, ids);
  }

  /** Adds a server whose storage is bootstrapped with `voters` ([] for one that joins later). */
  addNode(id: NodeId, voters: readonly NodeId[]): TestNode {
    const view = new MemoryLogView({ voters });
    const { seed = 1, ...cfg } = this.opts;
    let salt = 0;
    for (const ch of id) salt = (salt * 31 + ch.charCodeAt(0)) | 0;
    const random = seededRandom((seed * 7919) ^ salt);
    const tn = new TestNode(id, view, (applied) => new RaftNode({ ...cfg, id, storage: view, random, applied }));
    this.nodes.set(id, tn);
    return tn;
  }

  get(id: NodeId): TestNode {
    const tn = this.nodes.get(id);
    if (!tn) throw new Error(`no node ${id}`);
    return tn;
  }

  node(id: NodeId): RaftNode {
    return this.get(id).node;
  }

  /** Runs every pending Ready of `id` through the driver contract. */
  process(id: NodeId): void {
    const tn = this.get(id);
    if (!tn.up) return;
    while (tn.node.hasReady()) {
      const rd = tn.node.ready();
      this.onReady?.(id, rd);
      if (rd.softState) this.lines.push(`${id} soft ${describeSoftState(rd.softState)} term=${tn.node.status().term}`);
      // 1. persist
      if (rd.snapshot) tn.view.applySnapshot(rd.snapshot);
      tn.view.append(rd.entries);
      if (rd.hardState) tn.view.setHardState(rd.hardState);
      // 2. send
      this.queue.push(...rd.messages);
      // 3. apply
      if (rd.snapshot) {
        tn.sm = rd.snapshot.data.length > 0 ? (JSON.parse(rd.snapshot.data.toString('utf8')) as string[]) : [];
      }
      for (const e of rd.committedEntries) {
        if (e.kind === 'normal') tn.sm.push(e.data.toString('utf8'));
        tn.applied.push(e);
        this.onApply?.(id, e);
      }
      tn.readStates.push(...rd.readStates);
      tn.node.advance(rd);
    }
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  private blocked(m: Message): boolean {
    const to = this.nodes.get(m.to);
    return !to || !to.up || !this.get(m.from).up || this.cut.has(`${m.from}->${m.to}`);
  }

  /** Delivers (in order) the queued messages matching `pred` (all by default), then processes readies. */
  deliver(pred: (m: Message) => boolean = () => true): number {
    const take = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    for (const m of take) this.deliverOne(m);
    this.processAll();
    return take.length;
  }

  /** Delivers one message now (or records it dropped if its link is cut). Does not process readies. */
  deliverOne(m: Message): void {
    if (this.blocked(m)) {
      this.lines.push(`DROP ${describeMessage(m)}`);
      return;
    }
    this.lines.push(describeMessage(m));
    this.get(m.to).node.step(m);
  }

  /** Drops the queued messages matching `pred`, recording them. */
  drop(pred: (m: Message) => boolean): number {
    const gone = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    for (const m of gone) this.lines.push(`DROP ${describeMessage(m)}`);
    return gone.length;
  }

  /** Processes and delivers until no message is left (bounded). */
  stabilize(maxRounds = 1000): void {
    this.processAll();
    for (let i = 0; i < maxRounds && this.queue.length > 0; i++) this.deliver();
    if (this.queue.length > 0) throw new Error('stabilize: messages still flowing after maxRounds');
  }

  /** Ticks the given nodes (default: all up nodes) `n` times in lockstep, processing readies after each. */
  tick(n = 1, ids: NodeId[] = [...this.nodes.keys()]): void {
    for (let i = 0; i < n; i++) {
      for (const id of ids) if (this.get(id).up) this.get(id).node.tick();
      this.processAll();
    }
  }

  /** Cuts every link to and from `id`. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cutLink(id, other);
  }

  /** Cuts both directions between a and b. */
  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}->${b}`);
    this.cut.add(`${b}->${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  crash(id: NodeId): void {
    this.get(id).up = false;
  }

  restart(id: NodeId): void {
    this.get(id).restart();
    this.process(id);
  }

  /** Campaigns at `id` and processes its Ready. */
  campaign(id: NodeId): void {
    this.node(id).campaign();
    this.processAll();
  }

  /** Proposes `data` at `id` (asserting it leads) and processes readies. */
  propose(id: NodeId, data: string): bigint {
    const r = this.node(id).propose(Buffer.from(data));
    if (!r.ok) throw new Error(`propose at ${id} refused: ${r.reason}`);
    this.processAll();
    return r.index;
  }

  /** Snapshots `id`'s state machine at its applied index and compacts its log up to there. */
  compact(id: NodeId): bigint {
    const tn = this.get(id);
    const applied = tn.node.status().applied;
    const meta = tn.node.snapshotMetaAt(applied);
    tn.view.createSnapshot({ ...meta, data: Buffer.from(JSON.stringify(tn.sm), 'utf8') });
    tn.view.compact(applied);
    return applied;
  }

  /** The up node that leads in the highest term, if any. */
  leader(): NodeId | undefined {
    let best: NodeId | undefined;
    let term = -1n;
    for (const [id, tn] of this.nodes) {
      if (!tn.up) continue;
      const s = tn.node.status();
      if (s.role === 'leader' && s.term > term) {
        best = id;
        term = s.term;
      }
    }
    return best;
  }

  /** Transcript lines added since the previous call. */
  take(): string[] {
    const out = this.lines.slice(this.mark);
    this.mark = this.lines.length;
    return out;
  }

  /** Node `id`'s persisted log as "term/index" strings (compacted prefix excluded). */
  logOf(id: NodeId): string[] {
    const v = this.get(id).view;
    return v.entries(v.firstIndex(), v.lastIndex() + 1n).map((e) => `${e.term}/${e.index}`);
  }
}
