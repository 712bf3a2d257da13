/**
 * A log of one that survives restarts: the single-node ReplicatedLog over a Storage (DESIGN
 * principles 2 and 6). Raft will replace the index/term assignment here (every entry is term 1
 * for now); the apply side, snapshots and recovery stay.
 *
 * Ordering contract:
 * - propose() checks the command against the state machine first and refuses it without
 *   writing anything (as LocalLog does).
 * - Indexes are handed out in call order; each entry is appended to `storage.log`, and only once
 *   its append is durable (fsync'd, group-committed with its neighbours) is it applied, in index
 *   order, and its proposal resolved. Nothing is acknowledged that is not on disk.
 * - A command the state machine refuses at apply time (the state moved between validate and
 *   apply) rejects its proposal; its entry stays in the log and is refused again on replay
 *   (StateMachine.apply allows index gaps), so a restart reaches the same state.
 * - A change listener may propose from inside an apply: that command gets the next free index
 *   and is applied after the current entry, like any other.
 *
 * Snapshots: every `snapshotThreshold` applied entries (checked at most once per
 * `snapshotIntervalMs`) the state machine's snapshot is saved
 * with the index it covers, then the log is compacted up to it. On open: the latest snapshot is
 * restored, then the log after it is replayed.
 *
 * Failed writes (a full disk): the failing proposal and every one queued behind it reject with
 * the storage error (STORAGE_NO_SPACE: `storage: no space left on device ...`) and nothing of
 * them is applied. The storage refuses writes from then on; each later proposal (at most one
 * attempt per `recoverIntervalMs`, others fail fast with the same error) first reopens it
 * (Storage.recover) and drops whatever the failed sync may have left beyond the last applied
 * entry, so the log again matches exactly what was acknowledged. Once space is back, writes
 * resume without a restart.
 */
import type { StateMachine } from '../catalog/state-machine.ts';
import type { Command } from '../catalog/types.ts';
import { ERR, HeraldError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Storage } from '../storage/storage.ts';
import { decodeCommand, encodeCommand } from './command-codec.ts';
import type { ReplicatedLog } from './local-log.ts';

/** Consul's raft_snapshot_threshold default: snapshot after this many entries. */
export const DEFAULT_SNAPSHOT_THRESHOLD = 16384;

/** The only term until Raft assigns real ones. */
const TERM = 1n;
/** Bytes of entries read per chunk on replay. */
const REPLAY_CHUNK_BYTES = 4 << 20;

export interface DurableLogOptions {
  /** Snapshot and compact after this many entries since the last snapshot; 0 never does. */
  snapshotThreshold?: number;
  /**
   * At most one periodic snapshot per this many ms (Consul's raft_snapshot_interval): the
   * threshold is checked after an entry only once the interval has passed since the last
   * snapshot (or open). 0 (the default here; the agent passes 30 s) checks after every entry.
   */
  snapshotIntervalMs?: number;
  /** Clock for the interval (tests). */
  now?: () => number;
  /** After a failed write: the least time between two attempts to reopen the storage. */
  recoverIntervalMs?: number;
  logger?: Logger;
}

interface Proposal {
  index: bigint;
  command: Command;
  durable: boolean;
  resolve: (v: { index: bigint; result?: unknown }) => void;
  reject: (e: unknown) => void;
  /** Called once it has been resolved or rejected. */
  done?: Array<() => void>;
}

/** What open() found and did, for the agent's start-up log line. */
export interface ReplayReport {
  /** Index of the snapshot restored, 0n when none. */
  snapshotIndex: bigint;
  /** Entries replayed after it (applied or refused again). */
  replayed: number;
  /** Entries that could not be decoded and were skipped. */
  undecodable: number;
}

function finished(p: Proposal): void {
  if (p.done) for (const f of p.done) f();
}

