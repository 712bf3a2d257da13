/**
 * The in-memory engine: dev mode (`-dev`) and tests. Same contract as the rocksdb engine except
 * durability: nothing survives the process. Mutations apply synchronously at call time (so call
 * order is apply order) and resolve on a later microtask like a real engine would.
 */
import { ERR, HeraldError } from '../errors.ts';
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

class Closable {
  closed = false;
  check(): void {
    if (this.closed) throw new HeraldError(ERR.STORAGE_CLOSED, 'storage (memory) is closed');
  }
}

function copy(e: LogEntry): LogEntry {
  return { index: e.index, term: e.term, data: Buffer.from(e.data) };
}

/** The memory engine's Raft log: a dense array starting at `first`. */
class MemoryLogStore implements LogStore {
  private entries: LogEntry[] = [];
  private first = 0n;

  constructor(
    private readonly state: Closable,
    private readonly hooks: StorageHooks,
    private readonly stable: MemoryStableStore,
  ) {}

  private get last(): bigint {
    return this.entries.length === 0 ? 0n : this.first + BigInt(this.entries.length) - 1n;
  }

  async firstIndex(): Promise<bigint> {
    this.state.check();
    return this.entries.length === 0 ? 0n : this.first;
  }

  async lastIndex(): Promise<bigint> {
    this.state.check();
    return this.last;
  }

  async get(index: bigint): Promise<LogEntry | undefined> {
    this.state.check();
    checkIndex(index, 'get', true);
    if (this.entries.length === 0 || index < this.first || index > this.last) return undefined;
    return copy(this.entries[Number(index - this.first)]!);
  }

  async range(from: bigint, toInclusive: bigint, maxBytes?: number): Promise<LogEntry[]> {
    this.state.check();
    checkIndex(from, 'range');
    checkIndex(toInclusive, 'range', true);
    checkMaxBytes(maxBytes);
    if (this.entries.length === 0) return [];
    if (from < this.first) {
      throw new HeraldError(ERR.STORAGE_COMPACTED, `range: index ${from} is below first index ${this.first}`);
    }
    const to = toInclusive < this.last ? toInclusive : this.last;
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let i = from; i <= to; i++) {
      const e = this.entries[Number(i - this.first)]!;
      bytes += e.data.length;
      if (maxBytes !== undefined && out.length > 0 && bytes > maxBytes) break;
      out.push(copy(e));
    }
    return out;
  }

  async append(entries: LogEntry[], stable?: readonly StableWrite[]): Promise<void> {
    this.state.check();
    checkAppend(this.last, entries);
    for (const w of stable ?? []) this.stable.put(w.key, w.value);
    if (entries.length === 0) return;
    if (this.entries.length === 0) this.first = entries[0]!.index;
    for (const e of entries) this.entries.push(copy(e));
    this.hooks.onLogSync?.({ appends: 1, entries: entries.length });
  }

  async truncateAfter(index: bigint): Promise<void> {
    this.state.check();
    checkIndex(index, 'truncateAfter', true);
    if (index >= this.last) return;
    this.entries.length = index < this.first ? 0 : Number(index - this.first + 1n);
  }

  async compactUpTo(index: bigint): Promise<void> {
    this.state.check();
    checkIndex(index, 'compactUpTo', true);
    if (this.entries.length === 0 || index < this.first) return;
    if (index >= this.last) {
      this.entries = [];
      return;
    }
    this.entries.splice(0, Number(index - this.first + 1n));
    this.first = index + 1n;
  }
}

class MemoryStableStore implements StableStore {
  private readonly values = new Map<string, Buffer>();
  constructor(private readonly state: Closable) {}

  async get(key: string): Promise<Buffer | undefined> {
    this.state.check();
    const v = this.values.get(key);
    return v && Buffer.from(v);
  }

  async set(key: string, value: Buffer): Promise<void> {
    this.state.check();
    this.put(key, value);
  }

  /** A write with no checks (the log's append calls it for its `stable` writes). */
  put(key: string, value: Buffer): void {
    this.values.set(key, Buffer.from(value));
  }
}

class MemorySnapshotStore implements SnapshotStore {
  private snap: { meta: SnapshotMeta; data: Buffer } | undefined;
  constructor(private readonly state: Closable) {}

  async save(meta: SnapshotMeta, data: Buffer): Promise<void> {
    this.state.check();
    checkIndex(meta.index, 'snapshot save', true);
    checkIndex(meta.term, 'snapshot save', true);
    this.snap = { meta: { index: meta.index, term: meta.term }, data: Buffer.from(data) };
  }

  async latest(): Promise<{ meta: SnapshotMeta; data: Buffer } | undefined> {
    this.state.check();
    const s = this.snap;
    return s && { meta: { ...s.meta }, data: Buffer.from(s.data) };
  }
}

/** Creates an empty in-memory storage. `hooks.onLogSync` fires once per append (there is no sync to share). */
export function createMemoryStorage(hooks: StorageHooks = {}): Storage {
  const state = new Closable();
  const stable = new MemoryStableStore(state);
  return {
    engine: 'memory',
    log: new MemoryLogStore(state, hooks, stable),
    stable,
    snapshots: new MemorySnapshotStore(state),
    // Memory never fails a write, so there is nothing to recover from.
    failed: undefined,
    async recover() {
      state.check();
    },
    async close() {
      state.closed = true;
    },
  };
}
