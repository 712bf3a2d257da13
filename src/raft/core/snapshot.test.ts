import { describe, expect, it } from 'vitest';
import { TestCluster } from './test-cluster.ts';
import type { Ready } from './types.ts';

/** 3 nodes; 3 misses entries 2..11 while away; the leader then compacts its log up to 11. */
function laggingFollower(opts = {}) {
  const c = new TestCluster(['1', '2', '3'], opts);
  c.campaign('1');
  c.stabilize();
  c.isolate('3');
  for (let i = 0; i < 10; i++) c.propose('1', `e${i}`);
  c.stabilize();
  expect(c.compact('1')).toBe(11n);
  expect(c.get('1').view.firstIndex()).toBe(12n);
  c.heal();
  c.take();
  return c;
}

describe('snapshots (InstallSnapshot, §7)', () => {
  it('a follower too far behind gets the snapshot, answers, and continues with appends', () => {
    const c = laggingFollower();
    const readies: Ready[] = [];
    c.onReady = (id, rd) => {
      if (id === '3') readies.push(rd);
    };
    c.tick(1, ['1']);
    c.stabilize();
    expect(c.take()).toEqual([
      '1->2 MsgHeartbeat term=1 commit=11',
      '1->3 MsgHeartbeat term=1 commit=1',
      '2->1 MsgHeartbeatResp term=1',
      '3->1 MsgHeartbeatResp term=1',
      '1->3 MsgApp term=1 log=1/11 commit=11',
      '3->1 MsgAppResp term=1 reject index=11 hint=1/1',
      // Entry 2 is compacted on the leader: it sends the snapshot instead.
      '1->3 MsgSnap term=1 snap=1/11 voters=1,2,3 bytes=51',
      '3->1 MsgAppResp term=1 index=11',
      '1->3 MsgApp term=1 log=1/11 commit=11',
      '3->1 MsgAppResp term=1 index=11',
    ]);
    // The snapshot arrived in a Ready on its own: persist, restore; no committed entries with it.
    const withSnap = readies.find((rd) => rd.snapshot);
    expect(withSnap?.snapshot?.index).toBe(11n);
    expect(withSnap?.committedEntries).toEqual([]);
    expect(withSnap?.mustSync).toBe(true);
    expect(c.get('3').sm).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9']);
    expect(c.node('3').status()).toMatchObject({ commit: 11n, applied: 11n, firstIndex: 12n, lastIndex: 11n });

    c.propose('1', 'after');
    c.stabilize();
    expect(c.take()).toContain('1->3 MsgApp term=1 log=1/11 commit=11 entries=[1/12 normal "after"]');
    expect(c.get('3').sm.at(-1)).toBe('after');
    expect(c.logOf('3')).toEqual(['1/12']);
  });

  it('a lost snapshot is sent again after snapshotRetryTicks', () => {
    const c = laggingFollower({ snapshotRetryTicks: 5 });
    c.tick(1, ['1']);
    // heartbeat, response, probe, reject: then the MsgSnap is queued
    for (let i = 0; i < 10 && !c.queue.some((m) => m.type === 'MsgSnap'); i++) c.deliver();
    c.drop((m) => m.type === 'MsgSnap');
    c.stabilize();
    expect(c.take().filter((l) => l.includes('MsgSnap'))).toEqual(['DROP 1->3 MsgSnap term=1 snap=1/11 voters=1,2,3 bytes=51']);
    expect(c.node('1').status().progress?.get('3')?.state).toBe('snapshot');
    let sentAgainAt = -1;
    for (let t = 1; t <= 10 && sentAgainAt < 0; t++) {
      c.tick(1, ['1']);
      if (c.queue.some((m) => m.type === 'MsgSnap')) sentAgainAt = t;
      c.stabilize();
    }
    expect(sentAgainAt).toBe(5);
    expect(c.get('3').sm).toHaveLength(10);
  });

  it('a snapshot covering no more than the follower has committed is ignored', () => {
    const c = laggingFollower();
    const snap = c.get('1').view.snapshot();
    // 2 already has everything up to 11 committed.
    c.node('2').step({ type: 'MsgSnap', from: '1', to: '2', term: 1n, snapshot: snap });
    c.processAll();
    expect(c.queue.map((m) => `${m.from}->${m.to} ${m.type} ${m.index}`)).toEqual(['2->1 MsgAppResp 11']);
    expect(c.logOf('2')).toHaveLength(11); // log kept
  });

  it('a server restarts from its snapshot plus the entries after it', () => {
    const c = new TestCluster(['1', '2', '3']);
    c.campaign('1');
    c.stabilize();
    for (let i = 0; i < 5; i++) c.propose('1', `a${i}`);
    c.stabilize();
    c.compact('2'); // snapshot at 6 on 2
    for (let i = 0; i < 3; i++) c.propose('1', `b${i}`);
    c.stabilize();
    const before = c.get('2').sm.slice();
    c.crash('2');
    c.restart('2'); // state machine back to the snapshot; 7..9 are re-applied from the log
    expect(c.get('2').applied.map((e) => `${e.term}/${e.index}`)).toEqual(['1/7', '1/8', '1/9']);
    expect(c.get('2').sm).toEqual(before);
    expect(c.node('2').status()).toMatchObject({ commit: 9n, applied: 9n, firstIndex: 7n, term: 1n, vote: '1' });
  });

  it('keeps trailing entries after compaction so a slightly-lagging follower needs no snapshot', () => {
    const c = new TestCluster(['1', '2', '3']);
    c.campaign('1');
    c.stabilize();
    c.isolate('3');
    for (let i = 0; i < 4; i++) c.propose('1', `e${i}`);
    c.stabilize();
    // Snapshot at 5, but drop only entries up to 1 (3 holds 1): the tail 2..5 stays for 3.
    const tn = c.get('1');
    tn.view.createSnapshot({ ...tn.node.snapshotMetaAt(5n), data: Buffer.from(JSON.stringify(tn.sm)) });
    tn.view.compact(1n);
    c.heal();
    c.take();
    c.tick(1, ['1']);
    c.stabilize();
    const lines = c.take();
    expect(lines.some((l) => l.includes('MsgSnap'))).toBe(false);
    expect(c.get('3').sm).toEqual(['e0', 'e1', 'e2', 'e3']);
  });
});
