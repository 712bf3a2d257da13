/**
 * `/v1/kv` on a real in-process agent through inject(): Consul's shapes, status codes, error
 * texts and headers; odd and huge keys; index rules; blocking reads that wake only for their
 * key or prefix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKvAgent, track, turns, until, type KvTestAgent } from '../kv-test-agent.ts';

let t: KvTestAgent;

beforeAll(async () => {
  t = await startKvAgent();
});
afterAll(async () => {
  await t?.stop();
});

const index = (res: { headers: Record<string, unknown> }) => BigInt(String(res.headers['x-consul-index']));
const json = <T = Record<string, unknown>[]>(res: { body: string }) => JSON.parse(res.body) as T;

/** Turns dev mode's pretty printing off (the compact path the bench measures). */
function compact<T>(fn: () => Promise<T>): Promise<T> {
  const cfg = t.agent.config as { dev: boolean };
  cfg.dev = false;
  return fn().finally(() => {
    cfg.dev = true;
  });
}

describe('single keys', () => {
  it('PUT then GET: [DirEntry] in Consul field order, X-Consul-Index = the key ModifyIndex', async () => {
    const put = await t.request('PUT', '/v1/kv/app/config?flags=42', 'hello');
    expect([put.statusCode, put.headers['content-type'], put.body.trim()]).toEqual([200, 'application/json', 'true']);
    await t.request('PUT', '/v1/kv/app/other', 'x'); // a later write elsewhere: the key's index stays
    const res = await compact(() => t.request('GET', '/v1/kv/app/config'));
    expect(res.statusCode).toBe(200);
    const [e] = json(res);
    expect(res.body).toBe(`[{"LockIndex":0,"Key":"app/config","Flags":42,"Value":"aGVsbG8=","CreateIndex":${e!.CreateIndex},"ModifyIndex":${e!.ModifyIndex}}]`);
    expect(index(res)).toBe(BigInt(e!.ModifyIndex as number));
    expect(res.headers['x-consul-knownleader']).toBe('true');
    expect(res.headers['x-consul-lastcontact']).toBe('0');
    // Pretty (dev mode) is the same value, indented.
    const pretty = await t.request('GET', '/v1/kv/app/config');
    expect(JSON.parse(pretty.body)).toEqual(json(res));
    expect(pretty.body).toContain('\n    {\n        "LockIndex": 0,');
  });

  it('a missing key is 404 with an empty body and the KV table index', async () => {
    const w = await t.request('PUT', '/v1/kv/some/key', 'v');
    expect(w.statusCode).toBe(200);
    const res = await t.request('GET', '/v1/kv/does/not/exist');
    expect([res.statusCode, res.body]).toEqual([404, '']);
    expect(index(res)).toBe(t.kv.state.kv.maxIndex);
    expect(res.headers['x-consul-knownleader']).toBe('true');
  });

  it('empty key: 400 Missing key name for GET, PUT and DELETE', async () => {
    for (const m of ['GET', 'PUT', 'DELETE']) {
      const res = await t.request(m, '/v1/kv/');
      expect([m, res.statusCode, res.body]).toEqual([m, 400, 'Missing key name']);
    }
  });

  it('?raw sends the bytes as text/plain with nosniff and a sandbox CSP', async () => {
    const bytes = Buffer.from([0, 1, 2, 0xff, 0x3c, 0x73]);
    await t.request('PUT', '/v1/kv/raw/bin', bytes);
    const res = await t.request('GET', '/v1/kv/raw/bin?raw');
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload).toEqual(bytes);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe('sandbox');
    await t.request('PUT', '/v1/kv/raw/empty');
    const empty = await t.request('GET', '/v1/kv/raw/empty?raw');
    expect([empty.statusCode, empty.body]).toEqual([200, '']);
  });

  it('an empty value is null; flags are exact uint64; leaving flags out resets them to 0', async () => {
    await t.request('PUT', '/v1/kv/f?flags=18446744073709551615');
    let res = await compact(() => t.request('GET', '/v1/kv/f'));
    expect(res.body).toContain('"Flags":18446744073709551615,"Value":null,');
    expect(res.body).not.toContain('Session');
    res = await t.request('GET', '/v1/kv/f'); // pretty path: exact too
    expect(res.body).toContain('"Flags": 18446744073709551615,');
    await t.request('PUT', '/v1/kv/f', 'v');
    expect(json(await t.request('GET', '/v1/kv/f'))[0]!.Flags).toBe(0);
  });

  it('non-numeric or out-of-range flags and cas are 400 with Go strconv text, nothing written', async () => {
    const before = t.lastIndex();
    const cases: [string, string][] = [
      ['/v1/kv/n?flags=abc', 'strconv.ParseUint: parsing "abc": invalid syntax'],
      ['/v1/kv/n?flags=-1', 'strconv.ParseUint: parsing "-1": invalid syntax'],
      ['/v1/kv/n?flags=18446744073709551616', 'strconv.ParseUint: parsing "18446744073709551616": value out of range'],
      ['/v1/kv/n?cas=x', 'strconv.ParseUint: parsing "x": invalid syntax'],
    ];
    for (const [url, text] of cases) {
      const res = await t.request('PUT', url, 'v');
      expect([url, res.statusCode, res.body]).toEqual([url, 400, text]);
    }
    const del = await t.request('DELETE', '/v1/kv/n?cas=zz');
    expect([del.statusCode, del.body]).toEqual([400, 'strconv.ParseUint: parsing "zz": invalid syntax']);
    expect(t.lastIndex()).toBe(before);
  });

  it('cas: 0 writes only if absent, otherwise the ModifyIndex must match; CAS on a missing key is false', async () => {
    const put = (url: string, body = 'v') => t.request('PUT', url, body).then((r) => r.body.trim());
    expect(await put('/v1/kv/cas/k?cas=0', 'first')).toBe('true');
    expect(await put('/v1/kv/cas/k?cas=0', 'second')).toBe('false');
    const mod = json(await t.request('GET', '/v1/kv/cas/k'))[0]!.ModifyIndex;
    expect(await put(`/v1/kv/cas/k?cas=${Number(mod) + 1}`)).toBe('false');
    expect(await put(`/v1/kv/cas/k?cas=${mod}`, 'third')).toBe('true');
    expect(await put('/v1/kv/cas/missing?cas=5')).toBe('false');
    expect(Buffer.from(String(json(await t.request('GET', '/v1/kv/cas/k'))[0]!.Value), 'base64').toString()).toBe('third');
  });

  it('two of cas/acquire/release: 400 Conflicting flags with Go-encoded, sorted parameters', async () => {
    const res = await t.request('PUT', '/v1/kv/x?release=a%20b&cas=1');
    expect([res.statusCode, res.body]).toEqual([400, 'Conflicting flags: cas=1&release=a+b\n']);
    const del = await t.request('DELETE', '/v1/kv/x?recurse&cas=1');
    expect([del.statusCode, del.body]).toEqual([400, 'Conflicting flags: cas=1&recurse=\n']);
  });

  it('odd bytes and huge keys round-trip: %00, spaces, unicode, %2F, 10 KB', async () => {
    const keys = ['nul\u0000byte', 'with space', 'ünï/コード/😀', 'a/b%c', 'slash/inside', 'k'.repeat(10_240)];
    const urls = ['nul%00byte', 'with%20space', encodeURIComponent('ünï/コード/😀').replaceAll('%2F', '/'), 'a/b%25c', 'slash%2Finside', 'k'.repeat(10_240)];
    for (const [i, url] of urls.entries()) {
      const put = await t.request('PUT', `/v1/kv/odd/${url}`, `v${i}`);
      expect([i, put.statusCode, put.body.trim()]).toEqual([i, 200, 'true']);
      const res = await t.request('GET', `/v1/kv/odd/${url}`);
      expect([i, res.statusCode]).toEqual([i, 200]);
      expect(json(res)[0]!.Key).toBe(`odd/${keys[i]}`);
    }
    const listed = json<string[]>(await t.request('GET', '/v1/kv/odd/?keys'));
    expect(listed).toHaveLength(keys.length);
  });

  it('unknown methods: 405 with Allow; OPTIONS 200', async () => {
    const res = await t.request('POST', '/v1/kv/x');
    expect([res.statusCode, res.headers.allow]).toEqual([405, 'OPTIONS,GET,PUT,DELETE']);
    expect((await t.request('OPTIONS', '/v1/kv/x')).statusCode).toBe(200);
  });

  it('read parameters are checked as Consul parses them', async () => {
    const cases: [string, number, string][] = [
      ['/v1/kv/x?wait=soon&index=1', 400, 'Invalid wait time'],
      ['/v1/kv/x?index=abc', 400, 'Invalid index'],
      ['/v1/kv/x?stale&consistent', 400, 'Cannot specify ?stale with ?consistent, conflicting semantics.'],
      ['/v1/kv/x?dc=elsewhere', 500, 'No path to datacenter'],
    ];
    for (const [url, status, text] of cases) {
      const res = await t.request('GET', url);
      expect([url, res.statusCode, res.body]).toEqual([url, status, text]);
    }
    expect((await t.request('PUT', '/v1/kv/x?dc=elsewhere', 'v')).statusCode).toBe(500);
  });
});

