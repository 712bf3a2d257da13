import { describe, expect, it } from 'vitest';
import { MemoryLogView } from './log-view.ts';
import { RaftLog } from './raft-log.ts';
import type { Entry } from './types.ts';

const ents = (terms: number[], from = 1): Entry[] =>
  terms.map((t, i) => ({ index: BigInt(from + i), term: BigInt(t), kind: 'normal', data: Buffer.from(`d${from + i}`) }));

describe('RaftLog', () => {
  it('findConflictByTerm skips a whole divergent term (etcd example: leader 1 3 3 3 5 5 5 5 5)', () => {
    const view = new MemoryLogView();
    view.append(ents([1, 3, 3, 3, 5, 5, 5, 5, 5]));
    const log = new RaftLog(view);
    // A follower rejected with hint (index 6, term 2): no leader index above 1 can match.
    expect(log.findConflictByTerm(6n, 2n)).toEqual([1n, 1n]);
    expect(log.findConflictByTerm(9n, 5n)).toEqual([9n, 5n]);
    expect(log.findConflictByTerm(9n, 4n)).toEqual([4n, 3n]);
    expect(log.findConflictByTerm(3n, 0n)).toEqual([0n, 0n]);
  });

  it('unstable entries shadow conflicting stable ones; slices read across the boundary', () => {
    const view = new MemoryLogView();
    view.append(ents([1, 1, 1, 1]));
    const log = new RaftLog(view);
    expect(log.persistedIndex()).toBe(4n);
    // A new leader's entries conflict from index 3 on.
    expect(log.maybeAppend(2n, 1n, 0n, ents([2, 2, 2], 3))).toBe(5n);
    expect(log.unstable.offset).toBe(3n);
    expect(log.persistedIndex()).toBe(2n);
    expect([log.term(2n), log.term(3n), log.term(4n), log.term(5n), log.lastIndex()]).toEqual([1n, 2n, 2n, 2n, 5n]);
    expect(log.slice(1n, 6n)!.map((e) => `${e.term}/${e.index}`)).toEqual(['1/1', '1/2', '2/3', '2/4', '2/5']);
    // A size limit that stops inside the stable part returns just that.
    expect(log.slice(1n, 6n, 2)!.map((e) => e.index)).toEqual([1n]);
    // Once the driver persisted them, they leave the unstable tail.
    view.append(log.unstable.entries);
    log.unstable.stableTo(5n, 2n);
    expect([log.unstable.entries.length, log.unstable.offset, log.persistedIndex()]).toEqual([0, 6n, 5n]);
  });

  it('never overwrites or commits past what it may', () => {
    const view = new MemoryLogView();
    view.append(ents([1, 1, 1]));
    view.setHardState({ term: 1n, vote: undefined, commit: 2n });
    const log = new RaftLog(view);
    expect(() => log.maybeAppend(1n, 1n, 0n, ents([2], 2))).toThrow(/conflicts with the committed log/);
    expect(() => log.commitTo(9n)).toThrow(/past the last index/);
    expect(log.maybeAppend(3n, 2n, 3n, [])).toBeUndefined(); // term mismatch at 3: reject
  });
});
