import { describe, expect, it } from 'vitest';
import { TestCluster } from './test-cluster.ts';

function withLaggingThree() {
  const c = new TestCluster(['1', '2', '3']);
  c.campaign('1');
  c.stabilize();
  c.isolate('3');
  c.propose('1', 'a');
  c.propose('1', 'b');
  c.stabilize();
  c.heal();
  c.take();
  return c;
}

describe('leadership transfer (§3.10)', () => {
  it('catches the target up, sends MsgTimeoutNow, and the target wins at once (past leases)', () => {
    const c = withLaggingThree();
    expect(c.node('1').transferLeadership('3')).toEqual({ ok: true });
    // Proposals wait while the transfer is on, so the target can catch up for good.
    expect(c.node('1').propose(Buffer.from('c'))).toEqual({ ok: false, reason: 'transferring' });
    c.stabilize();
    expect(c.take()).toEqual([
      '1->3 MsgApp term=1 log=1/3 commit=3',
      '3->1 MsgAppResp term=1 reject index=3 hint=1/1',
      '1->3 MsgApp term=1 log=1/1 commit=3 entries=[1/2 normal "a", 1/3 normal "b"]',
      '3->1 MsgAppResp term=1 index=3',
      '1->3 MsgTimeoutNow term=1',
      '3 soft leader=- role=candidate voters=1,2,3 term=2',
      '3->1 MsgVote term=2 last=1/3 transfer',
      '3->2 MsgVote term=2 last=1/3 transfer',
      // Both voters heard from leader 1 just now: only the transfer flag gets past their lease.
      '1 soft leader=- role=follower voters=1,2,3 term=2',
      '2 soft leader=- role=follower voters=1,2,3 term=2',
      '1->3 MsgVoteResp term=2 granted',
      '2->3 MsgVoteResp term=2 granted',
      '3 soft leader=3 role=leader voters=1,2,3 term=2',
      '3->1 MsgApp term=2 log=1/3 commit=3 entries=[2/4 noop]',
      '3->2 MsgApp term=2 log=1/3 commit=3 entries=[2/4 noop]',
      '1 soft leader=3 role=follower voters=1,2,3 term=2',
      '2 soft leader=3 role=follower voters=1,2,3 term=2',
      '1->3 MsgAppResp term=2 index=4',
      '2->3 MsgAppResp term=2 index=4',
      '3->1 MsgApp term=2 log=2/4 commit=4',
      '3->2 MsgApp term=2 log=2/4 commit=4',
      '1->3 MsgAppResp term=2 index=4',
      '2->3 MsgAppResp term=2 index=4',
    ]);
  });

  it('sends MsgTimeoutNow immediately to a target that is already up to date', () => {
    const c = new TestCluster(['1', '2', '3']);
    c.campaign('1');
    c.stabilize();
    c.take();
    c.node('1').transferLeadership('2');
    c.processAll();
    expect(c.queue.map((m) => `${m.from}->${m.to} ${m.type}`)).toEqual(['1->2 MsgTimeoutNow']);
    c.stabilize();
    expect(c.leader()).toBe('2');
  });

  it('is abandoned after an election timeout when the target does not answer; proposals resume', () => {
    const c = withLaggingThree();
    c.isolate('3');
    c.node('1').transferLeadership('3');
    c.stabilize();
    expect(c.node('1').status().leadTransferee).toBe('3');
    let abortedAt = -1;
    for (let t = 1; t <= 20 && abortedAt < 0; t++) {
      c.tick(1, ['1', '2']);
      c.stabilize();
      if (c.node('1').status().leadTransferee === undefined) abortedAt = t;
    }
    expect(abortedAt).toBe(10);
    expect(c.leader()).toBe('1');
    expect(c.node('1').propose(Buffer.from('c')).ok).toBe(true);
  });

  it('refuses a transfer to itself, to a non-voter, or from a follower', () => {
    const c = new TestCluster(['1', '2', '3']);
    c.campaign('1');
    c.stabilize();
    expect(c.node('1').transferLeadership('1')).toEqual({ ok: false, reason: 'invalid' });
    expect(c.node('1').transferLeadership('9')).toEqual({ ok: false, reason: 'invalid' });
    expect(c.node('2').transferLeadership('3')).toEqual({ ok: false, reason: 'not-leader', leader: '1' });
  });
});