export class DurableLog implements ReplicatedLog {
  /** Index handed to the newest proposal. */
  private last = 0n;
  /** Index of the newest entry applied (or refused at apply). */
  private applied = 0n;
  /** Index the latest durable snapshot covers. */
  private snapIndex = 0n;
  private readonly pending: Proposal[] = [];
  private applying = false;
  private idleWaiters: Array<() => void> = [];
  private snapshotting: Promise<void> | undefined;
  /** No periodic snapshot before this applied index (after a failed one, to retry later). */
  private nextSnapshotAt = 0n;
  /** While set (open's replay, a restore), proposals wait for it. */
  private gate: Promise<void> | undefined;
  private recovering: Promise<void> | undefined;
  private lastRecoverAttempt = -Infinity;
  private closed = false;
  private readonly threshold: bigint;
  private readonly intervalMs: number;
  private readonly now: () => number;
  /** No periodic snapshot before this time (ms). */
  private nextSnapshotTime: number;
  private readonly recoverIntervalMs: number;
  private readonly logger: Logger;

  private constructor(
    private readonly sm: StateMachine,
    private readonly storage: Storage,
    opts: DurableLogOptions,
  ) {
    this.threshold = BigInt(opts.snapshotThreshold ?? DEFAULT_SNAPSHOT_THRESHOLD);
    this.intervalMs = opts.snapshotIntervalMs ?? 0;
    this.now = opts.now ?? Date.now;
    this.nextSnapshotTime = this.now() + this.intervalMs;
    this.recoverIntervalMs = opts.recoverIntervalMs ?? 1000;
    this.logger = opts.logger ?? silentLogger;
  }

  /**
   * Restores the latest snapshot into `sm`, replays the log after it, and returns the log
   * ready for proposals. `sm` must already have every plugin's StateExtension registered (a
   * snapshot naming an unknown plugin is refused). Rejects STORAGE_CORRUPT when the log does
   * not continue the snapshot, SNAPSHOT_INVALID when the snapshot cannot be restored.
   */
  static async open(sm: StateMachine, storage: Storage, opts: DurableLogOptions = {}): Promise<{ log: DurableLog; report: ReplayReport }> {
    const log = new DurableLog(sm, storage, opts);
    let release!: () => void;
    log.gate = new Promise((r) => (release = r));
    try {
      const report = await log.replay();
      return { log, report };
    } finally {
      log.gate = undefined;
      release();
    }
  }

  private async replay(): Promise<ReplayReport> {
    const report: ReplayReport = { snapshotIndex: 0n, replayed: 0, undecodable: 0 };
    const snap = await this.storage.snapshots.latest();
    if (snap) {
      let state: unknown;
      try {
        state = JSON.parse(snap.data.toString('utf8'));
      } catch (err) {
        throw new HeraldError(ERR.SNAPSHOT_INVALID, `snapshot at index ${snap.meta.index}: not JSON: ${(err as Error).message}`);
      }
      this.sm.restore(state);
      this.snapIndex = snap.meta.index;
      report.snapshotIndex = snap.meta.index;
    }
    const first = await this.storage.log.firstIndex();
    const last = await this.storage.log.lastIndex();
    const from = this.snapIndex + 1n;
    if (last >= from && first > from) {
      throw new HeraldError(
        ERR.STORAGE_CORRUPT,
        `log: holds ${first}..${last} but the snapshot ends at ${this.snapIndex}: entries ${from}..${first - 1n} are missing`,
      );
    }
    // Entries at or below the snapshot (a crash between saving it and compacting) are in it.
    let next = first > from ? first : from;
    while (next <= last) {
      const chunk = await this.storage.log.range(next, last, REPLAY_CHUNK_BYTES);
      if (chunk.length === 0) break;
      for (const e of chunk) {
        const decoded = decodeCommand(e.data);
        report.replayed++;
        if (!decoded.ok) {
          report.undecodable++;
          this.logger.warn(`log: entry ${e.index} dropped on replay: ${decoded.reason}`);
        } else {
          try {
            this.sm.apply(e.index, decoded.command);
          } catch (err) {
            // Refused now as it was when first applied (the state machine is deterministic).
            this.logger.debug(`log: entry ${e.index} (${decoded.command.type}) refused on replay: ${(err as Error).message}`);
          }
        }
        next = e.index + 1n;
      }
    }
    const end = last > this.snapIndex ? last : this.snapIndex;
    this.last = end > this.sm.lastIndex ? end : this.sm.lastIndex;
    this.applied = this.last;
    this.nextSnapshotAt = this.snapIndex + this.threshold;
    this.maybeSnapshot();
    return report;
  }

  /** Index handed to the newest proposal (durable or not yet). */
  get lastIndex(): bigint {
    return this.last;
  }

