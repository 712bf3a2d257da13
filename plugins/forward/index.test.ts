import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import type { DnsHook, DnsHookResult, DnsQuery, PluginContext, RuntimeConfig } from '../../src/plugin.ts';
import forward, { createForwardHook } from './index.ts';
import { parseRecursor } from './recursor-client.ts';

function config(recursors: string[], recursorTimeout = 2000, recursorStrategy: 'sequential' | 'random' = 'sequential') {
  // Only the fields forward reads; the rest of RuntimeConfig is not this plugin's business.
  return { recursors, dnsConfig: { recursorTimeout, recursorStrategy } } as unknown as RuntimeConfig;
}

/** A minimal PluginContext that records the hook and the reload/stop handlers. */
function fakeContext(cfg: RuntimeConfig) {
  const hooks: DnsHook[] = [];
  const reloads: Array<(c: RuntimeConfig) => void | Promise<void>> = [];
  const stops: Array<() => void | Promise<void>> = [];
  const ctx: PluginContext = {
    config: cfg,
    // The DNS plugins never read the catalog or the agent.
    catalog: {} as PluginContext['catalog'],
    agent: {} as PluginContext['agent'],
    options: {},
    log: silentLogger,
    core: { propose: () => Promise.reject(new Error('unused')), onChange: () => () => {}, invalidateDns: () => {} },
    dnsHook: (h) => hooks.push(h),
    stateExtension: () => {},
    httpRoutes: () => {},
    onStart: () => {},
    onStop: (fn) => stops.push(fn),
    onReload: (fn) => reloads.push(fn),
  };
  return { ctx, hooks, reloads, stops };
}

function dnsQuery(transport: 'udp' | 'tcp' = 'udp', id = 0x4242): DnsQuery {
  const packet = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'www.example.com' }] });
  return { name: 'www.example.com', lname: 'www.example.com', type: 1, class: 1, transport, packet, remote: { address: '127.0.0.1', port: 40000 }, rd: true };
}

function replyTo(q: Buffer, rcode = 0): Buffer {
  const d = dnsPacket.decode(q);
  const out = dnsPacket.encode({
    type: 'response',
    id: d.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: d.questions,
    answers: rcode === 0 ? [{ type: 'A', name: d.questions![0].name, ttl: 30, data: '192.0.2.1' }] : [],
  });
  out[3] = (out[3] & 0xf0) | rcode;
  return out;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A UDP upstream on host:ephemeral that answers with `rcode` (or stays silent when undefined). */
async function udpUpstream(host: string, rcode: number | undefined, onQuery: (q: Buffer) => void = () => {}): Promise<string> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    onQuery(msg);
    if (rcode !== undefined) sock.send(replyTo(msg, rcode), rinfo.port, rinfo.address);
  });
  sock.bind(0, host);
  await once(sock, 'listening');
  closers.push(() => new Promise((r) => sock.close(() => r())));
  return `${host}:${sock.address().port}`;
}

async function tcpUpstream(host: string): Promise<string> {
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    c.once('data', (chunk) => {
      const out = replyTo(chunk.subarray(2, 2 + chunk.readUInt16BE(0)));
      c.write(Buffer.concat([Buffer.from([out.length >> 8, out.length & 0xff]), out]));
    });
  });
  server.listen(0, host);
  await once(server, 'listening');
  closers.push(
    () =>
      new Promise((r) => {
        for (const c of conns) c.destroy();
        server.close(() => r());
      }),
  );
  return `${host}:${(server.address() as net.AddressInfo).port}`;
}

async function resolve(hook: DnsHook, q: DnsQuery): Promise<DnsHookResult> {
  return await hook.resolve(q);
}

