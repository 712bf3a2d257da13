import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXED_ADDRESSES, FIXED_NAME, fixedAnswer, startResponder, type Responder } from './node-responder.ts';

const open: Array<Responder | Socket> = [];
afterEach(async () => {
  for (const x of open.splice(0)) {
    if ('close' in x && 'port' in x) await (x as Responder).close();
    else await new Promise<void>((res) => (x as Socket).close(() => res()));
  }
});

async function client(): Promise<Socket> {
  const c = createSocket('udp4');
  c.bind(0, '127.0.0.1');
  await once(c, 'listening');
  open.push(c);
  return c;
}

function query(id: number): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'SRV', name: 'anything.consul' }] });
}

describe('fixedAnswer', () => {
  it('is an 86-byte compressed answer with 3 A records for web-0.service.consul', () => {
    const buf = fixedAnswer();
    expect(buf.length).toBe(86);
    const d = dnsPacket.decode(buf);
    expect(d.flag_qr).toBe(true);
    expect(d.flag_aa).toBe(true);
    expect(d.questions).toEqual([{ name: FIXED_NAME, type: 'A', class: 'IN' }]);
    expect(d.answers!.map((a) => [a.name, a.type, (a as { data: string; ttl?: number }).data, (a as { ttl?: number }).ttl])).toEqual(
      FIXED_ADDRESSES.map((ip) => [FIXED_NAME, 'A', ip, 30]),
    );
  });
});

describe('startResponder', () => {
  it('answers every datagram over a real socket with the fixed reply and the query ID', async () => {
    const r = await startResponder(0);
    open.push(r);
    const c = await client();
    for (const id of [0x0000, 0x1234, 0xfffe]) {
      const reply = once(c, 'message');
      c.send(query(id), r.port, '127.0.0.1');
      const [msg] = (await reply) as [Buffer];
      expect(msg.readUInt16BE(0)).toBe(id);
      expect(msg.subarray(2)).toEqual(fixedAnswer().subarray(2));
    }
  });

  it('drops datagrams too short to hold a header', async () => {
    const r = await startResponder(0);
    open.push(r);
    const c = await client();
    const got: number[] = [];
    const second = new Promise<void>((res) =>
      c.on('message', (m: Buffer) => {
        got.push(m.readUInt16BE(0));
        res();
      }),
    );
    c.send(Buffer.from([0xab, 0xcd, 1, 2, 3]), r.port, '127.0.0.1');
    c.send(query(0x4242), r.port, '127.0.0.1');
    await second;
    // The first reply to arrive answers the full query: the 5-byte datagram got none.
    expect(got[0]).toBe(0x4242);
  });

  it('keeps earlier replies intact when replies overlap (each reply is its own buffer)', async () => {
    const r = await startResponder(0);
    open.push(r);
    const c = await client();
    const ids = Array.from({ length: 50 }, (_, i) => 1000 + i);
    const seen = new Set<number>();
    const all = new Promise<void>((res) =>
      c.on('message', (m: Buffer) => {
        seen.add(m.readUInt16BE(0));
        if (seen.size === ids.length) res();
      }),
    );
    for (const id of ids) c.send(query(id), r.port, '127.0.0.1');
    await all;
    expect([...seen].sort((a, b) => a - b)).toEqual(ids);
  });

  it('applies the requested receive buffer (SO_RCVBUF)', async () => {
    const r = await startResponder(0, '127.0.0.1', { recvBufferSize: 1 << 20 });
    open.push(r);
    // Linux doubles the value for bookkeeping (socket(7)); it must be at least what was asked.
    expect(r.socket.getRecvBufferSize()).toBeGreaterThanOrEqual(1 << 20);
  });
});
