import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import type { ResourceRecord, ResponseMessage } from './records.ts';
import { encodedLength, encodeName, encodeResponse, nameKey } from './wire-writer.ts';

function message(over: Partial<ResponseMessage> = {}): ResponseMessage {
  return {
    id: 0x4242,
    opcode: 0,
    rd: true,
    aa: true,
    ra: false,
    tc: false,
    rcode: 0,
    question: { name: 'web.service.consul', type: 1, class: 1 },
    answers: [],
    authority: [],
    additional: [],
    ...over,
  };
}

/** Walk a message structurally; true when any name (owner or RDATA name) uses a pointer. */
function hasPointer(buf: Buffer): boolean {
  let p = 12;
  let found = false;
  const name = () => {
    for (;;) {
      const l = buf[p]!;
      if ((l & 0xc0) === 0xc0) {
        found = true;
        p += 2;
        return;
      }
      p += 1 + l;
      if (l === 0) return;
    }
  };
  const qd = buf.readUInt16BE(4);
  const rrs = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  for (let i = 0; i < qd; i++) {
    name();
    p += 4;
  }
  for (let i = 0; i < rrs; i++) {
    name();
    const type = buf.readUInt16BE(p);
    const rdlen = buf.readUInt16BE(p + 8);
    p += 10;
    const end = p + rdlen;
    if (type === 2 || type === 5 || type === 12) name();
    else if (type === 15) {
      p += 2;
      name();
    } else if (type === 33) {
      p += 6;
      name();
    } else if (type === 6) {
      name();
      name();
    }
    p = end;
  }
  return found;
}

const txt = (d: dnsPacket.Answer): Buffer[] => (d as unknown as { data: Buffer[] }).data;

describe('encodeResponse: records decode with dns-packet', () => {
  const cases: [string, ResourceRecord, (d: dnsPacket.Answer) => void][] = [
    ['A', { type: 'A', name: 'web.service.consul', ttl: 30, address: '192.0.2.10' }, (d) => expect(d).toMatchObject({ type: 'A', data: '192.0.2.10' })],
    ['A 0.0.0.0', { type: 'A', name: 'x.consul', ttl: 0, address: '0.0.0.0' }, (d) => expect(d).toMatchObject({ data: '0.0.0.0' })],
    ['A 255.255.255.255', { type: 'A', name: 'x.consul', ttl: 0, address: '255.255.255.255' }, (d) => expect(d).toMatchObject({ data: '255.255.255.255' })],
    ['AAAA', { type: 'AAAA', name: 'web.service.consul', ttl: 30, address: '2001:db8::1' }, (d) => expect(d).toMatchObject({ type: 'AAAA', data: '2001:db8::1' })],
    ['AAAA ::', { type: 'AAAA', name: 'x.consul', ttl: 0, address: '::' }, (d) => expect(d).toMatchObject({ data: '::' })],
    [
      'AAAA full',
      { type: 'AAAA', name: 'x.consul', ttl: 0, address: '2001:0db8:0001:0002:0003:0004:0005:0006' },
      (d) => expect(d).toMatchObject({ data: '2001:db8:1:2:3:4:5:6' }),
    ],
    ['AAAA v4-mapped', { type: 'AAAA', name: 'x.consul', ttl: 0, address: '::ffff:192.0.2.1' }, (d) => expect(d).toMatchObject({ data: '::ffff:c000:201' })],
    ['CNAME', { type: 'CNAME', name: 'web.service.consul', ttl: 5, target: 'lb.example.com' }, (d) => expect(d).toMatchObject({ type: 'CNAME', data: 'lb.example.com' })],
    ['NS', { type: 'NS', name: 'consul', ttl: 5, target: 'ns.consul' }, (d) => expect(d).toMatchObject({ type: 'NS', name: 'consul', data: 'ns.consul' })],
    ['PTR', { type: 'PTR', name: '10.2.0.192.in-addr.arpa', ttl: 0, target: 'n1.node.dc1.consul' }, (d) => expect(d).toMatchObject({ type: 'PTR', data: 'n1.node.dc1.consul' })],
    ['MX', { type: 'MX', name: 'consul', ttl: 5, preference: 10, exchange: 'mail.consul' }, (d) => expect(d).toMatchObject({ data: { preference: 10, exchange: 'mail.consul' } })],
    [
      'SRV',
      { type: 'SRV', name: '_web._tcp.service.consul', ttl: 0, priority: 1, weight: 3, port: 8080, target: 'n1.node.dc1.consul' },
      (d) => expect(d).toMatchObject({ type: 'SRV', data: { priority: 1, weight: 3, port: 8080, target: 'n1.node.dc1.consul' } }),
    ],
    [
      'SOA',
      { type: 'SOA', name: 'consul', ttl: 0, mname: 'ns.consul', rname: 'hostmaster.consul', serial: 1700000000, refresh: 3600, retry: 600, expire: 86400, minimum: 0 },
      (d) =>
        expect(d).toMatchObject({
          data: { mname: 'ns.consul', rname: 'hostmaster.consul', serial: 1700000000, refresh: 3600, retry: 600, expire: 86400, minimum: 0 },
        }),
    ],
    [
      'TXT',
      { type: 'TXT', name: 'n1.node.consul', ttl: 0, texts: ['consul-network-segment=', 'rack=r1'] },
      (d) => expect(txt(d).map(String)).toEqual(['consul-network-segment=', 'rack=r1']),
    ],
    ['TXT UTF-8', { type: 'TXT', name: 'n1.node.consul', ttl: 0, texts: ['zone=é'] }, (d) => expect(txt(d).map((b) => b.toString('utf8'))).toEqual(['zone=é'])],
    ['TXT empty list', { type: 'TXT', name: 'n1.node.consul', ttl: 0, texts: [] }, (d) => expect(txt(d).map(String)).toEqual([''])],
    [
      'TXT > 255 bytes split into chunks',
      { type: 'TXT', name: 'n1.node.consul', ttl: 0, texts: ['k=' + 'v'.repeat(598)] },
      (d) => expect(txt(d).map((b) => b.length)).toEqual([255, 255, 90]),
    ],
  ];
  it.each(cases)('%s', (_what, rr, check) => {
    for (const compress of [true, false]) {
      const buf = encodeResponse(message({ answers: [rr] }), { compress });
      const d = dnsPacket.decode(buf);
      expect(d.answers).toHaveLength(1);
      expect(d.answers![0]!.name).toBe(rr.name === '' ? '.' : rr.name);
      expect((d.answers![0] as { ttl: number }).ttl).toBe(rr.ttl);
      check(d.answers![0]!);
      if (!compress) expect(hasPointer(buf)).toBe(false);
    }
  });
});

