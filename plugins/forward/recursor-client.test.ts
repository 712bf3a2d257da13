import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import {
  attemptOrder,
  forwardQuery,
  isReplyTo,
  parseRecursor,
  questionEnd,
} from './recursor-client.ts';
import type { Upstream } from './recursor-client.ts';

function query(name = 'www.example.com', id = 0xbeef, type: 'A' | 'AAAA' = 'A'): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
}

/** A reply to `q` (same ID and question) with one A record, then rcode/TC patched in. */
function reply(q: Buffer, opts: { rcode?: number; tc?: boolean; address?: string } = {}): Buffer {
  const d = dnsPacket.decode(q);
  const buf = dnsPacket.encode({
    type: 'response',
    id: d.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: d.questions,
    answers: opts.address ? [{ type: 'A', name: d.questions![0].name, ttl: 30, data: opts.address }] : [],
  });
  buf[3] = (buf[3] & 0xf0) | (opts.rcode ?? 0);
  if (opts.tc) buf[2] |= 0x02;
  return buf;
}

/** What a fake upstream does with each query: the messages to send back, in order. */
type Behaviour = (q: Buffer) => Buffer[];
const answer = (address: string): Behaviour => (q) => [reply(q, { address })];
const rcode = (n: number): Behaviour => (q) => [reply(q, { rcode: n })];
const silent: Behaviour = () => [];

interface FakeUpstream {
  upstream: Upstream;
  received: Buffer[];
  close(): Promise<void>;
}

const servers: FakeUpstream[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function udpUpstream(host: string, behaviour: Behaviour): Promise<FakeUpstream> {
  const sock = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  sock.on('message', (msg, rinfo) => {
    received.push(msg);
    for (const out of behaviour(msg)) sock.send(out, rinfo.port, rinfo.address);
  });
  sock.bind(0, host);
  await once(sock, 'listening');
  const port = sock.address().port;
  const s = { upstream: parseRecursor(`${host}:${port}`), received, close: () => new Promise<void>((r) => sock.close(() => r())) };
  servers.push(s);
  return s;
}

async function tcpUpstream(host: string, behaviour: Behaviour, opts: { split?: boolean } = {}): Promise<FakeUpstream> {
  const received: Buffer[] = [];
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    let buf = Buffer.alloc(0);
    c.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        received.push(Buffer.from(msg));
        const outs = behaviour(msg);
        if (outs.length === 0) c.end();
        for (const out of outs) {
          const framed = Buffer.concat([Buffer.from([out.length >> 8, out.length & 0xff]), out]);
          // Split a frame across writes so the client must reassemble it.
          if (opts.split) {
            c.write(framed.subarray(0, 1));
            c.write(framed.subarray(1, 7));
            c.write(framed.subarray(7));
          } else c.write(framed);
        }
      }
    });
  });
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const s = {
    upstream: parseRecursor(`${host}:${port}`),
    received,
    close: () =>
      new Promise<void>((r) => {
        for (const c of conns) c.destroy();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

/** A UDP port on 127.0.0.1 with nothing listening: sends to it fail with ECONNREFUSED. */
async function deadUdpPort(): Promise<Upstream> {
  const sock = dgram.createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const port = sock.address().port;
  await new Promise<void>((r) => sock.close(() => r()));
  return parseRecursor(`127.0.0.1:${port}`);
}

const udp = { transport: 'udp' as const, timeoutMs: 2000, strategy: 'sequential' as const };

describe('parseRecursor', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1:53', 4],
    ['127.0.0.2:5353', '127.0.0.2:5353', 4],
    ['::1', '[::1]:53', 6],
    ['[::1]:8600', '[::1]:8600', 6],
    ['[fe80::1]', '[fe80::1]:53', 6],
  ])('%s -> %s', (input, label, family) => {
    expect(parseRecursor(input)).toMatchObject({ label, family });
  });
  it.each(['dns.example.com', '127.0.0.1:0', '127.0.0.1:70000', '[::1', ''])('refuses %j', (input) => {
    expect(() => parseRecursor(input)).toThrow(expect.objectContaining({ code: 'HERALD_ERR_CONFIG_INVALID' }));
  });
});

describe('reply validation (RFC 5452 §9.1)', () => {
  const q = query('Www.Example.com', 0x1234);
  const qEnd = questionEnd(q);
  it('finds the end of the question', () => {
    expect(qEnd).toBe(12 + '.www.example.com'.length + 1 + 4);
    expect(questionEnd(Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]))).toBe(-1);
    expect(questionEnd(q.subarray(0, 20))).toBe(-1);
    expect(questionEnd(Buffer.alloc(5))).toBe(-1);
  });
  it('accepts a response with our ID and the same question in another letter case', () => {
    expect(isReplyTo(q, qEnd, reply(query('wWW.EXAMPLE.COM', 0x1234), { address: '192.0.2.1' }))).toBe(true);
  });
  it.each([
    ['another ID', reply(query('www.example.com', 0x1235))],
    ['another name', reply(query('www.example.org', 0x1234))],
    ['another type', reply(query('www.example.com', 0x1234, 'AAAA'))],
    ['a query (QR=0)', query('www.example.com', 0x1234)],
    ['a short packet', Buffer.from([0x12, 0x34, 0x80])],
  ])('ignores %s', (_what, bad) => {
    expect(isReplyTo(q, qEnd, bad)).toBe(false);
  });
});