describe('prefixes', () => {
  it('recurse lists entries sorted by key; none is 404; keys folds at the separator (and the misspelt seperator)', async () => {
    for (const k of ['tree/b', 'tree/a/2', 'tree/a/1', 'tree/c/']) await t.request('PUT', `/v1/kv/${k}`, k);
    const rec = await t.request('GET', '/v1/kv/tree/?recurse');
    expect(json(rec).map((e) => e.Key)).toEqual(['tree/a/1', 'tree/a/2', 'tree/b', 'tree/c/']);
    expect(index(rec)).toBe(BigInt(Math.max(...json(rec).map((e) => e.ModifyIndex as number))));
    expect((await t.request('GET', '/v1/kv/nothing/?recurse')).statusCode).toBe(404);
    expect(json<string[]>(await t.request('GET', '/v1/kv/tree/?keys'))).toEqual(['tree/a/1', 'tree/a/2', 'tree/b', 'tree/c/']);
    expect(json<string[]>(await t.request('GET', '/v1/kv/tree/?keys&separator=/'))).toEqual(['tree/a/', 'tree/b', 'tree/c/']);
    expect(json<string[]>(await t.request('GET', '/v1/kv/tree/?keys&seperator=/'))).toEqual(['tree/a/', 'tree/b', 'tree/c/']);
    const none = await t.request('GET', '/v1/kv/nothing/?keys');
    expect([none.statusCode, none.body]).toEqual([404, '']);
  });

  it('deletes: true for a missing key; recurse deletes the prefix; cas delete must match', async () => {
    expect((await t.request('DELETE', '/v1/kv/never/was')).body.trim()).toBe('true');
    for (const k of ['del/a', 'del/b/c', 'delx']) await t.request('PUT', `/v1/kv/${k}`, 'v');
    expect((await t.request('DELETE', '/v1/kv/del/?recurse')).body.trim()).toBe('true');
    expect((await t.request('GET', '/v1/kv/del/?recurse')).statusCode).toBe(404);
    expect((await t.request('GET', '/v1/kv/delx')).statusCode).toBe(200);
    const mod = json(await t.request('GET', '/v1/kv/delx'))[0]!.ModifyIndex as number;
    expect((await t.request('DELETE', `/v1/kv/delx?cas=${mod + 1}`)).body.trim()).toBe('false');
    expect((await t.request('DELETE', '/v1/kv/delx?cas=0')).body.trim()).toBe('false');
    expect((await t.request('DELETE', `/v1/kv/delx?cas=${mod}`)).body.trim()).toBe('true');
    expect((await t.request('GET', '/v1/kv/delx')).statusCode).toBe(404);
  });

  it('a delete moves the prefix index up (tombstone), so prefix readers see the change', async () => {
    await t.request('PUT', '/v1/kv/ts/a', '1');
    await t.request('PUT', '/v1/kv/ts/b', '2');
    const before = index(await t.request('GET', '/v1/kv/ts/?recurse'));
    await t.request('DELETE', '/v1/kv/ts/b');
    const after = await t.request('GET', '/v1/kv/ts/?recurse');
    expect(json(after).map((e) => e.Key)).toEqual(['ts/a']);
    expect(index(after)).toBeGreaterThan(before);
    expect(index(after)).toBe(t.kv.state.kv.tombstone('ts/b'));
  });
});