describe('encodeResponse: header, sections and OPT', () => {
  it('writes flags and counts', () => {
    const buf = encodeResponse(
      message({
        id: 0xabcd,
        opcode: 2,
        aa: true,
        tc: true,
        rd: false,
        ra: true,
        rcode: 3,
        answers: [{ type: 'A', name: 'web.service.consul', ttl: 1, address: '192.0.2.1' }],
        authority: [{ type: 'NS', name: 'consul', ttl: 1, target: 'ns.consul' }],
        additional: [{ type: 'A', name: 'ns.consul', ttl: 1, address: '192.0.2.53' }],
        edns: { udpSize: 4096, extendedRcode: 0, version: 0, dnssecOk: false, options: [] },
      }),
    );
    expect(buf.readUInt16BE(0)).toBe(0xabcd);
    // QR | opcode 2 | AA | TC | RA | NXDOMAIN
    expect(buf.readUInt16BE(2)).toBe(0x8000 | (2 << 11) | 0x0400 | 0x0200 | 0x0080 | 3);
    expect([4, 6, 8, 10].map((o) => buf.readUInt16BE(o))).toEqual([1, 1, 1, 2]);
  });

  it('writes no question section when there is none', () => {
    const buf = encodeResponse(message({ question: undefined, rcode: 5 }));
    expect(buf.length).toBe(12);
    expect(buf.readUInt16BE(4)).toBe(0);
  });

  it('echoes the given UDP size, DO and options in the OPT RR', () => {
    const buf = encodeResponse(
      message({
        edns: { udpSize: 1400, extendedRcode: 0, version: 0, dnssecOk: true, options: [{ code: 8, data: Buffer.from([0, 1, 24, 24, 192, 0, 2]) }] },
      }),
    );
    const d = dnsPacket.decode(buf);
    const o = d.additionals![0] as dnsPacket.OptAnswer;
    expect(o).toMatchObject({ type: 'OPT', name: '.', udpPayloadSize: 1400, ednsVersion: 0, flag_do: true });
    expect(o.options).toHaveLength(1);
    expect(o.options[0]!.code).toBe(8);
  });

  it('puts the upper bits of an extended RCODE in the OPT RR (RFC 6891 §6.1.3)', () => {
    const buf = encodeResponse(message({ rcode: 16, edns: { udpSize: 1232, extendedRcode: 0, version: 0, dnssecOk: false, options: [] } }));
    expect(buf[3]! & 0x0f).toBe(0);
    const optAt = buf.length - 11;
    expect(buf.readUInt16BE(optAt + 1)).toBe(41);
    expect(buf[optAt + 5]).toBe(1);
  });

  it('clamps TTLs to 0..2^31-1 (RFC 2181 §8)', () => {
    const buf = encodeResponse(
      message({
        answers: [
          { type: 'A', name: 'a.consul', ttl: -5, address: '192.0.2.1' },
          { type: 'A', name: 'a.consul', ttl: 2 ** 33, address: '192.0.2.2' },
        ],
      }),
    );
    const d = dnsPacket.decode(buf);
    expect(d.answers!.map((a) => (a as { ttl: number }).ttl)).toEqual([0, 0x7fffffff]);
  });
});