describe('attemptOrder', () => {
  it('sequential keeps the configured order', () => {
    expect(attemptOrder(4, 'sequential')).toEqual([0, 1, 2, 3]);
  });
  it('random is a permutation drawn from the injected source', () => {
    const seq = [0.9, 0.1, 0.6];
    let i = 0;
    const order = attemptOrder(4, 'random', () => seq[i++]);
    expect([...order].sort()).toEqual([0, 1, 2, 3]);
    expect(order).toEqual([2, 1, 0, 3]);
  });
});

describe('forwardQuery over UDP against real local upstreams', () => {
  it('tries recursors in order, skips a SERVFAIL, stops at the first good answer', async () => {
    const a = await udpUpstream('127.0.0.1', rcode(2));
    const b = await udpUpstream('127.0.0.2', answer('192.0.2.2'));
    const c = await udpUpstream('127.0.0.3', answer('192.0.2.3'));
    const r = await forwardQuery(query(), [a.upstream, b.upstream, c.upstream], udp);
    expect(dnsPacket.decode(r.reply!).answers).toMatchObject([{ data: '192.0.2.2' }]);
    expect(r.attempts.map((x) => x.outcome)).toEqual(['rcode 2', 'accepted']);
    expect([a.received.length, b.received.length, c.received.length]).toEqual([1, 1, 0]);
  });

  it('fails over on timeout', async () => {
    const a = await udpUpstream('127.0.0.1', silent);
    const b = await udpUpstream('127.0.0.2', answer('192.0.2.2'));
    const r = await forwardQuery(query(), [a.upstream, b.upstream], { ...udp, timeoutMs: 150 });
    expect(r.attempts.map((x) => x.outcome)).toEqual(['timeout', 'accepted']);
    expect(dnsPacket.decode(r.reply!).answers).toMatchObject([{ data: '192.0.2.2' }]);
  });

  it('fails over on a socket error (ICMP port unreachable)', async () => {
    const dead = await deadUdpPort();
    const b = await udpUpstream('127.0.0.2', answer('192.0.2.2'));
    const r = await forwardQuery(query(), [dead, b.upstream], udp);
    expect(r.attempts).toMatchObject([{ outcome: 'error', detail: 'ECONNREFUSED' }, { outcome: 'accepted' }]);
  });

  it('relays NXDOMAIN as an answer rather than trying the next recursor', async () => {
    const a = await udpUpstream('127.0.0.1', rcode(3));
    const b = await udpUpstream('127.0.0.2', answer('192.0.2.2'));
    const r = await forwardQuery(query(), [a.upstream, b.upstream], udp);
    expect(r.reply![3] & 0x0f).toBe(3);
    expect(b.received).toHaveLength(0);
  });

  it('relays a truncated reply whatever its rcode, so the client retries over TCP', async () => {
    const a = await udpUpstream('127.0.0.1', (q) => [reply(q, { tc: true, rcode: 2 })]);
    const b = await udpUpstream('127.0.0.2', answer('192.0.2.2'));
    const r = await forwardQuery(query(), [a.upstream, b.upstream], udp);
    expect(r.reply![2] & 0x02).toBe(0x02);
    expect(b.received).toHaveLength(0);
  });

  it('tries NOTIMP and REFUSED upstreams and reports when all fail', async () => {
    const a = await udpUpstream('127.0.0.1', rcode(4));
    const b = await udpUpstream('127.0.0.2', rcode(5));
    const r = await forwardQuery(query(), [a.upstream, b.upstream], udp);
    expect(r.reply).toBeUndefined();
    expect(r.attempts.map((x) => x.outcome)).toEqual(['rcode 4', 'rcode 5']);
  });

  it('sends a fresh ID per attempt and writes the client ID back; the rest is relayed byte for byte', async () => {
    const a = await udpUpstream('127.0.0.1', rcode(2));
    let sentBack: Buffer | undefined;
    const b = await udpUpstream('127.0.0.2', (q) => [(sentBack = reply(q, { address: '192.0.2.2' }))]);
    const ids = [0x0a0a, 0x0b0b];
    const r = await forwardQuery(query('www.example.com', 0xbeef), [a.upstream, b.upstream], { ...udp, newId: () => ids.shift()! });
    expect(a.received[0].readUInt16BE(0)).toBe(0x0a0a);
    expect(b.received[0].readUInt16BE(0)).toBe(0x0b0b);
    expect(b.received[0].subarray(2)).toEqual(query().subarray(2));
    expect(r.reply!.readUInt16BE(0)).toBe(0xbeef);
    expect(r.reply!.subarray(2)).toEqual(sentBack!.subarray(2));
  });

  it('ignores garbage, wrong IDs, queries and other questions, and takes the valid reply after them', async () => {
    const a = await udpUpstream('127.0.0.1', (q) => {
      const wrongId = reply(q, { address: '192.0.2.66' });
      wrongId.writeUInt16BE((q.readUInt16BE(0) + 1) & 0xffff, 0);
      const otherQ = reply(query('evil.example.com', q.readUInt16BE(0)), { address: '192.0.2.66' });
      return [Buffer.from('not dns at all'), wrongId, Buffer.from(q), otherQ, reply(q, { address: '192.0.2.1' })];
    });
    const r = await forwardQuery(query(), [a.upstream], udp);
    expect(dnsPacket.decode(r.reply!).answers).toMatchObject([{ data: '192.0.2.1' }]);
  });

  it('garbage alone is not an answer: the attempt times out', async () => {
    const a = await udpUpstream('127.0.0.1', () => [Buffer.from('junk junk junk junk')]);
    const r = await forwardQuery(query(), [a.upstream], { ...udp, timeoutMs: 150 });
    expect(r.reply).toBeUndefined();
    expect(r.attempts.map((x) => x.outcome)).toEqual(['timeout']);
  });

  it('random strategy still tries every recursor, once each, and varies the first one', async () => {
    const ups = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => udpUpstream(h, rcode(2))));
    const firsts = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = await forwardQuery(query(), ups.map((u) => u.upstream), { ...udp, strategy: 'random' });
      expect(r.attempts.map((x) => x.upstream).sort()).toEqual(ups.map((u) => u.upstream.label).sort());
      firsts.add(r.attempts[0].upstream);
    }
    expect(ups.map((u) => u.received.length)).toEqual([30, 30, 30]);
    // 30 uniform draws landing on one start has probability 3 * 3^-30.
    expect(firsts.size).toBeGreaterThan(1);
  });

  it('an abort ends the attempt in flight and skips the rest', async () => {
    let arrived!: () => void;
    const queried = new Promise<void>((r) => (arrived = r));
    const a = await udpUpstream('127.0.0.1', () => (arrived(), []));
    const b = await udpUpstream('127.0.0.2', answer('192.0.2.2'));
    const stop = new AbortController();
    const pending = forwardQuery(query(), [a.upstream, b.upstream], { ...udp, timeoutMs: 60_000, signal: stop.signal });
    await queried;
    stop.abort();
    const r = await pending;
    expect(r.attempts.map((x) => x.outcome)).toEqual(['aborted']);
    expect(b.received).toHaveLength(0);
  });

  it('a malformed query is not sent anywhere', async () => {
    const a = await udpUpstream('127.0.0.1', answer('192.0.2.1'));
    const r = await forwardQuery(query().subarray(0, 15), [a.upstream], udp);
    expect(r).toEqual({ attempts: [] });
    expect(a.received).toHaveLength(0);
  });
});

