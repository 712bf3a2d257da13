import { describe, expect, it } from 'vitest';
import type { Ready } from './types.ts';
import { TestCluster } from './test-cluster.ts';

function elect(c: TestCluster, id: string): void {
  c.campaign(id);
  c.stabilize();
  c.take();
}

describe('log replication', () => {
  it('replicates a proposal, commits it on a quorum and tells followers the commit index', () => {
    const c = new TestCluster(['1', '2', '3']);
    elect(c, '1');
    expect(c.node('1').propose(Buffer.from('x'))).toEqual({ ok: true, index: 2n, term: 1n });
    c.stabilize();
    expect(c.take()).toEqual([
      '1->2 MsgApp term=1 log=1/1 commit=1 entries=[1/2 normal "x"]',
      '1->3 MsgApp term=1 log=1/1 commit=1 entries=[1/2 normal "x"]',
      '2->1 MsgAppResp term=1 index=2',
      '3->1 MsgAppResp term=1 index=2',
      '1->2 MsgApp term=1 log=1/2 commit=2',
      '1->3 MsgApp term=1 log=1/2 commit=2',
      '2->1 MsgAppResp term=1 index=2',
      '3->1 MsgAppResp term=1 index=2',
    ]);
    for (const id of ['1', '2', '3']) expect(c.get(id).sm).toEqual(['x']);
  });

  it('a follower refuses proposals and names the leader', () => {
    const c = new TestCluster(['1', '2', '3']);
    elect(c, '1');
    expect(c.node('2').propose(Buffer.from('x'))).toEqual({ ok: false, reason: 'not-leader', leader: '1' });
  });

  it('does not commit without a quorum: the leader alone holds the entry', () => {
    const c = new TestCluster(['1', '2', '3']);
    elect(c, '1');
    c.crash('2');
    c.crash('3');
    c.propose('1', 'x');
    c.stabilize();
    expect(c.node('1').status().commit).toBe(1n);
    expect(c.get('1').sm).toEqual([]);
  });

  it('pipelines up to the inflight window, then batches what queued up', () => {
    const c = new TestCluster(['1', '2', '3'], { maxInflight: 2, maxEntriesPerAppend: 3 });
    elect(c, '1'); // 2 and 3 are now in replicate state
    for (let i = 0; i < 10; i++) c.propose('1', `e${i}`);
    // Without waiting for acks, only two MsgApps (one entry each) per follower are in flight.
    const to2 = c.queue.filter((m) => m.to === '2');
    expect(to2.map((m) => m.entries!.length)).toEqual([1, 1]);
    c.deliver((m) => m.to === '2'); // the follower acks both
    c.deliver((m) => m.from === '2');
    // Each ack frees a slot; the remaining 8 entries go in batches of at most 3.
    c.stabilize();
    const batches = c
      .take()
      .filter((l) => l.startsWith('1->2 MsgApp') && l.includes('entries='))
      .map((l) => (l.match(/normal/g) ?? []).length);
    expect(batches).toEqual([1, 1, 3, 3, 2]);
    expect(c.get('2').sm).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9']);
  });

  it('recovers from lost appends through the heartbeat: reject, probe, resend', () => {
    const c = new TestCluster(['1', '2', '3']);
    elect(c, '1');
    c.cutLink('1', '3');
    c.propose('1', 'a');
    c.propose('1', 'b');
    c.stabilize();
    c.heal();
    c.take();
    expect(c.get('3').sm).toEqual([]);
    c.tick(1, ['1']); // heartbeat
    c.stabilize();
    expect(c.take()).toEqual([
      '1->2 MsgHeartbeat term=1 commit=3',
      '1->3 MsgHeartbeat term=1 commit=1',
      '2->1 MsgHeartbeatResp term=1',
      '3->1 MsgHeartbeatResp term=1',
      // 3's match is 1 < 3: an empty append at next-1 = 3, which 3 lacks...
      '1->3 MsgApp term=1 log=1/3 commit=3',
      '3->1 MsgAppResp term=1 reject index=3 hint=1/1',
      // ...so the leader falls back to probing from 3's hint and resends both entries.
      '1->3 MsgApp term=1 log=1/1 commit=3 entries=[1/2 normal "a", 1/3 normal "b"]',
      '3->1 MsgAppResp term=1 index=3',
    ]);
    expect(c.get('3').sm).toEqual(['a', 'b']);
  });

  it('repairs a follower with a long divergent suffix in one rejection (fast backtracking)', () => {
    // 1 leads term 1 and appends 5 entries nobody else gets; 2 then leads term 2 and commits
    // 10 entries with 3; 2 goes down and 3 leads term 3. 3 must overwrite 1's suffix.
    const c = new TestCluster(['1', '2', '3'], { checkQuorum: false, preVote: false });
    elect(c, '1');
    c.isolate('1');
    for (let i = 0; i < 5; i++) c.propose('1', `stale${i}`);
    c.drop(() => true);
    c.heal();
    c.cutLink('1', '2');
    c.cutLink('1', '3');
    elect(c, '2');
    for (let i = 0; i < 10; i++) c.propose('2', `good${i}`);
    c.stabilize();
    c.crash('2');
    c.heal();
    c.take();
    expect(c.logOf('1')).toEqual(['1/1', '1/2', '1/3', '1/4', '1/5', '1/6']);
    const readies: Ready[] = [];
    c.onReady = (id, rd) => {
      if (id === '1') readies.push(rd);
    };
    c.campaign('3'); // 1 votes for 3: 3's last term (2) beats 1's (1)
    c.stabilize();
    expect(c.leader()).toBe('3');
    const lines = c.take();
    const rejects = lines.filter((l) => l.includes('reject'));
    // 3 probes at its last index 12. 1's tail (term 1) sits where 3 has term 2: one rejection
    // with hint 1/6 lets 3 jump straight to index 1, the last index where its term is <= 1.
    expect(rejects).toEqual(['1->3 MsgAppResp term=3 reject index=12 hint=1/6']);
    expect(lines).toContain(
      '3->1 MsgApp term=3 log=1/1 commit=12 entries=[2/2 noop, 2/3 normal "good0", 2/4 normal "good1", 2/5 normal "good2", 2/6 normal "good3", 2/7 normal "good4", 2/8 normal "good5", 2/9 normal "good6", 2/10 normal "good7", 2/11 normal "good8", 2/12 normal "good9", 3/13 noop]',
    );
    c.propose('3', 'after');
    c.stabilize();
    // The Ready told 1's driver to drop its stale stored entries 2..6 before appending.
    const truncating = readies.find((rd) => rd.truncateAfter !== undefined);
    expect(truncating?.truncateAfter).toBe(1n);
    expect(truncating?.entries[0]?.index).toBe(2n);
    expect(c.logOf('1')).toEqual(c.logOf('3'));
    expect(c.get('1').sm).toEqual([...Array.from({ length: 10 }, (_, i) => `good${i}`), 'after']);
  });
});

