import { describe, expect, it } from 'vitest';
import { MemoryLogView, type Entry, type Ready } from '../core/index.ts';
import { SimDisk } from './sim-disk.ts';

const e = (index: number, term: number): Entry => ({ index: BigInt(index), term: BigInt(term), kind: 'normal', data: Buffer.from(`e${index}`) });
const ready = (over: Partial<Ready>): Ready => ({ entries: [], mustSync: true, messages: [], committedEntries: [], readStates: [], ...over });

describe('SimDisk', () => {
  it('appends, truncates a conflicting suffix, and loads back into a MemoryLogView', () => {
    const d = new SimDisk(['1', '2', '3']);
    d.persist(ready({ entries: [e(1, 1), e(2, 1), e(3, 1)], hardState: { term: 1n, vote: '1', commit: 1n } }));
    d.persist(ready({ truncateAfter: 1n, entries: [e(2, 2)], hardState: { term: 2n, vote: '2', commit: 2n } }));
    expect(d.lastIndex()).toBe(2n);
    expect(d.term(2n)).toBe(2n);
    const v = new MemoryLogView(d.load());
    expect(v.lastIndex()).toBe(2n);
    expect(v.term(2n)).toBe(2n);
    expect(v.hardState()).toEqual({ term: 2n, vote: '2', commit: 2n });
    expect(v.snapshotMeta().voters).toEqual(['1', '2', '3']);
  });

  it('refuses an append that leaves a gap (a driver bug)', () => {
    const d = new SimDisk(['1']);
    d.persist(ready({ entries: [e(1, 1)] }));
    expect(() => d.persist(ready({ entries: [e(3, 1)] }))).toThrow(/does not continue/);
  });

  it('a leader snapshot replaces the log; an own snapshot plus compaction keeps trailing entries', () => {
    const d = new SimDisk(['1', '2', '3']);
    d.persist(ready({ entries: [e(1, 1), e(2, 1), e(3, 1), e(4, 1)] }));
    d.saveSnapshot({ index: 3n, term: 1n, voters: ['1', '2', '3'], data: Buffer.from('s3') });
    d.compactUpTo(1n);
    expect(d.term(2n)).toBe(1n);
    expect(d.term(1n)).toBeUndefined();
    const v = new MemoryLogView(d.load());
    expect(v.snapshotMeta().index).toBe(3n);
    expect(v.lastIndex()).toBe(4n);
    d.persist(ready({ snapshot: { index: 10n, term: 2n, voters: ['1', '2', '3'], data: Buffer.from('s10') } }));
    expect(d.lastIndex()).toBe(10n);
    expect(d.term(10n)).toBe(2n);
    expect(d.term(4n)).toBeUndefined();
  });

  it("the 'forget-vote' fault drops the vote and nothing else", () => {
    const d = new SimDisk(['1'], 'forget-vote');
    d.persist(ready({ hardState: { term: 3n, vote: '2', commit: 0n } }));
    expect(d.hardState()).toEqual({ term: 3n, vote: undefined, commit: 0n });
  });
});
