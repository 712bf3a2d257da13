import { describe, expect, it } from 'vitest';
import { createQueryView, questionName, QueryStatus, readQuery } from './wire-query.ts';
import { encodeName } from './wire-writer.ts';

// ---- packet builders (raw bytes, so malformed packets can be written too) ----

interface Hdr {
  id?: number;
  flags?: number;
  qd?: number;
  an?: number;
  ns?: number;
  ar?: number;
}
function header(h: Hdr = {}): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(h.id ?? 0x1234, 0);
  b.writeUInt16BE(h.flags ?? 0x0100, 2);
  b.writeUInt16BE(h.qd ?? 1, 4);
  b.writeUInt16BE(h.an ?? 0, 6);
  b.writeUInt16BE(h.ns ?? 0, 8);
  b.writeUInt16BE(h.ar ?? 0, 10);
  return b;
}
/** Wire name from labels given as text or raw bytes. */
function wname(...labels: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = typeof l === 'string' ? Buffer.from(l, 'latin1') : l;
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}
function u16(...v: number[]): Buffer {
  const b = Buffer.alloc(v.length * 2);
  v.forEach((x, i) => b.writeUInt16BE(x, i * 2));
  return b;
}
interface OptSpec {
  udp?: number;
  ext?: number;
  version?: number;
  do?: boolean;
  options?: { code: number; data: Buffer }[];
  owner?: Buffer;
}
function opt(o: OptSpec = {}): Buffer {
  const opts = Buffer.concat((o.options ?? []).map((x) => Buffer.concat([u16(x.code, x.data.length), x.data])));
  return Buffer.concat([
    o.owner ?? Buffer.from([0]),
    u16(41, o.udp ?? 1232),
    Buffer.from([o.ext ?? 0, o.version ?? 0, o.do ? 0x80 : 0, 0]),
    u16(opts.length),
    opts,
  ]);
}
function query(name: string, qtype = 1, extra: { hdr?: Hdr; additional?: Buffer[] } = {}): Buffer {
  const add = extra.additional ?? [];
  return Buffer.concat([
    header({ ar: add.length, ...extra.hdr }),
    wname(...(name === '' ? [] : name.split('.'))),
    u16(qtype, 1),
    ...add,
  ]);
}
function read(buf: Buffer, transport: 'u' | 't' = 'u') {
  const v = createQueryView();
  readQuery(buf, transport, v);
  return v;
}

describe('readQuery: well-formed queries', () => {
  it('reads header, question boundaries, type and class', () => {
    const buf = query('web.service.consul', 33, { hdr: { id: 0xbeef, flags: 0x0110 } });
    const v = read(buf);
    expect(v.status).toBe(QueryStatus.OK);
    expect(v).toMatchObject({ id: 0xbeef, opcode: 0, rd: true, cd: true, qnameStart: 12, qtype: 33, qclass: 1 });
    expect(v.qnameEnd).toBe(12 + 20);
    expect(v.questionEnd).toBe(12 + 20 + 4);
    expect(v.hasEdns).toBe(false);
    expect(v.ednsUdpSize).toBe(0);
    expect(v.key.length).toBeGreaterThan(0);
  });

  it('accepts the root name, a 63-octet label and a 255-octet name', () => {
    expect(read(query('')).status).toBe(QueryStatus.OK);
    expect(read(query('a'.repeat(63) + '.consul')).status).toBe(QueryStatus.OK);
    // 4 labels of 62 + 1 of 1: 4*63 + 2 + root = 255 octets.
    const max = [...Array(4).fill('x'.repeat(62)), 'y'].join('.');
    expect(encodeName(max).length).toBe(255);
    expect(read(query(max)).status).toBe(QueryStatus.OK);
  });

  it('ignores bytes after the last counted record', () => {
    const buf = Buffer.concat([query('web.service.consul'), Buffer.from([1, 2, 3])]);
    expect(read(buf).status).toBe(QueryStatus.OK);
  });

  it('skips a non-OPT additional record (TSIG-like, compressed owner) and still finds the OPT', () => {
    const tsigLike = Buffer.concat([Buffer.from([0xc0, 0x0c]), u16(250, 255), Buffer.alloc(4), u16(3), Buffer.from([1, 2, 3])]);
    const v = read(query('web.service.consul', 1, { additional: [opt({ udp: 4096 }), tsigLike] }));
    expect(v.status).toBe(QueryStatus.OK);
    expect(v.hasEdns).toBe(true);
    expect(v.ednsUdpSize).toBe(4096);
  });
});

