/**
 * ChangeFeed (server side) and ClientLink (client side) over real TCP, without Raft: each
 * "server" is a StateMachine behind the feed's wrapper, committing entries itself. Covers a
 * catch-up from a snapshot (the ring no longer covers the client), live entries, a refused
 * entry, a write with read-your-writes, and resubscribing to a server learned from the stream
 * after the first one went away. Reads: the server's leader facts from the stream's keepalives,
 * read points (the wait for a server's index, refusals, the timeout), and a start-up without a
 * reachable server (background retries, retryMax).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StateMachine } from '../catalog/state-machine.ts';
import type { Command, NodeFields } from '../catalog/types.ts';
import { ERR, HeraldError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { encodeCommand } from '../raft/command-codec.ts';
import type { ReplicatedLog } from '../raft/local-log.ts';
import { catalogStateMachine } from '../raft/raft-log.ts';
import { TcpTransport } from '../rpc/tcp-transport.ts';
import { freePort, until } from '../cli/commands/cli-harness.ts';
import { ChangeFeed, type ChangeFeedOptions } from './client-feed.ts';
import { ClientLink, type ClientLinkOptions } from './client-link.ts';
import { READ_POINT_METHOD } from './read-point.ts';

const node = (name: string): NodeFields => ({ node: name, id: '', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} });
const reg = (name: string): Command => ({ type: 'catalog.register', node: node(name) });

interface FakeServer {
  sm: StateMachine;
  transport: TcpTransport;
  address: string;
  /** Commits a command at the next index (a refusal still uses the index, as in Raft). */
  commit(c: Command): bigint;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function fakeServer(
  id: string,
  others: () => string[],
  ringSize = 2,
  plugins: string[] = [],
  maxFrameBytes?: number,
  more: { feed?: Partial<ChangeFeedOptions>; listen?: string } = {},
): Promise<FakeServer> {
  const sm = new StateMachine();
  const feed = new ChangeFeed({ sm, ringSize, plugins, log: silentLogger, ...more.feed });
  const rsm = feed.wrap(catalogStateMachine(sm));
  let index = 0n;
  const commit = (c: Command): bigint => {
    index++;
    try {
      rsm.apply(index, encodeCommand(c));
    } catch {
      /* refused: the index is used anyway */
    }
    return index;
  };
  const log: ReplicatedLog = {
    propose: async (c) => ({ index: commit(c) }),
    get lastIndex() {
      return index;
    },
  };
  const transport = new TcpTransport({ nodeId: id, clusterId: 'herald/dc1', listen: more.listen ?? '127.0.0.1:0', ...(maxFrameBytes ? { tuning: { maxFrameBytes } } : {}) });
  await transport.start();
  const address = transport.address!;
  feed.serve(transport, () => log, () => [address, ...others()]);
  closers.push(() => transport.close());
  return { sm, transport, address, commit };
}

function link(servers: string[], sm = new StateMachine(), plugins: string[] = [], extra: Partial<ClientLinkOptions> = {}): ClientLink {
  const l = new ClientLink({ nodeId: 'client', datacenter: 'dc1', servers, sm, plugins, log: silentLogger, ...extra });
  closers.push(() => l.stop());
  return l;
}

/** Resolves once `sm` has node `name` (on its change event). */
function nodeAppears(sm: StateMachine, name: string): Promise<void> {
  return new Promise((resolve) => {
    if (sm.getNode(name)) return resolve();
    const off = sm.onChange(() => {
      if (sm.getNode(name)) {
        off();
        resolve();
      }
    });
  });
}

