/**
 * The Ready loop of one server, written so the production driver can mirror it line for line
 * (src/raft/core/README.md, "The driver loop and the Ready contract"):
 *
 *     rd = node.ready()
 *     1. persist rd (snapshot; truncate + append; hard state) — possibly asynchronously — and,
 *        once durable, mirror it into the LogView the core reads
 *     2. only then send rd.messages
 *     3. restore rd.snapshot into the state machine, then apply rd.committedEntries in order
 *     4. answer rd.readStates (their indexes are applied by now)
 *     5. node.advance(rd), then look for the next Ready
 *
 * One Ready is outstanding at a time. While its write is in flight the server keeps taking
 * input (tick, step, propose): the core queues the output for the next Ready. The I/O lives
 * behind `DriverIo`, so the simulator plugs in a simulated disk with latency and a simulated
 * network, and production plugs in the storage engine and the RPC transport.
 *
 * `sendEarly` is the one relaxation the contract allows: a leader's MsgApp may leave while its
 * own write is in flight (dissertation §10.2.1; the core counts the leader's own log toward
 * commit only after advance()). The value 'all' breaks the contract on purpose — everything
 * is sent before it is durable — and exists only so the simulator can prove it catches that.
 */
import type { Entry, Message, RaftNode, ReadState, Ready, Snapshot } from '../core/index.ts';
import type { MemoryLogView } from '../core/index.ts';

/** What the driver needs from the outside world. */
export interface DriverIo {
  /**
   * Makes the Ready's durable part durable (fsync when `rd.mustSync`), then calls `done`
   * (synchronously or later). If the process dies first, `done` is never called.
   */
  persist(rd: Ready, done: () => void): void;
  send(messages: readonly Message[]): void;
  /** Replaces the state machine with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void;
  /** Applies one committed entry (in index order). */
  apply(entry: Entry): void;
  /** Answers linearizable reads; the state machine holds every entry up to their index. */
  answerReads(readStates: readonly ReadState[]): void;
  /** After advance(): the place for compaction (the core's applied index now includes this Ready). */
  afterAdvance?(): void;
}

/** Which messages may leave before the Ready is durable. */
export type SendEarly =
  /** None: the plain contract. */
  | 'never'
  /** A leader's MsgApp (§10.2.1). */
  | 'leader-appends'
  /** Everything. BREAKS the contract: for the simulator's self-test only. */
  | 'all';

/** Drives one RaftNode through its Readies. */
export class ReadyDriver {
  private inflight: Ready | undefined;
  private pumping = false;
  /** Readies fully handled (persisted, sent, applied, advanced). */
  readiesDone = 0;

  constructor(
    readonly node: RaftNode,
    readonly view: MemoryLogView,
    private readonly io: DriverIo,
    private readonly sendEarly: SendEarly = 'never',
  ) {}

  /** Whether a Ready's write is in flight. */
  get busy(): boolean {
    return this.inflight !== undefined;
  }

  /**
   * Call after every input to the node. Takes the next Ready if none is outstanding and starts
   * persisting it; handles as many as complete synchronously.
   */
  pump(): void {
    if (this.pumping) return; // re-entered from a synchronous completion: the loop below continues
    this.pumping = true;
    try {
      while (this.inflight === undefined && this.node.hasReady()) {
        const rd = this.node.ready();
        this.inflight = rd;
        const early = this.earlyMessages(rd);
        if (early.length > 0) this.io.send(early);
        let completedSync = false;
        let inLoop = true;
        this.io.persist(rd, () => {
          if (inLoop) completedSync = true;
          else this.complete(rd, early);
        });
        inLoop = false;
        if (!completedSync) return;
        this.finish(rd, early);
      }
    } finally {
      this.pumping = false;
    }
  }

  private earlyMessages(rd: Ready): readonly Message[] {
    if (this.sendEarly === 'never' || rd.messages.length === 0) return [];
    if (this.sendEarly === 'all') return rd.messages;
    if (this.node.status().role !== 'leader') return [];
    return rd.messages.filter((m) => m.type === 'MsgApp');
  }

  /** An asynchronous completion: finish this Ready, then look for the next. */
  private complete(rd: Ready, early: readonly Message[]): void {
    this.finish(rd, early);
    this.pump();
  }

  private finish(rd: Ready, early: readonly Message[]): void {
    // 1. (durable now) mirror into the view the core reads.
    if (rd.snapshot) this.view.applySnapshot(rd.snapshot);
    this.view.append(rd.entries);
    if (rd.hardState) this.view.setHardState(rd.hardState);
    // 2. send what was not sent early.
    const rest = early.length === 0 ? rd.messages : rd.messages.filter((m) => !early.includes(m));
    if (rest.length > 0) this.io.send(rest);
    // 3. apply.
    if (rd.snapshot) this.io.restore(rd.snapshot);
    for (const e of rd.committedEntries) this.io.apply(e);
    // 4. reads.
    if (rd.readStates.length > 0) this.io.answerReads(rd.readStates);
    // 5. advance.
    this.inflight = undefined;
    this.node.advance(rd);
    this.readiesDone++;
    this.io.afterAdvance?.();
  }
}
