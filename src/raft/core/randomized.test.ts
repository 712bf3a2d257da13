/**
 * A small seeded random walk over 3 nodes: ticks, deliveries in random order, drops,
 * duplicates, partitions, crash/restart, compaction, proposals, reads and transfers. After
 * every step it checks Raft's safety properties (the big simulator comes later; this one
 * stays fast). A failure message names the seed and step, which replay exactly.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from './seeded-random.ts';
import { TestCluster } from './test-cluster.ts';
import type { NodeId } from './types.ts';

const IDS: NodeId[] = ['1', '2', '3'];

function runSeed(seed: number, steps: number): { leaders: number; committed: number; reads: number } {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  // Vary the configuration across seeds: lease reads need CheckQuorum; without CheckQuorum
  // a deposed leader lingers until it hears the new term, the case stale reads come from.
  const lease = seed % 2 === 0;
  const c = new TestCluster(IDS, {
    seed,
    electionTicks: 6,
    maxEntriesPerAppend: 3,
    maxInflight: 4,
    readOnly: lease ? 'lease' : 'safe',
    leaseTicks: 3,
    checkQuorum: lease || seed % 4 === 3,
    preVote: seed % 3 !== 0,
  });
  let step = 0;
  // Annotated so TypeScript narrows after a call (assertion-style never).
  const fail: (msg: string) => never = (msg) => {
    throw new Error(`seed ${seed} step ${step}: ${msg}`);
  };

  // State-machine safety: one entry per index, cluster-wide, among everything ever applied.
  const committed = new Map<bigint, string>();
  let maxApplied = 0n;
  const lastApplied = new Map<NodeId, bigint>(IDS.map((id) => [id, 0n]));
  c.onReady = (id, rd) => {
    if (rd.snapshot) lastApplied.set(id, rd.snapshot.index);
    for (const e of rd.committedEntries) {
      if (e.index !== lastApplied.get(id)! + 1n) fail(`${id} applied ${e.index} after ${lastApplied.get(id)}`);
      lastApplied.set(id, e.index);
      const key = `${e.term}/${e.kind}/${e.data.toString('hex')}`;
      const prev = committed.get(e.index);
      if (prev !== undefined && prev !== key) fail(`index ${e.index} applied as ${prev} and as ${key}`);
      committed.set(e.index, key);
      if (e.index > maxApplied) maxApplied = e.index;
    }
  };

  // Linearizable reads: a read must see every write applied anywhere before it was asked.
  const readFloor = new Map<string, bigint>();
  const seenReads = new Map<NodeId, number>(IDS.map((id) => [id, 0]));
  const leaderOfTerm = new Map<bigint, NodeId>();
  /** Highest commit index a leader of each term reached: entries up to it were committed in that term or before. */
  const commitOfTerm = new Map<bigint, bigint>();
  let readSeq = 0;
  let proposals = 0;
  let reads = 0;

  const check = () => {
    for (const [id, tn] of c.nodes) {
      const s = tn.node.status();
      // Election safety: at most one leader per term.
      if (s.role === 'leader') {
        const prev = leaderOfTerm.get(s.term);
        if (prev !== undefined && prev !== id) fail(`two leaders in term ${s.term}: ${prev} and ${id}`);
        leaderOfTerm.set(s.term, id);
        if (s.commit > (commitOfTerm.get(s.term) ?? 0n)) commitOfTerm.set(s.term, s.commit);
        // Leader completeness: a leader holds every entry committed in an earlier term (a
        // deposed leader that does not know it yet may lack later ones).
        let horizon = 0n;
        for (const [t, ci] of commitOfTerm) if (t < s.term && ci > horizon) horizon = ci;
        for (const [index, key] of committed) {
          if (index > horizon || index < tn.view.firstIndex()) continue;
          const t = tn.view.term(index);
          if (t === undefined || key.split('/')[0] !== String(t)) fail(`leader ${id} (term ${s.term}) lacks applied entry ${index}`);
        }
      }
      if (!tn.up) continue;
      if (s.commit < s.applied) fail(`${id} applied ${s.applied} past commit ${s.commit}`);
      // Reads: released only once applied, and never older than what was applied when asked.
      for (const rs of tn.readStates.slice(seenReads.get(id))) {
        if (rs.index > lastApplied.get(id)!) fail(`${id} released read ${rs.context} at ${rs.index} before applying it`);
        const floor = readFloor.get(rs.context);
        if (floor === undefined) fail(`unknown read ${rs.context}`);
        if (rs.index < floor!) fail(`read ${rs.context} at ${rs.index} misses writes applied up to ${floor}`);
        reads++;
      }
      seenReads.set(id, tn.readStates.length);
    }
    // Log matching: if two logs hold an entry with the same index and term, they are identical up to it.
    for (let i = 0; i < IDS.length; i++) {
      for (let j = i + 1; j < IDS.length; j++) {
        const a = c.get(IDS[i]!).view;
        const b = c.get(IDS[j]!).view;
        const lo = a.firstIndex() > b.firstIndex() ? a.firstIndex() : b.firstIndex();
        const hi = a.lastIndex() < b.lastIndex() ? a.lastIndex() : b.lastIndex();
        let agreeUpTo = 0n;
        for (let k = hi; k >= lo; k--) {
          if (a.term(k) === b.term(k)) {
            agreeUpTo = k;
            break;
          }
        }
        if (agreeUpTo === 0n) continue;
        const ea = a.entries(lo, agreeUpTo + 1n);
        const eb = b.entries(lo, agreeUpTo + 1n);
        for (let k = 0; k < ea.length; k++) {
          if (ea[k]!.term !== eb[k]!.term || !ea[k]!.data.equals(eb[k]!.data)) {
            fail(`logs of ${IDS[i]} and ${IDS[j]} agree at ${agreeUpTo} but differ at ${ea[k]!.index}`);
          }
        }
      }
    }
  };

  // Per-mille weights. A node ticks on ~10% of steps, so an election timeout spans ~60
  // steps: faults must be rarer than that or no leader ever settles.
  for (step = 0; step < steps; step++) {
    const r = rnd(1000);
    const up = IDS.filter((id) => c.get(id).up);
    if (r < 300) {
      c.get(pick(up)).node.tick();
    } else if (r < 750) {
      // deliver one message, chosen at random: reordering
      if (c.queue.length > 0) c.deliverOne(c.queue.splice(rnd(c.queue.length), 1)[0]!);
    } else if (r < 800) {
      if (c.queue.length > 0) c.drop((m) => m === c.queue[rnd(c.queue.length)]);
    } else if (r < 820) {
      if (c.queue.length > 0) c.queue.push(pick(c.queue));
    } else if (r < 920) {
      for (const id of up) {
        if (c.node(id).status().role === 'leader') {
          if (c.node(id).propose(Buffer.from(`v${seed}.${proposals}`)).ok) proposals++;
        }
      }
    } else if (r < 960) {
      // Half the reads go to a server that believes it leads: a deposed leader that has not
      // noticed yet is exactly where a stale read would come from.
      const leaders = up.filter((x) => c.node(x).status().role === 'leader');
      const id = leaders.length > 0 && rnd(2) === 0 ? pick(leaders) : pick(up);
      const ctx = `r${readSeq++}`;
      readFloor.set(ctx, maxApplied);
      c.node(id).readIndex(ctx);
    } else if (r < 970) {
      // Cutting off the leader is the interesting partition: it forces elections and leaves
      // a deposed leader that does not know it yet.
      const l = c.leader();
      if (rnd(2) === 0) c.isolate(l !== undefined && rnd(2) === 0 ? l : pick(IDS));
      else c.heal();
    } else if (r < 976) {
      // One server down at a time: crash one, or bring the crashed one back.
      const down = IDS.find((x) => !c.get(x).up);
      const id = down ?? pick(IDS);
      if (!down) c.crash(id);
      else {
        // The restarted state machine begins at the snapshot; the log is re-applied after it.
        lastApplied.set(id, c.get(id).view.snapshotMeta().index);
        seenReads.set(id, 0);
        c.restart(id);
      }
    } else if (r < 994) {
      const id = pick(up);
      if (c.node(id).status().applied > c.get(id).view.snapshotMeta().index) c.compact(id);
    } else {
      const id = pick(up);
      c.node(id).transferLeadership(pick(IDS));
    }
    c.processAll();
    check();
  }

  // Liveness once the faults stop: everyone back, a leader, a final write reaches all.
  c.heal();
  for (const id of IDS) {
    if (!c.get(id).up) {
      lastApplied.set(id, c.get(id).view.snapshotMeta().index);
      seenReads.set(id, 0);
      c.restart(id);
    }
  }
  let leader: NodeId | undefined;
  for (let i = 0; i < 300 && leader === undefined; i++) {
    c.tick();
    c.stabilize();
    check();
    leader = c.leader();
  }
  if (leader === undefined) fail('no leader after healing');
  let final = c.node(leader!).propose(Buffer.from('final'));
  for (let i = 0; i < 300 && !final.ok; i++) {
    c.tick();
    c.stabilize();
    leader = c.leader();
    if (leader !== undefined) final = c.node(leader).propose(Buffer.from('final'));
  }
  if (!final.ok) fail('final proposal never accepted');
  for (let i = 0; i < 50 && IDS.some((id) => c.node(id).status().applied < final.index); i++) {
    c.tick();
    c.stabilize();
    check();
  }
  for (const id of IDS) {
    if (c.node(id).status().applied < final.index) fail(`${id} never applied the final write`);
  }
  const sms = IDS.map((id) => JSON.stringify(c.get(id).sm));
  if (new Set(sms).size !== 1) fail('state machines differ after healing');
  return { leaders: leaderOfTerm.size, committed: committed.size, reads };
}

describe('randomized safety walk (3 nodes, seeded)', () => {
  it('keeps election safety, log matching, state-machine safety and read linearizability under message loss and reordering', () => {
    let leaders = 0;
    let committed = 0;
    let reads = 0;
    const seeds = 20;
    for (let seed = 1; seed <= seeds; seed++) {
      const r = runSeed(seed, 2000);
      leaders += r.leaders;
      committed += r.committed;
      reads += r.reads;
    }
    // The walk must actually exercise the protocol, or it proves nothing.
    expect(leaders).toBeGreaterThan(seeds * 3);
    expect(committed).toBeGreaterThan(seeds * 20);
    expect(reads).toBeGreaterThan(seeds * 5);
  });
});