  /** Index of the newest entry applied to the state machine (or refused by it). */
  get appliedIndex(): bigint {
    return this.applied;
  }

  /** Index covered by the latest durable snapshot (0n: none). */
  get snapshotIndex(): bigint {
    return this.snapIndex;
  }

  propose(command: Command): Promise<{ index: bigint; result?: unknown }> {
    return this.submit(command, true);
  }

  private submit(command: Command, mayWait: boolean): Promise<{ index: bigint; result?: unknown }> {
    if (this.closed) return Promise.reject(new HeraldError(ERR.STORAGE_CLOSED, 'log is closed'));
    if (this.gate) return this.gate.then(() => this.submit(command, mayWait));
    if (this.recovering) return this.recovering.then(() => this.submit(command, mayWait));
    if (this.storage.failed) return this.recoverThen(command);
    try {
      this.sm.validate(command);
    } catch (err) {
      // Perhaps valid once what is already queued has applied (a check proposed right behind
      // its service): ask once more after that. Otherwise refuse now, writing nothing.
      const tail = this.pending[this.pending.length - 1];
      if (!mayWait || !tail) return Promise.reject(err);
      return new Promise<void>((r) => (tail.done ??= []).push(r)).then(() => this.submit(command, false));
    }
    let data: Buffer;
    try {
      data = encodeCommand(command);
    } catch (err) {
      return Promise.reject(new HeraldError(ERR.COMMAND_INVALID, `command cannot be stored: ${(err as Error).message}`));
    }
    const index = ++this.last;
    return new Promise((resolve, reject) => {
      const p: Proposal = { index, command, durable: false, resolve, reject };
      this.pending.push(p);
      this.storage.log.append([{ index, term: TERM, data }]).then(
        () => {
          p.durable = true;
          this.applyDurable();
        },
        (err) => this.appendFailed(p, err),
      );
    });
  }

  /** Applies every durable proposal at the head of the queue, in index order. */
  private applyDurable(): void {
    if (this.applying) return;
    this.applying = true;
    try {
      while (this.pending.length > 0 && this.pending[0]!.durable) {
        const p = this.pending.shift()!;
        this.applied = p.index;
        let out: { result?: unknown };
        try {
          out = this.sm.apply(p.index, p.command);
        } catch (err) {
          p.reject(err);
          finished(p);
          continue;
        }
        p.resolve(out.result === undefined ? { index: p.index } : { index: p.index, result: out.result });
        finished(p);
      }
    } finally {
      this.applying = false;
    }
    this.notifyIfIdle();
    this.maybeSnapshot();
  }

  private appendFailed(p: Proposal, err: unknown): void {
    const at = this.pending.indexOf(p);
    if (at >= 0) this.pending.splice(at, 1);
    p.reject(err);
    finished(p);
    // The storage failed this append and every one queued behind it; once the last of them
    // is out, no handed-out index is outstanding beyond what was applied.
    if (this.pending.length === 0) this.last = this.applied;
    this.notifyIfIdle();
  }

  /** After a failed write: reopen the storage (rate-limited), then propose. */
  private recoverThen(command: Command): Promise<{ index: bigint; result?: unknown }> {
    const now = Date.now();
    if (now - this.lastRecoverAttempt < this.recoverIntervalMs) return Promise.reject(this.storage.failed);
    this.lastRecoverAttempt = now;
    return this.recoverStorage().then(() => this.submit(command, true));
  }

  private recoverStorage(): Promise<void> {
    this.recovering ??= (async () => {
      try {
        await this.settled();
        await this.storage.recover();
        // A sync that failed may still have left its entries on disk; they were refused, so
        // they must not come back on the next restart.
        const logLast = await this.storage.log.lastIndex();
        if (logLast > this.applied) {
          await this.storage.log.truncateAfter(this.applied);
          this.logger.warn(`log: dropped entries ${this.applied + 1n}..${logLast} written by a failed sync (never acknowledged)`);
        } else if (logLast !== 0n && logLast < this.applied && logLast <= this.snapIndex) {
          // A restore saved its snapshot but could not compact: the old entries are covered.
          await this.storage.log.compactUpTo(logLast);
        }
        this.last = this.applied;
        this.logger.info(`storage writable again after a failed write; log continues after ${this.applied}`);
      } finally {
        this.recovering = undefined;
      }
    })();
    return this.recovering;
  }

