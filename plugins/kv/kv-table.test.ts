/** The KV table: prefix reads and their index, tombstones, key folding, the session index, reaping. */
import { describe, expect, it } from 'vitest';
import { dirEntryJson, KvTable, type KvEntry } from './kv-table.ts';

const entry = (key: string, index: bigint, extra: Partial<KvEntry> = {}): KvEntry => ({
  key,
  flags: 0n,
  value: null,
  session: '',
  lockIndex: 0n,
  createIndex: index,
  modifyIndex: index,
  ...extra,
});

describe('KvTable', () => {
  it('a prefix index is the highest ModifyIndex or tombstone under it, else the table index', () => {
    const t = new KvTable();
    t.put(entry('a/1', 5n));
    t.put(entry('a/2', 7n));
    t.put(entry('b/1', 9n));
    expect(t.prefixIndex('a/')).toBe(7n);
    expect(t.prefixIndex('b')).toBe(9n);
    expect(t.prefixIndex('')).toBe(9n);
    // Nothing under the prefix: the table index.
    expect(t.prefixIndex('zzz/')).toBe(9n);
    // A delete under a/ leaves a tombstone that keeps a/'s index from sliding back to 5.
    expect(t.delete('a/2', 11n)).toBe(true);
    expect(t.prefixIndex('a/')).toBe(11n);
    expect(t.delete('a/2', 12n)).toBe(false);
    expect(t.maxIndex).toBe(11n);
  });

  it('deleteTree removes the subtree with one tombstone for the prefix, none for the root', () => {
    const t = new KvTable();
    for (const [i, k] of ['x/1', 'x/2/3', 'x/2/4', 'y'].entries()) t.put(entry(k, BigInt(i + 1)));
    expect(t.deleteTree('x/2/', 10n)).toEqual(['x/2/3', 'x/2/4']);
    expect(t.allTombstones()).toEqual([['x/2/', 10n]]);
    expect(t.list('').map((e) => e.key)).toEqual(['x/1', 'y']);
    expect(t.deleteTree('', 11n)).toEqual(['x/1', 'y']);
    expect(t.allTombstones()).toEqual([['x/2/', 10n]]);
    expect(t.maxIndex).toBe(11n);
    expect(t.deleteTree('nothing', 12n)).toEqual([]);
    expect(t.maxIndex).toBe(11n);
  });

  it('keys folds at the first separator after the prefix (Consul KVSListKeys)', () => {
    const t = new KvTable();
    for (const k of ['a/b/c', 'a/b/d', 'a/e', 'a/f/', 'ab', 'b']) t.put(entry(k, 1n));
    expect(t.keys('', '/')).toEqual(['a/', 'ab', 'b']);
    expect(t.keys('a/', '/')).toEqual(['a/b/', 'a/e', 'a/f/']);
    expect(t.keys('a', '')).toEqual(['a/b/c', 'a/b/d', 'a/e', 'a/f/', 'ab']);
    expect(t.keys('a/', '')).toEqual(['a/b/c', 'a/b/d', 'a/e', 'a/f/']);
  });

  it('tracks which keys a session holds through writes and deletes', () => {
    const t = new KvTable();
    t.put(entry('k1', 1n, { session: 's1' }));
    t.put(entry('k2', 2n, { session: 's1' }));
    t.put(entry('k0', 3n, { session: 's1' }));
    expect(t.heldBy('s1')).toEqual(['k0', 'k1', 'k2']);
    t.put(entry('k1', 4n)); // released
    t.delete('k2', 5n);
    expect(t.heldBy('s1')).toEqual(['k0']);
    t.put(entry('k0', 6n, { session: 's2' }));
    expect(t.heldBy('s1')).toEqual([]);
    expect(t.heldBy('s2')).toEqual(['k0']);
  });

  it('reap drops tombstones at or below the index only', () => {
    const t = new KvTable();
    t.put(entry('a', 1n));
    t.put(entry('b', 2n));
    t.delete('a', 3n);
    t.delete('b', 4n);
    expect(t.reap(3n)).toEqual(['a']);
    expect(t.allTombstones()).toEqual([['b', 4n]]);
    expect(t.lastTombstoneIndex).toBe(4n);
  });

  it('DirEntry JSON has Consul field order, null for an empty value, Session only when locked, exact uint64', () => {
    expect(dirEntryJson(entry('a', 3n))).toBe('{"LockIndex":0,"Key":"a","Flags":0,"Value":null,"CreateIndex":3,"ModifyIndex":3}');
    expect(dirEntryJson(entry('k"x', 3n, { value: 'aGk=', session: 's', lockIndex: 2n, flags: 18446744073709551615n }))).toBe(
      '{"LockIndex":2,"Key":"k\\"x","Flags":18446744073709551615,"Value":"aGk=","Session":"s","CreateIndex":3,"ModifyIndex":3}',
    );
  });
});
