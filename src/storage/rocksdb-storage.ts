/**
 * The rocksdb engine (`@nxtedition/rocksdb`), the default whenever a data dir is given.
 *
 * Key layout (one RocksDB, byte-ordered keys):
 * - `log/` + u64 BE index -> log-entry record (log-record.ts). Big-endian so iteration order is
 *   index order, including beyond 2^53.
 * - `stable/` + utf8 key   -> record of the value.
 * - `snap/latest`          -> record of `[u64 index][u64 term][data]`. Snapshots live in RocksDB,
 *   not in files: one synced WriteBatch is atomic through the WAL, so there is no
 *   tmp+fsync+rename+fsync-dir sequence to get right, and one engine holds all state. The cost
 *   (the snapshot passes through WAL and memtable) is fine at catalog sizes (MBs); streamed
 *   file snapshots are the move if they grow to hundreds of MB.
 * - `meta/format`          -> `1`; any other value refuses to open.
 *
 * Durability: every write that must survive a crash is `batch(ops, { sync: true })` (RocksDB
 * WriteOptions.sync: WAL fsync before return). The binding performs that write, fsync included,
 * synchronously on whichever thread calls it (binding.cc `batch_write`), so by default the
 * database lives on its own worker thread (rocks-thread.ts) and the JS thread only posts
 * batches; group commit (below, on the JS thread) still shares one fsync among every append
 * that queued while the previous one was in flight.
 *
 * A failed sync (a full disk: ENOSPC) leaves RocksDB refusing every later write with the same
 * error, even after space is freed (its background error is sticky), and the page cache can no
 * longer be trusted (fsyncgate). So the engine marks itself failed, rejects every write, and
 * `recover()` closes and reopens the database, which re-reads only what is durable.
 */
import { createRequire } from 'node:module';
import { ERR, HeraldError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { decodeLogEntry, decodeRecord, encodeLogEntry, encodeRecord } from './log-record.ts';
import { threadRocks } from './rocks-thread.ts';
import {
  checkAppend,
  checkIndex,
  checkMaxBytes,
  type LogEntry,
  type LogStore,
  type SnapshotMeta,
  type SnapshotStore,
  type StableStore,
  type StableWrite,
  type Storage,
  type StorageHooks,
} from './storage.ts';

/** The slice of abstract-level's API this engine uses (the package ships no types). */
export interface RawRocks {
  open(): Promise<void>;
  close(): Promise<void>;
  get(key: Buffer): Promise<Buffer>;
  batch(ops: RawBatchOp[], options: { sync: boolean }): Promise<void>;
  iterator(options: { gte?: Buffer; gt?: Buffer; lt?: Buffer; lte?: Buffer; limit?: number; reverse?: boolean }): {
    nextv(size: number): Promise<Array<[Buffer, Buffer]>>;
    close(): Promise<void>;
  };
}
/** One write in a RocksDB batch. */
export type RawBatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

const { RocksLevel } = createRequire(import.meta.url)('@nxtedition/rocksdb') as {
  RocksLevel: new (location: string, options: { keyEncoding: 'buffer'; valueEncoding: 'buffer' }) => RawRocks;
};

/**
 * A raw RocksLevel handle with buffer keys and values, on the calling thread (tests, tooling,
 * and the `thread: 'main'` engine the benchmark compares against); not opened yet.
 */
export function rawRocks(dir: string): RawRocks {
  return new RocksLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
}

const LOG_PREFIX = Buffer.from('log/');
/** Exclusive upper bound of the `log/` range: '0' is the byte after '/'. */
const LOG_END = Buffer.from('log0');
const STABLE_PREFIX = 'stable/';
const SNAP_KEY = Buffer.from('snap/latest');
const FORMAT_KEY = Buffer.from('meta/format');
const FORMAT = '1';
const SCAN_CHUNK = 1024;

/** The RocksDB key of log index `index`: `log/` + u64 BE. */
export function logKey(index: bigint): Buffer {
  const k = Buffer.allocUnsafe(LOG_PREFIX.length + 8);
  LOG_PREFIX.copy(k, 0);
  k.writeBigUInt64BE(index, LOG_PREFIX.length);
  return k;
}

function keyIndex(key: Buffer): bigint | undefined {
  return key.length === LOG_PREFIX.length + 8 ? key.readBigUInt64BE(LOG_PREFIX.length) : undefined;
}

/**
 * A storage failure as users see it (an HTTP 500 body, a log line): `storage: ...`, and for a
 * full disk STORAGE_NO_SPACE with `storage: no space left on device: ...` up front.
 */
export function storageIoError(what: string, err: unknown): HeraldError {
  const message = errorText(err);
  if ((err as { code?: string })?.code === 'ENOSPC' || /no space left on device/i.test(message)) {
    return new HeraldError(ERR.STORAGE_NO_SPACE, `storage: no space left on device: ${what} failed: ${message}`, { cause: err });
  }
  return new HeraldError(ERR.STORAGE_IO, `storage: ${what} failed: ${message}`, { cause: err });
}

/** An error's message, with its cause's when it has one (abstract-level wraps open failures). */
function errorText(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } } | undefined;
  const message = e?.message ?? String(err);
  return e?.cause?.message ? `${message}: ${e.cause.message}` : message;
}