/** Counts the index re-checks a parked read makes (a wake re-runs its index()), per key or prefix. */
function spyChecks() {
  const table = t.kv.state.kv;
  const counts = new Map<string, number>();
  const get = table.get.bind(table);
  const prefixIndex = table.prefixIndex.bind(table);
  table.get = (k: string) => (counts.set(k, (counts.get(k) ?? 0) + 1), get(k));
  table.prefixIndex = (p: string) => (counts.set(`prefix:${p}`, (counts.get(`prefix:${p}`) ?? 0) + 1), prefixIndex(p));
  return {
    count: (k: string) => counts.get(k) ?? 0,
    reset: () => counts.clear(),
    restore: () => {
      table.get = get;
      table.prefixIndex = prefixIndex;
    },
  };
}

describe('blocking reads wake only for their key or prefix', () => {
  it('a single-key read ignores writes to other keys and returns on its own', async () => {
    await t.request('PUT', '/v1/kv/watch/a', '1');
    const idx = index(await t.request('GET', '/v1/kv/watch/a'));
    const read = track(t.request('GET', `/v1/kv/watch/a?index=${idx}&wait=10s`));
    await t.parked('kv:watch/a');
    const spy = spyChecks();
    try {
      await t.request('PUT', '/v1/kv/watch/b', 'other'); // same prefix, other key
      await t.request('PUT', '/v1/kv/watch/a-longer', 'other');
      await turns();
      // Not woken: its index was never re-checked.
      expect(spy.count('watch/a')).toBe(0);
    } finally {
      spy.restore();
    }
    expect(read.done()).toBe(false);
    expect(t.api.waiters.sizeOf('kv:watch/a')).toBe(1);
    await t.request('PUT', '/v1/kv/watch/a', '2');
    const res = await read.promise;
    expect(res.statusCode).toBe(200);
    expect(index(res)).toBeGreaterThan(idx);
    expect(Buffer.from(String(json(res)[0]!.Value), 'base64').toString()).toBe('2');
  });

  it('a read of a missing key returns when the key is created', async () => {
    const first = await t.request('GET', '/v1/kv/watch/later');
    expect(first.statusCode).toBe(404);
    const read = track(t.request('GET', `/v1/kv/watch/later?index=${index(first)}&wait=10s`));
    await t.parked('kv:watch/later');
    await t.request('PUT', '/v1/kv/unrelated', 'x');
    await turns();
    expect(read.done()).toBe(false);
    await t.request('PUT', '/v1/kv/watch/later', 'now');
    expect((await read.promise).statusCode).toBe(200);
  });

  it('a recurse read wakes for a write or delete under its prefix, not elsewhere', async () => {
    await t.request('PUT', '/v1/kv/pw/x', '1');
    const idx = index(await t.request('GET', '/v1/kv/pw/?recurse'));
    const read = track(t.request('GET', `/v1/kv/pw/?recurse&index=${idx}&wait=10s`));
    await t.parked('kvp:pw/');
    const spy = spyChecks();
    try {
      await t.request('PUT', '/v1/kv/pwx', 'not under pw/');
      await t.request('PUT', '/v1/kv/p', 'shorter');
      await turns();
      expect(spy.count('prefix:pw/')).toBe(0);
      // A write under the prefix that leaves the index where it is (same value) is no change at all.
      await t.request('PUT', '/v1/kv/pw/x', '1');
      await turns();
      expect(spy.count('prefix:pw/')).toBe(0);
    } finally {
      spy.restore();
    }
    expect(read.done()).toBe(false);
    await t.request('DELETE', '/v1/kv/pw/x');
    const res = await read.promise;
    expect(res.statusCode).toBe(404);
    expect(index(res)).toBeGreaterThan(idx);
    expect(t.kv.prefixes.size).toBe(0);
  });

  it('a keys read inside a deleted tree wakes', async () => {
    await t.request('PUT', '/v1/kv/tr/a/b', '1');
    const idx = index(await t.request('GET', '/v1/kv/tr/a/?keys'));
    const read = track(t.request('GET', `/v1/kv/tr/a/?keys&index=${idx}&wait=10s`));
    await t.parked('kvp:tr/a/');
    await t.request('DELETE', '/v1/kv/tr/?recurse');
    const res = await read.promise;
    expect([res.statusCode, index(res) > idx]).toEqual([404, true]);
  });
});

