import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { runTcpCheck, splitHostPort } from './tcp-check.ts';

// Bound to 127.0.0.1 only, so 127.0.0.2 (also loopback on Linux) refuses the same port.
const server = net.createServer((sock) => sock.destroy());
let port = 0;
let closedPort = 0;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
});
afterAll(() => new Promise((r) => server.close(r)));

describe('runTcpCheck', () => {
  it('passes when the port accepts', async () => {
    const address = `127.0.0.1:${port}`;
    expect(await runTcpCheck({ address })).toEqual({ status: 'passing', output: `TCP connect ${address}: Success` });
  });

  it('is critical with the error when the port refuses', async () => {
    const r = await runTcpCheck({ address: `127.0.0.1:${closedPort}` });
    expect(r.status).toBe('critical');
    expect(r.output).toBe(`dial tcp 127.0.0.1:${closedPort}: connect ECONNREFUSED 127.0.0.1:${closedPort}`);
  });

  it('tries every resolved address until one connects', async () => {
    const tried: string[] = [];
    const r = await runTcpCheck({
      address: `svc.test:${port}`,
      lookup: async (host) => {
        tried.push(host);
        return ['127.0.0.2', '127.0.0.1'];
      },
    });
    expect(tried).toEqual(['svc.test']);
    expect(r).toEqual({ status: 'passing', output: `TCP connect svc.test:${port}: Success` });
  });

  it('reports the first error when every address fails', async () => {
    const r = await runTcpCheck({ address: `svc.test:${closedPort}`, lookup: async () => ['127.0.0.2', '127.0.0.3'] });
    expect(r.status).toBe('critical');
    expect(r.output).toContain(`dial tcp 127.0.0.2:${closedPort}:`);
  });

  it('resolves real names (localhost) through the system resolver', async () => {
    const r = await runTcpCheck({ address: `localhost:${port}` });
    expect(r).toEqual({ status: 'passing', output: `TCP connect localhost:${port}: Success` });
  });

  it('the timeout covers name resolution', async () => {
    const r = await runTcpCheck({ address: `hang.test:${port}`, timeout: 100, lookup: () => new Promise(() => {}) });
    expect(r).toEqual({ status: 'critical', output: 'dial tcp: lookup hang.test: i/o timeout' });
  });

  it('a failed lookup is critical', async () => {
    const r = await runTcpCheck({
      address: `nx.test:${port}`,
      lookup: async () => {
        throw new Error('getaddrinfo ENOTFOUND nx.test');
      },
    });
    expect(r).toEqual({ status: 'critical', output: 'dial tcp: lookup nx.test: getaddrinfo ENOTFOUND nx.test' });
  });

  it('a malformed address is critical without dialing', async () => {
    expect(await runTcpCheck({ address: '127.0.0.1' })).toEqual({
      status: 'critical',
      output: 'address 127.0.0.1: missing port in address',
    });
  });
});

describe('splitHostPort (Go net.SplitHostPort)', () => {
  const ok: [string, [string, number]][] = [
    ['127.0.0.1:80', ['127.0.0.1', 80]],
    ['[::1]:8500', ['::1', 8500]],
    ['db.service.consul:5432', ['db.service.consul', 5432]],
    [':22', ['127.0.0.1', 22]],
  ];
  for (const [input, want] of ok) it(`${input} -> ${want.join(' ')}`, () => expect(splitHostPort(input)).toEqual(want));

  const bad: [string, string][] = [
    ['host', 'missing port in address'],
    ['::1:80', 'too many colons in address'],
    ['[::1]', 'missing port in address'],
    ['[::1:80', "missing ']' in address"],
    ['host:http', 'invalid port'],
    ['host:70000', 'invalid port'],
  ];
  for (const [input, msg] of bad) it(`${input} -> ${msg}`, () => expect(() => splitHostPort(input)).toThrow(msg));
});