async function getOrUndefined(db: RawRocks, key: Buffer): Promise<Buffer | undefined> {
  try {
    return await db.get(key);
  } catch (err) {
    if ((err as { code?: string }).code === 'LEVEL_NOT_FOUND') return undefined;
    throw storageIoError(`read ${key.toString('latin1')}`, err);
  }
}

async function syncWrite(db: RawRocks, ops: RawBatchOp[], what: string): Promise<void> {
  try {
    await db.batch(ops, { sync: true });
  } catch (err) {
    throw storageIoError(`${what} (sync write)`, err);
  }
}

/** The batch op that sets StableStore key `key`. */
function stablePut(key: string, value: Buffer): RawBatchOp {
  return { type: 'put', key: Buffer.from(STABLE_PREFIX + key), value: encodeRecord(value) };
}

/** The run of indexes held; `last === 0n` means empty (then `first === 0n`). */
interface Tail {
  first: bigint;
  last: bigint;
}

type LogOp =
  | { kind: 'append'; first: bigint; last: bigint; entries: number; ops: RawBatchOp[]; resolve: () => void; reject: (e: Error) => void }
  | { kind: 'truncate' | 'compact'; index: bigint; resolve: () => void; reject: (e: Error) => void };

/** The tail after `op`; the same rule for validating at call time and for committing. */
function nextTail(t: Tail, op: LogOp): Tail {
  if (op.kind === 'append') {
    if (op.entries === 0) return t;
    return t.last === 0n ? { first: op.first, last: op.last } : { first: t.first, last: op.last };
  }
  if (op.kind === 'truncate') {
    if (op.index >= t.last) return t;
    return op.index < t.first ? { first: 0n, last: 0n } : { first: t.first, last: op.index };
  }
  if (t.last === 0n || op.index < t.first) return t;
  return op.index >= t.last ? { first: 0n, last: 0n } : { first: op.index + 1n, last: t.last };
}

/** The open handle and the engine's state, shared by the three stores (recover() swaps `db`). */
class Lifecycle {
  closed = false;
  /** Set by a failed sync: the page cache can no longer be trusted (fsyncgate), so stop writing. */
  failed: HeraldError | undefined;
  constructor(public db: RawRocks) {}
  check(): void {
    if (this.closed) throw new HeraldError(ERR.STORAGE_CLOSED, 'storage (rocksdb) is closed');
  }
  checkWritable(): void {
    this.check();
    if (this.failed) throw this.failed;
  }
  /** A synced write; a failure marks the engine failed (every later write then refuses). */
  async write(ops: RawBatchOp[], what: string): Promise<void> {
    try {
      await syncWrite(this.db, ops, what);
    } catch (err) {
      this.failed ??= err as HeraldError;
      throw err;
    }
  }
}

/**
 * The Raft log over RocksDB with group commit: mutations queue in call order; each flush (one
 * per event-loop turn, via setImmediate so every append issued in the current turn joins) writes
 * all consecutive queued appends as one synced batch. Truncate and compact run as their own batch.
 */
