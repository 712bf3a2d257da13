import { describe, expect, it } from 'vitest';
import { createMemoryStorage } from '../../storage/memory-storage.ts';
import { MemoryLogView } from './log-view.ts';
import { RaftNode } from './raft-node.ts';
import { seededRandom } from './seeded-random.ts';
import {
  HARD_STATE_KEY,
  decodeHardState,
  encodeHardState,
  entryFromLogEntry,
  entryToLogEntry,
  snapshotFromStored,
  snapshotToStored,
} from './storage-codec.ts';
import type { Entry } from './types.ts';

describe('storage codec: core values through a src/storage engine and back', () => {
  it('persists a single-node Ready stream and restarts from what was stored', async () => {
    const storage = createMemoryStorage();
    const view = new MemoryLogView({ voters: ['1'] });
    let node = new RaftNode({ id: '1', storage: view, random: seededRandom(1) });
    const drive = async () => {
      while (node.hasReady()) {
        const rd = node.ready();
        if (rd.truncateAfter !== undefined) await storage.log.truncateAfter(rd.truncateAfter);
        if (rd.entries.length > 0) await storage.log.append(rd.entries.map(entryToLogEntry));
        view.append(rd.entries);
        if (rd.hardState) {
          await storage.stable.set(HARD_STATE_KEY, encodeHardState(rd.hardState));
          view.setHardState(rd.hardState);
        }
        node.advance(rd);
      }
    };
    node.campaign();
    await drive();
    node.propose(Buffer.from('a'));
    node.proposeConfChange({ type: 'add', node: '2' });
    await drive();
    const snap = { ...node.snapshotMetaAt(2n), data: Buffer.from('state@2') };
    const stored = snapshotToStored(snap);
    await storage.snapshots.save(stored.meta, stored.data);

    // Restart: load everything back into a fresh view.
    const latest = (await storage.snapshots.latest())!;
    const hs = decodeHardState((await storage.stable.get(HARD_STATE_KEY))!);
    const first = await storage.log.firstIndex();
    const last = await storage.log.lastIndex();
    const entries: Entry[] = (await storage.log.range(first, last)).map(entryFromLogEntry);
    const restored = snapshotFromStored(latest.meta, latest.data);
    expect(restored).toEqual(snap);
    expect(hs).toEqual({ term: 1n, vote: '1', commit: 3n });
    expect(entries.map((e) => `${e.term}/${e.index} ${e.kind}`)).toEqual(['1/1 noop', '1/2 normal', '1/3 conf']);
    const view2 = new MemoryLogView({ snapshot: restored, entries, hardState: hs });
    node = new RaftNode({ id: '1', storage: view2, random: seededRandom(1), applied: 2n });
    // Entry 3 (add 2) is committed but not yet applied by the restored state machine.
    expect(node.status()).toMatchObject({ term: 1n, commit: 3n, applied: 2n, voters: ['1'] });
    const rd = node.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([3n]);
    node.advance(rd);
    expect(node.status().voters).toEqual(['1', '2']);
  });

  it('refuses records that are not what it wrote', () => {
    expect(() => entryFromLogEntry({ index: 1n, term: 1n, data: Buffer.from([9]) })).toThrow(/kind byte/);
    expect(() => decodeHardState(Buffer.alloc(3))).toThrow(/too short/);
    expect(() => snapshotFromStored({ index: 1n, term: 1n }, Buffer.from([0, 0, 0, 9, 1]))).toThrow(/past the end/);
    expect(decodeHardState(encodeHardState({ term: 5n, vote: undefined, commit: 2n }))).toEqual({ term: 5n, vote: undefined, commit: 2n });
  });
});
