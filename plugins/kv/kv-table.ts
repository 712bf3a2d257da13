/**
 * The KV table (Consul's `kvs` + `tombstones` tables, agent/consul/state/kvs.go): entries by
 * key with a sorted key set for prefix scans, the graveyard of deleted keys that keeps a
 * prefix's index from sliding backwards, the session -> held keys index, and the table index.
 *
 * Entries are immutable: a write replaces the object, so a reader may keep one (and the JSON
 * text cached on it) without copying. Only the state extension mutates the table, inside apply.
 */
import { SortedKeys } from './sorted-keys.ts';

/** One key. `value` is the base64 text of the bytes (how the API and snapshots carry it), null when empty. */
export interface KvEntry {
  readonly key: string;
  readonly flags: bigint;
  readonly value: string | null;
  /** Holder session ID, '' when unlocked. */
  readonly session: string;
  readonly lockIndex: bigint;
  readonly createIndex: bigint;
  readonly modifyIndex: bigint;
  /** Compact DirEntry JSON, filled on first read (not state). */
  json?: string;
}

/** Records what a transaction changed, so a failed one can be undone exactly. */
export interface KvJournal {
  /** Called before the first change to `key`'s entry or tombstone in this transaction. */
  touch(key: string, entry: KvEntry | undefined, tombstone: bigint | undefined): void;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const num = (v: bigint): string => v.toString();

/** Compact DirEntry JSON (Consul field order; `Session` only when locked; empty value is null). */
export function dirEntryJson(e: KvEntry): string {
  if (e.json !== undefined) return e.json;
  const session = e.session === '' ? '' : `"Session":${JSON.stringify(e.session)},`;
  const value = e.value === null ? 'null' : `"${e.value}"`;
  e.json = `{"LockIndex":${num(e.lockIndex)},"Key":${JSON.stringify(e.key)},"Flags":${num(e.flags)},"Value":${value},${session}"CreateIndex":${num(e.createIndex)},"ModifyIndex":${num(e.modifyIndex)}}`;
  return e.json;
}

const wire = (v: bigint): number | bigint => (v <= MAX_SAFE ? Number(v) : v);

/** DirEntry as a response object (for pretty printing and transaction results); `withValue` false gives Value null. */
export function dirEntryObject(e: KvEntry, withValue = true): Record<string, unknown> {
  const o: Record<string, unknown> = { LockIndex: wire(e.lockIndex), Key: e.key, Flags: wire(e.flags), Value: withValue ? e.value : null };
  if (e.session !== '') o.Session = e.session;
  o.CreateIndex = wire(e.createIndex);
  o.ModifyIndex = wire(e.modifyIndex);
  return o;
}

/** True when a write of `b` over `a` changes nothing Consul compares (DirEntry.Equal). */
export function sameEntry(a: KvEntry, b: Omit<KvEntry, 'createIndex' | 'modifyIndex'>): boolean {
  return a.flags === b.flags && a.value === b.value && a.session === b.session && a.lockIndex === b.lockIndex;
}

export class KvTable {
  private readonly entries = new Map<string, KvEntry>();
  private readonly order = new SortedKeys();
  private readonly stones = new Map<string, bigint>();
  private readonly stoneOrder = new SortedKeys();
  private readonly held = new Map<string, Set<string>>();
  /** Max index of the kvs and tombstones tables (Consul's kvsMaxIndex). */
  private index = 0n;
  private stoneHigh = 0n;

  get size(): number {
    return this.entries.size;
  }

  get tombstoneCount(): number {
    return this.stones.size;
  }

  /** The table index: the last index that changed an entry or a tombstone (0n if none ever did). */
  get maxIndex(): bigint {
    return this.index;
  }

  set maxIndex(v: bigint) {
    this.index = v;
  }

  get(key: string): KvEntry | undefined {
    return this.entries.get(key);
  }

  tombstone(key: string): bigint | undefined {
    return this.stones.get(key);
  }

  /** Stores `entry` (insert or replace), moving the session index and the table index to its ModifyIndex. */
  put(entry: KvEntry, journal?: KvJournal): void {
    const old = this.entries.get(entry.key);
    journal?.touch(entry.key, old, this.stones.get(entry.key));
    if (old === undefined) this.order.add(entry.key);
    else if (old.session !== '' && old.session !== entry.session) this.unhold(old.session, entry.key);
    if (entry.session !== '' && old?.session !== entry.session) {
      let set = this.held.get(entry.session);
      if (!set) this.held.set(entry.session, (set = new Set()));
      set.add(entry.key);
    }
    this.entries.set(entry.key, entry);
    if (entry.modifyIndex > this.index) this.index = entry.modifyIndex;
  }

  /** Deletes `key` and leaves a tombstone at `index` (Consul's kvsDeleteTxn). False when absent (nothing changes). */
  delete(key: string, index: bigint, journal?: KvJournal): boolean {
    const old = this.entries.get(key);
    if (old === undefined) return false;
    journal?.touch(key, old, this.stones.get(key));
    this.removeEntry(old);
    this.setStone(key, index);
    this.index = index;
    return true;
  }

