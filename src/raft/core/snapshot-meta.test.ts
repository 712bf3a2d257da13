/**
 * Regression (found by the cluster simulator, HERALD_SIM_SEED=1301, 3 servers): a follower
 * whose write was in flight received a MsgSnap; once that write completed and its entries were
 * applied, the driver compacted at its applied index as the README says, and snapshotMetaAt
 * threw "already compacted" because the pending (unpersisted) snapshot shadowed the log.
 */
import { describe, expect, it } from 'vitest';
import { MemoryLogView } from './log-view.ts';
import { RaftNode } from './raft-node.ts';
import type { Entry, Message } from './types.ts';

const entry = (index: bigint, data: string): Entry => ({ index, term: 1n, kind: 'normal', data: Buffer.from(data) });

describe('snapshotMetaAt while a leader snapshot is pending', () => {
  it('answers from the durable log for an applied index the pending snapshot covers', () => {
    const view = new MemoryLogView({ voters: ['1', '2', '3'] });
    const node = new RaftNode({ id: '2', storage: view, random: () => 0 });
    const app: Message = { type: 'MsgApp', from: '1', to: '2', term: 1n, index: 0n, logTerm: 0n, commit: 3n, entries: [entry(1n, 'a'), entry(2n, 'b'), entry(3n, 'c')] };
    node.step(app);
    const rd = node.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1n, 2n, 3n]);

    // While that Ready is being persisted, the leader sends a snapshot past it.
    node.step({ type: 'MsgSnap', from: '1', to: '2', term: 1n, snapshot: { index: 10n, term: 1n, voters: ['1', '2', '3'], data: Buffer.from('s') } });

    // The write completes: mirror, apply, advance — then compact at the applied index.
    view.append(rd.entries);
    if (rd.hardState) view.setHardState(rd.hardState);
    node.advance(rd);
    expect(node.status().applied).toBe(3n);
    const meta = node.snapshotMetaAt(3n);
    expect(meta).toEqual({ index: 3n, term: 1n, voters: ['1', '2', '3'] });
    view.createSnapshot({ ...meta, data: Buffer.from('abc') });

    // The leader's snapshot still installs afterwards.
    const next = node.ready();
    expect(next.snapshot?.index).toBe(10n);
    view.applySnapshot(next.snapshot!);
    node.advance(next);
    expect(node.status()).toMatchObject({ commit: 10n, applied: 10n, firstIndex: 11n });
  });
});
