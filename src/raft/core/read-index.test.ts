import { describe, expect, it } from 'vitest';
import { TestCluster, type ClusterOptions } from './test-cluster.ts';

function cluster(opts: ClusterOptions = {}) {
  const c = new TestCluster(['1', '2', '3'], opts);
  c.campaign('1');
  c.stabilize();
  c.propose('1', 'x');
  c.stabilize();
  c.take();
  return c;
}

/** Ticks everyone until someone leads (needed with lease reads: servers wait out a lease after start). */
function tickUntilLeader(c: TestCluster, ids?: string[]): string {
  for (let i = 0; i < 100; i++) {
    const l = c.leader();
    if (l !== undefined && (!ids || ids.includes(l))) return l;
    c.tick(1, ids);
    c.stabilize();
  }
  throw new Error('no leader');
}

describe('ReadIndex (§6.4)', () => {
  it('the leader confirms with a heartbeat quorum, then releases the read at its commit index', () => {
    const c = cluster();
    expect(c.node('1').readIndex('r1')).toEqual({ ok: true });
    c.stabilize();
    expect(c.take()).toEqual([
      '1->2 MsgHeartbeat term=1 commit=2 ctx="r1"',
      '1->3 MsgHeartbeat term=1 commit=2 ctx="r1"',
      '2->1 MsgHeartbeatResp term=1 ctx="r1"',
      '3->1 MsgHeartbeatResp term=1 ctx="r1"',
    ]);
    expect(c.get('1').readStates).toEqual([{ index: 2n, context: 'r1' }]);
  });

  it('needs a quorum: one ack of three is not enough', () => {
    const c = cluster();
    c.crash('2');
    c.crash('3');
    c.node('1').readIndex('r1');
    c.stabilize();
    expect(c.get('1').readStates).toEqual([]);
  });

  it('a follower forwards to the leader and releases the read only once it has applied that index', () => {
    const c = cluster();
    // y commits through 2; 3 has not received it yet.
    c.cutLink('1', '3');
    c.propose('1', 'y');
    c.stabilize();
    c.heal();
    c.take();
    c.node('3').readIndex('r3');
    c.processAll();
    c.deliver((m) => m.type === 'MsgReadIndex');
    c.deliver((m) => m.type === 'MsgHeartbeat' && m.context === 'r3');
    c.deliver((m) => m.type === 'MsgHeartbeatResp');
    c.deliver((m) => m.type === 'MsgReadIndexResp');
    const lines = c.take();
    expect(lines).toContain('3->1 MsgReadIndex term=1 ctx="r3"');
    expect(lines).toContain('1->3 MsgReadIndexResp term=1 index=3 ctx="r3"');
    // 3 knows the read index (3) but has applied only up to 2: nothing released yet.
    expect(c.node('3').status().applied).toBe(2n);
    expect(c.get('3').readStates).toEqual([]);
    c.stabilize(); // the append catches 3 up
    expect(c.get('3').sm).toEqual(['x', 'y']);
    expect(c.get('3').readStates).toEqual([{ index: 3n, context: 'r3' }]);
  });

  it('a follower with no known leader refuses', () => {
    const c = new TestCluster(['1', '2', '3']);
    expect(c.node('2').readIndex('r')).toEqual({ ok: false, reason: 'no-leader' });
  });

  it('a new leader holds reads until it has committed an entry of its own term', () => {
    const c = cluster();
    c.node('1').transferLeadership('2'); // a handover: 2 wins before its no-op commits
    c.processAll();
    c.deliver((m) => m.type === 'MsgTimeoutNow');
    c.deliver((m) => m.type === 'MsgVote');
    c.deliver((m) => m.type === 'MsgVoteResp');
    expect(c.node('2').status()).toMatchObject({ role: 'leader', commit: 2n });
    c.take();
    c.node('2').readIndex('early');
    c.processAll();
    // No heartbeat round yet: the no-op (index 3) is not committed.
    expect(c.queue.some((m) => m.context === 'early')).toBe(false);
    c.stabilize();
    expect(c.take()).toContain('2->1 MsgHeartbeat term=2 commit=3 ctx="early"');
    expect(c.get('2').readStates).toEqual([{ index: 3n, context: 'early' }]);
  });

  it('a deposed leader does not answer: its confirmation round reveals the newer term', () => {
    const c = cluster();
    c.isolate('1');
    const newLeader = tickUntilLeader(c, ['2', '3']);
    c.propose(newLeader, 'new');
    c.stabilize();
    expect(c.node('1').status().role).toBe('leader'); // it does not know yet
    c.take();
    expect(c.node('1').readIndex('stale')).toEqual({ ok: true });
    c.stabilize();
    c.heal();
    c.tick(1, ['1']); // the heartbeat (carrying "stale") now gets through
    c.stabilize();
    const lines = c.take();
    expect(lines).toContain(`2->1 MsgAppResp term=2`);
    expect(lines).toContain('1 soft leader=- role=follower voters=1,2,3 term=2');
    expect(c.get('1').readStates).toEqual([]);
  });
});

