/**
 * The health-filtered answer cache (DESIGN.md principle 1): finished wire replies keyed by the
 * query's cache key (wire-query.ts), bounded in bytes, dropped exactly and synchronously when
 * something they were built from changes.
 *
 * - Bound: `lru-cache` with maxSize = maxBytes; an entry costs its reply buffers plus its key.
 *   An entry larger than the whole bound is not stored.
 * - Dependencies: each entry lists opaque dep strings (a service name, a node name, ...). The
 *   index dep -> keys is kept exact through every way an entry leaves (eviction, replacement,
 *   invalidation, clear) by lru-cache's synchronous `dispose`, so it never leaks and
 *   invalidate() costs O(entries affected).
 * - TTLs are not decremented at send time (the Knot lesson applies to cached upstream data):
 *   these answers are authoritative and rebuilt on change, so their TTLs stay what they were.
 * - Variants: one answer in several instance orders, served in rotation, so hits still spread
 *   load as Consul's per-response shuffle does. The truncation point is baked into each variant
 *   (keys differ per transport and EDNS size), as Knot stores it with the cached answer.
 */
import { LRUCache } from 'lru-cache';
import { ERR, HeraldError } from '../errors.ts';
import type { QueryView } from './wire-query.ts';

/** One cached answer. The buffers are shared: never send or mutate them, send replyFromCache's copy. */
export interface CachedAnswer {
  readonly variants: readonly Buffer[];
  readonly deps: readonly string[];
  /** What this entry counts against the bound: its buffers plus its key. */
  readonly bytes: number;
  /** Index of the variant the next hit serves. */
  next: number;
}

/** Hit/miss/invalidation counters; the cache only increments them. */
export interface AnswerCacheStats {
  hits: number;
  misses: number;
  /** Entries dropped by invalidate() (not evictions, not clear()). */
  invalidations: number;
}

/** Wire answers by cache key, bounded in bytes, with exact dependency invalidation. */
export class AnswerCache {
  readonly stats: AnswerCacheStats = { hits: 0, misses: 0, invalidations: 0 };
  readonly maxBytes: number;
  private readonly lru: LRUCache<string, CachedAnswer>;
  /** dep -> keys of the entries that list it. Exact: maintained by `dispose`. */
  private readonly index = new Map<string, Set<string>>();

  /** Throws HERALD_ERR_CONFIG_INVALID unless maxBytes is a positive integer. */
  constructor(opts: { maxBytes: number }) {
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 1) {
      throw new HeraldError(ERR.CONFIG_INVALID, `answer cache maxBytes must be a positive integer, got ${opts.maxBytes}`);
    }
    this.maxBytes = opts.maxBytes;
    this.lru = new LRUCache<string, CachedAnswer>({
      maxSize: opts.maxBytes,
      sizeCalculation: (entry) => entry.bytes,
      // Runs synchronously for every entry that leaves: evicted, replaced, deleted, cleared.
      dispose: (entry, key) => this.unindex(key, entry.deps),
    });
  }

  /** The entry for `key` (marking it recently used), or undefined. Counts a hit or a miss. */
  get(key: string): CachedAnswer | undefined {
    const entry = this.lru.get(key);
    if (entry === undefined) this.stats.misses++;
    else this.stats.hits++;
    return entry;
  }

  /**
   * Store the reply variants for `key` (the same answer with instances in different orders; hits
   * rotate through them), to be dropped when any of `deps` is invalidated. Replaces an existing
   * entry. Not stored (and any old entry removed) when `variants` is empty or the entry alone
   * exceeds maxBytes. May evict least-recently-used entries to stay within maxBytes.
   */
  set(key: string, variants: Buffer[], deps: readonly string[]): void {
    let bytes = key.length;
    for (const v of variants) bytes += v.length;
    if (variants.length === 0 || bytes > this.maxBytes) {
      this.lru.delete(key);
      return;
    }
    const entry: CachedAnswer = { variants: variants.slice(), deps: Array.from(new Set(deps)), bytes, next: 0 };
    // Set first: replacing disposes the old entry, which unindexes this key from its deps.
    this.lru.set(key, entry);
    for (const dep of entry.deps) {
      let keys = this.index.get(dep);
      if (keys === undefined) {
        keys = new Set();
        this.index.set(dep, keys);
      }
      keys.add(key);
    }
  }

  /** Whether `key` is cached, without counting a hit or touching its recency. */
  has(key: string): boolean {
    return this.lru.has(key);
  }

  /** Drop exactly the entries that depend on any of `deps`, synchronously. Returns how many. */
  invalidate(deps: Iterable<string>): number {
    let dropped = 0;
    for (const dep of deps) {
      const keys = this.index.get(dep);
      if (keys === undefined) continue;
      // delete() disposes, which removes the key from this very set: iterating a Set while
      // deleting visited members is well defined.
      for (const key of keys) {
        if (this.lru.delete(key)) dropped++;
      }
    }
    this.stats.invalidations += dropped;
    return dropped;
  }

  /** Drop everything (reload). */
  clear(): void {
    this.lru.clear();
    this.index.clear();
  }

  /** Entries cached. */
  get size(): number {
    return this.lru.size;
  }

  /** Bytes counted against maxBytes. */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /** Keys currently indexed under `dep` (diagnostics and tests). */
  keysFor(dep: string): string[] {
    const keys = this.index.get(dep);
    return keys === undefined ? [] : Array.from(keys);
  }

  /** Deps with at least one entry (diagnostics and tests: the index holds nothing else). */
  get depCount(): number {
    return this.index.size;
  }

  private unindex(key: string, deps: readonly string[]): void {
    for (const dep of deps) {
      const keys = this.index.get(dep);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.index.delete(dep);
    }
  }
}

/**
 * Build the reply to `query` from a cached entry: a copy of the next variant (rotating) with the
 * query's ID, its RD and CD bits (RFC 1035 §4.1.1, RFC 4035 §3.1.6), and the question name bytes
 * exactly as the client cased them (same length by construction: the key holds the lowercased
 * name). `view` must be readQuery's OK view of `query`. Returns a new Buffer the caller owns.
 * No exceptions, one allocation.
 */
export function replyFromCache(entry: CachedAnswer, query: Buffer, view: QueryView): Buffer {
  const variants = entry.variants;
  const i = entry.next;
  const v = variants[i]!;
  entry.next = i + 1 === variants.length ? 0 : i + 1;
  const len = v.length;
  // allocUnsafe takes small replies from Node's pool; TypedArray#set is a plain memcpy, cheaper
  // than Buffer#copy's argument handling for ~100-byte copies.
  const reply = Buffer.allocUnsafe(len);
  reply.set(v);
  reply[0] = query[0]!;
  reply[1] = query[1]!;
  reply[2] = (v[2]! & 0xfe) | (query[2]! & 0x01);
  reply[3] = (v[3]! & 0xef) | (query[3]! & 0x10);
  // A reply trimmed down to its header has no question to patch.
  const end = view.qnameEnd;
  if (v[5] === 1 && v[4] === 0 && end <= len) {
    for (let i = 12; i < end; i++) reply[i] = query[i]!;
  }
  return reply;
}