describe('readQuery: cache key', () => {
  const key = (buf: Buffer, t: 'u' | 't' = 'u') => read(buf, t).key;

  it('is case-insensitive in ASCII (0x20 mixed case gives one key)', () => {
    const lower = key(query('web.service.consul'));
    for (const n of ['WEB.SERVICE.CONSUL', 'wEb.SeRvIcE.cOnSuL', 'Web.Service.Consul']) {
      expect(key(query(n))).toBe(lower);
    }
  });

  it('does not fold non-ASCII bytes (RFC 4343: ASCII only)', () => {
    const upper = Buffer.from([0xc0, 0x61]); // Latin-1 'À' + 'a'
    const lowerish = Buffer.from([0xe0, 0x61]); // 'à' + 'a'
    const mk = (l: Buffer) => Buffer.concat([header(), wname(l, 'consul'), u16(1, 1)]);
    expect(key(mk(upper))).not.toBe(key(mk(lowerish)));
  });

  it('keeps QTYPE/QCLASS bytes exact (0x41 is not lowercased)', () => {
    expect(key(query('x.consul', 0x41))).not.toBe(key(query('x.consul', 0x61)));
  });

  const cases: [string, Buffer, 'u' | 't', Buffer, 'u' | 't'][] = [
    ['qtype', query('a.consul', 1), 'u', query('a.consul', 28), 'u'],
    ['name', query('a.consul'), 'u', query('b.consul'), 'u'],
    ['label boundary', query('ab.c.consul'), 'u', query('a.bc.consul'), 'u'],
    ['transport', query('a.consul'), 'u', query('a.consul'), 't'],
    ['EDNS presence', query('a.consul'), 'u', query('a.consul', 1, { additional: [opt({ udp: 512 })] }), 'u'],
    [
      'EDNS size',
      query('a.consul', 1, { additional: [opt({ udp: 1232 })] }),
      'u',
      query('a.consul', 1, { additional: [opt({ udp: 4096 })] }),
      'u',
    ],
    [
      'DO bit',
      query('a.consul', 1, { additional: [opt({ udp: 1232 })] }),
      'u',
      query('a.consul', 1, { additional: [opt({ udp: 1232, do: true })] }),
      'u',
    ],
  ];
  it.each(cases)('separates queries that differ in %s', (_what, a, ta, b, tb) => {
    const ka = key(a, ta);
    const kb = key(b, tb);
    expect(ka).not.toBe('');
    expect(kb).not.toBe('');
    expect(ka).not.toBe(kb);
  });

  it('is the same for equal queries that differ only in ID, RD and CD', () => {
    const a = query('a.consul', 1, { hdr: { id: 1, flags: 0x0100 } });
    const b = query('a.consul', 1, { hdr: { id: 2, flags: 0x0010 } });
    expect(key(a)).toBe(key(b));
  });

  it('treats EDNS sizes below 512 as 512 (RFC 6891 §6.2.5)', () => {
    const v = read(query('a.consul', 1, { additional: [opt({ udp: 100 })] }));
    expect(v.ednsUdpSize).toBe(512);
    expect(v.key).toBe(read(query('a.consul', 1, { additional: [opt({ udp: 512 })] })).key);
  });
});

describe('readQuery: EDNS', () => {
  it('reads UDP size, version, DO and options', () => {
    const v = read(query('a.consul', 1, { additional: [opt({ udp: 4096, do: true })] }));
    expect(v).toMatchObject({ status: QueryStatus.OK, hasEdns: true, ednsUdpSize: 4096, ednsVersion: 0, ednsDo: true });
    expect(v.ednsHasOptions).toBe(false);
    expect(v.ednsEcsAt).toBe(-1);
  });

  it('flags options and locates ECS', () => {
    const cookie = { code: 10, data: Buffer.alloc(8, 7) };
    const ecs = { code: 8, data: Buffer.from([0, 1, 24, 0, 192, 0, 2]) };
    const buf = query('a.consul', 1, { additional: [opt({ options: [cookie, ecs] })] });
    const v = read(buf);
    expect(v.status).toBe(QueryStatus.OK);
    expect(v.ednsHasOptions).toBe(true);
    expect(buf.readUInt16BE(v.ednsEcsAt)).toBe(8);
    const onlyCookie = read(query('a.consul', 1, { additional: [opt({ options: [cookie] })] }));
    expect(onlyCookie.ednsHasOptions).toBe(true);
    expect(onlyCookie.ednsEcsAt).toBe(-1);
  });
});

