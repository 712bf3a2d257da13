import { describe, expect, it } from 'vitest';
import { MemoryLogView } from './log-view.ts';
import type { Entry } from './types.ts';

const ent = (term: number, index: number, data = ''): Entry => ({
  index: BigInt(index),
  term: BigInt(term),
  kind: 'normal',
  data: Buffer.from(data),
});

describe('MemoryLogView', () => {
  it('starts from the bootstrap snapshot at index 0 with the given voters', () => {
    const v = new MemoryLogView({ voters: ['3', '1', '2'] });
    expect(v.snapshotMeta()).toEqual({ index: 0n, term: 0n, voters: ['1', '2', '3'] });
    expect([v.firstIndex(), v.lastIndex(), v.term(0n), v.term(1n)]).toEqual([1n, 0n, 0n, undefined]);
    expect(v.hardState()).toEqual({ term: 0n, vote: undefined, commit: 0n });
  });

  it('appends, replaces a conflicting suffix, and refuses gaps', () => {
    const v = new MemoryLogView();
    v.append([ent(1, 1), ent(1, 2), ent(1, 3)]);
    v.append([ent(2, 2)]);
    expect(v.entries(1n, 3n).map((e) => `${e.term}/${e.index}`)).toEqual(['1/1', '2/2']);
    expect(() => v.append([ent(2, 5)])).toThrow(/gap/);
    expect(() => v.append([ent(2, 3), ent(2, 5)])).toThrow(/not contiguous/);
  });

  it('limits entries by bytes but always returns at least one', () => {
    const v = new MemoryLogView();
    v.append([ent(1, 1, 'aaaa'), ent(1, 2, 'bbbb'), ent(1, 3, 'cccc')]);
    expect(v.entries(1n, 4n, 8).length).toBe(2);
    expect(v.entries(1n, 4n, 1).length).toBe(1);
    expect(() => v.entries(0n, 2n)).toThrow(/outside/);
  });

  it('snapshots, then compacts, keeping the term of the compaction point', () => {
    const v = new MemoryLogView({ voters: ['1'] });
    v.append([ent(1, 1), ent(1, 2), ent(2, 3), ent(2, 4)]);
    v.createSnapshot({ index: 3n, term: 2n, voters: ['1'], data: Buffer.from('s') });
    expect(() => v.compact(4n)).toThrow(/past the latest snapshot/);
    v.compact(2n); // keep trailing entry 3 although the snapshot covers it
    expect([v.firstIndex(), v.lastIndex(), v.term(2n), v.term(1n)]).toEqual([3n, 4n, 1n, undefined]);
    expect(() => v.createSnapshot({ index: 4n, term: 1n, voters: ['1'], data: Buffer.alloc(0) })).toThrow(/does not match/);
  });

  it('applySnapshot replaces the whole log', () => {
    const v = new MemoryLogView({ voters: ['1'] });
    v.append([ent(1, 1), ent(1, 2)]);
    v.applySnapshot({ index: 5n, term: 3n, voters: ['1', '2'], data: Buffer.from('x') });
    expect([v.firstIndex(), v.lastIndex(), v.term(5n)]).toEqual([6n, 5n, 3n]);
    expect(v.hardState().commit).toBe(5n);
    v.append([ent(3, 6)]);
    expect(v.lastIndex()).toBe(6n);
  });

  it('rebuilds at start-up from a snapshot and stored entries, trailing ones included', () => {
    const snapshot = { index: 3n, term: 2n, voters: ['1'], data: Buffer.alloc(0) };
    const v = new MemoryLogView({ snapshot, entries: [ent(1, 2), ent(2, 3), ent(2, 4)], hardState: { term: 2n, vote: '1', commit: 4n } });
    expect([v.firstIndex(), v.lastIndex(), v.term(2n), v.term(3n), v.term(4n)]).toEqual([3n, 4n, 1n, 2n, 2n]);
    expect(() => new MemoryLogView({ snapshot, entries: [ent(2, 5)] })).toThrow(/gap/);
    expect(() => new MemoryLogView({ snapshot, entries: [ent(1, 3)] })).toThrow(/snapshot says 2/);
  });
});