describe('ClientLink + ChangeFeed', () => {
  it('catches up from a snapshot when the ring no longer covers it, then follows live entries and refusals', async () => {
    const s = await fakeServer('s1', () => []);
    for (let i = 1; i <= 5; i++) s.commit(reg(`n${i}`));
    const sm = new StateMachine();
    const c = link([s.address], sm);
    await c.start();
    // Ring of 2 after 5 entries: the client (from 0) must have been sent the whole state.
    expect(c.appliedIndex).toBe(5n);
    expect(sm.nodes().map((n) => n.node)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);

    const refused = s.commit({ type: 'check.update', node: 'nobody', checkId: 'x', status: 'passing', output: '' });
    expect(refused).toBe(6n);
    const seen = nodeAppears(sm, 'n7');
    s.commit(reg('n7'));
    await seen;
    expect(c.appliedIndex).toBe(7n);
    expect(sm.lastIndex).toBe(7n);
  });

  it('catches up from a snapshot larger than the frame limit, sent as chunks', async () => {
    const frame = 16 * 1024;
    const s = await fakeServer('s1', () => [], 2, [], frame);
    for (let i = 0; i < 400; i++) s.commit(reg(`node-${i}`));
    const state = JSON.stringify(s.sm.snapshot());
    expect(state.length).toBeGreaterThan(3 * frame);
    const sm = new StateMachine();
    const c = link([s.address], sm);
    await c.start();
    expect(c.appliedIndex).toBe(400n);
    expect(JSON.stringify(sm.snapshot())).toBe(state);
  });

  it('acknowledges a write once the local replica has applied it (read-your-writes)', async () => {
    const s = await fakeServer('s1', () => []);
    const sm = new StateMachine();
    const c = link([s.address], sm);
    await c.start();
    const { index } = await c.propose(reg('mine'));
    expect(index).toBe(1n);
    expect(sm.getNode('mine')?.address).toBe('10.0.0.1');
    expect(c.appliedIndex).toBeGreaterThanOrEqual(1n);
  });

  it('resubscribes from its last index to a server it learned from the stream when its upstream goes away', async () => {
    let s2addr = '';
    const s1 = await fakeServer('s1', () => [s2addr], 100);
    const s2 = await fakeServer('s2', () => [], 100);
    s2addr = s2.address;
    const both = (c: Command) => {
      s1.commit(c);
      s2.commit(c);
    };
    both(reg('a'));
    const sm = new StateMachine();
    const c = link([s1.address], sm);
    await c.start();
    expect(c.server).toBe(s1.address);
    await s1.transport.close();
    both(reg('b'));
    await nodeAppears(sm, 'b');
    expect(c.server).toBe(s2.address);
    expect(c.appliedIndex).toBe(2n);
    const { index } = await c.propose(reg('c'));
    expect(index).toBe(3n);
    expect(sm.getNode('c')).toBeDefined();
  });

  it('refuses to start when the servers run other replicated-state plugins, naming them', async () => {
    const s = await fakeServer('s1', () => [], 2, ['kv']);
    s.commit(reg('a'));
    const sm = new StateMachine();
    const err = await link([s.address], sm).start().then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe(ERR.SERVER_JOIN_REFUSED);
    expect(err?.message).toMatch(/only here: \(none\); only on the server: kv/);
    expect(sm.nodes()).toEqual([]);
  });
});