describe('readQuery: DROP and NOTIMP', () => {
  it.each([
    ['empty packet', Buffer.alloc(0)],
    ['11 bytes', Buffer.alloc(11)],
    ['a response (QR=1)', query('a.consul', 1, { hdr: { flags: 0x8100 } })],
    ['a response with a bad body', Buffer.concat([header({ flags: 0x8000, qd: 5 }), Buffer.from([0xc0])])],
  ])('drops %s', (_what, buf) => {
    expect(read(buf).status).toBe(QueryStatus.DROP);
  });

  it.each([1, 2, 4, 5, 15])('answers opcode %i with NOTIMP and keeps the question for the echo', (op) => {
    const v = read(query('a.consul', 1, { hdr: { flags: op << 11 } }));
    expect(v.status).toBe(QueryStatus.NOTIMP);
    expect(v.opcode).toBe(op);
    expect(v.questionEnd).toBeGreaterThan(12);
    expect(v.key).toBe('');
  });
});

describe('readQuery: every FORMERR cause', () => {
  const q = (name: Buffer, tail: Buffer = u16(1, 1), hdr: Hdr = {}, add: Buffer[] = []) =>
    Buffer.concat([header({ ar: add.length, ...hdr }), name, tail, ...add]);
  const good = wname('a', 'consul');
  const cases: [string, Buffer][] = [
    ['QDCOUNT 0', header({ qd: 0 })],
    ['QDCOUNT 2', Buffer.concat([header({ qd: 2 }), good, u16(1, 1), good, u16(1, 1)])],
    ['ANCOUNT 1', q(good, u16(1, 1), { an: 1 })],
    ['NSCOUNT 1', q(good, u16(1, 1), { ns: 1 })],
    ['label type 0x40 (64-octet label length)', q(Buffer.concat([Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0])]))],
    ['label type 0x80', q(Buffer.from([0x81, 0x61, 0]))],
    ['compression pointer to itself (loop)', q(Buffer.from([0xc0, 0x0c]))],
    ['compression pointer to the header', q(Buffer.from([0xc0, 0x00]))],
    ['pointer after a label', q(Buffer.from([1, 0x61, 0xc0, 0x0c]))],
    ['name over 255 octets', q(wname(...Array(4).fill('x'.repeat(62)), 'yy'))],
    ['label running past the end', Buffer.concat([header(), Buffer.from([10, 0x61, 0x62])])],
    ['name without root octet', Buffer.concat([header(), Buffer.from([1, 0x61])])],
    ['no question bytes at all', header()],
    ['QTYPE/QCLASS cut short', q(good, Buffer.from([0, 1, 0]))],
    ['two OPT RRs (RFC 6891 §6.1.1)', q(good, u16(1, 1), {}, [opt(), opt()])],
    ['OPT not owned by the root', q(good, u16(1, 1), {}, [opt({ owner: wname('x') })])],
    ['OPT cut short', q(good, u16(1, 1), {}, [opt().subarray(0, 8)])],
    ['OPT RDLENGTH past the end', q(good, u16(1, 1), {}, [Buffer.concat([opt().subarray(0, 9), u16(40)])])],
    [
      'OPT option longer than its RDATA',
      q(good, u16(1, 1), {}, [Buffer.concat([Buffer.from([0]), u16(41, 1232), Buffer.alloc(4), u16(6), u16(10, 9), Buffer.alloc(2)])]),
    ],
    ['EDNS version 1 (BADVERS not implemented)', q(good, u16(1, 1), {}, [opt({ version: 1 })])],
    ['ARCOUNT larger than the records present', q(good, u16(1, 1), { ar: 2 }, [opt()])],
    ['additional owner with a bad label type', q(good, u16(1, 1), { ar: 1 }, [Buffer.from([0x45, 0, 0])])],
  ];
  it.each(cases)('%s', (_what, buf) => {
    const v = read(buf);
    expect(v.status).toBe(QueryStatus.FORMERR);
    expect(v.key).toBe('');
  });

  it('reports hasEdns only for a single readable OPT', () => {
    expect(read(q(good, u16(1, 1), {}, [opt(), opt()])).hasEdns).toBe(false);
    const badVersion = read(q(good, u16(1, 1), {}, [opt({ version: 1, udp: 4096 })]));
    expect(badVersion.hasEdns).toBe(true);
    expect(badVersion.ednsVersion).toBe(1);
  });
});

