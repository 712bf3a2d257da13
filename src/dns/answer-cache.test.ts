import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { AnswerCache, replyFromCache } from './answer-cache.ts';
import type { ResponseMessage } from './records.ts';
import { createQueryView, QueryStatus, readQuery } from './wire-query.ts';
import { encodeResponse } from './wire-writer.ts';

function query(name: string, opts: { id?: number; rd?: boolean; cd?: boolean; type?: dnsPacket.RecordType } = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 1,
    flags: (opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED) | (opts.cd ? dnsPacket.CHECKING_DISABLED : 0),
    questions: [{ type: opts.type ?? 'A', name }],
  });
}

function answerFor(qname: string, addresses: string[]): Buffer {
  const m: ResponseMessage = {
    id: 0,
    opcode: 0,
    rd: true,
    aa: true,
    ra: false,
    tc: false,
    rcode: 0,
    question: { name: qname, type: 1, class: 1 },
    answers: addresses.map((address) => ({ type: 'A' as const, name: qname, ttl: 0, address })),
    authority: [],
    additional: [],
  };
  return encodeResponse(m);
}

const buf = (n: number, fill = 0) => Buffer.alloc(n, fill);

describe('AnswerCache: get/set and stats', () => {
  it('returns what was set and counts hits and misses', () => {
    const c = new AnswerCache({ maxBytes: 10_000 });
    expect(c.get('k')).toBeUndefined();
    c.set('k', [buf(100)], ['svc:web']);
    const e = c.get('k');
    expect(e?.variants).toHaveLength(1);
    expect(e?.bytes).toBe(101);
    expect(c.stats).toEqual({ hits: 1, misses: 1, invalidations: 0 });
    expect(c.size).toBe(1);
    expect(c.bytes).toBe(101);
  });

  it('rejects a bad bound with HERALD_ERR_CONFIG_INVALID', () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => new AnswerCache({ maxBytes })).toThrow(expect.objectContaining({ code: ERR.CONFIG_INVALID }));
    }
  });

  it('does not store an empty variant list, and removes what was there', () => {
    const c = new AnswerCache({ maxBytes: 1000 });
    c.set('k', [buf(10)], ['d']);
    c.set('k', [], ['d']);
    expect(c.has('k')).toBe(false);
    expect(c.depCount).toBe(0);
  });
});

describe('AnswerCache: byte bound', () => {
  it('stays within maxBytes, evicting least recently used entries', () => {
    const c = new AnswerCache({ maxBytes: 1000 });
    for (let i = 0; i < 50; i++) {
      c.set(`key-${i}`, [buf(90), buf(10)], [`dep-${i % 5}`]);
      expect(c.bytes).toBeLessThanOrEqual(1000);
    }
    // Each entry is 100 bytes of buffers + 6 bytes of key: 9 fit.
    expect(c.size).toBe(9);
    expect(c.has('key-49')).toBe(true);
    expect(c.has('key-40')).toBe(false);
    // A get refreshes recency: key-41 survives the next insert, key-42 goes.
    c.get('key-41');
    c.set('key-50', [buf(100)], []);
    expect(c.has('key-41')).toBe(true);
    expect(c.has('key-42')).toBe(false);
  });

  it('does not store an entry larger than the whole bound, and drops the old one', () => {
    const c = new AnswerCache({ maxBytes: 500 });
    c.set('big', [buf(100)], ['d']);
    c.set('big', [buf(600)], ['d']);
    expect(c.has('big')).toBe(false);
    expect(c.keysFor('d')).toEqual([]);
    expect(c.bytes).toBe(0);
  });
});

describe('AnswerCache: dependency index', () => {
  it('invalidate drops exactly the dependent keys', () => {
    const c = new AnswerCache({ maxBytes: 100_000 });
    c.set('web-a', [buf(10)], ['svc:web', 'node:n1']);
    c.set('web-srv', [buf(10)], ['svc:web', 'node:n2']);
    c.set('db-a', [buf(10)], ['svc:db', 'node:n1']);
    c.set('n1-a', [buf(10)], ['node:n1']);
    expect(c.invalidate(['svc:web'])).toBe(2);
    expect(['web-a', 'web-srv', 'db-a', 'n1-a'].map((k) => c.has(k))).toEqual([false, false, true, true]);
    expect(c.keysFor('svc:web')).toEqual([]);
    expect(c.keysFor('node:n2')).toEqual([]);
    expect(c.keysFor('node:n1').sort()).toEqual(['db-a', 'n1-a']);
    expect(c.invalidate(['node:n1', 'svc:db', 'unknown'])).toBe(2);
    expect(c.size).toBe(0);
    expect(c.depCount).toBe(0);
    expect(c.stats.invalidations).toBe(4);
  });

  it('replacing an entry moves it to its new deps', () => {
    const c = new AnswerCache({ maxBytes: 10_000 });
    c.set('k', [buf(10)], ['old', 'both']);
    c.set('k', [buf(10)], ['new', 'both']);
    expect(c.keysFor('old')).toEqual([]);
    expect(c.keysFor('both')).toEqual(['k']);
    expect(c.invalidate(['old'])).toBe(0);
    expect(c.invalidate(['new'])).toBe(1);
    expect(c.depCount).toBe(0);
  });

  it('clear empties the index', () => {
    const c = new AnswerCache({ maxBytes: 10_000 });
    c.set('a', [buf(10)], ['x']);
    c.set('b', [buf(10)], ['y']);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.depCount).toBe(0);
    expect(c.invalidate(['x', 'y'])).toBe(0);
  });

  it('stays exact through 5,000 random sets, gets, evictions and invalidations', () => {
    const c = new AnswerCache({ maxBytes: 2_000 });
    const depsOf = new Map<string, string[]>();
    let s = 99;
    const rand = (n: number) => {
      s = (s * 1103515245 + 12345) >>> 0;
      return (s >>> 8) % n;
    };
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
    const deps = Array.from({ length: 12 }, (_, i) => `d${i}`);
    let evictedSome = false;
    for (let op = 0; op < 5_000; op++) {
      const r = rand(10);
      if (r < 6) {
        const k = keys[rand(keys.length)]!;
        const ds = Array.from({ length: rand(4) }, () => deps[rand(deps.length)]!);
        const expectedSize = c.size + (c.has(k) ? 0 : 1);
        c.set(k, [buf(20 + rand(200))], ds);
        depsOf.set(k, ds);
        if (c.size < expectedSize) evictedSome = true;
      } else if (r < 9) {
        c.get(keys[rand(keys.length)]!);
      } else {
        const d = deps[rand(deps.length)]!;
        const expected = keys.filter((k) => c.has(k) && depsOf.get(k)!.includes(d)).length;
        expect(c.invalidate([d])).toBe(expected);
      }
      // Invariant: the index is exactly {dep -> live keys listing dep}.
      expect(c.bytes).toBeLessThanOrEqual(2_000);
      let nonEmpty = 0;
      for (const d of deps) {
        const want = keys.filter((k) => c.has(k) && depsOf.get(k)!.includes(d)).sort();
        expect(c.keysFor(d).sort()).toEqual(want);
        if (want.length > 0) nonEmpty++;
      }
      expect(c.depCount).toBe(nonEmpty);
    }
    expect(evictedSome).toBe(true);
  }, 20_000);
});