describe('tombstones and restore', () => {
  it('tombstones are reaped by a proposed command after tombstone_ttl; the prefix index may then drop', async () => {
    const a = await startKvAgent({ plugin_config: { kv: { tombstone_ttl: '100ms' } } });
    try {
      await a.request('PUT', '/v1/kv/g/keep', '1');
      await a.request('PUT', '/v1/kv/g/gone', '2');
      await a.request('DELETE', '/v1/kv/g/gone');
      const withStone = index(await a.request('GET', '/v1/kv/g/?recurse'));
      expect(a.kv.state.kv.tombstoneCount).toBe(1);
      const before = a.lastIndex();
      await until(() => a.kv.state.kv.tombstoneCount === 0, 'the tombstone reap');
      expect(a.lastIndex()).toBe(before + 1n); // one kv.reap entry in the log
      const after = index(await a.request('GET', '/v1/kv/g/?recurse'));
      expect(after).toBeLessThan(withStone);
    } finally {
      await a.stop();
    }
  });

  it('a snapshot restore that moves a key back answers its parked readers at once', async () => {
    await t.request('PUT', '/v1/kv/rs/k', 'old');
    const snap = t.agent.sm.snapshot();
    await t.request('PUT', '/v1/kv/rs/k', 'new');
    const res0 = await t.request('GET', '/v1/kv/rs/k');
    const read = track(t.request('GET', `/v1/kv/rs/k?index=${index(res0)}&wait=10s`));
    await t.parked('kv:rs/k');
    t.agent.sm.restore(snap);
    const res = await read.promise;
    expect(index(res)).toBeLessThan(index(res0));
    expect(Buffer.from(String(json(res)[0]!.Value), 'base64').toString()).toBe('old');
  });
});