describe('encodeResponse: name compression (RFC 1035 §4.1.4)', () => {
  const srvMsg = (compress = true) =>
    message({
      question: { name: 'web.service.consul', type: 33, class: 1 },
      answers: [1, 2, 3].map((i) => ({ type: 'SRV' as const, name: 'web.service.consul', ttl: 0, priority: 1, weight: 1, port: 8000 + i, target: `n${i}.node.dc1.consul` })),
      additional: [1, 2, 3].flatMap((i) => [
        { type: 'A' as const, name: `n${i}.node.dc1.consul`, ttl: 0, address: `192.0.2.${i}` },
        { type: 'TXT' as const, name: `n${i}.node.dc1.consul`, ttl: 0, texts: ['consul-network-segment='] },
      ]),
    });

  it('is smaller than uncompressed and decodes to the same records', () => {
    const c = encodeResponse(srvMsg(), { compress: true });
    const u = encodeResponse(srvMsg(), { compress: false });
    expect(c.length).toBeLessThan(u.length);
    expect(hasPointer(u)).toBe(false);
    const dc = dnsPacket.decode(c);
    const du = dnsPacket.decode(u);
    expect(dc.answers).toEqual(du.answers);
    expect(dc.additionals).toEqual(du.additionals);
  });

  it('points answer owners at the question', () => {
    const buf = encodeResponse(srvMsg());
    const qEnd = 12 + encodeName('web.service.consul').length + 4;
    expect(buf.readUInt16BE(qEnd)).toBe(0xc000 | 12);
  });

  it('writes SRV targets in full (RFC 2782) and lets ADDITIONAL owners point into them', () => {
    const buf = encodeResponse(srvMsg());
    const target = encodeName('n1.node.dc1.consul');
    const at = buf.indexOf(target);
    expect(at).toBeGreaterThan(12);
    // The additional A record for n1 is owned by a pointer to the SRV target.
    const ptr = Buffer.from([0xc0 | (at >>> 8), at & 0xff]);
    const aRecord = Buffer.concat([ptr, Buffer.from([0, 1, 0, 1])]);
    expect(buf.indexOf(aRecord)).toBeGreaterThan(at);
  });

  it('compares case-insensitively but writes the case given', () => {
    const buf = encodeResponse(
      message({
        question: { name: 'WeB.Service.CONSUL', type: 1, class: 1 },
        answers: [
          { type: 'A', name: 'web.service.consul', ttl: 0, address: '192.0.2.1' },
          { type: 'CNAME', name: 'Other.SERVICE.consul', ttl: 0, target: 'x.example' },
        ],
      }),
    );
    // The question keeps its letters exactly.
    expect(buf.subarray(12, 12 + 20).equals(encodeName('WeB.Service.CONSUL'))).toBe(true);
    const qEnd = 12 + 20 + 4;
    expect(buf.readUInt16BE(qEnd)).toBe(0xc000 | 12);
    // "Other" is written as given, then points at "Service.CONSUL" inside the question.
    expect(buf.indexOf(Buffer.from('\x05Other\xc0\x10', 'latin1'))).toBeGreaterThan(qEnd);
  });

  it('never points past offset 0x3FFF and stays decodable in large messages', () => {
    const answers: ResourceRecord[] = [];
    for (let i = 0; i < 120; i++) answers.push({ type: 'TXT', name: `k${i}.meta.consul`, ttl: 0, texts: ['x'.repeat(200)] });
    for (let i = 0; i < 120; i++) answers.push({ type: 'A', name: `k${i}.meta.consul`, ttl: 0, address: '192.0.2.1' });
    const buf = encodeResponse(message({ answers }));
    expect(buf.length).toBeGreaterThan(0x4000);
    const d = dnsPacket.decode(buf);
    expect(d.answers!.map((a) => a.name)).toEqual(answers.map((a) => a.name));
  });
});

