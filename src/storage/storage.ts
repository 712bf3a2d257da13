/**
 * The storage seam (DESIGN principle 6): the Raft log, Raft's stable state (term, vote) and
 * snapshots go through these three interfaces, shaped after hashicorp/raft's LogStore,
 * StableStore and SnapshotStore. Two engines implement them: `memory` (dev mode, tests) and
 * `rocksdb` (whenever a data dir is given). Both pass the same contract suite.
 *
 * Indexes are `bigint` (Raft indexes are u64; a long-lived cluster can pass 2^53).
 * Buffers handed in are copied or encoded before the call returns, and buffers handed out
 * belong to the caller: neither side may see the other's later mutations.
 */
import { ERR, HeraldError } from '../errors.ts';

/** One Raft log entry; `data` is opaque to storage. */
export interface LogEntry {
  index: bigint;
  term: bigint;
  data: Buffer;
}

/**
 * The Raft log. Holds one contiguous run of entries `firstIndex()..lastIndex()`, or none.
 * Mutations (append, truncateAfter, compactUpTo) take effect in call order, even while earlier
 * ones are still syncing; reads see only entries whose mutation has resolved.
 */
export interface LogStore {
  /** Index of the oldest entry held, or 0n when the log is empty. */
  firstIndex(): Promise<bigint>;
  /** Index of the newest entry held, or 0n when the log is empty. */
  lastIndex(): Promise<bigint>;
  /** The entry at `index`, or undefined when it is not held (compacted, truncated, never written). */
  get(index: bigint): Promise<LogEntry | undefined>;
  /**
   * Entries `from..toInclusive` in order, clipped at lastIndex. With `maxBytes`, stops before the
   * entry that would take the summed `data` length over it, but always returns at least one entry
   * when any is in range (etcd's limitSize rule, so a huge entry cannot stall replication).
   * Rejects STORAGE_COMPACTED when `from` is below firstIndex of a non-empty log.
   */
  range(from: bigint, toInclusive: bigint, maxBytes?: number): Promise<LogEntry[]>;
  /**
   * Appends entries with indexes ascending by one. When the log (counting earlier, still pending
   * mutations) is non-empty, the first must be lastIndex + 1; an empty log accepts any start >= 1
   * (after compaction or snapshot install). Rejects STORAGE_NOT_CONTIGUOUS and writes nothing
   * otherwise. Resolves only once the entries are durable (fsync'd); appends issued while a sync
   * is in flight share the next single sync (group commit).
   *
   * `stable`: StableStore keys set in the same atomic, synced write as the entries. Raft's hard
   * state rides with the entries of its Ready this way (etcd's WAL records HardState beside the
   * entries), one fsync instead of two. Applied even when `entries` is empty.
   */
  append(entries: LogEntry[], stable?: readonly StableWrite[]): Promise<void>;
  /** Drops every entry above `index` (a conflicting suffix, Raft §5.3). Durable when it resolves. */
  truncateAfter(index: bigint): Promise<void>;
  /** Drops every entry at or below `index` (covered by a snapshot, Raft §7). May empty the log. */
  compactUpTo(index: bigint): Promise<void>;
}

/** One StableStore key written together with a log append. */
export interface StableWrite {
  readonly key: string;
  readonly value: Buffer;
}

/** Raft's small persistent state (current term, voted-for). */
export interface StableStore {
  /** The value last set under `key`, or undefined. Rejects STORAGE_CORRUPT on a bad checksum. */
  get(key: string): Promise<Buffer | undefined>;
  /** Durable (fsync'd) when it resolves. */
  set(key: string, value: Buffer): Promise<void>;
}

/** Which log prefix a snapshot covers. */
export interface SnapshotMeta {
  index: bigint;
  term: bigint;
}

