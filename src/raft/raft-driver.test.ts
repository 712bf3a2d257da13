import { afterEach, describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { InmemNetwork, InmemTransport } from '../rpc/inmem-transport.ts';
import { createMemoryStorage } from '../storage/memory-storage.ts';
import type { RaftDriverTuning } from './driver-config.ts';
import { DriverHarness, registerCommand, waitUntil, type TestServer } from './driver-harness.ts';
import type { RaftError } from './raft-error.ts';

/**
 * Heartbeat 50 ms, election timeout in [500, 1000) ms: three drivers share this process's event
 * loop, and on a loaded machine 100 concurrent proposals stall it for hundreds of ms (with
 * 200 ms timeouts leadership moved mid-burst).
 */
const TUNING: Partial<RaftDriverTuning> = { tickMs: 50, electionTicks: 10, snapshotThreshold: 200, snapshotIntervalMs: 0, trailingEntries: 50 };
const RPC_TUNING = { backoffBaseMs: 10, backoffMaxMs: 50, handshakeTimeoutMs: 2_000, requestTimeoutMs: 5_000 };

const harnesses: DriverHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

function inmemCluster(ids: string[], opts: { tuningFor?: (id: string) => Partial<RaftDriverTuning> | undefined } = {}) {
  const net = new InmemNetwork();
  const h = new DriverHarness({
    ids,
    transport: async (id) => {
      const t = new InmemTransport(net, { nodeId: id, clusterId: 'c1', listen: `inmem-${id}`, tuning: RPC_TUNING });
      await t.start();
      return t;
    },
    // Memory storage outlives a stopped driver in this process: a restart finds what was "on disk".
    storage: async (_id, previous) => previous ?? createMemoryStorage(),
    tuning: TUNING,
    ...(opts.tuningFor ? { tuningFor: opts.tuningFor } : {}),
  });
  harnesses.push(h);
  return { h, net };
}

async function rejectionOf(p: Promise<unknown>): Promise<RaftError> {
  try {
    await p;
  } catch (err) {
    return err as RaftError;
  }
  throw new Error('expected a rejection');
}

/** Proposes `n` distinct registrations through `s`, `batch` at a time; returns the highest index. */
async function proposeMany(s: TestServer, prefix: string, n: number, batch = 100): Promise<bigint> {
  let last = 0n;
  for (let i = 0; i < n; i += batch) {
    const done = await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, (_, j) => s.log.propose(registerCommand(`${prefix}-${i + j}`))),
    );
    for (const d of done) if (d.index > last) last = d.index;
  }
  return last;
}

