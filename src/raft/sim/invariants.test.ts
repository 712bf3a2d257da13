/** Each invariant fires on a state that breaks it (and stays quiet on the healthy case next to it). */
import { describe, expect, it } from 'vitest';
import { MemoryLogView, RaftNode, type Entry, type HardState, type Ready } from '../core/index.ts';
import { RaftInvariants } from './invariants.ts';
import { SimDisk } from './sim-disk.ts';

function checker(): RaftInvariants {
  return new RaftInvariants((property, detail) => {
    throw new Error(`${property}: ${detail}`);
  });
}

/** A single-voter server that elects itself (optionally starting from `term`) and commits `writes`. */
function soloLeader(id: string, term = 0n, writes: string[] = []): RaftNode {
  const view = new MemoryLogView({ voters: [id], hardState: { term, vote: undefined, commit: 0n } });
  const node = new RaftNode({ id, storage: view, random: () => 0 });
  const drain = () => {
    while (node.hasReady()) {
      const rd = node.ready();
      view.append(rd.entries);
      if (rd.hardState) view.setHardState(rd.hardState);
      node.advance(rd);
    }
  };
  node.campaign();
  drain();
  for (const w of writes) {
    node.propose(Buffer.from(w));
    drain();
  }
  return node;
}

const e = (index: number, term: number, data: string): Entry => ({ index: BigInt(index), term: BigInt(term), kind: 'normal', data: Buffer.from(data) });
const rd = (over: Partial<Ready>): Ready => ({ entries: [], mustSync: true, messages: [], committedEntries: [], readStates: [], ...over });
const hs = (term: number, vote: string | undefined, commit: number): HardState => ({ term: BigInt(term), vote, commit: BigInt(commit) });

describe('RaftInvariants', () => {
  it('election safety: two leaders of one term', () => {
    const c = checker();
    c.afterEvent([{ id: '1', node: soloLeader('1') }]);
    expect(() => c.afterEvent([{ id: '2', node: soloLeader('2') }])).toThrow(/election safety: 1 and 2 both lead term 1/);
  });

  it('leader completeness: a later leader without an entry committed earlier', () => {
    const c = checker();
    c.afterEvent([{ id: '1', node: soloLeader('1', 0n, ['a']) }]); // commits 1/1 noop, 1/2 "a" in term 1
    expect(() => c.afterEvent([{ id: '2', node: soloLeader('2', 1n) }])).toThrow(/leader completeness: 2 leads term 2 without committed entry 1\/1/);
  });

  it('log matching: one (index, term) with two payloads, or two predecessors', () => {
    const c = checker();
    const a = new SimDisk(['1']);
    const b = new SimDisk(['1']);
    const first = rd({ entries: [e(1, 1, 'x')] });
    a.persist(first);
    c.afterPersist('a', a, first);
    const same = rd({ entries: [e(1, 1, 'x')] });
    b.persist(same);
    c.afterPersist('b', b, same);
    const other = new SimDisk(['1']);
    const bad = rd({ entries: [e(1, 1, 'y')] });
    other.persist(bad);
    expect(() => c.afterPersist('c', other, bad)).toThrow(/log matching: c stores entry 1\/1/);
    const next = rd({ entries: [e(2, 2, 'z')] });
    a.persist(next);
    c.afterPersist('a', a, next);
    const d = new SimDisk(['1']);
    const dPrefix = rd({ entries: [e(1, 2, 'w')] });
    d.persist(dPrefix);
    c.afterPersist('d', d, dPrefix);
    const dNext = rd({ entries: [e(2, 2, 'z')] });
    d.persist(dNext);
    expect(() => c.afterPersist('d', d, dNext)).toThrow(/after term 2, elsewhere it follows term 1/);
  });

  it('disk: commit and term never go back, a vote never changes within its term', () => {
    const c = checker();
    const d = new SimDisk(['1']);
    d.persist(rd({ hardState: hs(2, '1', 3) }));
    c.beforePersist('1', d, rd({ hardState: hs(2, '1', 4) }));
    c.beforePersist('1', d, rd({ hardState: hs(3, '2', 3) }));
    expect(() => c.beforePersist('1', d, rd({ hardState: hs(2, '1', 2) }))).toThrow(/monotonic commit/);
    expect(() => c.beforePersist('1', d, rd({ hardState: hs(1, '1', 3) }))).toThrow(/monotonic term/);
    expect(() => c.beforePersist('1', d, rd({ hardState: hs(2, '3', 3) }))).toThrow(/one vote per term/);
  });

  it('persist before send: a vote grant or an append ack the disk does not back', () => {
    const c = checker();
    const d = new SimDisk(['1', '2']);
    const grant = { type: 'MsgVoteResp', from: '1', to: '2', term: 2n } as const;
    expect(() => c.onSend('1', d, grant)).toThrow(/persist before send: 1 grants its vote in term 2 to 2/);
    d.persist(rd({ hardState: hs(2, '2', 0) }));
    c.onSend('1', d, grant);
    c.onSend('1', d, { type: 'MsgVoteResp', from: '1', to: '3', term: 2n, reject: true });
    const ack = { type: 'MsgAppResp', from: '1', to: '2', term: 2n, index: 1n } as const;
    expect(() => c.onSend('1', d, ack)).toThrow(/acknowledges index 1/);
    d.persist(rd({ entries: [e(1, 2, 'x')] }));
    c.onSend('1', d, ack);
  });

  it('state-machine safety: different entries applied at one index, or out of order', () => {
    const c = checker();
    c.onApply('1', e(1, 1, 'x'));
    c.onApply('2', e(1, 1, 'x'));
    expect(() => c.onApply('3', e(1, 1, 'y'))).toThrow(/state-machine safety: 3 applies 1/);
    expect(() => c.onApply('1', e(3, 1, 'z'))).toThrow(/1 applies 3 after 1/);
  });

  it('monotonic commit: a running server whose commit index goes back', () => {
    const c = checker();
    const ahead = soloLeader('1', 0n, ['a', 'b']);
    c.afterEvent([{ id: '1', node: ahead }]);
    expect(() => c.afterEvent([{ id: '1', node: soloLeader('1', 0n, ['a']) }])).toThrow(/monotonic commit: 1 commit went from 3 to 2/);
  });
});