  /**
   * Deletes every key under `prefix` (Consul's kvsDeleteTreeTxn): one tombstone for the prefix
   * itself (none for '', where the table index covers everything). Returns the deleted keys.
   */
  deleteTree(prefix: string, index: bigint, journal?: KvJournal): string[] {
    const keys = this.order.prefixArray(prefix);
    if (keys.length === 0) return keys;
    if (journal && prefix !== '' && !this.entries.has(prefix)) journal.touch(prefix, undefined, this.stones.get(prefix));
    for (const k of keys) {
      const e = this.entries.get(k)!;
      journal?.touch(k, e, this.stones.get(k));
      this.removeEntry(e);
    }
    if (prefix !== '') this.setStone(prefix, index);
    this.index = index;
    return keys;
  }

  /** Puts back a key's entry and tombstone exactly as they were (transaction rollback). */
  restoreKey(key: string, entry: KvEntry | undefined, tombstone: bigint | undefined): void {
    const cur = this.entries.get(key);
    if (cur) this.removeEntry(cur);
    if (entry) this.put(entry);
    if (tombstone === undefined) {
      if (this.stones.delete(key)) this.stoneOrder.delete(key);
    } else this.setStone(key, tombstone);
  }

  private removeEntry(e: KvEntry): void {
    this.entries.delete(e.key);
    this.order.delete(e.key);
    if (e.session !== '') this.unhold(e.session, e.key);
  }

  private unhold(session: string, key: string): void {
    const set = this.held.get(session);
    if (set?.delete(key) && set.size === 0) this.held.delete(session);
  }

  private setStone(key: string, index: bigint): void {
    if (!this.stones.has(key)) this.stoneOrder.add(key);
    this.stones.set(key, index);
    if (index > this.stoneHigh) this.stoneHigh = index;
  }

  /** Highest index any tombstone was written at (never decreases; the tombstone GC schedules reaps from it). */
  get lastTombstoneIndex(): bigint {
    return this.stoneHigh;
  }

  /** Entries under `prefix`, sorted by key. */
  list(prefix: string): KvEntry[] {
    const out: KvEntry[] = [];
    for (const k of this.order.withPrefix(prefix)) out.push(this.entries.get(k)!);
    return out;
  }

  /** Keys under `prefix`; with `separator`, folded up to and including the first separator after the prefix (Consul's KVSListKeys). */
  keys(prefix: string, separator: string): string[] {
    const out: string[] = [];
    let last = '';
    for (const k of this.order.withPrefix(prefix)) {
      if (separator === '') {
        out.push(k);
        continue;
      }
      const at = k.indexOf(separator, prefix.length);
      if (at < 0) out.push(k);
      else {
        const folded = k.slice(0, at + separator.length);
        if (folded !== last) {
          out.push(folded);
          last = folded;
        }
      }
    }
    return out;
  }

  /**
   * The index of a prefix read (Consul's kvsListTxn): the highest ModifyIndex under the prefix
   * or tombstone under it; the table index when the prefix is '' or nothing is there.
   */
  prefixIndex(prefix: string): bigint {
    if (prefix === '') return this.index;
    let max = 0n;
    for (const k of this.order.withPrefix(prefix)) {
      const m = this.entries.get(k)!.modifyIndex;
      if (m > max) max = m;
    }
    for (const k of this.stoneOrder.withPrefix(prefix)) {
      const m = this.stones.get(k)!;
      if (m > max) max = m;
    }
    return max === 0n ? this.index : max;
  }

  /** Keys `session` holds, sorted (deterministic invalidation order). */
  heldBy(session: string): string[] {
    const set = this.held.get(session);
    if (!set) return [];
    return sortKeys([...set]);
  }

  /** Number of keys `session` holds. */
  heldCount(session: string): number {
    return this.held.get(session)?.size ?? 0;
  }

  /** Removes the tombstones at or below `upTo` (Consul's ReapTombstones); returns their keys. */
  reap(upTo: bigint): string[] {
    const gone: string[] = [];
    for (const [k, idx] of this.stones) if (idx <= upTo) gone.push(k);
    for (const k of gone) {
      this.stones.delete(k);
      this.stoneOrder.delete(k);
    }
    return gone;
  }

  /** Highest tombstone index (0n when none). */
  maxTombstone(): bigint {
    let max = 0n;
    for (const v of this.stones.values()) if (v > max) max = v;
    return max;
  }

  /** All entries in key order (snapshots). */
  allEntries(): KvEntry[] {
    return this.list('');
  }

  /** All tombstones in key order (snapshots). */
  allTombstones(): [string, bigint][] {
    return this.stoneOrder.all().map((k) => [k, this.stones.get(k)!]);
  }

  /** Restores a tombstone as is (snapshot restore). */
  putTombstone(key: string, index: bigint): void {
    this.setStone(key, index);
  }

  clear(): void {
    this.entries.clear();
    this.order.clear();
    this.stones.clear();
    this.stoneOrder.clear();
    this.held.clear();
    this.index = 0n;
    this.stoneHigh = 0n;
  }
}

/** Sorts keys in table order. */
export function sortKeys(keys: string[]): string[] {
  const s = new SortedKeys();
  for (const k of keys) s.add(k);
  return s.all();
}