describe('RaftDriver over InmemTransport with memory storage', () => {
  it('replicates 1,000 commands to identical state machines, fails over, and catches a restarted server up by InstallSnapshot', async () => {
    const { h } = inmemCluster(['n1', 'n2', 'n3']);
    await h.start();
    const first = await h.leader();

    const last = await proposeMany(first, 'a', 1000);
    await h.allApplied(last);
    const states = h.live().map(DriverHarness.state);
    expect(new Set(states).size).toBe(1);
    expect(first.sm.counts()).toEqual({ nodes: 1000, services: 1000, checks: 0 });
    for (const s of h.live()) expect(s.driver.status().snapshotIndex).toBeGreaterThan(0n); // compacted along the way

    // The leader goes away; the other two elect a new one and keep committing.
    const stoppedAt = first.driver.lastIndex;
    await h.stop(first.id);
    const rest = h.live();
    const second = await h.leader(rest);
    expect(second.id).not.toBe(first.id);
    const last2 = await proposeMany(second, 'b', 400);
    await h.allApplied(last2);
    // The survivors compacted past everything the stopped server has: only a snapshot can catch it up.
    expect(second.driver.status().firstIndex).toBeGreaterThan(stoppedAt + 1n);

    const back = await h.restart(first.id);
    await back.driver.waitForApplied(last2, 10_000);
    expect(back.restoresAfterStart).toBeGreaterThanOrEqual(1);
    await h.leader();
    const after = h.live().map(DriverHarness.state);
    expect(after).toHaveLength(3);
    expect(new Set(after).size).toBe(1);
    expect(after[0]).not.toBe(states[0]);

    // The restarted server takes part again: a write through the leader reaches it.
    const leader = await h.leader();
    const { index } = await leader.log.propose(registerCommand('c-0'));
    await back.driver.waitForApplied(index, 5_000);
    expect(back.sm.getNode('c-0')).toBeDefined();
  }, 15_000);

  it('concurrent proposals on the leader reach a follower batched: far fewer MsgApps than commands, each command at its own index', async () => {
    const { h } = inmemCluster(['n1', 'n2', 'n3']);
    await h.start();
    const leader = await h.leader();
    const follower = h.live().find((s) => s !== leader)!;
    let appends = 0;
    follower.transport.onMessage((_from, v) => {
      const m = (v as { raft?: { type?: string; entries?: unknown[] } }).raft;
      if (m?.type === 'MsgApp' && (m.entries?.length ?? 0) > 0) appends++;
    });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => leader.log.propose(registerCommand(`batch-${i}`))));
    const indexes = results.map((r) => r.index);
    expect(new Set(indexes).size).toBe(200);
    await h.allApplied(indexes.reduce((a, b) => (a > b ? a : b)));
    for (let i = 0; i < 200; i++) expect(follower.sm.getNode(`batch-${i}`)).toBeDefined();
    // One proposal per MsgApp would be 200 (the core sends at most 64 entries per MsgApp, so >= 4).
    expect(appends).toBeLessThanOrEqual(20);
  });

  it('a follower forwards a proposal to the leader and sees its own write; with forwarding off it gets NOT_LEADER naming the leader', async () => {
    const { h } = inmemCluster(['n1', 'n2', 'n3'], { tuningFor: (id) => (id === 'n3' ? { forwardProposals: false } : undefined) });
    await h.start();
    let leader = await h.leader();
    // n3 (no forwarding) and one forwarding follower must both be followers.
    if (leader.id !== 'n1') {
      await leader.driver.transferLeadership('n1');
      leader = await h.leader();
    }
    expect(leader.id).toBe('n1');
    const [n2, n3] = [h.get('n2'), h.get('n3')];

    const res = await n2.log.propose(registerCommand('via-follower'));
    expect(res.index).toBeGreaterThan(0n);
    expect(n2.sm.getNode('via-follower')).toBeDefined(); // applied locally before resolving
    expect(leader.sm.getNode('via-follower')).toBeDefined();
    // The leader's state-machine refusal comes back with its own code.
    const refusedErr = await rejectionOf(n2.log.propose({ type: 'check.update', node: 'nope', checkId: 'x', status: 'passing', output: '' }));
    expect(refusedErr.code).toBe(ERR.CHECK_UNKNOWN);

    const err = await rejectionOf(n3.log.propose(registerCommand('refused')));
    expect(err.code).toBe(ERR.RAFT_NOT_LEADER);
    expect(err.indeterminate).toBe(false);
    expect(err.leader).toEqual({ id: 'n1', address: leader.address });
    expect(err.message).toContain('the leader is n1 at inmem-n1');
    expect(n3.sm.getNode('refused')).toBeUndefined();
  });

  it('a partitioned leader does not answer readIndex and loses its in-flight proposals; the majority moves on', async () => {
    const { h, net } = inmemCluster(['n1', 'n2', 'n3']);
    await h.start();
    const old = await h.leader();
    await old.log.propose(registerCommand('before'));
    const index = await old.driver.readIndex();
    expect(index).toBeGreaterThanOrEqual(old.driver.appliedIndex - 0n);
    expect(old.driver.appliedIndex).toBeGreaterThanOrEqual(index);

    const others = h.live().filter((s) => s !== old);
    for (const o of others) net.partition(old.id, o.id);
    // Still leader in its own eyes right after the cut: neither of these can complete.
    const read = old.driver.readIndex();
    const write = old.log.propose(registerCommand('lost'));
    const readErr = await rejectionOf(read);
    expect([ERR.RAFT_TIMEOUT, ERR.RAFT_NOT_LEADER]).toContain(readErr.code);
    const writeErr = await rejectionOf(write);
    expect(writeErr.code).toBe(ERR.RAFT_PROPOSAL_INDETERMINATE);
    expect(writeErr.indeterminate).toBe(true);

    const next = await h.leader(others);
    await next.log.propose(registerCommand('after'));
    // The deposed leader, still cut off, answers no linearizable read.
    const staleErr = await rejectionOf(old.driver.readIndex());
    expect([ERR.RAFT_TIMEOUT, ERR.RAFT_NOT_LEADER]).toContain(staleErr.code);

    net.heal();
    await h.leader();
    await waitUntil('old leader catches up', () => old.sm.getNode('after') !== undefined);
    expect(old.sm.getNode('lost')).toBeUndefined(); // its uncommitted entry was replaced
    expect(new Set(h.live().map(DriverHarness.state)).size).toBe(1);
    const confirmed = await old.driver.readIndex(); // a follower's read goes through the new leader
    expect(confirmed).toBeGreaterThan(index);
  });

  it('a single-server cluster leads at once, commits alone, and restarts from its storage with the same state', async () => {
    const { h } = inmemCluster(['solo']);
    await h.start();
    const solo = h.get('solo');
    expect(solo.driver.isLeader).toBe(true); // campaigned at start, no election timeout
    const last = await proposeMany(solo, 's', 250, 50);
    expect(solo.driver.status()).toMatchObject({ role: 'leader', commit: last, applied: last, leader: { id: 'solo', address: 'inmem-solo' } });
    expect(solo.driver.status().snapshotIndex).toBeGreaterThan(0n);
    const before = DriverHarness.state(solo);
    expect(await solo.driver.readIndex()).toBe(last);

    await h.stop('solo');
    const back = await h.restart('solo');
    expect(back.driver.appliedIndex).toBeGreaterThanOrEqual(last); // start() resolved after replaying what was committed (and maybe the new term's no-op)
    expect(DriverHarness.state(back)).toBe(before);
    await back.driver.waitForLeader();
    const { index } = await back.log.propose(registerCommand('after-restart'));
    expect(index).toBeGreaterThan(last);
  });

  it('adds a server, transfers leadership to it, removes another; status reports the voters', async () => {
    const { h } = inmemCluster(['n1', 'n2', 'n3']);
    await h.start();
    const leader = await h.leader();
    await proposeMany(leader, 'x', 20, 20);

    const n4 = await h.startNew('n4');
    expect(n4.driver.status().peers).toEqual([]);
    await leader.driver.addServer('n4', n4.address);
    await waitUntil('n4 applies the log', () => n4.driver.appliedIndex >= leader.driver.appliedIndex && n4.sm.getNode('x-19') !== undefined);
    expect(leader.driver.status().peers.map((p) => p.id)).toEqual(['n1', 'n2', 'n3', 'n4']);

    await leader.driver.transferLeadership('n4');
    expect(await h.leader()).toBe(n4);
    const victim = leader.id === 'n1' ? 'n2' : 'n1';
    // Asked of a follower: forwarded to the leader (n4).
    await leader.driver.removeServer(victim);
    const st = n4.driver.status();
    expect(st.leader).toEqual({ id: 'n4', address: n4.address });
    expect(st.peers.map((p) => p.id)).toEqual(['n1', 'n2', 'n3', 'n4'].filter((id) => id !== victim));
    expect(st.peers.find((p) => p.id === 'n4')).toMatchObject({ leader: true, voter: true, address: n4.address });
    // Still commits with the new membership.
    const { index } = await n4.log.propose(registerCommand('after-change'));
    await Promise.all(st.peers.map((p) => h.get(p.id).driver.waitForApplied(index, 5_000)));
  });
});