describe('forward plugin', () => {
  it('with no recursors answers REFUSED (consul-compat §1.8), uncached', async () => {
    const { ctx, hooks } = fakeContext(config([]));
    await forward.setup(ctx);
    expect(hooks.map((h) => h.name)).toEqual(['forward']);
    expect(await resolve(hooks[0], dnsQuery())).toEqual({
      kind: 'answer',
      rcode: 5,
      authoritative: false,
      answers: [],
      authority: [],
      additional: [],
    });
  });

  it('relays the upstream reply raw, with the client ID, uncached', async () => {
    const up = await udpUpstream('127.0.0.1', 0);
    const { ctx, hooks } = fakeContext(config([up]));
    await forward.setup(ctx);
    const r = await resolve(hooks[0], dnsQuery('udp', 0x4242));
    expect(r?.kind).toBe('raw');
    if (r?.kind !== 'raw') return;
    expect(r.packet.readUInt16BE(0)).toBe(0x4242);
    expect(dnsPacket.decode(r.packet).answers).toMatchObject([{ name: 'www.example.com', data: '192.0.2.1' }]);
    expect(r).not.toHaveProperty('cache');
  });

  it('a TCP client is forwarded over TCP', async () => {
    const up = await tcpUpstream('127.0.0.2');
    const { ctx, hooks } = fakeContext(config([up]));
    await forward.setup(ctx);
    const r = await resolve(hooks[0], dnsQuery('tcp', 0x0707));
    expect(r?.kind).toBe('raw');
    expect(r?.kind === 'raw' && r.packet.readUInt16BE(0)).toBe(0x0707);
  });

  it('when every recursor fails it answers SERVFAIL with no records, uncached', async () => {
    const a = await udpUpstream('127.0.0.1', 2);
    const b = await udpUpstream('127.0.0.2', undefined);
    const { ctx, hooks } = fakeContext(config([a, b], 150));
    await forward.setup(ctx);
    expect(await resolve(hooks[0], dnsQuery())).toEqual({
      kind: 'answer',
      rcode: 2,
      authoritative: false,
      answers: [],
      authority: [],
      additional: [],
    });
  });

  it('reload applies new recursors; a bad recursor refuses the reload and keeps the old ones', async () => {
    const seenA: Buffer[] = [];
    const seenB: Buffer[] = [];
    const a = await udpUpstream('127.0.0.1', 0, (q) => seenA.push(q));
    const b = await udpUpstream('127.0.0.2', 0, (q) => seenB.push(q));
    const { ctx, hooks, reloads } = fakeContext(config([a]));
    await forward.setup(ctx);
    await reloads[0](config([b]));
    expect((await resolve(hooks[0], dnsQuery()))?.kind).toBe('raw');
    expect([seenA.length, seenB.length]).toEqual([0, 1]);
    expect(() => reloads[0](config(['resolver.example.com']))).toThrow(
      expect.objectContaining({ code: 'HERALD_ERR_CONFIG_INVALID' }),
    );
    expect((await resolve(hooks[0], dnsQuery()))?.kind).toBe('raw');
    expect([seenA.length, seenB.length]).toEqual([0, 2]);
  });

  it('stop aborts queries in flight (SERVFAIL) and refuses new ones without sending', async () => {
    let arrived!: () => void;
    const queried = new Promise<void>((r) => (arrived = r));
    let count = 0;
    const up = await udpUpstream('127.0.0.1', undefined, () => (count++, arrived()));
    const { ctx, hooks, stops } = fakeContext(config([up], 60_000));
    await forward.setup(ctx);
    const pending = resolve(hooks[0], dnsQuery());
    await queried;
    for (const s of stops) await s();
    expect(await pending).toMatchObject({ kind: 'answer', rcode: 2 });
    expect(await resolve(hooks[0], dnsQuery())).toMatchObject({ kind: 'answer', rcode: 2 });
    expect(count).toBe(1);
  });

  it('beyond the in-flight cap new queries get SERVFAIL at once and are not sent', async () => {
    let arrived!: () => void;
    const queried = new Promise<void>((r) => (arrived = r));
    let count = 0;
    const up = await udpUpstream('127.0.0.1', undefined, () => (count++, arrived()));
    const stop = new AbortController();
    const settings = { upstreams: [parseRecursor(up)], timeoutMs: 60_000, strategy: 'sequential' as const };
    const hook = createForwardHook(() => settings, { log: silentLogger, signal: stop.signal, maxInFlight: 1 });
    const first = hook.resolve(dnsQuery());
    await queried;
    expect(hook.resolve(dnsQuery())).toMatchObject({ kind: 'answer', rcode: 2 });
    stop.abort();
    expect(await first).toMatchObject({ kind: 'answer', rcode: 2 });
    expect(count).toBe(1);
  });
});
