/**
 * `/v1/session/*` and locks on a real in-process agent: Consul's Session JSON and defaults, the
 * bodies Patroni and python-consul send, Consul's error texts, invalidation (destroy, TTL,
 * critical check, node gone) releasing or deleting held keys, and lock delay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKvAgent, track, type KvTestAgent } from '../kv-test-agent.ts';

let t: KvTestAgent;
beforeAll(async () => {
  t = await startKvAgent();
});
afterAll(async () => {
  await t?.stop();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const json = <T = Record<string, unknown>[]>(res: { body: string }) => JSON.parse(res.body) as T;

async function create(body?: unknown): Promise<string> {
  const res = await t.request('PUT', '/v1/session/create', body);
  expect([res.statusCode, res.body]).toEqual([200, expect.stringContaining('"ID"')]);
  const { ID } = json<{ ID: string }>(res);
  expect(ID).toMatch(UUID);
  return ID;
}
async function info(id: string): Promise<Record<string, unknown> | undefined> {
  return json(await t.request('GET', `/v1/session/info/${id}`))[0];
}
const acquire = (key: string, id: string, body = 'v') => t.request('PUT', `/v1/kv/${key}?acquire=${id}`, body).then((r) => [r.statusCode, r.body.trim()]);

describe('create and read', () => {
  it('an empty body gets Consul defaults; Session JSON has Consul field order', async () => {
    const id = await create();
    const res = await t.request('GET', `/v1/session/info/${id}`);
    const [s] = json(res);
    expect(Object.keys(s!)).toEqual(['ID', 'Name', 'Node', 'LockDelay', 'Behavior', 'TTL', 'NodeChecks', 'ServiceChecks', 'CreateIndex', 'ModifyIndex']);
    expect(s).toMatchObject({ ID: id, Name: '', Node: 'node1', LockDelay: 15_000_000_000, Behavior: 'release', TTL: '', NodeChecks: ['serfHealth'], ServiceChecks: null });
    expect(res.headers['x-consul-index']).toBe(String(s!.ModifyIndex));
  });

  it("Patroni's and python-consul's lowercase bodies", async () => {
    const id = await create({ name: 'patroni', lockdelay: '0.001s', behavior: 'delete', ttl: '30s' });
    expect(await info(id)).toMatchObject({ Name: 'patroni', LockDelay: 1_000_000, Behavior: 'delete', TTL: '30s' });
    expect(t.kv.timers.has(id)).toBe(true);
    const res = await t.request('PUT', '/v1/session/create', '', { 'content-length': '0' });
    expect(res.statusCode).toBe(200);
  });

  it('LockDelay: a number under 1000 is seconds, else ns; a string is a Go duration (under 1000 ns is seconds too)', async () => {
    expect((await info(await create({ LockDelay: 5 })))!.LockDelay).toBe(5_000_000_000);
    expect((await info(await create({ LockDelay: 2_000_000_000 })))!.LockDelay).toBe(2_000_000_000);
    expect((await info(await create({ LockDelay: '1m' })))!.LockDelay).toBe(60_000_000_000);
    expect((await info(await create({ LockDelay: '500ns' })))!.LockDelay).toBe(500_000_000_000);
  });

  it('Checks: legacy, node and service checks as Consul 1.7+ folds them', async () => {
    expect(await info(await create({ Checks: [] }))).toMatchObject({ NodeChecks: [] });
    const both = await info(await create({ Checks: ['serfHealth', 'serfHealth'] }));
    expect(both).toMatchObject({ NodeChecks: ['serfHealth'], Checks: ['serfHealth', 'serfHealth'] });
    const nc = await info(await create({ NodeChecks: [] }));
    expect(nc).toMatchObject({ NodeChecks: [] });
    expect(nc).not.toHaveProperty('Checks');
  });

  it('Consul error texts: TTL out of range or unparseable, Behavior, Node, checks', async () => {
    await t.request('PUT', '/v1/agent/check/register', { Name: 'down', CheckID: 'down', TTL: '30s', Status: 'critical' });
    const cases: [unknown, number, string][] = [
      [{ TTL: '5s' }, 500, "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]"],
      [{ TTL: '25h' }, 500, "Invalid Session TTL '90000000000000', must be between [10s=24h0m0s]"],
      [{ TTL: 'soon' }, 500, `Session TTL 'soon' invalid: time: invalid duration "soon"`],
      [{ Behavior: 'explode' }, 500, "Invalid Behavior setting 'explode'"],
      [{ Node: 'nowhere' }, 500, 'Missing node registration'],
      [{ Node: '' }, 500, 'Must provide Node'],
      [{ NodeChecks: ['serfHealth', 'nope'] }, 500, "Missing check 'nope' registration"],
      [{ ServiceChecks: [{ ID: 'down' }] }, 500, "Check 'down' is in critical state"],
      [{ Name: 5 }, 400, 'Request decode failed: json: cannot unmarshal number into Go struct field Session.Name of type string'],
      [{ LockDelay: '5' }, 400, 'Request decode failed: time: missing unit in duration "5"'],
      [[1], 400, 'Request decode failed: json: cannot unmarshal array into Go value of type structs.Session'],
      ['{bad', 400, expect.stringMatching(/^Request decode failed: /)],
    ];
    const before = t.kv.state.sessions.size;
    for (const [body, status, text] of cases) {
      const res = await t.request('PUT', '/v1/session/create', body);
      expect([body, res.statusCode, res.body]).toEqual([body, status, text]);
    }
    expect(t.kv.state.sessions.size).toBe(before);
    // TTL "0" means none.
    expect((await info(await create({ TTL: '0' })))!.TTL).toBe('0');
  });

  it('list, node, info; destroy answers true even for an unknown ID', async () => {
    const id = await create({ Name: 'listed' });
    expect(json(await t.request('GET', '/v1/session/list')).map((s) => s.ID)).toContain(id);
    expect(json(await t.request('GET', '/v1/session/node/node1')).map((s) => s.ID)).toContain(id);
    expect(json(await t.request('GET', '/v1/session/node/other'))).toEqual([]);
    expect((await t.request('PUT', `/v1/session/destroy/${id}`)).body.trim()).toBe('true');
    expect(json(await t.request('GET', `/v1/session/info/${id}`))).toEqual([]);
    expect((await t.request('PUT', `/v1/session/destroy/${id}`)).body.trim()).toBe('true');
    expect((await t.request('GET', '/v1/session/create')).statusCode).toBe(405);
  });

  it('renew: [Session] for a live one, 404 with Consul text for an unknown one; bad IDs are Consul index errors', async () => {
    const id = await create({ TTL: '10s' });
    const res = await t.request('PUT', `/v1/session/renew/${id}`);
    expect(res.statusCode).toBe(200);
    expect(json(res)[0]).toMatchObject({ ID: id, TTL: '10s' });
    const gone = '00000000-0000-0000-0000-000000000000';
    const nf = await t.request('PUT', `/v1/session/renew/${gone}`);
    expect([nf.statusCode, nf.body]).toEqual([404, `Session id '${gone}' not found`]);
    for (const url of ['/v1/session/renew/abc', '/v1/session/info/abc', '/v1/session/destroy/abc']) {
      const bad = await t.request(url.includes('info') ? 'GET' : 'PUT', url);
      expect([url, bad.statusCode, bad.body]).toEqual([url, 500, 'failed session lookup: UUID must be 36 characters']);
    }
    expect((await t.request('PUT', '/v1/session/renew/')).body).toBe('Missing session');
  });
});

describe('locks', () => {
  it('acquire, re-acquire by the holder (LockIndex kept), contention, release', async () => {
    const a = await create();
    const b = await create();
    expect(await acquire('locks/l1', a, 'A1')).toEqual([200, 'true']);
    expect(await acquire('locks/l1', a, 'A2')).toEqual([200, 'true']);
    let [e] = json(await t.request('GET', '/v1/kv/locks/l1'));
    expect(e).toMatchObject({ LockIndex: 1, Session: a, Value: Buffer.from('A2').toString('base64') });
    expect(await acquire('locks/l1', b)).toEqual([200, 'false']);
    const rel = await t.request('PUT', `/v1/kv/locks/l1?release=${b}`);
    expect(rel.body.trim()).toBe('false');
    expect((await t.request('PUT', `/v1/kv/locks/l1?release=${a}`, 'free')).body.trim()).toBe('true');
    [e] = json(await t.request('GET', '/v1/kv/locks/l1'));
    expect(e).not.toHaveProperty('Session');
    expect(e!.LockIndex).toBe(1);
    expect(await acquire('locks/l1', b)).toEqual([200, 'true']);
    expect(json(await t.request('GET', '/v1/kv/locks/l1'))[0]!.LockIndex).toBe(2);
    // A plain PUT ignores the lock (and keeps it).
    expect((await t.request('PUT', '/v1/kv/locks/l1', 'plain')).body.trim()).toBe('true');
    expect(json(await t.request('GET', '/v1/kv/locks/l1'))[0]).toMatchObject({ Session: b, LockIndex: 2 });
  });

  it('acquire with an unknown or malformed session: 500 with Consul text, nothing written', async () => {
    const before = t.lastIndex();
    const unknown = '12345678-1234-1234-1234-123456789abc';
    let res = await t.request('PUT', `/v1/kv/locks/x?acquire=${unknown}`, 'v');
    expect([res.statusCode, res.body]).toEqual([500, `invalid session "${unknown}"`]);
    res = await t.request('PUT', '/v1/kv/locks/x?acquire=not-a-uuid', 'v');
    expect([res.statusCode, res.body]).toEqual([500, 'failed session lookup: UUID must be 36 characters']);
    res = await t.request('PUT', '/v1/kv/locks/x?acquire', 'v');
    expect([res.statusCode, res.body]).toEqual([500, 'missing session']);
    expect(t.lastIndex()).toBe(before);
    expect((await t.request('GET', '/v1/kv/locks/x')).statusCode).toBe(404);
  });

  it('destroy releases held keys (release) or deletes them (delete); lock delay blocks re-acquire until it passes', async () => {
    let now = 1_000_000;
    t.kv.now = () => now;
    try {
      const rel = await create({ LockDelay: '10s' });
      const del = await create({ Behavior: 'delete', LockDelay: 0 });
      const other = await create({ LockDelay: 0 });
      expect(await acquire('inv/r', rel)).toEqual([200, 'true']);
      expect(await acquire('inv/d', del)).toEqual([200, 'true']);
      await t.request('PUT', `/v1/session/destroy/${rel}`);
      await t.request('PUT', `/v1/session/destroy/${del}`);
      const [r] = json(await t.request('GET', '/v1/kv/inv/r'));
      expect(r).not.toHaveProperty('Session');
      expect((await t.request('GET', '/v1/kv/inv/d')).statusCode).toBe(404);
      // Lock delay of the released key: 10 s from the destroy's clock.
      now += 9_999;
      expect(await acquire('inv/r', other)).toEqual([200, 'false']);
      expect(await acquire('inv/d', other)).toEqual([200, 'true']);
      now += 1;
      expect(await acquire('inv/r', other)).toEqual([200, 'true']);
    } finally {
      t.kv.now = Date.now;
    }
  });

  it('a linked check going critical invalidates the session and releases its keys (woken blocking reader)', async () => {
    await t.request('PUT', '/v1/agent/check/register', { Name: 'app', CheckID: 'app', TTL: '30s', Status: 'passing' });
    const id = await create({ NodeChecks: ['serfHealth', 'app'], LockDelay: 0 });
    expect(await acquire('inv/check', id)).toEqual([200, 'true']);
    const res0 = await t.request('GET', '/v1/kv/inv/check');
    const read = track(t.request('GET', `/v1/kv/inv/check?index=${res0.headers['x-consul-index']}&wait=10s`));
    await t.parked('kv:inv/check');
    expect((await t.request('PUT', '/v1/agent/check/fail/app')).statusCode).toBe(200);
    const res = await read.promise;
    expect(json(res)[0]).not.toHaveProperty('Session');
    expect(await info(id)).toBeUndefined();
  });

  it('a session on a node that is deregistered goes with it', async () => {
    await t.request('PUT', '/v1/catalog/register', { Node: 'far', Address: '10.9.9.9', Check: { CheckID: 'serfHealth', Name: 'serf', Status: 'passing' } });
    const id = await create({ Node: 'far', Behavior: 'delete' });
    expect(await acquire('inv/far', id)).toEqual([200, 'true']);
    const list = await t.request('GET', '/v1/session/list');
    const read = track(t.request('GET', `/v1/session/list?index=${list.headers['x-consul-index']}&wait=10s`));
    await t.parked('kvs');
    await t.request('PUT', '/v1/catalog/deregister', { Node: 'far' });
    const res = await read.promise;
    expect(json(res).map((s) => s.ID)).not.toContain(id);
    expect((await t.request('GET', '/v1/kv/inv/far')).statusCode).toBe(404);
  });
});

describe('TTL', () => {
  it('a session not renewed within 2 x TTL is invalidated (timer armed at creation and at start-up)', async () => {
    const a = await startKvAgent({ plugin_config: { kv: { session_ttl_min: '50ms' } } });
    try {
      const res = await a.request('PUT', '/v1/session/create', { TTL: '100ms', LockDelay: 0 });
      const { ID } = json<{ ID: string }>(res);
      expect((await a.request('PUT', `/v1/kv/ttl/k?acquire=${ID}`, 'v')).body.trim()).toBe('true');
      const list = await a.request('GET', '/v1/session/list');
      expect(json(list)).toHaveLength(1);
      // Block on the session list until the expiry removes it (the timer proposes a destroy).
      const started = Date.now();
      const after = await a.request('GET', `/v1/session/list?index=${list.headers['x-consul-index']}&wait=10s`);
      expect(json(after)).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      expect(json(await a.request('GET', '/v1/kv/ttl/k'))[0]).not.toHaveProperty('Session');
      // Start-up arms timers for sessions already in the state.
      a.kv.stop();
      a.kv.state.sessions.insert({ id: '99999999-9999-9999-9999-999999999999', name: '', node: 'node1', lockDelay: 0, behavior: 'release', ttl: '1h', nodeChecks: [], serviceChecks: null, checks: null, createIndex: 1n, modifyIndex: 1n });
      a.kv.start();
      expect(a.kv.timers.has('99999999-9999-9999-9999-999999999999')).toBe(true);
    } finally {
      await a.stop();
    }
  });
});
