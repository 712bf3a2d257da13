/**
 * Bad input never crashes or hangs the DNS front end. 100,000 random and mutated packets
 * through the real query handler of a running agent (and a share of them through its real
 * UDP socket), hostile TCP clients, then valid queries must still get correct answers.
 * Seeded, so a failure is reproducible: the seed is in the test name.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.ts';
import { loadConfig } from '../agent/config.ts';
import { effectivePlugins } from '../cli/agent-command.ts';
import { silentLogger } from '../log.ts';
import { askTcp, askUdp, dataOf, encodeQuery, rcodeOf } from './dns-test-client.ts';
import { seededRandom as rng } from '../seeded-random.ts';

const SEED = 0x5eed2026;
const PACKETS = 100_000;

let agent: Agent;
let port: number;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-fuzz-'));
  writeFileSync(
    join(dir, 'svc.json'),
    JSON.stringify({
      dns_config: { tcp_idle_timeout: '300ms', tcp_max_connections: 8 },
      services: [
        { id: 'web-1', name: 'web', port: 80, address: '10.2.0.1' },
        { id: 'web-2', name: 'web', port: 81, address: '10.2.0.2' },
      ],
    }),
  );
  const config = effectivePlugins(loadConfig({ flags: ['-dev', '-config-dir', dir, '-dns-port', '0', '-node', 'fz', '-plugin', 'none'] }));
  agent = await Agent.start(config, { log: silentLogger });
  port = agent.dnsPort;
});

afterAll(async () => {
  await agent?.stop();
});

function mutate(base: Buffer, r: () => number): Buffer {
  const b = Buffer.from(base);
  switch (Math.floor(r() * 8)) {
    case 0: // flip random bytes
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      return b;
    case 1: // truncate
      return b.subarray(0, Math.floor(r() * b.length));
    case 2: // append garbage
      return Buffer.concat([b, Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)))]);
    case 3: // counts
      b.writeUInt16BE(Math.floor(r() * 65536), 4 + 2 * Math.floor(r() * 4));
      return b;
    case 4: // a compression pointer (maybe a loop) in the question
      b[12] = 0xc0;
      b[13] = Math.floor(r() * 2) ? 12 : Math.floor(r() * b.length);
      return b;
    case 5: // an over-long label
      b[12] = 64 + Math.floor(r() * 192);
      return b;
    case 6: // flags: QR, opcodes, Z
      b[2] = Math.floor(r() * 256);
      b[3] = Math.floor(r() * 256);
      return b;
    default: {
      // a name longer than 255 octets
      const labels = Array.from({ length: 6 }, () => 'a'.repeat(50)).join('.');
      return encodeQuery(labels + '.service.consul', 'A');
    }
  }
}

describe(`DNS fuzz (seed ${SEED.toString(16)})`, () => {
  it(`survives ${PACKETS} random and mutated packets and still answers correctly`, async () => {
    const r = rng(SEED);
    const bases = [
      encodeQuery('web.service.consul', 'A'),
      encodeQuery('web.service.consul', 'SRV', { edns: 1232 }),
      encodeQuery('fz.node.consul', 'TXT'),
      encodeQuery('missing.service.consul', 'AAAA', { edns: 4096 }),
      encodeQuery('example.com', 'A'),
    ];
    const sock = dgram.createSocket('udp4');
    let pending: Promise<unknown>[] = [];
    const dropsBefore = agent.dns.stats.dropped;
    for (let i = 0; i < PACKETS; i++) {
      const pkt = r() < 0.3 ? Buffer.from(Array.from({ length: Math.floor(r() * 600) }, () => Math.floor(r() * 256))) : mutate(bases[i % bases.length]!, r);
      // Every 20th packet goes through the real socket; the rest straight into the handler.
      if (i % 20 === 0) {
        sock.send(pkt, port, '127.0.0.1');
        continue;
      }
      const reply = agent.dns.handle(pkt, i % 2 ? 'u' : 't', { address: '127.0.0.1', port: 1 });
      if (reply instanceof Promise) pending.push(reply);
      else if (reply !== undefined) expect(reply.length).toBeGreaterThanOrEqual(12);
      if (pending.length > 1000) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
    sock.close();
    // Many packets had no readable header or were responses: dropped and counted, never answered.
    expect(agent.dns.stats.dropped).toBeGreaterThan(dropsBefore);
    expect(agent.dns.stats.formerr).toBeGreaterThan(0);

    const a = await askUdp('web.service.consul', { port });
    expect(rcodeOf(a)).toBe('NOERROR');
    expect(dataOf(a, 'A')).toEqual(['10.2.0.1', '10.2.0.2']);
    const srv = await askTcp('web.service.consul', { port, type: 'SRV' });
    expect(dataOf(srv, 'SRV')).toEqual(['1 1 80 0a020001.addr.dc1.consul', '1 1 81 0a020002.addr.dc1.consul']);
  }, 120_000);

  it('cuts off idle and slow TCP clients and caps connections, then serves new ones', async () => {
    const open = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
      });
    const closed = (s: net.Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.on('close', () => resolve())));
    // A client that promises 65535 bytes and sends 3, and clients that say nothing.
    const slow = await open();
    slow.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    const idle = await Promise.all(Array.from({ length: 7 }, open));
    // Over the cap (8): the server closes the ninth at once.
    const extra = await open();
    await closed(extra);
    // The idle timeout (300ms) closes every one of them.
    await Promise.all([slow, ...idle].map(closed));
    const srv = await askTcp('web.service.consul', { port, type: 'A' });
    expect(dataOf(srv, 'A')).toEqual(['10.2.0.1', '10.2.0.2']);
  }, 30_000);

  it('answers FORMERR, NOTIMP and REFUSED where a header can be read', async () => {
    const q = encodeQuery('web.service.consul', 'A', { id: 7 });
    const formerr = Buffer.from(q);
    formerr.writeUInt16BE(2, 4); // qdcount 2
    const notimp = Buffer.from(q);
    notimp[2] = (notimp[2]! & 0x87) | (2 << 3); // opcode STATUS
    const axfr = encodeQuery('consul', 'AXFR', { id: 9 });
    const rcode = (b: Buffer | undefined) => (b ? b[3]! & 0x0f : -1);
    const { udpRaw } = await import('./dns-test-client.ts');
    expect(rcode(await udpRaw(formerr, port))).toBe(1);
    expect(rcode(await udpRaw(notimp, port))).toBe(4);
    expect(rcode(await udpRaw(axfr, port))).toBe(4);
    // A response (QR=1) is never answered: no reflection loops.
    const response = Buffer.from(q);
    response[2] = response[2]! | 0x80;
    expect(await udpRaw(response, port, '127.0.0.1', 300)).toBeUndefined();
  });
});