describe('questionName', () => {
  it.each([
    ['web.service.consul', wname('web', 'service', 'consul')],
    ['WeB.SeRvIcE.consul', wname('WeB', 'SeRvIcE', 'consul')],
    ['', wname()],
    ['a\\.b.consul', wname('a.b', 'consul')],
    ['back\\\\slash.consul', wname('back\\slash', 'consul')],
    ['sp\\032ace.consul', wname('sp ace', 'consul')],
    ['\\255\\000x.consul', wname(Buffer.from([255, 0, 0x78]), 'consul')],
  ])('gives %j and encodes back to the same wire bytes', (expected, name) => {
    const buf = Buffer.concat([header(), name, u16(1, 1)]);
    const v = read(buf);
    expect(v.status).toBe(QueryStatus.OK);
    expect(questionName(buf, v)).toBe(expected);
    expect(encodeName(expected).equals(name)).toBe(true);
  });

  it('is empty when no question was read', () => {
    const buf = header({ qd: 0 });
    expect(questionName(buf, read(buf))).toBe('');
  });
});

describe('readQuery: never throws', () => {
  /** xorshift32: reproducible pseudo-random bytes. */
  function rng(seed: number) {
    let s = seed >>> 0 || 1;
    return () => {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      return s;
    };
  }

  it('returns a status for 20,000 random and mutated packets', () => {
    const next = rng(0xdeadbeef);
    const seeds = [
      query('web.service.consul'),
      query('_web._tcp.service.dc1.consul', 33, { additional: [opt({ udp: 4096, options: [{ code: 8, data: Buffer.from([0, 1, 24, 0, 10, 0, 0]) }] })] }),
      query('', 2),
      query('a.b.c.d.e.f.g.consul', 28, { additional: [opt({ do: true }), opt()] }),
    ];
    const view = createQueryView();
    const seen = new Map<number, number>();
    const thrown: string[] = [];
    const bad: string[] = [];
    const deadline = Date.now() + 10_000;
    for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
      let buf: Buffer;
      const mode = next() % 3;
      if (mode === 0) {
        buf = Buffer.alloc(next() % 80);
        for (let j = 0; j < buf.length; j++) buf[j] = next() & 0xff;
        // Mostly queries with one question, so the parser goes past the header.
        if (buf.length >= 12 && next() % 2 === 0) {
          buf[2]! &= 0x07;
          buf[4] = 0;
          buf[5] = 1;
        }
      } else {
        const base = seeds[next() % seeds.length]!;
        buf = Buffer.from(base);
        const flips = 1 + (next() % 4);
        for (let f = 0; f < flips; f++) buf[next() % buf.length] = next() & 0xff;
        if (mode === 2) buf = buf.subarray(0, next() % (buf.length + 1));
      }
      let status = -1;
      try {
        status = readQuery(buf, next() % 2 === 0 ? 'u' : 't', view);
      } catch (err) {
        thrown.push(`${buf.toString('hex')}: ${String(err)}`);
        continue;
      }
      // Collect violations instead of asserting per packet: 20,000 expect() calls cost seconds.
      const ok =
        status >= 0 &&
        status <= 3 &&
        view.status === status &&
        (status === QueryStatus.OK
          ? view.key.length > 0 && view.questionEnd <= buf.length && view.questionEnd === view.qnameEnd + 4
          : view.key === '');
      if (!ok) bad.push(`${buf.toString('hex')} -> ${status}`);
      seen.set(status, (seen.get(status) ?? 0) + 1);
    }
    expect(thrown).toEqual([]);
    expect(bad).toEqual([]);
    // The corpus exercises every outcome, not just one rejection path.
    expect(seen.get(QueryStatus.OK)).toBeGreaterThan(100);
    expect(seen.get(QueryStatus.FORMERR)).toBeGreaterThan(100);
    expect(seen.get(QueryStatus.DROP)).toBeGreaterThan(100);
    expect(seen.get(QueryStatus.NOTIMP)).toBeGreaterThan(10);
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBe(20_000);
  }, 20_000);
});