describe('forwardQuery over TCP (RFC 1035 §4.2.2 framing)', () => {
  const tcp = { ...udp, transport: 'tcp' as const };

  it('uses TCP, reassembles a split frame, and skips garbage frames', async () => {
    const a = await tcpUpstream(
      '127.0.0.1',
      (q) => [Buffer.from('garbage frame'), reply(q, { address: '192.0.2.1' })],
      { split: true },
    );
    const r = await forwardQuery(query(), [a.upstream], tcp);
    expect(a.received).toHaveLength(1);
    expect(dnsPacket.decode(r.reply!).answers).toMatchObject([{ data: '192.0.2.1' }]);
    expect(r.reply!.readUInt16BE(0)).toBe(0xbeef);
  });

  it('fails over on a refused connection, a close without reply, and SERVFAIL', async () => {
    const deadPort = await (async () => {
      const s = net.createServer().listen(0, '127.0.0.1');
      await once(s, 'listening');
      const port = (s.address() as net.AddressInfo).port;
      await new Promise<void>((r) => s.close(() => r()));
      return parseRecursor(`127.0.0.1:${port}`);
    })();
    const closer = await tcpUpstream('127.0.0.2', silent);
    const sf = await tcpUpstream('127.0.0.3', rcode(2));
    const good = await tcpUpstream('127.0.0.4', answer('192.0.2.4'));
    const r = await forwardQuery(query(), [deadPort, closer.upstream, sf.upstream, good.upstream], tcp);
    expect(r.attempts).toMatchObject([
      { outcome: 'error', detail: 'ECONNREFUSED' },
      { outcome: 'closed' },
      { outcome: 'rcode 2' },
      { outcome: 'accepted' },
    ]);
    expect(dnsPacket.decode(r.reply!).answers).toMatchObject([{ data: '192.0.2.4' }]);
  });

  it('a client that came over TCP is never forwarded over UDP', async () => {
    const u = await udpUpstream('127.0.0.5', answer('192.0.2.5'));
    const r = await forwardQuery(query(), [u.upstream], { ...tcp, timeoutMs: 500 });
    expect(r.reply).toBeUndefined();
    expect(u.received).toHaveLength(0);
  });
});
