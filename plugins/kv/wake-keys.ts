/**
 * Which parked readers a KV change wakes. A blocking read parks on one waiter key: `kv:<key>`
 * for a single key, `kvp:<prefix>` for a recurse or keys listing, `kvs` for the session
 * endpoints. A change to key K must wake `kv:K` and every parked prefix read whose prefix K
 * starts with — and nothing else, so a write to one key never wakes readers of another.
 *
 * Prefix reads register their prefix here while they run; the set is kept by prefix length,
 * so finding the prefixes of K that someone watches costs one Map lookup per distinct watched
 * length (not one per character of K, which for a 10 KB key would be 10 000 slices).
 */

/** Waiter key of a single-key read. */
export const keyWaiter = (key: string): string => `kv:${key}`;
/** Waiter key of a prefix read (recurse / keys). */
export const prefixWaiter = (prefix: string): string => `kvp:${prefix}`;
/** Waiter key of every session read (their index is the sessions table index). */
export const SESSIONS_WAITER = 'kvs';

export class WatchedPrefixes {
  /** length -> prefix -> number of reads watching it */
  private readonly byLength = new Map<number, Map<string, number>>();

  get size(): number {
    let n = 0;
    for (const m of this.byLength.values()) n += m.size;
    return n;
  }

  add(prefix: string): void {
    let m = this.byLength.get(prefix.length);
    if (!m) this.byLength.set(prefix.length, (m = new Map()));
    m.set(prefix, (m.get(prefix) ?? 0) + 1);
  }

  release(prefix: string): void {
    const m = this.byLength.get(prefix.length);
    const n = m?.get(prefix);
    if (m === undefined || n === undefined) return;
    if (n > 1) m.set(prefix, n - 1);
    else {
      m.delete(prefix);
      if (m.size === 0) this.byLength.delete(prefix.length);
    }
  }

  /** Waiter keys to wake for a change to `key`: the key's own and its watched prefixes'. */
  forKey(key: string, out: Set<string>): void {
    out.add(keyWaiter(key));
    for (const [len, m] of this.byLength) {
      if (len <= key.length && m.has(len === key.length ? key : key.slice(0, len))) out.add(prefixWaiter(key.slice(0, len)));
    }
  }

  /** Waiter keys to wake for a deleted tree: watched prefixes inside it, and those it sits inside. */
  forTree(tree: string, out: Set<string>): void {
    for (const m of this.byLength.values()) {
      for (const p of m.keys()) if (p.startsWith(tree) || tree.startsWith(p)) out.add(prefixWaiter(p));
    }
  }
}
