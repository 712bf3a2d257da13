/**
 * `PUT /v1/txn` on a real in-process agent: every KV verb, 200/409 shapes, atomic rollback,
 * Consul's error strings and limits, read-only transactions outside the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKvAgent, type KvTestAgent } from '../kv-test-agent.ts';

let t: KvTestAgent;
beforeAll(async () => {
  t = await startKvAgent();
});
afterAll(async () => {
  await t?.stop();
});

const b64 = (s: string) => Buffer.from(s).toString('base64');
type TxnBody = { Results: { KV: Record<string, unknown> }[] | null; Errors: { OpIndex: number; What: string }[] | null };
const txn = async (ops: unknown) => {
  const res = await t.request('PUT', '/v1/txn', ops);
  return { status: res.statusCode, body: (res.body.startsWith('{') ? JSON.parse(res.body) : res.body) as TxnBody, res };
};
const kv = (Verb: string, Key: string, extra: Record<string, unknown> = {}) => ({ KV: { Verb, Key, ...extra } });

describe('transactions', () => {
  it('commits every write verb at one index; results carry Value null except get and get-tree', async () => {
    const sess = JSON.parse((await t.request('PUT', '/v1/session/create', { LockDelay: 0 })).body).ID as string;
    const { status, body } = await txn([
      kv('set', 't/a', { Value: b64('A'), Flags: 7 }),
      kv('set', 't/b', { Value: b64('B') }),
      kv('cas', 't/new', { Value: b64('N'), Index: 0 }),
      kv('lock', 't/lock', { Value: b64('L'), Session: sess }),
      kv('get', 't/a'),
      kv('check-not-exists', 't/zzz'),
      kv('delete', 't/b'),
    ]);
    expect(status).toBe(200);
    expect(body.Errors).toBeNull();
    const r = body.Results!.map((x) => x.KV);
    expect(r.map((e) => [e.Key, e.Value])).toEqual([
      ['t/a', null],
      ['t/b', null],
      ['t/new', null],
      ['t/lock', null],
      ['t/a', b64('A')],
    ]);
    expect(new Set(r.map((e) => e.ModifyIndex)).size).toBe(1);
    expect(r[3]).toMatchObject({ Session: sess, LockIndex: 1 });
    expect(r[0]).toMatchObject({ Flags: 7 });
    expect((await t.request('GET', '/v1/kv/t/b')).statusCode).toBe(404);

    const idx = r[0]!.ModifyIndex as number;
    const second = await txn([
      kv('check-index', 't/a', { Index: idx }),
      kv('check-session', 't/lock', { Session: sess }),
      kv('unlock', 't/lock', { Session: sess }),
      kv('get-tree', 't/'),
      kv('delete-cas', 't/new', { Index: idx }),
      kv('delete-tree', 't/'),
    ]);
    expect(second.status).toBe(200);
    expect(second.body.Results!.map((x) => [x.KV.Key, x.KV.Value === null])).toEqual([
      ['t/a', true],
      ['t/lock', true],
      ['t/lock', true],
      ['t/a', false],
      // unlock without a Value sets the value to none, as Consul's kvsUnlockTxn does.
      ['t/lock', true],
      ['t/new', false],
    ]);
    expect((await t.request('GET', '/v1/kv/t/?recurse')).statusCode).toBe(404);
  });

  it('rolls back everything on any failure: 409 {Results:null, Errors:[{OpIndex, What}]}', async () => {
    await t.request('PUT', '/v1/kv/rb/keep', 'original');
    const before = t.kv.state.snapshot();
    const { status, body, res } = await txn([
      kv('set', 'rb/keep', { Value: b64('changed') }),
      kv('delete-tree', 'rb/'),
      kv('set', 'rb/new', { Value: b64('x') }),
      kv('cas', 'rb/keep', { Index: 1 }),
      kv('get', 'rb/missing'),
    ]);
    expect(status).toBe(409);
    expect(res.headers['content-type']).toBe('application/json');
    expect(body).toEqual({
      Results: null,
      Errors: [
        { OpIndex: 3, What: 'failed to set key "rb/keep", index is stale' },
        { OpIndex: 4, What: `key "rb/missing" doesn't exist` },
      ],
    });
    expect(t.kv.state.snapshot()).toEqual(before);
    expect(Buffer.from(String(JSON.parse((await t.request('GET', '/v1/kv/rb/keep')).body)[0].Value), 'base64').toString()).toBe('original');
  });

  it('keeps uint64 Flags exact', async () => {
    const { body, res } = await txn('[{"KV":{"Verb":"set","Key":"big","Flags":18446744073709551615}},{"KV":{"Verb":"get","Key":"big"}}]');
    expect(body.Errors).toBeNull();
    expect(t.kv.state.kv.get('big')!.flags).toBe(18446744073709551615n);
    expect(res.body).toMatch(/"Flags": 18446744073709551615,/);
  });

  it('a read-only transaction is answered from local state, with leader headers and no log entry', async () => {
    await t.request('PUT', '/v1/kv/ro/a', 'x');
    const before = t.lastIndex();
    const { status, body, res } = await txn([kv('get', 'ro/a'), kv('get-tree', 'ro/')]);
    expect(status).toBe(200);
    expect(body.Results).toHaveLength(2);
    expect(res.headers['x-consul-knownleader']).toBe('true');
    expect(res.headers['x-consul-lastcontact']).toBe('0');
    expect(t.lastIndex()).toBe(before);
    const bad = await t.request('PUT', '/v1/txn?stale&consistent', [kv('get', 'ro/a')]);
    expect(bad.statusCode).toBe(400);
    expect((await txn([kv('get', '')])).body).toEqual({ Results: null, Errors: [{ OpIndex: 0, What: 'Must provide key' }] });
  });

  it('bad bodies: Consul texts, and bad base64 names the operation', async () => {
    const cases: [unknown, number, string][] = [
      ['', 400, 'Failed to parse body: EOF'],
      [{ KV: {} }, 400, 'Failed to parse body: json: cannot unmarshal object into Go value of type api.TxnOps'],
      [[kv('set', 'k', { Value: 'no$base64' })], 400, 'Failed to parse body: failed to decode value: illegal base64 data at input byte 2 (operation 0, key "k")'],
      [[kv('get', 'k'), kv('set', 'k2', { Value: 'aGk' })], 400, 'Failed to parse body: failed to decode value: illegal base64 data at input byte 0 (operation 1, key "k2")'],
      [[kv('set', 'k', { Flags: 'x' })], 400, 'Failed to parse body: json: cannot unmarshal string into Go struct field KVTxnOp.Flags of type uint64'],
      [[kv('set', 'k', { Value: 5 })], 400, 'Failed to parse body: unexpected value type: float64'],
      ['[{', 400, expect.stringMatching(/^Failed to parse body: /)],
    ];
    const before = t.lastIndex();
    for (const [body, status, text] of cases) {
      const res = await t.request('PUT', '/v1/txn', body);
      expect([body, res.statusCode, res.body]).toEqual([body, status, text]);
    }
    expect(t.lastIndex()).toBe(before);
  });

  it('more than 64 operations: 413 with Consul text', async () => {
    const ops = Array.from({ length: 65 }, (_, i) => kv('set', `many/${i}`));
    const res = await t.request('PUT', '/v1/txn', ops);
    expect([res.statusCode, res.body]).toEqual([413, 'Transaction contains too many operations (65 > 64)']);
    expect((await txn(ops.slice(0, 64))).status).toBe(200);
  });

  it('Node, Service and Check operations are refused with 409 naming the operation', async () => {
    const { status, body } = await txn([kv('set', 'x'), { Node: { Verb: 'get', Node: { Node: 'node1' } } }, {}]);
    expect(status).toBe(409);
    expect(body.Errors).toEqual([
      { OpIndex: 1, What: "Node operations are not supported by Herald's /v1/txn (KV only)" },
      { OpIndex: 2, What: 'no operation specified' },
    ]);
    expect((await t.request('GET', '/v1/kv/x')).statusCode).toBe(404);
  });

  it('limits: a value over kv_max_value_size and a body over txn_max_req_len are 413', async () => {
    const small = await startKvAgent({ plugin_config: { kv: { kv_max_value_size: 4, txn_max_req_len: 200 } } });
    try {
      let res = await small.request('PUT', '/v1/txn', [kv('set', 'k', { Value: b64('12345') })]);
      expect([res.statusCode, res.body]).toEqual([413, 'Value for key "k" is too large (5 > 4 bytes)']);
      res = await small.request('PUT', '/v1/txn', [kv('set', 'x'.repeat(300))]);
      expect([res.statusCode, res.body]).toEqual([413, 'Request body too large, max size: 200 bytes']);
    } finally {
      await small.stop();
    }
  });
});
