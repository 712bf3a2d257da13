/** The driver's order of work, with a disk that completes when the test says so. */
import { describe, expect, it } from 'vitest';
import { describeMessage, MemoryLogView, RaftNode, type Ready } from '../core/index.ts';
import { ReadyDriver, type SendEarly } from './ready-driver.ts';

function setup(sendEarly: SendEarly, syncDisk = false) {
  const view = new MemoryLogView({ voters: ['1', '2', '3'] });
  const node = new RaftNode({ id: '1', storage: view, random: () => 0, preVote: false });
  const log: string[] = [];
  const pending: (() => void)[] = [];
  const driver = new ReadyDriver(
    node,
    view,
    {
      persist: (rd: Ready, done) => {
        log.push(`persist${rd.hardState ? ` term=${rd.hardState.term} vote=${rd.hardState.vote ?? '-'}` : ''}${rd.entries.length > 0 ? ` entries=${rd.entries.length}` : ''}`);
        if (syncDisk) done();
        else pending.push(() => {
          log.push('durable');
          done();
        });
      },
      send: (msgs) => {
        for (const m of msgs) log.push(`send ${describeMessage(m)}`);
      },
      restore: () => log.push('restore'),
      apply: (e) => log.push(`apply ${e.index}`),
      answerReads: () => log.push('reads'),
      afterAdvance: () => log.push('advanced'),
    },
    sendEarly,
  );
  const completeWrite = () => pending.shift()!();
  return { node, view, driver, log, completeWrite };
}

describe('ReadyDriver', () => {
  it('persists, and only once durable sends, applies and advances; input meanwhile waits for the next Ready', () => {
    const { node, view, driver, log, completeWrite } = setup('never');
    node.campaign();
    driver.pump();
    expect(log).toEqual(['persist term=1 vote=1']);
    expect(driver.busy).toBe(true);
    // A grant arrives while the vote is being written: it is handled, its output waits.
    node.step({ type: 'MsgVoteResp', from: '2', to: '1', term: 1n });
    driver.pump();
    expect(log).toHaveLength(1);
    expect(view.hardState().term).toBe(0n);
    completeWrite();
    expect(log).toEqual([
      'persist term=1 vote=1',
      'durable',
      'send 1->2 MsgVote term=1 last=0/0',
      'send 1->3 MsgVote term=1 last=0/0',
      'advanced',
      // the next Ready starts at once: leader, with its no-op
      'persist entries=1',
    ]);
    expect(view.hardState()).toEqual({ term: 1n, vote: '1', commit: 0n });
    completeWrite();
    expect(log.slice(6)).toEqual([
      'durable',
      'send 1->2 MsgApp term=1 log=0/0 commit=0 entries=[1/1 noop]',
      'send 1->3 MsgApp term=1 log=0/0 commit=0 entries=[1/1 noop]',
      'advanced',
    ]);
    expect(view.lastIndex()).toBe(1n);
    // An ack commits the no-op: the hard state's new commit index is written, then the
    // follower is told and the entry applied.
    node.step({ type: 'MsgAppResp', from: '2', to: '1', term: 1n, index: 1n });
    driver.pump();
    completeWrite();
    expect(log.slice(10)).toEqual(['persist term=1 vote=1', 'durable', 'send 1->2 MsgApp term=1 log=1/1 commit=1', 'apply 1', 'advanced']);
  });

  it("'leader-appends' lets a leader's MsgApp leave before its own write completes, nothing else", () => {
    const { node, driver, log, completeWrite } = setup('leader-appends');
    node.campaign();
    driver.pump();
    expect(log).toEqual(['persist term=1 vote=1']); // votes wait for the disk
    completeWrite();
    node.step({ type: 'MsgVoteResp', from: '2', to: '1', term: 1n });
    driver.pump();
    expect(log.slice(-3)).toEqual([
      'send 1->2 MsgApp term=1 log=0/0 commit=0 entries=[1/1 noop]',
      'send 1->3 MsgApp term=1 log=0/0 commit=0 entries=[1/1 noop]',
      'persist entries=1',
    ]);
    completeWrite();
    expect(log.slice(-2)).toEqual(['durable', 'advanced']);
  });

  it("'all' sends everything before it is durable (the broken variant)", () => {
    const { node, driver, log } = setup('all');
    node.campaign();
    driver.pump();
    expect(log).toEqual(['send 1->2 MsgVote term=1 last=0/0', 'send 1->3 MsgVote term=1 last=0/0', 'persist term=1 vote=1']);
  });

  it('handles Readies back to back when the disk completes synchronously', () => {
    const { node, driver, log } = setup('never', true);
    node.campaign();
    node.step({ type: 'MsgVoteResp', from: '2', to: '1', term: 1n });
    driver.pump();
    expect(driver.busy).toBe(false);
    expect(log.filter((l) => l.startsWith('persist'))).toEqual(['persist term=1 vote=1 entries=1']);
    expect(driver.readiesDone).toBe(1);
  });
});