describe('lease reads (§6.4.1)', () => {
  const lease: ClusterOptions = { readOnly: 'lease', electionTicks: 10, leaseTicks: 5 };

  it('a leader with a fresh quorum of heartbeat acks answers without a round trip', () => {
    const c = new TestCluster(['1', '2', '3'], lease);
    const l = tickUntilLeader(c);
    c.tick(1, [l]); // one heartbeat round, acknowledged
    c.stabilize();
    c.take();
    expect(c.node(l).status().leaseValid).toBe(true);
    c.node(l).readIndex('fast');
    c.processAll();
    expect(c.queue).toEqual([]);
    expect(c.get(l).readStates.at(-1)).toMatchObject({ context: 'fast' });
  });

  it('an isolated leader stops answering from its lease before anyone else can be elected', () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const c = new TestCluster(['1', '2', '3'], { ...lease, seed });
      const old = tickUntilLeader(c);
      c.tick(1);
      c.stabilize();
      c.isolate(old);
      let lastLeaseAnswer = -1;
      let newLeaderAt = -1;
      for (let t = 1; t <= 40 && newLeaderAt < 0; t++) {
        c.tick(1);
        c.stabilize();
        for (const [id, tn] of c.nodes) if (id !== old && tn.node.status().role === 'leader') newLeaderAt = t;
        if (c.node(old).status().role === 'leader') {
          const before = c.get(old).readStates.length;
          c.node(old).readIndex(`r${t}`);
          c.processAll();
          if (c.get(old).readStates.length > before) lastLeaseAnswer = t;
          c.drop(() => true); // the fallback confirmation round cannot get out anyway
        }
      }
      expect(newLeaderAt).toBeGreaterThan(0);
      // Answers from the lease stop within leaseTicks of the last ack...
      expect(lastLeaseAnswer).toBeLessThan(5);
      // ...which is strictly before a new leader exists (followers wait >= electionTicks).
      expect(lastLeaseAnswer).toBeLessThan(newLeaderAt);
    }
  });

  it("with 'safe' reads (the default), RaftNode.leaseValid still tracks the quorum's acks (it guards default-mode reads)", () => {
    for (const seed of [1, 2, 3, 4]) {
      const c = new TestCluster(['1', '2', '3'], { electionTicks: 10, leaseTicks: 5, seed });
      const old = tickUntilLeader(c);
      c.tick(1, [old]);
      c.stabilize();
      expect(c.node(old).leaseValid()).toBe(true);
      expect(c.node(['1', '2', '3'].find((id) => id !== old)!).leaseValid()).toBe(false);
      c.isolate(old);
      let lapsedAt = -1;
      let newLeaderAt = -1;
      for (let t = 1; t <= 40 && newLeaderAt < 0; t++) {
        c.tick(1);
        c.stabilize();
        if (lapsedAt < 0 && !c.node(old).leaseValid()) lapsedAt = t;
        for (const [id, tn] of c.nodes) if (id !== old && tn.node.status().role === 'leader') newLeaderAt = t;
      }
      expect(lapsedAt).toBeGreaterThan(0);
      expect(lapsedAt).toBeLessThanOrEqual(5);
      expect(lapsedAt).toBeLessThan(newLeaderAt);
    }
  });

  it('a leader that sent MsgTimeoutNow gives up its lease for the term', () => {
    const c = new TestCluster(['1', '2', '3'], lease);
    const l = tickUntilLeader(c);
    c.tick(1, [l]);
    c.stabilize();
    expect(c.node(l).status().leaseValid).toBe(true);
    const target = l === '1' ? '2' : '1';
    c.node(l).transferLeadership(target);
    c.processAll();
    // The target may now win a forced election at any moment, past everyone's lease.
    expect(c.node(l).status().leaseValid).toBe(false);
  });

  it('requires CheckQuorum and a lease shorter than the election timeout', () => {
    expect(() => new TestCluster(['1'], { readOnly: 'lease', checkQuorum: false })).toThrow(/needs checkQuorum/);
    expect(() => new TestCluster(['1'], { readOnly: 'lease', electionTicks: 10, leaseTicks: 10 })).toThrow(/leaseTicks/);
  });
});