class RocksLogStore implements LogStore {
  /** What reads see: the result of every resolved mutation. */
  private committed: Tail;
  /** The result of every accepted mutation, resolved or queued; appends are checked against it. */
  private queuedTail: Tail;
  private readonly queue: LogOp[] = [];
  private scheduled = false;
  private flushing = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly life: Lifecycle,
    private readonly hooks: StorageHooks,
    tail: Tail,
  ) {
    this.committed = tail;
    this.queuedTail = tail;
  }

  /** After a reopen: what the log holds now (nothing is queued: a failed sync rejected it all). */
  resetTail(tail: Tail): void {
    this.committed = tail;
    this.queuedTail = tail;
  }

  async firstIndex(): Promise<bigint> {
    this.life.check();
    return this.committed.first;
  }

  async lastIndex(): Promise<bigint> {
    this.life.check();
    return this.committed.last;
  }

  async get(index: bigint): Promise<LogEntry | undefined> {
    this.life.check();
    checkIndex(index, 'get', true);
    const { first, last } = this.committed;
    if (last === 0n || index < first || index > last) return undefined;
    const v = await getOrUndefined(this.life.db, logKey(index));
    if (v === undefined) return undefined;
    return this.decode(index, v);
  }

  async range(from: bigint, toInclusive: bigint, maxBytes?: number): Promise<LogEntry[]> {
    this.life.check();
    checkIndex(from, 'range');
    checkIndex(toInclusive, 'range', true);
    checkMaxBytes(maxBytes);
    const { first, last } = this.committed;
    if (last === 0n) return [];
    if (from < first) throw new HeraldError(ERR.STORAGE_COMPACTED, `range: index ${from} is below first index ${first}`);
    const to = toInclusive < last ? toInclusive : last;
    if (from > to) return [];
    const it = this.life.db.iterator({ gte: logKey(from), lte: logKey(to) });
    const out: LogEntry[] = [];
    let bytes = 0;
    let expect = from;
    try {
      for (;;) {
        const chunk = await it.nextv(SCAN_CHUNK);
        if (chunk.length === 0) break;
        for (const [k, v] of chunk) {
          const index = keyIndex(k);
          if (index !== expect) {
            throw new HeraldError(ERR.STORAGE_CORRUPT, `log: expected index ${expect}, found key for ${String(index)}`);
          }
          const e = this.decode(index, v);
          bytes += e.data.length;
          if (maxBytes !== undefined && out.length > 0 && bytes > maxBytes) return out;
          out.push(e);
          expect++;
        }
      }
    } finally {
      await it.close();
    }
    return out;
  }

  private decode(index: bigint, value: Buffer): LogEntry {
    const r = decodeLogEntry(index, value);
    if (!r.ok) throw new HeraldError(ERR.STORAGE_CORRUPT, `log: entry ${index}: ${r.reason}`);
    return { index, term: r.term, data: r.data };
  }

  append(entries: LogEntry[], stable?: readonly StableWrite[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.life.checkWritable();
      checkAppend(this.queuedTail.last, entries);
      if (entries.length === 0 && !stable?.length) return resolve();
      const ops: RawBatchOp[] = entries.map((e) => ({
        type: 'put',
        key: logKey(e.index),
        value: encodeLogEntry(e.index, e.term, e.data),
      }));
      for (const w of stable ?? []) ops.push(stablePut(w.key, w.value));
      // An append of only stable writes leaves the tail as it is (first > last: nextTail skips it).
      const first = entries.length > 0 ? entries[0]!.index : 1n;
      const last = entries.length > 0 ? entries[entries.length - 1]!.index : 0n;
      this.enqueue({ kind: 'append', first, last, entries: entries.length, ops, resolve, reject });
    });
  }

  truncateAfter(index: bigint): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.life.checkWritable();
      checkIndex(index, 'truncateAfter', true);
      this.enqueue({ kind: 'truncate', index, resolve, reject });
    });
  }

  compactUpTo(index: bigint): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.life.checkWritable();
      checkIndex(index, 'compactUpTo', true);
      this.enqueue({ kind: 'compact', index, resolve, reject });
    });
  }

  private enqueue(op: LogOp): void {
    this.queuedTail = nextTail(this.queuedTail, op);
    this.queue.push(op);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Deletes for a truncate/compact, computed against the committed tail (all earlier ops done). */
  private deletes(op: LogOp & { kind: 'truncate' | 'compact' }): RawBatchOp[] {
    const { first, last } = this.committed;
    if (last === 0n) return [];
    let lo: bigint;
    let hi: bigint;
    if (op.kind === 'truncate') {
      lo = op.index + 1n > first ? op.index + 1n : first;
      hi = last;
    } else {
      lo = first;
      hi = op.index < last ? op.index : last;
    }
    const ops: RawBatchOp[] = [];
    for (let i = lo; i <= hi; i++) ops.push({ type: 'del', key: logKey(i) });
    return ops;
  }

  private async flush(): Promise<void> {
    if (this.queue.length === 0) return this.notifyIdle();
    this.flushing = true;
    const head = this.queue[0]!;
    let group: LogOp[];
    let ops: RawBatchOp[];
    if (head.kind === 'append') {
      let n = 0;
      while (n < this.queue.length && this.queue[n]!.kind === 'append') n++;
      group = this.queue.splice(0, n);
      ops = group.flatMap((o) => (o.kind === 'append' ? o.ops : []));
    } else {
      group = this.queue.splice(0, 1);
      ops = this.deletes(head);
    }
    try {
      if (ops.length > 0) await this.life.write(ops, `log ${head.kind}`);
    } catch (err) {
      // After a failed fsync nothing later may claim durability: fail this group and every
      // queued op, and refuse further writes until the store is reopened.
      const all = group.concat(this.queue.splice(0));
      for (const o of all) o.reject(err as Error);
      this.flushing = false;
      return this.notifyIdle();
    }
    let appends = 0;
    for (const o of group) {
      this.committed = nextTail(this.committed, o);
      if (o.kind === 'append') appends++;
    }
    if (appends > 0) this.hooks.onLogSync?.({ appends, entries: group.reduce((n, o) => n + (o.kind === 'append' ? o.entries : 0), 0) });
    for (const o of group) o.resolve();
    this.flushing = false;
    if (this.queue.length > 0) this.schedule();
    else this.notifyIdle();
  }

  private notifyIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Resolves once every queued mutation has settled. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.flushing && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

class RocksStableStore implements StableStore {
  constructor(private readonly life: Lifecycle) {}

  async get(key: string): Promise<Buffer | undefined> {
    this.life.check();
    const v = await getOrUndefined(this.life.db, Buffer.from(STABLE_PREFIX + key));
    if (v === undefined) return undefined;
    const r = decodeRecord(v);
    if (!r.ok) throw new HeraldError(ERR.STORAGE_CORRUPT, `stable ${JSON.stringify(key)}: ${r.reason}`);
    return Buffer.from(r.payload);
  }

  async set(key: string, value: Buffer): Promise<void> {
    this.life.checkWritable();
    await this.life.write([stablePut(key, value)], `stable set ${JSON.stringify(key)}`);
  }
}

class RocksSnapshotStore implements SnapshotStore {
  constructor(private readonly life: Lifecycle) {}

  async save(meta: SnapshotMeta, data: Buffer): Promise<void> {
    this.life.checkWritable();
    checkIndex(meta.index, 'snapshot save', true);
    checkIndex(meta.term, 'snapshot save', true);
    const payload = Buffer.allocUnsafe(16 + data.length);
    payload.writeBigUInt64BE(meta.index, 0);
    payload.writeBigUInt64BE(meta.term, 8);
    payload.set(data, 16);
    await this.life.write([{ type: 'put', key: SNAP_KEY, value: encodeRecord(payload) }], 'snapshot save');
  }

  async latest(): Promise<{ meta: SnapshotMeta; data: Buffer } | undefined> {
    this.life.check();
    const v = await getOrUndefined(this.life.db, SNAP_KEY);
    if (v === undefined) return undefined;
    const r = decodeRecord(v);
    if (!r.ok || r.payload.length < 16) {
      throw new HeraldError(ERR.STORAGE_CORRUPT, `snapshot: ${r.ok ? 'payload shorter than its meta' : r.reason}`);
    }
    return {
      meta: { index: r.payload.readBigUInt64BE(0), term: r.payload.readBigUInt64BE(8) },
      data: Buffer.from(r.payload.subarray(16)),
    };
  }
}

/**
 * Scans the whole log once: every record's checksum and the run's contiguity. The first bad
 * record or gap ends the log; it and everything after it are deleted (synced) and the dropped
 * index range is logged, because Raft can re-fetch a lost suffix from the leader but must never
 * apply a damaged entry.
 */
async function recoverLog(db: RawRocks, logger: Logger): Promise<Tail> {
  let first = 0n;
  let last = 0n;
  let bad: { at: bigint; reason: string } | undefined;
  const drop: Buffer[] = [];
  let dropLast = 0n;
  const it = db.iterator({ gte: LOG_PREFIX, lt: LOG_END });
  try {
    for (;;) {
      const chunk = await it.nextv(SCAN_CHUNK);
      if (chunk.length === 0) break;
      for (const [k, v] of chunk) {
        const index = keyIndex(k);
        if (bad === undefined) {
          if (index === undefined) bad = { at: last + 1n, reason: `malformed key ${k.toString('hex')}` };
          else if (last !== 0n && index !== last + 1n) bad = { at: index, reason: `index ${last + 1n} is missing` };
          else {
            const r = decodeLogEntry(index, v);
            if (!r.ok) bad = { at: index, reason: `entry ${index}: ${r.reason}` };
            else {
              if (last === 0n) first = index;
              last = index;
              continue;
            }
          }
        }
        drop.push(k);
        if (index !== undefined && index > dropLast) dropLast = index;
      }
    }
  } finally {
    await it.close();
  }
  if (bad !== undefined) {
    await syncWrite(db, drop.map((key) => ({ type: 'del', key })), 'log recovery');
    logger.warn(
      `log: dropped entries ${bad.at}..${dropLast} (${drop.length} records) on open: ${bad.reason}; log now ends at ${last}`,
    );
  }
  return { first, last };
}

/** Options for {@link openRocksStorage}. */
export interface RocksStorageOptions {
  /** The RocksDB directory; created when missing. */
  dir: string;
  /** Receives recovery warnings (dropped log ranges). */
  logger?: Logger;
  hooks?: StorageHooks;
  /**
   * Where the binding runs: `worker` (default) on its own thread (rocks-thread.ts), `main` on
   * the calling thread (what the event-loop benchmark compares against).
   */
  thread?: 'worker' | 'main';
  /** Tests: wrap the raw handle (to inject I/O faults). Called for every (re)open. */
  wrap?: (db: RawRocks) => RawRocks;
}

/** Opens the raw handle for `opts`, mapping RocksDB's refusals to STORAGE_OPEN / STORAGE_NO_SPACE. */
async function openRaw(opts: RocksStorageOptions): Promise<RawRocks> {
  const inner = opts.thread === 'main' ? rawRocks(opts.dir) : threadRocks(opts.dir);
  const db = opts.wrap ? opts.wrap(inner) : inner;
  try {
    await db.open();
  } catch (err) {
    await db.close().catch(() => {});
    const e = err as { code?: string; cause?: { code?: string } };
    const text = errorText(err);
    if (e.code === 'LEVEL_LOCKED' || e.cause?.code === 'LEVEL_LOCKED') {
      throw new HeraldError(
        ERR.STORAGE_OPEN,
        `storage: ${opts.dir} is in use by another process (is another herald agent running with this data dir?): ${text}`,
        { cause: err },
      );
    }
    const io = storageIoError(`open ${opts.dir}`, err);
    if (io.code === ERR.STORAGE_NO_SPACE) throw io;
    throw new HeraldError(ERR.STORAGE_OPEN, `storage: cannot open RocksDB at ${opts.dir}: ${text}`, { cause: err });
  }
  return db;
}

/** Checks (or writes) the format marker, then recovers the log; closes `db` on failure. */
async function prepare(db: RawRocks, opts: RocksStorageOptions, logger: Logger): Promise<Tail> {
  try {
    const format = await getOrUndefined(db, FORMAT_KEY);
    if (format === undefined) {
      await syncWrite(db, [{ type: 'put', key: FORMAT_KEY, value: Buffer.from(FORMAT) }], 'format marker');
    } else if (format.toString() !== FORMAT) {
      throw new HeraldError(ERR.STORAGE_OPEN, `storage: ${opts.dir} has format ${JSON.stringify(format.toString())}, this build reads ${FORMAT}`);
    }
    return await recoverLog(db, logger);
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

/**
 * Opens (or creates) the rocksdb engine in `dir`, verifies the log (see recoverLog) and returns
 * the storage. Rejects STORAGE_OPEN when RocksDB refuses (another process holds the LOCK: the
 * message says so) or the format marker is unknown, STORAGE_NO_SPACE when the disk is full.
 */
export async function openRocksStorage(opts: RocksStorageOptions): Promise<Storage> {
  const logger = opts.logger ?? silentLogger;
  const first = await openRaw(opts);
  const tail = await prepare(first, opts, logger);
  const life = new Lifecycle(first);
  const log = new RocksLogStore(life, opts.hooks ?? {}, tail);
  let closing: Promise<void> | undefined;
  let recovering: Promise<void> | undefined;
  return {
    engine: 'rocksdb',
    log,
    stable: new RocksStableStore(life),
    snapshots: new RocksSnapshotStore(life),
    get failed() {
      return life.failed;
    },
    recover() {
      life.check();
      if (!life.failed) return Promise.resolve();
      recovering ??= (async () => {
        try {
          await log.idle();
          // RocksDB's close may report the same background error; the handle is gone either way.
          await life.db.close().catch(() => {});
          const db = await openRaw(opts);
          const t = await prepare(db, opts, logger);
          life.db = db;
          log.resetTail(t);
          logger.warn(`storage reopened after a failed write; the log ends at ${t.last}`);
          life.failed = undefined;
        } finally {
          recovering = undefined;
        }
      })();
      return recovering;
    },
    close() {
      closing ??= (async () => {
        await recovering?.catch(() => {});
        await log.idle();
        life.closed = true;
        await life.db.close().catch((err) => {
          // A handle already closed by a failed recover() has nothing left to release.
          if (!life.failed) throw err;
        });
      })();
      return closing;
    },
  };
}
