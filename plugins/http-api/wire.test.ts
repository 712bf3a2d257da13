import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { encodeJson, sendEmpty, sendJson, sendText, wireUint } from './wire.ts';

describe('wireUint', () => {
  it('is a number while exact and the bigint beyond 2^53', () => {
    expect(wireUint(0n)).toBe(0);
    expect(wireUint(9007199254740991n)).toBe(9007199254740991);
    expect(wireUint(9007199254740993n)).toBe(9007199254740993n);
  });
});

describe('encodeJson', () => {
  it('writes uint64 values exactly, as bare JSON numbers', () => {
    const text = encodeJson({ ModifyIndex: wireUint(18446744073709551615n), Flags: 9007199254740993n, n: 1 });
    expect(text).toBe('{"ModifyIndex":18446744073709551615,"Flags":9007199254740993,"n":1}');
  });

  it('matches JSON.stringify for bodies without bigint, and in the bigint writer', () => {
    const value = { a: [1, 'x', null, true, { b: [] }], c: {}, d: undefined, e: 'q"uote', f: [undefined] };
    expect(encodeJson(value)).toBe(JSON.stringify(value));
    // The same value plus one bigint takes the hand-written path; the rest must print identically.
    expect(encodeJson({ ...value, big: 2n ** 60n })).toBe(JSON.stringify(value).slice(0, -1) + `,"big":${2n ** 60n}}`);
    expect(encodeJson({ ...value, big: 2n ** 60n }, true)).toBe(JSON.stringify({ ...value, big: 1 }, null, 4).replace('"big": 1', `"big": ${2n ** 60n}`) + '\n');
  });

  it('pretty prints as Go MarshalIndent with four spaces plus a newline', () => {
    expect(encodeJson({ A: [1], B: {} }, true)).toBe('{\n    "A": [\n        1\n    ],\n    "B": {}\n}\n');
    expect(encodeJson([], true)).toBe('[]\n');
  });

  it('encodes nothing as null', () => {
    expect(encodeJson(undefined)).toBe('null');
    expect(encodeJson(null)).toBe('null');
  });
});

describe('send helpers', () => {
  it('label JSON exactly application/json, text as text/plain, and empty bodies with no type', async () => {
    const app = Fastify();
    app.get('/j', (_req, reply) => sendJson(reply, { ModifyIndex: 2n ** 64n - 1n }, false));
    app.get('/t', (_req, reply) => sendText(reply, 400, 'Missing node name'));
    app.get('/e', (_req, reply) => sendEmpty(reply));
    const j = await app.inject('/j');
    expect(j.headers['content-type']).toBe('application/json');
    expect(j.body).toBe('{"ModifyIndex":18446744073709551615}');
    const t = await app.inject('/t');
    expect([t.statusCode, t.headers['content-type'], t.body]).toEqual([400, 'text/plain; charset=utf-8', 'Missing node name']);
    const e = await app.inject('/e');
    expect([e.statusCode, e.body, e.headers['content-type']]).toEqual([200, '', undefined]);
    await app.close();
  });
});