describe('ClientLink reads: leader facts and read points', () => {
  it('reports the leader facts of the server it streams from, kept fresh by keepalives on an idle stream, and no leader once the stream is gone', async () => {
    let facts = { knownLeader: true, lastContactMs: 40 };
    let asked = 0;
    const leader = () => (asked++, facts);
    const s = await fakeServer('s1', () => [], 2, [], undefined, { feed: { leader, keepaliveMs: 20 } });
    const c = link([s.address]);
    await c.start();
    await until('the first keepalive', async () => c.leaderInfo().knownLeader, 5_000);
    const healthy = c.leaderInfo();
    expect(healthy.lastContactMs).toBeGreaterThanOrEqual(40);
    expect(healthy.lastContactMs).toBeLessThan(1_040);
    // Nothing is committed: only keepalives flow.
    const before = asked;
    await until('keepalives on the idle stream', async () => asked >= before + 5, 5_000);

    facts = { knownLeader: false, lastContactMs: 5_000 };
    await until('a keepalive saying no leader', async () => !c.leaderInfo().knownLeader, 5_000);
    expect(c.leaderInfo().lastContactMs).toBeGreaterThanOrEqual(5_000);
    facts = { knownLeader: true, lastContactMs: 0 };
    await until('a leader again', async () => c.leaderInfo().knownLeader, 5_000);

    // The server goes away: no leader is known, and the news of one only gets older.
    await s.transport.close();
    await until('the stream to end', async () => !c.leaderInfo().knownLeader, 10_000);
    const gone = c.leaderInfo().lastContactMs;
    await until('LastContact to grow', async () => c.leaderInfo().lastContactMs >= gone + 100, 5_000);
    expect(c.leaderInfo().knownLeader).toBe(false);
  });

  it('answers a default or consistent read only once the replica has applied the read point a server gave; stale asks nothing', async () => {
    const s = await fakeServer('s1', () => []);
    s.commit(reg('first'));
    const asked: unknown[] = [];
    let point = 0n;
    s.transport.handle(READ_POINT_METHOD, (body) => {
      asked.push(body);
      return { index: point };
    });
    const sm = new StateMachine();
    const c = link([s.address], sm);
    await c.start();
    expect(c.readPoint('stale')).toBeUndefined();

    point = 3n;
    const seen = () => ({ applied: c.appliedIndex, third: sm.getNode('third') !== undefined });
    const read = c.readPoint('leader')!.then(seen);
    // Committed after the server answered: the reply is on the wire ahead of these entries.
    await until('the server to be asked', async () => asked.length === 1, 5_000);
    s.commit(reg('second'));
    s.commit(reg('third'));
    expect(await read).toEqual({ applied: 3n, third: true });

    point = 4n;
    const consistent = c.readPoint('consistent')!.then(seen);
    await until('the server to be asked again', async () => asked.length === 2, 5_000);
    s.commit(reg('fourth'));
    expect((await consistent).applied).toBe(4n);
    expect(asked).toEqual([{ consistent: false }, { consistent: true }]);
  });

  it("keeps a server's refusal (No cluster leader), and times out when the replica does not reach the read point", async () => {
    const s = await fakeServer('s1', () => []);
    let refuse = true;
    s.transport.handle(READ_POINT_METHOD, () => {
      if (refuse) throw new HeraldError(ERR.NO_CLUSTER_LEADER, 'No cluster leader');
      return { index: 100n };
    });
    const c = link([s.address], new StateMachine(), [], { readTimeoutMs: 300 });
    await c.start();
    await expect(c.readPoint('consistent')).rejects.toMatchObject({ code: ERR.NO_CLUSTER_LEADER, message: 'No cluster leader' });
    refuse = false;
    await expect(c.readPoint('leader')).rejects.toMatchObject({
      code: ERR.READ_POINT_TIMEOUT,
      message: expect.stringMatching(/did not reach the read point \(index 100; applied 0\) within 300 ms/),
    });
  });

  it('starts without a server when none answers, refuses reads that need one, and catches up once one comes up', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const sm = new StateMachine();
    const c = link([address], sm);
    expect(await c.start()).toBe(false);
    expect(c.leaderInfo().knownLeader).toBe(false);
    expect(c.readPoint('stale')).toBeUndefined();
    await expect(c.readPoint('leader')).rejects.toMatchObject({ code: ERR.NO_SERVERS, message: 'No known Consul servers' });

    const s = await fakeServer('s1', () => [], 2, [], undefined, { listen: address });
    s.commit(reg('late'));
    await c.ready;
    await nodeAppears(sm, 'late');
  });

  it('gives up after retryMax rounds over its servers without an answer (Consul retry_max)', async () => {
    const servers = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    const c = link(servers, new StateMachine(), [], { retryMax: 2 });
    expect(await c.start()).toBe(false);
    await expect(c.ready).rejects.toMatchObject({ code: ERR.CLIENT_JOIN_FAILED, message: expect.stringMatching(/no server reached after 2 attempts \(retry_max 2\)/) });
  });
});
