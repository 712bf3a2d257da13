/**
 * ChangeFeed (server side) and ClientLink (client side) over real TCP, without Raft: each
 * "server" is a StateMachine behind the feed's wrapper, committing entries itself. Covers a
 * catch-up from a snapshot (the ring no longer covers the client), live entries, a refused
 * entry, a write with read-your-writes, and resubscribing to a server learned from the stream
 * after the first one went away.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StateMachine } from '../catalog/state-machine.ts';
import type { Command, NodeFields } from '../catalog/types.ts';
import { ERR } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { encodeCommand } from '../raft/command-codec.ts';
import type { ReplicatedLog } from '../raft/local-log.ts';
import { catalogStateMachine } from '../raft/raft-log.ts';
import { TcpTransport } from '../rpc/tcp-transport.ts';
import { ChangeFeed } from './client-feed.ts';
import { ClientLink } from './client-link.ts';

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

async function fakeServer(id: string, others: () => string[], ringSize = 2, plugins: string[] = []): Promise<FakeServer> {
  const sm = new StateMachine();
  const feed = new ChangeFeed({ sm, ringSize, plugins, log: silentLogger });
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
  const transport = new TcpTransport({ nodeId: id, clusterId: 'herald/dc1', listen: '127.0.0.1:0' });
  await transport.start();
  const address = transport.address!;
  feed.serve(transport, () => log, () => [address, ...others()]);
  closers.push(() => transport.close());
  return { sm, transport, address, commit };
}

function link(servers: string[], sm = new StateMachine(), plugins: string[] = []): ClientLink {
  const l = new ClientLink({ nodeId: 'client', datacenter: 'dc1', servers, sm, plugins, log: silentLogger });
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