describe('limits', () => {
  it('a value over kv_max_value_size is 413 with Consul text before the body is read; at the limit it is stored', async () => {
    const small = await startKvAgent({ plugin_config: { kv: { kv_max_value_size: 16 } } });
    try {
      const over = await small.request('PUT', '/v1/kv/big', 'x'.repeat(17));
      expect(over.statusCode).toBe(413);
      expect(over.body).toBe('Request body(17 bytes) too large, max size: 16 bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.');
      expect((await small.request('PUT', '/v1/kv/big', 'x'.repeat(16))).statusCode).toBe(200);
      // An empty store: the root key list is [] with 200, a prefix with none is 404.
      await small.request('DELETE', '/v1/kv/?recurse');
      const root = await small.request('GET', '/v1/kv/?keys');
      expect([root.statusCode, root.body.trim()]).toEqual([200, '[]']);
    } finally {
      await small.stop();
    }
  });

  it("Consul's top-level limits.kv_max_value_size and limits.txn_max_req_len are read too; plugin_config wins", async () => {
    const a = await startKvAgent({ limits: { kv_max_value_size: 8, txn_max_req_len: 100 } });
    try {
      expect((await a.request('PUT', '/v1/kv/k', '123456789')).statusCode).toBe(413);
      expect((await a.request('PUT', '/v1/kv/k', '12345678')).statusCode).toBe(200);
      expect(a.kv.options).toMatchObject({ kvMaxValueSize: 8, txnMaxReqLen: 100 });
    } finally {
      await a.stop();
    }
    const b = await startKvAgent({ limits: { kv_max_value_size: 8 }, plugin_config: { kv: { kv_max_value_size: 100 } } });
    try {
      expect(b.kv.options.kvMaxValueSize).toBe(100);
    } finally {
      await b.stop();
    }
    await expect(startKvAgent({ limits: { rpc_rate: 5 } })).rejects.toThrow(/rpc_rate/);
  });

  it('refuses bad plugin options at start-up', async () => {
    await expect(startKvAgent({ plugin_config: { kv: { kv_max_value_size: -1 } } })).rejects.toThrow(/kv_max_value_size/);
    await expect(startKvAgent({ plugin_config: { kv: { nope: 1 } } })).rejects.toThrow(/unknown option "nope"/);
  });
});