  private maybeSnapshot(): void {
    if (this.threshold <= 0n || this.snapshotting || this.gate || this.storage.failed || this.closed) return;
    if (this.applied < this.nextSnapshotAt || this.applied <= this.snapIndex) return;
    if (this.intervalMs > 0) {
      const now = this.now();
      if (now < this.nextSnapshotTime) return;
      this.nextSnapshotTime = now + this.intervalMs;
    }
    void this.snapshotNow();
  }

  /**
   * Saves the state machine's snapshot at the applied index, then compacts the log up to it.
   * Resolves once both are durable (or failed: a failed snapshot is logged and retried after
   * another `snapshotThreshold` entries; the log keeps every entry until one succeeds).
   */
  snapshotNow(): Promise<void> {
    if (this.snapshotting) return this.snapshotting;
    const index = this.applied;
    if (index === 0n || index <= this.snapIndex) return Promise.resolve();
    let data: Buffer;
    try {
      // Taken synchronously at `index`: no apply can interleave.
      data = Buffer.from(JSON.stringify(this.sm.snapshot()));
    } catch (err) {
      this.nextSnapshotAt = index + this.threshold;
      this.logger.error(`snapshot at ${index} failed: the state is not JSON: ${(err as Error).message}`);
      return Promise.resolve();
    }
    this.snapshotting = (async () => {
      try {
        await this.storage.snapshots.save({ index, term: TERM }, data);
        this.snapIndex = index;
        await this.storage.log.compactUpTo(index);
        this.nextSnapshotAt = index + this.threshold;
        this.logger.debug(`snapshot at ${index} (${data.length} bytes); log compacted`);
      } catch (err) {
        this.nextSnapshotAt = index + this.threshold;
        this.logger.warn(`snapshot at ${index} failed: ${(err as Error).message}`);
      } finally {
        this.snapshotting = undefined;
      }
    })();
    return this.snapshotting;
  }

  /**
   * Replaces the whole state with `state` (a state-machine snapshot object, e.g. an archive's
   * state.json) and makes it durable: saved as the latest snapshot at a fresh index, the log
   * compacted, so a restart keeps it. Waits for proposals in flight; proposals made meanwhile
   * wait for it. The state machine's restore emits a ChangeSet naming everything, so every
   * blocked query wakes. Rejects SNAPSHOT_INVALID with no state change for a bad snapshot;
   * when saving fails the previous state is put back and the storage error rejects.
   * Resolves with the fresh index.
   */
  async installSnapshot(state: unknown): Promise<bigint> {
    if (this.closed) throw new HeraldError(ERR.STORAGE_CLOSED, 'log is closed');
    while (this.gate) await this.gate;
    let release!: () => void;
    this.gate = new Promise((r) => (release = r));
    try {
      await this.settled();
      await this.snapshotting;
      if (this.storage.failed) await this.recoverStorage();
      const before = this.sm.snapshot();
      this.sm.restore(state);
      const index = (this.last > this.sm.lastIndex ? this.last : this.sm.lastIndex) + 1n;
      const data = Buffer.from(JSON.stringify(this.sm.snapshot()));
      try {
        await this.storage.snapshots.save({ index, term: TERM }, data);
      } catch (err) {
        // Not durable: put the old state back so memory matches the disk.
        this.sm.restore(before);
        throw err;
      }
      // Durable from here: a restart restores this snapshot and ignores older log entries.
      this.snapIndex = index;
      this.last = index;
      this.applied = index;
      this.nextSnapshotAt = index + this.threshold;
      try {
        await this.storage.log.compactUpTo(index);
      } catch (err) {
        this.logger.warn(`restore at ${index}: log compaction failed (retried when storage recovers): ${(err as Error).message}`);
      }
      return index;
    } finally {
      this.gate = undefined;
      release();
    }
  }

  /** Resolves once no proposal is pending (every one applied, refused or failed). */
  settled(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIfIdle(): void {
    if (this.pending.length > 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /**
   * Stops taking proposals, then waits for those in flight and a snapshot in progress. The
   * storage stays open (its owner closes it).
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
    await this.snapshotting;
  }
}
