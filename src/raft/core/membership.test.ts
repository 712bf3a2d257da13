import { describe, expect, it } from 'vitest';
import { MemoryLogView } from './log-view.ts';
import { RaftNode } from './raft-node.ts';
import { seededRandom } from './seeded-random.ts';
import { TestCluster } from './test-cluster.ts';

function threeNodes(opts = {}) {
  const c = new TestCluster(['1', '2', '3'], opts);
  c.campaign('1');
  c.stabilize();
  c.propose('1', 'x');
  c.stabilize();
  c.take();
  return c;
}

describe('single-server membership changes (§4.1)', () => {
  it('adds a voter: it takes effect when applied, and the new server catches up from an empty log', () => {
    const c = threeNodes();
    c.addNode('4', []); // joins with no configuration: it cannot campaign until it learns one
    expect(c.node('1').proposeConfChange({ type: 'add', node: '4' })).toEqual({ ok: true, index: 3n, term: 1n });
    c.stabilize();
    expect(c.take()).toEqual([
      '1->2 MsgApp term=1 log=1/2 commit=2 entries=[1/3 conf add 4 -> 1,2,3,4]',
      '1->3 MsgApp term=1 log=1/2 commit=2 entries=[1/3 conf add 4 -> 1,2,3,4]',
      '2->1 MsgAppResp term=1 index=3',
      '3->1 MsgAppResp term=1 index=3',
      // Committed with the old quorum, applied by the leader: 4 is a voter now, and probed at once.
      '1 soft leader=1 role=leader voters=1,2,3,4 term=1',
      '1->2 MsgApp term=1 log=1/3 commit=3',
      '1->3 MsgApp term=1 log=1/3 commit=3',
      '1->4 MsgApp term=1 log=1/3 commit=3',
      '2 soft leader=1 role=follower voters=1,2,3,4 term=1',
      '3 soft leader=1 role=follower voters=1,2,3,4 term=1',
      '4 soft leader=1 role=follower voters= term=1',
      '2->1 MsgAppResp term=1 index=3',
      '3->1 MsgAppResp term=1 index=3',
      '4->1 MsgAppResp term=1 reject index=3 hint=0/0',
      '1->4 MsgApp term=1 log=0/0 commit=3 entries=[1/1 noop, 1/2 normal "x", 1/3 conf add 4 -> 1,2,3,4]',
      '4 soft leader=1 role=follower voters=1,2,3,4 term=1',
      '4->1 MsgAppResp term=1 index=3',
    ]);
    expect(c.get('4').sm).toEqual(['x']);
    // Four voters: a commit now needs three of them.
    c.crash('3');
    c.crash('4');
    c.propose('1', 'y');
    c.stabilize();
    expect(c.node('1').status().commit).toBe(3n);
    c.restart('4');
    c.tick(1, ['1']); // the heartbeat round finds 4 missing the entry it was sent while down
    c.stabilize();
    expect(c.node('1').status().commit).toBe(4n);
  });

  it('refuses a second change while one is unapplied, and changes that change nothing', () => {
    const c = threeNodes();
    const n = c.node('1');
    expect(n.proposeConfChange({ type: 'add', node: '1' })).toEqual({ ok: false, reason: 'invalid' });
    expect(n.proposeConfChange({ type: 'remove', node: '9' })).toEqual({ ok: false, reason: 'invalid' });
    expect(n.proposeConfChange({ type: 'add', node: '4' }).ok).toBe(true);
    expect(n.proposeConfChange({ type: 'add', node: '5' })).toEqual({ ok: false, reason: 'conf-pending' });
    c.stabilize(); // committed and applied
    expect(n.proposeConfChange({ type: 'remove', node: '4' }).ok).toBe(true);
    expect(c.node('2').proposeConfChange({ type: 'add', node: '6' })).toEqual({ ok: false, reason: 'not-leader', leader: '1' });
  });

  it('a new leader accepts no change until its term no-op is applied', () => {
    const c = new TestCluster(['1', '2', '3']);
    c.campaign('1');
    c.deliver((m) => m.type === 'MsgPreVote');
    c.deliver((m) => m.type === 'MsgPreVoteResp');
    c.deliver((m) => m.type === 'MsgVote');
    c.deliver((m) => m.type === 'MsgVoteResp');
    expect(c.node('1').status().role).toBe('leader');
    expect(c.node('1').proposeConfChange({ type: 'add', node: '4' })).toEqual({ ok: false, reason: 'conf-pending' });
    c.stabilize();
    expect(c.node('1').proposeConfChange({ type: 'add', node: '4' }).ok).toBe(true);
  });

  it('a one-voter cluster cannot remove its last voter', () => {
    const c = new TestCluster(['1']);
    c.campaign('1');
    c.stabilize();
    expect(c.leader()).toBe('1');
    expect(c.node('1').proposeConfChange({ type: 'remove', node: '1' })).toEqual({ ok: false, reason: 'invalid' });
  });

  it('removes a follower: it gets no more traffic and the quorum shrinks', () => {
    const c = threeNodes();
    c.node('1').proposeConfChange({ type: 'remove', node: '3' });
    c.stabilize();
    expect(c.node('1').status().voters).toEqual(['1', '2']);
    c.take();
    c.propose('1', 'y');
    c.stabilize();
    expect(c.take().some((l) => l.includes('->3 '))).toBe(false);
    expect(c.get('2').sm).toEqual(['x', 'y']);
    // The removed server knows it is out (it applied its removal) and never campaigns.
    expect(c.node('3').status().voters).toEqual(['1', '2']);
    c.isolate('3');
    c.tick(100, ['3']);
    expect(c.node('3').status()).toMatchObject({ role: 'follower', term: 1n });
  });

  it('removes the leader: it steps down once the change is applied and hands off with MsgTimeoutNow', () => {
    const c = threeNodes();
    expect(c.node('1').proposeConfChange({ type: 'remove', node: '1' }).ok).toBe(true);
    c.stabilize();
    const lines = c.take();
    expect(lines).toContain('1 soft leader=- role=follower voters=2,3 term=1');
    expect(lines).toContain('1->2 MsgTimeoutNow term=1');
    // 2 received it together with the commit of the removal, and campaigned once applied.
    expect(lines).toContain('2->3 MsgVote term=2 last=1/3 transfer');
    expect(c.leader()).toBe('2');
    c.propose('2', 'y');
    c.stabilize();
    expect(c.get('3').sm).toEqual(['x', 'y']);
    expect(c.get('1').sm).toEqual(['x']);
    // The old leader is not a voter any more: it never campaigns.
    c.tick(100, ['1']);
    expect(c.node('1').status().role).toBe('follower');
  });

  it('a voter added after compaction gets a snapshot that carries the voters', () => {
    const c = threeNodes();
    c.addNode('4', []);
    c.crash('4');
    c.node('1').proposeConfChange({ type: 'add', node: '4' });
    c.stabilize();
    c.propose('1', 'y');
    c.stabilize();
    expect(c.node('1').snapshotMetaAt(2n).voters).toEqual(['1', '2', '3']);
    expect(c.node('1').snapshotMetaAt(3n).voters).toEqual(['1', '2', '3', '4']);
    c.compact('1');
    c.restart('4');
    c.tick(1, ['1']);
    c.stabilize();
    expect(c.take()).toContain('1->4 MsgSnap term=1 snap=1/4 voters=1,2,3,4 bytes=9');
    expect(c.node('4').status().voters).toEqual(['1', '2', '3', '4']);
    expect(c.get('4').sm).toEqual(['x', 'y']);
  });

  it('on restart with applied > snapshot, replays membership changes the state machine already holds', () => {
    const c = threeNodes();
    c.node('1').proposeConfChange({ type: 'add', node: '4' });
    c.stabilize();
    const view = c.get('2').view; // log 1..3 with the conf entry at 3, no snapshot
    const mk = (applied: bigint) => new RaftNode({ id: '2', storage: view, random: seededRandom(1), applied });
    expect(mk(2n).status().voters).toEqual(['1', '2', '3']); // entry 3 will be handed out and applied
    expect(mk(3n).status().voters).toEqual(['1', '2', '3', '4']);
    expect(() => mk(9n)).toThrow(/applied 9 is past the stored commit 3/);
    expect(() => new RaftNode({ id: '9', storage: new MemoryLogView(), random: seededRandom(1), electionTicks: 1 })).toThrow(
      /electionTicks/,
    );
  });
});