describe('replyFromCache', () => {
  it('patches ID, RD, CD and the question case; the rest is the cached bytes', () => {
    const cached = answerFor('web.service.consul', ['192.0.2.1']);
    const c = new AnswerCache({ maxBytes: 10_000 });
    const v = createQueryView();
    readQuery(query('web.service.consul'), 'u', v);
    c.set(v.key, [cached], ['svc:web']);

    const q = query('wEb.SeRvIcE.cOnSuL', { id: 0xbeef, rd: false, cd: true });
    expect(readQuery(q, 'u', v)).toBe(QueryStatus.OK);
    const entry = c.get(v.key);
    expect(entry).toBeDefined();
    const reply = replyFromCache(entry!, q, v);
    expect(reply).not.toBe(cached);
    expect(reply.readUInt16BE(0)).toBe(0xbeef);
    expect(reply[2]! & 0x01).toBe(0); // RD echoed (0)
    expect(reply[3]! & 0x10).toBe(0x10); // CD echoed (1)
    expect(reply.subarray(12, v.qnameEnd).equals(q.subarray(12, v.qnameEnd))).toBe(true);
    // Everything after the question name is the cached bytes.
    expect(reply.subarray(v.qnameEnd).equals(cached.subarray(v.qnameEnd))).toBe(true);
    // The cached entry itself is untouched.
    expect(cached.readUInt16BE(0)).toBe(0);
    const d = dnsPacket.decode(reply);
    expect(d.flag_qr).toBe(true);
    expect(d.questions![0]!.name).toBe('wEb.SeRvIcE.cOnSuL');
    // The answer owner points at the question, so it reads in the client's case too.
    expect(d.answers![0]!.name).toBe('wEb.SeRvIcE.cOnSuL');
  });

  it('keeps RD set and CD clear when the query has them so', () => {
    const cached = answerFor('a.consul', ['192.0.2.1']);
    cached[2]! &= 0xfe; // cached with RD=0
    cached[3]! |= 0x10; // and CD=1
    const c = new AnswerCache({ maxBytes: 10_000 });
    const v = createQueryView();
    const q = query('a.consul', { rd: true, cd: false });
    readQuery(q, 'u', v);
    c.set(v.key, [cached], []);
    const reply = replyFromCache(c.get(v.key)!, q, v);
    expect(reply[2]! & 0x01).toBe(1);
    expect(reply[3]! & 0x10).toBe(0);
  });

  it('rotates through the variants', () => {
    const variants = [['192.0.2.1', '192.0.2.2'], ['192.0.2.2', '192.0.2.3'], ['192.0.2.3', '192.0.2.1']].map((a) => answerFor('web.service.consul', a));
    const c = new AnswerCache({ maxBytes: 10_000 });
    const v = createQueryView();
    const q = query('web.service.consul');
    readQuery(q, 'u', v);
    c.set(v.key, variants, []);
    const firsts: string[] = [];
    for (let i = 0; i < 6; i++) {
      const reply = replyFromCache(c.get(v.key)!, q, v);
      firsts.push((dnsPacket.decode(reply).answers![0] as dnsPacket.StringAnswer).data);
    }
    expect(firsts).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.1', '192.0.2.2', '192.0.2.3']);
  });

  it('leaves a header-only cached reply unpatched past the header', () => {
    const headerOnly = Buffer.from([0, 0, 0x82, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const c = new AnswerCache({ maxBytes: 10_000 });
    const v = createQueryView();
    const q = query('a.consul', { id: 9 });
    readQuery(q, 'u', v);
    c.set(v.key, [headerOnly], []);
    const reply = replyFromCache(c.get(v.key)!, q, v);
    expect(reply.length).toBe(12);
    expect(reply.readUInt16BE(0)).toBe(9);
  });
});
