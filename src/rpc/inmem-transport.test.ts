import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { InmemNetwork, InmemTransport } from './inmem-transport.ts';
import { describeTransportContract, rejection, TEST_TUNING, waitFor } from './transport-contract.ts';

describeTransportContract({
  name: 'in-memory',
  newNetwork: () => new InmemNetwork(),
  listenAddress: (id) => `inmem-${id}`,
  create: (network, opts) => new InmemTransport(network as InmemNetwork, opts),
});

describe('InmemNetwork fault hooks', () => {
  async function pair(net: InmemNetwork): Promise<[InmemTransport, InmemTransport]> {
    const a = new InmemTransport(net, { nodeId: 'a', clusterId: 'c1', listen: 'a', tuning: TEST_TUNING, random: () => 0.5 });
    const b = new InmemTransport(net, { nodeId: 'b', clusterId: 'c1', listen: 'b', tuning: TEST_TUNING, random: () => 0.5 });
    await a.start();
    await b.start();
    a.setPeer('b', 'b');
    await waitFor('a → b', () => a.isConnected('b'));
    return [a, b];
  }

  it('partition cuts connections (in-flight requests are lost) and refuses dials until heal', async () => {
    const net = new InmemNetwork();
    const [a, b] = await pair(net);
    b.handle('hang', () => new Promise(() => undefined));
    b.handle('echo', (x) => x);
    const inflight = a.request('b', 'hang', null);
    await waitFor('request at b', () => b.stats().framesIn >= 2);
    net.partition('a', 'b');
    const err = await rejection(inflight);
    expect(err.code).toBe(ERR.RPC_CONNECTION_LOST);
    expect(err.indeterminate).toBe(true);
    await waitFor('a retries and fails to dial', () => a.stats().dialFailures >= 2);
    expect(a.stats().peers['b']!.lastError).toContain('network partition between a and b');
    expect(a.send('b', 'lost')).toBe(false);
    net.heal('a', 'b');
    expect(await a.request('b', 'echo', 'healed')).toBe('healed');
    expect(a.stats().reconnects).toBe(1);
    await a.close();
    await b.close();
  });

  it('stall makes a node stop reading: its peers hit the queue bound; unstall drains', async () => {
    const net = new InmemNetwork();
    const a = new InmemTransport(net, { nodeId: 'a', clusterId: 'c1', listen: 'a', tuning: { ...TEST_TUNING, queueBytes: 32 * 1024 } });
    const b = new InmemTransport(net, { nodeId: 'b', clusterId: 'c1', listen: 'b', tuning: TEST_TUNING });
    await a.start();
    await b.start();
    let received = 0;
    b.onMessage(() => received++);
    a.setPeer('b', 'b');
    await waitFor('a → b', () => a.isConnected('b'));
    net.stall('b');
    const msg = Buffer.alloc(4096);
    let sent = 0;
    for (let i = 0; i < 1000; i++) if (a.send('b', msg)) sent++;
    expect(sent).toBeLessThan(1000);
    expect(a.stats().messagesDroppedBackpressure).toBe(1000 - sent);
    net.unstall('b');
    await waitFor('all accepted messages delivered', () => received === sent);
    await a.close();
    await b.close();
  });
});
