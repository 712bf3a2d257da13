/**
 * An ordered set of strings in UTF-8 byte order (Consul's go-memdb radix tree order), built for
 * prefix scans that touch only the keys under the prefix.
 *
 * Keys live in sorted chunks of at most CHUNK keys (a two-level "sorted list"): a lookup is a
 * binary search over the chunks' first keys, then one inside a chunk; an insert or delete moves
 * at most CHUNK pointers, so a table of a million keys never memmoves megabytes per write, and a
 * prefix scan starts at the first key >= the prefix and stops at the first that does not start
 * with it.
 */

/** Largest chunk; a full chunk splits in two. */
const CHUNK = 512;

/** True when the string has a UTF-16 unit at or above the surrogate range. */
const HIGH = /[\ud800-\uffff]/;

/**
 * Compares two strings as their UTF-8 bytes compare (= code point order). JS `<` compares UTF-16
 * units, which differs only when a surrogate (a code point above U+FFFF) meets a unit in
 * U+E000..U+FFFF; those rare keys take the slow path.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  if (!HIGH.test(a) || !HIGH.test(b)) return a < b ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates stand for code points above U+FFFF: move them above U+E000..U+FFFF.
    if (x >= 0xd800 && x <= 0xdfff) x += 0x2000;
    else if (x >= 0xe000) x -= 0x800;
    if (y >= 0xd800 && y <= 0xdfff) y += 0x2000;
    else if (y >= 0xe000) y -= 0x800;
    return x - y;
  }
  return a.length - b.length;
}

export class SortedKeys {
  private chunks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Index of the chunk that holds `key` or where it would go. */
  private chunkFor(key: string): number {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length - 1;
    // Last chunk whose first key is <= key.
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (compareKeys(chunks[mid]![0]!, key) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** First position in `chunk` whose key is >= `key`. */
  private static lowerBound(chunk: string[], key: string): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(chunk[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds `key` (no-op when present). The caller's Map decides presence first, so this is only called for new keys. */
  add(key: string): void {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.count = 1;
      return;
    }
    const ci = this.chunkFor(key);
    const chunk = this.chunks[ci]!;
    const pos = SortedKeys.lowerBound(chunk, key);
    if (chunk[pos] === key) return;
    chunk.splice(pos, 0, key);
    this.count++;
    if (chunk.length > CHUNK) this.chunks.splice(ci + 1, 0, chunk.splice(CHUNK >> 1));
  }

  /** Removes `key`; false when absent. */
  delete(key: string): boolean {
    if (this.chunks.length === 0) return false;
    const ci = this.chunkFor(key);
    const chunk = this.chunks[ci]!;
    const pos = SortedKeys.lowerBound(chunk, key);
    if (chunk[pos] !== key) return false;
    chunk.splice(pos, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(ci, 1);
    return true;
  }

  /** Keys starting with `prefix`, in order (every key for ''). Visits only those keys. */
  *withPrefix(prefix: string): Generator<string> {
    const chunks = this.chunks;
    if (chunks.length === 0) return;
    let ci = prefix === '' ? 0 : this.chunkFor(prefix);
    let pos = prefix === '' ? 0 : SortedKeys.lowerBound(chunks[ci]!, prefix);
    for (; ci < chunks.length; ci++, pos = 0) {
      const chunk = chunks[ci]!;
      for (; pos < chunk.length; pos++) {
        const k = chunk[pos]!;
        if (!k.startsWith(prefix)) return;
        yield k;
      }
    }
  }

  /** Keys starting with `prefix`, as an array. */
  prefixArray(prefix: string): string[] {
    const out: string[] = [];
    for (const k of this.withPrefix(prefix)) out.push(k);
    return out;
  }

  /** Every key in order. */
  all(): string[] {
    return this.chunks.flat();
  }

  clear(): void {
    this.chunks = [];
    this.count = 0;
  }
}
