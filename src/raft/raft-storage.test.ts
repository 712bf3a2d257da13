import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { createMemoryStorage } from '../storage/memory-storage.ts';
import { encodeHardState, entryToLogEntry, HARD_STATE_KEY, snapshotToStored, type Entry, type Snapshot } from './core/index.ts';
import { loadRaftState, persistReady, saveBootstrap } from './raft-storage.ts';

const ent = (index: bigint, term: bigint): Entry => ({ index, term, kind: 'normal', data: Buffer.from(`e${index}`) });
const snap = (index: bigint, term: bigint): Snapshot => ({ index, term, voters: ['a', 'b', 'c'], data: Buffer.from('state') });

describe('raft storage: loading what a crash left', () => {
  it('a fresh store is fresh; a bootstrap record alone is not', async () => {
    const s = createMemoryStorage();
    expect((await loadRaftState(s)).fresh).toBe(true);
    await saveBootstrap(s, { a: 'x:1' });
    const st = await loadRaftState(s);
    expect(st.fresh).toBe(false);
    expect(st.bootstrap).toEqual({ a: 'x:1' });
  });

  it('round-trips a Ready: entries, hard state, then a received snapshot that replaces the log', async () => {
    const s = createMemoryStorage();
    const base = { mustSync: true, messages: [], committedEntries: [], readStates: [] };
    await persistReady(s, { ...base, entries: [ent(1n, 1n), ent(2n, 1n), ent(3n, 1n)], hardState: { term: 1n, vote: 'a', commit: 2n } });
    await persistReady(s, { ...base, truncateAfter: 1n, entries: [ent(2n, 2n)], hardState: { term: 2n, vote: undefined, commit: 2n } });
    let st = await loadRaftState(s);
    expect(st.entries.map((e) => `${e.term}/${e.index}`)).toEqual(['1/1', '2/2']);
    expect(st.hardState).toEqual({ term: 2n, vote: undefined, commit: 2n });
    expect(st.repairs).toEqual([]);

    await persistReady(s, { ...base, snapshot: snap(10n, 3n), entries: [ent(11n, 3n)], hardState: { term: 3n, vote: undefined, commit: 11n } });
    st = await loadRaftState(s);
    expect(st.snapshot?.index).toBe(10n);
    expect(st.snapshot?.data.toString()).toBe('state');
    expect(st.entries.map((e) => `${e.term}/${e.index}`)).toEqual(['3/11']);
  });

  it('writes a commit-only hard state change with the next entries, a term or vote change at once', async () => {
    const s = createMemoryStorage();
    const base = { messages: [], committedEntries: [], readStates: [] };
    await persistReady(s, { ...base, mustSync: true, entries: [ent(1n, 1n), ent(2n, 1n)], hardState: { term: 1n, vote: 'a', commit: 0n } });
    // The commit moved alone: nothing is written (the commit index is volatile in Raft).
    await persistReady(s, { ...base, mustSync: false, entries: [], hardState: { term: 1n, vote: 'a', commit: 2n } });
    expect((await loadRaftState(s)).hardState).toEqual({ term: 1n, vote: 'a', commit: 0n });
    // The next entries carry the newest hard state in their write.
    await persistReady(s, { ...base, mustSync: true, entries: [ent(3n, 1n)], hardState: { term: 1n, vote: 'a', commit: 2n } });
    expect((await loadRaftState(s)).hardState).toEqual({ term: 1n, vote: 'a', commit: 2n });
    // A vote without entries is written before the Ready's messages may go out.
    await persistReady(s, { ...base, mustSync: true, entries: [], hardState: { term: 2n, vote: 'b', commit: 2n } });
    expect((await loadRaftState(s)).hardState).toEqual({ term: 2n, vote: 'b', commit: 2n });
  });

  it('drops a stored log that does not continue the snapshot (crash between saving a received snapshot and dropping the log)', async () => {
    const s = createMemoryStorage();
    await s.log.append([ent(4n, 1n), ent(5n, 1n), ent(6n, 1n)].map(entryToLogEntry));
    const { meta, data } = snapshotToStored(snap(5n, 2n));
    await s.snapshots.save(meta, data);
    const st = await loadRaftState(s);
    expect(st.entries).toEqual([]);
    expect(await s.log.lastIndex()).toBe(0n);
    expect(st.repairs[0]).toContain('dropped stored entries 4..6: they do not continue snapshot 2/5');
  });

  it('keeps trailing entries that match the snapshot', async () => {
    const s = createMemoryStorage();
    await s.log.append([ent(4n, 1n), ent(5n, 2n), ent(6n, 2n)].map(entryToLogEntry));
    await s.stable.set(HARD_STATE_KEY, encodeHardState({ term: 2n, vote: 'a', commit: 6n }));
    const { meta, data } = snapshotToStored(snap(5n, 2n));
    await s.snapshots.save(meta, data);
    const st = await loadRaftState(s);
    expect(st.entries.map((e) => e.index)).toEqual([4n, 5n, 6n]);
    expect(st.repairs).toEqual([]);
  });

  it('lowers a commit past the stored log and raises a term below the last entry (the two stores are written separately)', async () => {
    const s = createMemoryStorage();
    await s.log.append([ent(1n, 1n), ent(2n, 3n)].map(entryToLogEntry));
    await s.stable.set(HARD_STATE_KEY, encodeHardState({ term: 2n, vote: 'b', commit: 7n }));
    const st = await loadRaftState(s);
    expect(st.hardState).toEqual({ term: 3n, vote: undefined, commit: 2n });
    expect(st.repairs).toHaveLength(2);
  });

  it('refuses a log with a hole after the snapshot', async () => {
    const s = createMemoryStorage();
    await s.log.append([ent(9n, 2n)].map(entryToLogEntry));
    const { meta, data } = snapshotToStored(snap(5n, 2n));
    await s.snapshots.save(meta, data);
    await expect(loadRaftState(s)).rejects.toMatchObject({ code: ERR.STORAGE_CORRUPT });
  });
});
