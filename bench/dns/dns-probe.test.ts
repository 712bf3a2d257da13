import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { Answer } from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { queryUdp, recordLine, replyContent, type ProbeReply } from './dns-probe.ts';
import { startResponder, type Responder } from './node-responder.ts';

const toClose: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of toClose.splice(0)) await c();
});

describe('queryUdp', () => {
  it('sends an RD=1 query without EDNS and decodes the reply with its wire size', async () => {
    const r: Responder = await startResponder(0);
    toClose.push(() => r.close());
    const reply = await queryUdp({ port: r.port, name: 'web-0.service.consul', type: 'A' });
    expect(reply.bytes).toBe(86);
    expect(reply.rcode).toBe(0);
    expect(reply.flags.aa).toBe(true);
    expect(reply.answers).toHaveLength(3);
  });

  it('sends the question it was given, RD set, no additional records', async () => {
    const s: Socket = createSocket('udp4');
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    toClose.push(() => new Promise((res) => s.close(() => res())));
    const got = once(s, 'message');
    const pending = queryUdp({ port: s.address().port, name: 'x.consul', type: 'SRV', timeoutMs: 2000 }).catch(() => undefined);
    const [msg, rinfo] = (await got) as [Buffer, { port: number }];
    expect(msg.readUInt16BE(2) & 0x0100).toBe(0x0100); // RD
    expect(msg.readUInt16BE(4)).toBe(1); // QDCOUNT
    expect(msg.readUInt16BE(10)).toBe(0); // ARCOUNT: no OPT, like dnsperf
    // Answer it (QR set) so the probe resolves instead of timing out.
    const reply = Buffer.from(msg);
    reply[2] = 0x85;
    s.send(reply, rinfo.port, '127.0.0.1');
    expect((await pending)?.rcode).toBe(0);
  });

  it('rejects with ETIMEDOUT when nothing answers in time', async () => {
    const s: Socket = createSocket('udp4');
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    toClose.push(() => new Promise((res) => s.close(() => res())));
    await expect(queryUdp({ port: s.address().port, name: 'x.consul', type: 'A', timeoutMs: 100 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });
});

describe('replyContent', () => {
  const a = (name: string, data: string) => ({ name, type: 'A', data, ttl: 30, class: 'IN' }) as Answer;
  const srv = (name: string, port: number, target: string) =>
    ({ name, type: 'SRV', ttl: 30, class: 'IN', data: { priority: 1, weight: 1, port, target } }) as Answer;
  const reply = (answers: Answer[], additionals: Answer[], rcode = 0): ProbeReply => ({
    bytes: 0,
    id: 1,
    rcode,
    flags: { aa: true, tc: false, rd: true, ra: false },
    answers,
    authorities: [],
    additionals,
  });

  it('ignores record order and name case, and keeps rcode, answers and additional addresses', () => {
    const x = reply([srv('S.consul', 1, 'A.addr.consul'), srv('s.consul', 2, 'b.addr.consul')], [a('a.addr.consul', '10.0.0.1')]);
    const y = reply([srv('s.consul', 2, 'B.addr.consul'), srv('s.consul', 1, 'a.addr.consul')], [a('A.addr.consul', '10.0.0.1')]);
    expect(replyContent(x)).toBe(replyContent(y));
    expect(replyContent(x)).not.toBe(replyContent(reply(x.answers, [])));
    expect(replyContent(x)).not.toBe(replyContent(reply(x.answers, x.additionals, 3)));
    expect(recordLine(srv('S.consul', 1, 'T.consul'))).toBe('s.consul SRV 1 1 1 t.consul');
  });
});
