import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import type { RpcError } from './rpc-error.ts';
import { TcpTransport, formatHostPort, parseHostPort, tcpNetwork } from './tcp-transport.ts';
import { describeTransportContract, TEST_TUNING, waitFor } from './transport-contract.ts';

describeTransportContract({
  name: 'TCP',
  newNetwork: () => tcpNetwork,
  listenAddress: () => '127.0.0.1:0',
  create: (_network, opts) => new TcpTransport(opts),
});

describe('TCP addresses', () => {
  it('parses host:port and [v6]:port, refuses the rest', () => {
    expect(parseHostPort('127.0.0.1:8300')).toEqual({ host: '127.0.0.1', port: 8300 });
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(formatHostPort('::1', 8300)).toBe('[::1]:8300');
    for (const bad of ['127.0.0.1', ':80', 'host:99999', '::1:80', 'a:b']) {
      expect(() => parseHostPort(bad)).toThrow(expect.objectContaining({ code: ERR.LISTEN }));
    }
  });

  it('start() rejects with HERALD_ERR_LISTEN when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as net.AddressInfo;
    const t = new TcpTransport({ nodeId: 'a', clusterId: 'c1', listen: `127.0.0.1:${port}` });
    await expect(t.start()).rejects.toMatchObject({ code: ERR.LISTEN });
    await t.close();
    await new Promise<void>((r) => blocker.close(() => r()));
  });
});

describe('TCP peer killed with SIGKILL', () => {
  it('in-flight requests reject as connection lost; the link reconnects when the port serves again', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'peer-process.ts'), 'srv', 'c1', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const address = (JSON.parse(line.toString()) as { address: string }).address;

    const a = new TcpTransport({ nodeId: 'a', clusterId: 'c1', tuning: TEST_TUNING, random: () => 0.5 });
    let restarted: TcpTransport | undefined;
    try {
      a.setPeer('srv', address);
      expect(await a.request('srv', 'echo', 123n)).toBe(123n);
      const inflight = [1, 2, 3].map((i) => a.request('srv', 'hang', i).then(() => undefined, (e: unknown) => e as RpcError));
      await waitFor('requests written', () => a.stats().peers['srv']!.queuedBytes === 0 && a.stats().framesOut >= 5);
      child.kill('SIGKILL');
      await exited;
      for (const err of await Promise.all(inflight)) {
        expect(err?.code).toBe(ERR.RPC_CONNECTION_LOST);
        expect(err?.indeterminate).toBe(true);
      }
      await waitFor('the link notices', () => !a.isConnected('srv'));
      const waiting = a.request('srv', 'echo', 'sent once it is back');

      // The same node comes back on the same port (here in-process, to keep the test fast).
      restarted = new TcpTransport({ nodeId: 'srv', clusterId: 'c1', listen: address });
      restarted.handle('echo', (body) => body);
      await restarted.start();
      expect(await waiting).toBe('sent once it is back');
      expect(a.stats().reconnects).toBe(1);
    } finally {
      child.kill('SIGKILL');
      await a.close();
      await restarted?.close();
    }
  });
});
