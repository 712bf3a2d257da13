import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { RpcError } from './rpc-error.ts';
import { decodeValue, encodedSize, encodeValue, MAX_DEPTH } from './value-codec.ts';
import { seededRandom as prng } from '../seeded-random.ts';

const U64_MAX = (1n << 64n) - 1n;

function roundTrip(v: unknown): unknown {
  const buf = encodeValue(v);
  expect(buf.length).toBe(encodedSize(v));
  return decodeValue(buf);
}

describe('value codec round trip', () => {
  const cases: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['null', null],
    ['false', false],
    ['true', true],
    ['zero', 0],
    ['one-byte varint edge', 127],
    ['two-byte varint edge', 128],
    ['2^32', 2 ** 32],
    ['max safe integer', Number.MAX_SAFE_INTEGER],
    ['-1', -1],
    ['min safe integer', Number.MIN_SAFE_INTEGER],
    ['fraction', 1.5],
    ['beyond safe integers', 2 ** 60],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['0n', 0n],
    ['2^53 as bigint', 2n ** 53n],
    ['2^64-1', U64_MAX],
    ['-(2^64-1)', -U64_MAX],
    ['-1n', -1n],
    ['empty string', ''],
    ['unicode string', 'héllo wörld — 服务 🚀'],
    ['empty buffer', Buffer.alloc(0)],
    ['buffer', Buffer.from([0, 1, 2, 255])],
    ['empty array', []],
    ['nested', { a: [1, 'two', { three: 3n }], b: { c: null, d: true } }],
    ['empty object', {}],
  ];
  for (const [name, v] of cases) {
    it(name, () => {
      expect(roundTrip(v)).toEqual(v);
    });
  }

  it('keeps -0 and NaN', () => {
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(Number.isNaN(roundTrip(NaN))).toBe(true);
  });

  it('returns Buffers for byte strings, including an empty one, and Uint8Array input', () => {
    const out = roundTrip({ e: Buffer.alloc(0), u: new Uint8Array([9, 8]) }) as { e: Buffer; u: Buffer };
    expect(Buffer.isBuffer(out.e)).toBe(true);
    expect(out.e.length).toBe(0);
    expect(Buffer.isBuffer(out.u)).toBe(true);
    expect([...out.u]).toEqual([9, 8]);
  });

  it('carries a Raft-shaped message exactly (u64 indexes, Buffer entries, absent optionals stay absent)', () => {
    const msg = {
      type: 'MsgApp',
      from: 's1',
      to: 's2',
      term: U64_MAX,
      index: U64_MAX - 1n,
      logTerm: 7n,
      commit: 0n,
      entries: [
        { index: U64_MAX, term: 3n, kind: 'normal', data: Buffer.from('payload') },
        { index: 1n, term: 1n, kind: 'noop', data: Buffer.alloc(0) },
      ],
      reject: undefined,
    };
    const out = roundTrip(msg) as Record<string, unknown>;
    expect('reject' in out).toBe(false);
    const { reject: _omit, ...rest } = msg;
    expect(out).toEqual(rest);
  });

  it('turns a __proto__ key into a plain property, not a prototype', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}') as object;
    const out = roundTrip(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(out)).toEqual(['__proto__', 'x']);
  });

  it('hands out views or copies of byte strings as asked', () => {
    const buf = encodeValue({ d: Buffer.from('abc') });
    const view = decodeValue(buf, 0, { copyBytes: false }) as { d: Buffer };
    const copy = decodeValue(buf, 0) as { d: Buffer };
    buf[buf.length - 1] = 'z'.charCodeAt(0);
    expect(view.d.toString()).toBe('abz');
    expect(copy.d.toString()).toBe('abc');
  });

  it('uses one byte per small integer and a compact form for small bigints', () => {
    expect(encodeValue(5).length).toBe(2);
    expect(encodeValue(5n).length).toBe(2);
    expect(encodeValue(U64_MAX).length).toBe(11);
  });
});

describe('value codec refuses what it cannot carry', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  let deep: unknown = 1;
  for (let i = 0; i <= MAX_DEPTH; i++) deep = [deep];
  const cases: Array<[string, unknown]> = [
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a Map', new Map()],
    ['a Date', new Date(0)],
    ['a class instance', new (class Thing {})()],
    ['a bigint above 2^64-1', 1n << 64n],
    ['a bigint below -(2^64-1)', -(1n << 64n)],
    ['a cycle', cyclic],
    ['nesting deeper than MAX_DEPTH', deep],
    ['a Float64Array', new Float64Array(1)],
  ];
  for (const [name, v] of cases) {
    it(name, () => {
      const err = (() => {
        try {
          encodeValue(v);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).code).toBe(ERR.RPC_ENCODE);
    });
  }
});

describe('value codec decoding bad input', () => {
  const bad: Array<[string, number[]]> = [
    ['empty input', []],
    ['unknown tag', [0x7f]],
    ['truncated float', [0x06, 0, 0]],
    ['string length past the end', [0x09, 0x05, 0x61]],
    ['array count larger than the input', [0x0b, 0xff, 0xff, 0x03]],
    ['varint longer than 8 bytes', [0x04, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    ['integer above 2^53-1', [0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]],
    ['bigint above 2^64-1', [0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]],
    ['negative zero integer', [0x05, 0x00]],
    ['trailing bytes', [0x01, 0x01]],
  ];
  for (const [name, bytes] of bad) {
    it(`refuses ${name} with RPC_PROTOCOL`, () => {
      expect(() => decodeValue(Buffer.from(bytes))).toThrow(expect.objectContaining({ code: ERR.RPC_PROTOCOL }));
    });
  }

  it('refuses nesting deeper than MAX_DEPTH on input', () => {
    const bytes = [...Array.from({ length: MAX_DEPTH + 1 }, () => [0x0b, 0x01]).flat(), 0x01];
    expect(() => decodeValue(Buffer.from(bytes))).toThrow(expect.objectContaining({ code: ERR.RPC_PROTOCOL }));
  });

  it('fuzz: random and mutated inputs either decode or throw RpcError(RPC_PROTOCOL), nothing else', () => {
    const rand = prng(0x5eed);
    const seedValue = encodeValue({ a: [1, -2, 3.5, 'x', Buffer.from('yz'), 2n ** 63n, null, true], b: { c: 'déjà' } });
    let decoded = 0;
    for (let i = 0; i < 5000; i++) {
      let input: Buffer;
      if (i % 2 === 0) {
        input = Buffer.alloc(Math.floor(rand() * 40));
        for (let j = 0; j < input.length; j++) input[j] = Math.floor(rand() * 256);
      } else {
        input = Buffer.from(seedValue);
        const flips = 1 + Math.floor(rand() * 3);
        for (let f = 0; f < flips; f++) input[Math.floor(rand() * input.length)] = Math.floor(rand() * 256);
        if (rand() < 0.3) input = input.subarray(0, Math.floor(rand() * input.length));
      }
      try {
        decodeValue(input);
        decoded++;
      } catch (err) {
        if (!(err instanceof RpcError) || err.code !== ERR.RPC_PROTOCOL) throw err;
      }
    }
    // Some mutations still decode (a flipped byte inside a string); most do not.
    expect(decoded).toBeGreaterThan(0);
    expect(decoded).toBeLessThan(5000);
  });
});