describe('commit only entries of the current term (§5.4.2, Figure 8)', () => {
  it('an old-term entry on a majority is not committed, and may be overwritten', () => {
    const c = new TestCluster(['1', '2', '3', '4', '5'], { checkQuorum: false, preVote: false, maxEntriesPerAppend: 1 });
    elect(c, '1');
    // (a) 1 leads term 1 and replicates "x" at index 2 to 2 only, then crashes.
    c.propose('1', 'x');
    c.deliver((m) => m.type === 'MsgApp' && m.to === '2');
    c.drop(() => true);
    c.crash('1');
    // (b) 5 leads term 2 with 3 and 4; its no-op at index 2 reaches nobody; it crashes.
    c.campaign('5');
    c.deliver((m) => m.type === 'MsgVote');
    c.deliver((m) => m.type === 'MsgVoteResp');
    expect(c.node('5').status().role).toBe('leader');
    c.drop(() => true);
    c.crash('5');
    // (c) 1 restarts and leads term 3 (the term-2 attempt loses to 3's and 4's term-2 votes).
    c.restart('1');
    c.campaign('1');
    c.stabilize();
    c.campaign('1');
    c.deliver((m) => m.type === 'MsgVote');
    c.deliver((m) => m.type === 'MsgVoteResp');
    expect(c.node('1').status()).toMatchObject({ role: 'leader', term: 3n });
    c.take();
    // It replicates x (term 1) to 3, so x sits on 1, 2, 3: a majority of 5.
    c.drop((m) => m.to === '4' || m.to === '5');
    c.deliver((m) => m.to === '2' || m.to === '3');
    c.deliver((m) => m.from === '2' || m.from === '3');
    c.deliver((m) => m.to === '3');
    c.deliver((m) => m.from === '3');
    expect(c.take()).toEqual([
      'DROP 1->4 MsgApp term=3 log=1/2 commit=1 entries=[3/3 noop]',
      'DROP 1->5 MsgApp term=3 log=1/2 commit=1 entries=[3/3 noop]',
      '1->2 MsgApp term=3 log=1/2 commit=1 entries=[3/3 noop]',
      '1->3 MsgApp term=3 log=1/2 commit=1 entries=[3/3 noop]',
      '2 soft leader=1 role=follower voters=1,2,3,4,5 term=3',
      '3 soft leader=1 role=follower voters=1,2,3,4,5 term=3',
      '2->1 MsgAppResp term=3 index=3',
      '3->1 MsgAppResp term=3 reject index=2 hint=1/1',
      '1->3 MsgApp term=3 log=1/1 commit=1 entries=[1/2 normal "x"]',
      '3->1 MsgAppResp term=3 index=2',
    ]);
    expect(c.logOf('3')).toEqual(['1/1', '1/2']);
    // Counting replicas would say index 2 is committed; Raft must not (its term is 1, not 3).
    expect(c.node('1').status().commit).toBe(1n);
    // (d) 1 crashes before its no-op reaches a majority; 5 returns and wins term 4 with 3 and 4
    // (its last term 2 beats their 1); it overwrites x, which was rightly never committed.
    c.drop(() => true);
    c.crash('1');
    c.restart('5');
    c.campaign('5'); // term 3: everyone already voted for 1 in term 3
    c.stabilize();
    c.campaign('5');
    c.stabilize();
    expect(c.node('5').status()).toMatchObject({ role: 'leader', term: 4n });
    for (const id of ['3', '4', '5']) expect(c.logOf(id)).toEqual(['1/1', '2/2', '4/3']);
    for (const tn of c.nodes.values()) expect(tn.sm).toEqual([]);
    // 2 voted no (its last term 3 beats 5's), and once contacted it is repaired too.
    expect(c.logOf('2')).toEqual(['1/1', '2/2', '4/3']);
  });
});