describe('encodeResponse: the parsed-name memo', () => {
  it('stays correct when one message holds more names than the memo, and after it is reset', () => {
    const many: ResourceRecord[] = Array.from({ length: 5000 }, (_, i) => ({ type: 'A', name: `h${i}.Memo.consul`, ttl: 0, address: '192.0.2.1' }));
    const first = dnsPacket.decode(encodeResponse(message({ answers: many })));
    expect(first.answers!.map((a) => a.name)).toEqual(many.map((a) => a.name));
    // The next encode starts from an emptied memo; names seen before must still compress right.
    const again: ResourceRecord[] = [
      { type: 'CNAME', name: 'h1.memo.CONSUL', ttl: 0, target: 'other.memo.consul' },
      { type: 'A', name: 'other.memo.consul', ttl: 0, address: '192.0.2.2' },
    ];
    const second = dnsPacket.decode(encodeResponse(message({ answers: again })));
    // 'CONSUL' points at the question's 'consul': compression is case-insensitive.
    expect(second.answers!.map((a) => a.name)).toEqual(['h1.memo.consul', 'other.memo.consul']);
    expect((second.answers![0] as dnsPacket.StringAnswer).data).toBe('other.memo.consul');
  });
});

describe('names', () => {
  it.each([
    ['a\\.b.consul', Buffer.from('\x03a.b\x06consul\x00', 'latin1')],
    ['\\065bc.consul', Buffer.from('\x03Abc\x06consul\x00', 'latin1')],
    ['x\\\\y.consul', Buffer.from('\x03x\\y\x06consul\x00', 'latin1')],
    ['consul.', Buffer.from('\x06consul\x00', 'latin1')],
    ['', Buffer.from([0])],
    ['é.consul', Buffer.from('\x02\xc3\xa9\x06consul\x00', 'latin1')],
  ])('encodeName(%j)', (name, wire) => {
    expect(encodeName(name).equals(wire)).toBe(true);
  });

  it.each([
    ['a..b'],
    ['.a'],
    ['x'.repeat(64) + '.consul'],
    [Array(5).fill('x'.repeat(62)).join('.')],
    ['bad\\256.consul'],
    ['bad\\12.consul'],
    ['dangling\\'],
  ])('rejects %j with HERALD_ERR_DNS_ENCODE', (name) => {
    expect(() => encodeName(name)).toThrow(expect.objectContaining({ code: ERR.DNS_ENCODE }));
  });

  it('nameKey folds ASCII case, escapes and the trailing dot', () => {
    expect(nameKey('Web.Consul')).toBe(nameKey('web.consul.'));
    expect(nameKey('\\087eb.consul')).toBe(nameKey('web.consul'));
    expect(nameKey('web.consul')).not.toBe(nameKey('web.consu'));
  });

  it.each([
    ['A 300.1.1.1', { type: 'A', name: 'a.consul', ttl: 0, address: '300.1.1.1' }],
    ['A ::1', { type: 'A', name: 'a.consul', ttl: 0, address: '::1' }],
    ...['01.2.3.4', '1.2.3', '1.2.3.4.5', '1..2.3', '256.1.1.1', ' 1.2.3.4', '1.2.3.4 ', '', '1.2.3.-4'].map(
      (address) => [`A ${JSON.stringify(address)}`, { type: 'A', name: 'a.consul', ttl: 0, address }],
    ),
    ['AAAA 192.0.2.1', { type: 'AAAA', name: 'a.consul', ttl: 0, address: '192.0.2.1' }],
    ['AAAA with zone id', { type: 'AAAA', name: 'a.consul', ttl: 0, address: 'fe80::1%eth0' }],
    ['TXT of 70000 bytes', { type: 'TXT', name: 'a.consul', ttl: 0, texts: ['x'.repeat(70000)] }],
    ['CNAME to a bad name', { type: 'CNAME', name: 'a.consul', ttl: 0, target: 'a..b' }],
  ] as [string, ResourceRecord][])('rejects bad RDATA (%s) with HERALD_ERR_DNS_ENCODE', (_what, rr) => {
    expect(() => encodeResponse(message({ answers: [rr] }))).toThrow(expect.objectContaining({ code: ERR.DNS_ENCODE }));
  });

  it('encodedLength equals the encoded length', () => {
    const msg = message({ answers: [{ type: 'SRV', name: 'web.service.consul', ttl: 0, priority: 1, weight: 1, port: 80, target: 'n.node.consul' }] });
    expect(encodedLength(msg)).toBe(encodeResponse(msg).length);
    expect(encodedLength(msg, { compress: false })).toBe(encodeResponse(msg, { compress: false }).length);
  });
});