/** Holds the latest state-machine snapshot. */
export interface SnapshotStore {
  /** Replaces the latest snapshot; durable and atomic when it resolves (old or new, never a mix). */
  save(meta: SnapshotMeta, data: Buffer): Promise<void>;
  /** The latest saved snapshot, or undefined. Rejects STORAGE_CORRUPT on a bad checksum. */
  latest(): Promise<{ meta: SnapshotMeta; data: Buffer } | undefined>;
}

/** One engine's three stores. After close() every call rejects STORAGE_CLOSED. */
export interface Storage {
  readonly engine: 'memory' | 'rocksdb';
  readonly log: LogStore;
  readonly stable: StableStore;
  readonly snapshots: SnapshotStore;
  /**
   * The error of a failed sync (STORAGE_NO_SPACE for a full disk, else STORAGE_IO), or
   * undefined while writable. Once set, every write rejects with it until recover() succeeds:
   * after a failed fsync the engine cannot tell what reached the disk.
   */
  readonly failed: HeraldError | undefined;
  /**
   * After a failed sync: releases the engine and opens it again, so it re-reads what is
   * durable (a write that failed may or may not be there: callers that refused it must drop
   * it, e.g. truncateAfter their last acknowledged index). Resolves once writable again (at
   * once when not failed); rejects and stays failed while the cause (a full disk) persists.
   */
  recover(): Promise<void>;
  /** Waits for pending writes, then releases the engine (the RocksDB lock). Idempotent. */
  close(): Promise<void>;
}

/** Observation points for tests and metrics; called synchronously, must not throw. */
export interface StorageHooks {
  /** After each durable log write: how many append() calls and entries shared that one sync. */
  onLogSync?(info: { appends: number; entries: number }): void;
}

/** Largest Raft index (u64). */
export const MAX_INDEX = (1n << 64n) - 1n;

/**
 * Throws STORAGE_INVALID unless `index` is a u64 (`allowZero` for "nothing": truncateAfter(0n)).
 */
export function checkIndex(index: bigint, what: string, allowZero = false): void {
  if (typeof index !== 'bigint' || index < (allowZero ? 0n : 1n) || index > MAX_INDEX) {
    throw new HeraldError(ERR.STORAGE_INVALID, `${what}: index ${String(index)} is not a u64 ${allowZero ? '' : 'above 0'}`.trimEnd());
  }
}

/**
 * Throws unless `entries` ascend by one from `lastIndex + 1` (or from any index >= 1 when the
 * log is empty, `lastIndex === 0n`), with u64 terms and Buffer data. Shared by both engines so
 * they refuse exactly the same appends.
 */
export function checkAppend(lastIndex: bigint, entries: LogEntry[]): void {
  let expect = lastIndex === 0n ? undefined : lastIndex + 1n;
  for (const e of entries) {
    checkIndex(e.index, 'append');
    if (typeof e.term !== 'bigint' || e.term < 0n || e.term > MAX_INDEX) {
      throw new HeraldError(ERR.STORAGE_INVALID, `append: term ${String(e.term)} of index ${e.index} is not a u64`);
    }
    if (!Buffer.isBuffer(e.data)) {
      throw new HeraldError(ERR.STORAGE_INVALID, `append: data of index ${e.index} is not a Buffer`);
    }
    if (expect !== undefined && e.index !== expect) {
      throw new HeraldError(
        ERR.STORAGE_NOT_CONTIGUOUS,
        `append: got index ${e.index}, expected ${expect} (log ends at ${lastIndex})`,
      );
    }
    expect = e.index + 1n;
  }
}

/** Throws STORAGE_INVALID unless `maxBytes` is undefined or a non-negative finite number. */
export function checkMaxBytes(maxBytes: number | undefined): void {
  if (maxBytes !== undefined && !(Number.isFinite(maxBytes) && maxBytes >= 0)) {
    throw new HeraldError(ERR.STORAGE_INVALID, `range: maxBytes ${maxBytes} is not a non-negative number`);
  }
}
