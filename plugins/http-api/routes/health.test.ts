/** `/v1/health/*` on a real in-process agent with local TTL checks and a second catalog node. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../test-agent.ts';

interface Entry {
  Node: { Node: string; Meta: Record<string, string> };
  Service: { ID: string; Tags: string[] };
  Checks: { CheckID: string; Status: string; ServiceID: string }[];
}

let t: TestAgent;
const ttl = (id: string, status: string) => ({ id, name: id, ttl: '30s', status });

beforeAll(async () => {
  t = await startTestAgent({
    node_meta: { rack: 'r1' },
    services: [
      { id: 'web-1', name: 'web', tags: ['v1'], port: 8080, check: ttl('web-1-ttl', 'passing') },
      { id: 'web-warn', name: 'web', tags: ['v1', 'canary'], port: 8082, check: ttl('web-warn-ttl', 'warning') },
      { id: 'web-down', name: 'web', port: 8083, check: ttl('web-down-ttl', 'critical') },
      { id: 'db-1', name: 'db', port: 5432, check: ttl('db-1-ttl', 'passing') },
    ],
  });
  await t.request('PUT', '/v1/catalog/register', {
    Node: 'node2',
    Address: '10.0.0.2',
    NodeMeta: { rack: 'r2' },
    Service: { ID: 'web-9', Service: 'web', Port: 8089 },
    Checks: [
      { CheckID: 'node2-alive', Name: 'alive', Status: 'passing' },
      { CheckID: 'web-9-http', Name: 'http', Status: 'passing', ServiceID: 'web-9' },
    ],
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('/v1/health/service', () => {
  it('entries carry the node checks first, then the service checks', async () => {
    const entries = await t.json<Entry[]>('/v1/health/service/web');
    expect(entries.map((e) => e.Service.ID)).toEqual(['web-1', 'web-down', 'web-warn', 'web-9']);
    const n2 = entries.find((e) => e.Service.ID === 'web-9')!;
    expect(n2.Checks.map((c) => c.CheckID)).toEqual(['node2-alive', 'web-9-http']);
    const n1 = entries.find((e) => e.Service.ID === 'web-1')!;
    expect(n1.Checks.map((c) => c.CheckID)).toEqual(['serfHealth', 'web-1-ttl']);
    expect(entries.find((e) => e.Service.ID === 'web-down')!.Service.Tags).toEqual([]);
    expect(Object.keys(n1)).toEqual(['Node', 'Service', 'Checks']);
  });

  it('?passing keeps only entries whose every check passes (warning dropped); =false keeps all; junk is 400', async () => {
    const ids = async (q: string) => (await t.json<Entry[]>(`/v1/health/service/web${q}`)).map((e) => e.Service.ID);
    expect(await ids('?passing')).toEqual(['web-1', 'web-9']);
    expect(await ids('?passing=1')).toEqual(['web-1', 'web-9']);
    expect(await ids('?passing=false')).toEqual(['web-1', 'web-down', 'web-warn', 'web-9']);
    const bad = await t.request('GET', '/v1/health/service/web?passing=yes');
    expect([bad.statusCode, bad.body]).toEqual([400, 'Invalid value for ?passing']);
  });

  it('?tag (AND), ?node-meta and ?filter', async () => {
    const ids = async (q: string) => (await t.json<Entry[]>(`/v1/health/service/web${q}`)).map((e) => e.Service.ID);
    expect(await ids('?tag=v1&tag=canary')).toEqual(['web-warn']);
    expect(await ids('?node-meta=rack:r2')).toEqual(['web-9']);
    expect(await ids(`?filter=${encodeURIComponent('Checks.Status == critical')}`)).toEqual(['web-down']);
    expect(await ids(`?filter=${encodeURIComponent('"canary" in Service.Tags')}`)).toEqual(['web-warn']);
    expect(await ids(`?filter=${encodeURIComponent('Node.Meta.rack == "r1" and not Checks.Status != passing')}`)).toEqual(['web-1']);
    expect(await t.json('/v1/health/service/nope')).toEqual([]);
  });

  it('X-Consul-Index is the service\'s own index: a flip elsewhere leaves it, a flip here raises it', async () => {
    const index = async () => BigInt((await t.request('GET', '/v1/health/service/web')).headers['x-consul-index'] as string);
    const before = await index();
    expect((await t.request('PUT', '/v1/agent/check/fail/db-1-ttl')).statusCode).toBe(200);
    expect(await index()).toBe(before);
    expect((await t.request('PUT', '/v1/agent/check/warn/web-1-ttl')).statusCode).toBe(200);
    const after = await index();
    expect(after).toBeGreaterThan(before);
    expect(after).toBe(t.agent.sm.serviceIndex('web'));
    await t.request('PUT', '/v1/agent/check/pass/web-1-ttl');
    await t.request('PUT', '/v1/agent/check/pass/db-1-ttl');
  });

  it('?cached answers with X-Cache MISS', async () => {
    const res = await t.request('GET', '/v1/health/service/web?cached');
    expect([res.headers['x-cache'], res.headers.age]).toEqual(['MISS', '0']);
  });
});

describe('/v1/health/checks, node, state', () => {
  it('checks/<svc> lists the service\'s own checks only', async () => {
    const checks = await t.json<{ CheckID: string }[]>('/v1/health/checks/web');
    expect(checks.map((c) => c.CheckID).sort()).toEqual(['web-1-ttl', 'web-9-http', 'web-down-ttl', 'web-warn-ttl']);
    expect((await t.json<{ CheckID: string }[]>('/v1/health/checks/web?node-meta=rack:r2')).map((c) => c.CheckID)).toEqual(['web-9-http']);
  });

  it('node/<node> lists node and service checks of that node', async () => {
    const checks = await t.json<{ CheckID: string }[]>('/v1/health/node/node2');
    expect(checks.map((c) => c.CheckID)).toEqual(['node2-alive', 'web-9-http']);
    expect(await t.json('/v1/health/node/nope')).toEqual([]);
  });

  it('state/<state>: any, a status, node-meta and filter; bad states are 400', async () => {
    const ids = async (q: string) => (await t.json<{ CheckID: string }[]>(`/v1/health/state/${q}`)).map((c) => c.CheckID);
    expect(await ids('critical')).toEqual(['web-down-ttl']);
    expect(await ids('warning')).toEqual(['web-warn-ttl']);
    expect((await ids('any')).length).toBe(7);
    expect(await ids('passing?node-meta=rack:r2')).toEqual(['node2-alive', 'web-9-http']);
    expect(await ids(`any?filter=${encodeURIComponent('ServiceName == db')}`)).toEqual(['db-1-ttl']);
    const bogus = await t.request('GET', '/v1/health/state/broken');
    expect([bogus.statusCode, bogus.body]).toEqual([400, "Invalid check state: 'broken'"]);
    const missing = await t.request('GET', '/v1/health/state/');
    expect([missing.statusCode, missing.body]).toEqual([400, 'Missing check state']);
    expect(BigInt((await t.request('GET', '/v1/health/state/any')).headers['x-consul-index'] as string)).toBe(t.agent.sm.checksIndex);
  });
});
