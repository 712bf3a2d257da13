/**
 * `/v1/catalog/*` on a real in-process agent, through inject(): bodies as clients send them
 * (python-consul's lowercase keys included), Consul's shapes and headers back, bad bodies
 * refused with nothing written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../test-agent.ts';

let t: TestAgent;

beforeAll(async () => {
  t = await startTestAgent({ node_meta: { rack: 'r1' } });
  // python-consul sends lowercase keys; Go's decoder matches them to Node, Address, Service...
  const res = await t.request('PUT', '/v1/catalog/register', {
    node: 'node2',
    address: '10.0.0.2',
    nodemeta: { rack: 'r2', env: 'prod' },
    taggedaddresses: { wan: '198.51.100.2' },
    service: { id: 'web-2', service: 'web', tags: ['v2', 'Prod'], port: 8080, meta: { version: '2' }, weights: { passing: 5 } },
    check: {
      checkid: 'web-2-http',
      name: 'web http',
      status: 'passing',
      serviceid: 'web-2',
      definition: { http: 'http://10.0.0.2:8080/health', interval: '30000ms', timeout: 5_000_000_000 },
    },
  });
  expect([res.statusCode, res.body.trim()]).toEqual([200, 'true']);
  await t.request('PUT', '/v1/catalog/register', { Node: 'node3', Address: '10.0.0.3', Service: { ID: 'web-3', Service: 'web', Tags: ['v1'], Port: 8081 } });
});

afterAll(async () => {
  await t?.stop();
});

describe('writes', () => {
  it('register stores what the body says, durations normalised to Go strings', async () => {
    const checks = await t.json<Record<string, unknown>[]>('/v1/health/checks/web');
    expect(checks.find((c) => c.CheckID === 'web-2-http')).toMatchObject({
      Node: 'node2',
      Status: 'passing',
      ServiceID: 'web-2',
      ServiceName: 'web',
      ServiceTags: ['v2', 'Prod'],
      Definition: { HTTP: 'http://10.0.0.2:8080/health', Interval: '30s', Timeout: '5s' },
    });
    const [svc] = await t.json<Record<string, unknown>[]>('/v1/catalog/service/web?tag=v2');
    expect(svc).toMatchObject({ Node: 'node2', ServiceWeights: { Passing: 5, Warning: 1 }, NodeMeta: { rack: 'r2', env: 'prod' }, TaggedAddresses: { wan: '198.51.100.2' } });
  });

  it('an empty check status is stored as critical', async () => {
    await t.request('PUT', '/v1/catalog/register', { Node: 'node3', Address: '10.0.0.3', Check: { Name: 'disk' } });
    const checks = await t.json<{ CheckID: string; Status: string }[]>('/v1/health/node/node3');
    expect(checks).toContainEqual(expect.objectContaining({ CheckID: 'disk', Status: 'critical' }));
  });

  it('SkipNodeUpdate keeps the stored node row', async () => {
    await t.request('PUT', '/v1/catalog/register', { Node: 'node3', Address: '192.0.2.99', NodeMeta: { x: 'y' }, SkipNodeUpdate: true, Service: { Service: 'cache', Port: 6379 } });
    const n = await t.json<{ Node: { Address: string; Meta: Record<string, string> }; Services: Record<string, { Port: number }> }>('/v1/catalog/node/node3');
    expect(n.Node.Address).toBe('10.0.0.3');
    expect(n.Node.Meta).toEqual({});
    // Service ID defaults to the name.
    expect(n.Services.cache.Port).toBe(6379);
  });

  it('deregister removes a service, a check, then the whole node', async () => {
    await t.request('PUT', '/v1/catalog/register', { Node: 'gone', Address: '10.0.0.9', Service: { Service: 'tmp' }, Check: { CheckID: 'c1', Name: 'c1' } });
    expect((await t.request('PUT', '/v1/catalog/deregister', { Node: 'gone', CheckID: 'c1' })).body.trim()).toBe('true');
    expect(await t.json('/v1/health/node/gone')).toEqual([]);
    expect((await t.request('PUT', '/v1/catalog/deregister', { node: 'gone', serviceid: 'tmp' })).body.trim()).toBe('true');
    expect(await t.json('/v1/catalog/service/tmp')).toEqual([]);
    expect((await t.request('PUT', '/v1/catalog/deregister', { Node: 'gone' })).body.trim()).toBe('true');
    expect(await t.json('/v1/catalog/node/gone')).toBeNull();
  });

  it.each([
    ['no node', { Address: '10.0.0.5' }, 400, 'Must provide node'],
    ['no address', { Node: 'n5' }, 400, 'Must provide address if SkipNodeUpdate is not set'],
    ['bad node ID', { Node: 'n5', Address: '10.0.0.5', ID: 'not-a-uuid' }, 400, 'Bad node ID: uuid string is wrong length'],
    ['service ID without name', { Node: 'n5', Address: '10.0.0.5', Service: { ID: 'x' } }, 400, 'Must provide service name with ID'],
    ['wildcard service address', { Node: 'n5', Address: '10.0.0.5', Service: { Service: 'x', Address: '0.0.0.0' } }, 400, 'Invalid service address'],
    ['port as text', { Node: 'n5', Address: '10.0.0.5', Service: { Service: 'x', Port: '80' } }, 400, 'Request decode failed: Service.Port: expected an integer, got string'],
    ['tags not strings', { Node: 'n5', Address: '10.0.0.5', Service: { Service: 'x', Tags: 'a,b' } }, 400, 'Request decode failed: Service.Tags: expected an array of strings, got string'],
    ['bad check status', { Node: 'n5', Address: '10.0.0.5', Check: { Name: 'c', Status: 'ok' } }, 400, "Invalid check status: 'ok'"],
    ['check on another node', { Node: 'n5', Address: '10.0.0.5', Check: { Node: 'n6', Name: 'c' } }, 400, "Node 'n6' for check 'c' doesn't match register request node 'n5'"],
    ['check bound to a missing service', { Node: 'n5', Address: '10.0.0.5', Check: { Name: 'c', ServiceID: 'nope' } }, 400, undefined],
    ['bad duration', { Node: 'n5', Address: '10.0.0.5', Check: { Name: 'c', Definition: { Interval: '10 s' } } }, 400, undefined],
    ['other datacenter', { Node: 'n5', Address: '10.0.0.5', Datacenter: 'dc9' }, 500, 'No path to datacenter'],
    ['mesh service kind', { Node: 'n5', Address: '10.0.0.5', Service: { Service: 'x', Kind: 'connect-proxy' } }, 400, undefined],
    ['body is a list', [{ Node: 'n5' }], 400, 'Request decode failed: body: expected a JSON object, got array'],
    ['malformed JSON', '{"Node": "n5",', 400, undefined],
    ['empty body', '', 400, 'Request decode failed: EOF'],
  ])('register refuses %s and writes nothing', async (_what, body, status, text) => {
    const before = t.lastIndex();
    const res = await t.request('PUT', '/v1/catalog/register', body);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    if (text) expect(res.body).toBe(text);
    else expect(res.body.length).toBeGreaterThan(0);
    expect(t.lastIndex()).toBe(before);
    expect(await t.json('/v1/catalog/node/n5')).toBeNull();
  });

  it('deregister needs a node', async () => {
    const res = await t.request('PUT', '/v1/catalog/deregister', { ServiceID: 'web-2' });
    expect([res.statusCode, res.body]).toEqual([400, 'Must provide node']);
  });

  it('writes are PUT only', async () => {
    const res = await t.request('POST', '/v1/catalog/register', { Node: 'x', Address: '1.2.3.4' });
    expect([res.statusCode, res.headers.allow, res.body]).toEqual([405, 'OPTIONS,PUT', 'method POST not allowed']);
  });
});

describe('reads', () => {
  it('datacenters', async () => {
    expect(await t.json('/v1/catalog/datacenters')).toEqual(['dc1']);
  });

  it('nodes: sorted, node-meta (AND) and filter', async () => {
    const all = await t.json<{ Node: string }[]>('/v1/catalog/nodes');
    expect(all.map((n) => n.Node)).toEqual(['node1', 'node2', 'node3']);
    const r2 = await t.json<{ Node: string }[]>('/v1/catalog/nodes?node-meta=rack:r2&node-meta=env:prod');
    expect(r2.map((n) => n.Node)).toEqual(['node2']);
    expect(await t.json('/v1/catalog/nodes?node-meta=rack:r2&node-meta=env:dev')).toEqual([]);
    const f = await t.json<{ Node: string }[]>(`/v1/catalog/nodes?filter=${encodeURIComponent('Meta.rack == "r1" or Address == "10.0.0.3"')}`);
    expect(f.map((n) => n.Node)).toEqual(['node1', 'node3']);
  });

  it('services: name -> unique tags, [] when none, consul included', async () => {
    const s = await t.json<Record<string, string[]>>('/v1/catalog/services');
    expect(s.consul).toEqual([]);
    expect(s.web).toEqual(['Prod', 'v1', 'v2']);
    expect(await t.json('/v1/catalog/services?node-meta=rack:r2')).toEqual({ web: ['Prod', 'v2'] });
  });

  it('service: ?tag repeats are AND and case-insensitive; unknown service is []', async () => {
    const tagged = await t.json<{ ServiceID: string }[]>('/v1/catalog/service/web?tag=prod&tag=V2');
    expect(tagged.map((s) => s.ServiceID)).toEqual(['web-2']);
    expect(await t.json('/v1/catalog/service/web?tag=prod&tag=v1')).toEqual([]);
    expect(await t.json('/v1/catalog/service/nope')).toEqual([]);
    const f = await t.json<{ ServiceID: string }[]>(`/v1/catalog/service/web?filter=${encodeURIComponent('ServicePort == 8081')}`);
    expect(f.map((s) => s.ServiceID)).toEqual(['web-3']);
  });

  it('node: the unknown node is 200 null, still with an index', async () => {
    const res = await t.request('GET', '/v1/catalog/node/nope');
    expect([res.statusCode, res.body.trim()]).toEqual([200, 'null']);
    expect(Number(res.headers['x-consul-index'])).toBeGreaterThanOrEqual(1);
  });

  it('node-services: list form; unknown node gives Node null and []', async () => {
    const n = await t.json<{ Node: { Node: string }; Services: { ID: string }[] }>('/v1/catalog/node-services/node2');
    expect([n.Node.Node, n.Services.map((s) => s.ID)]).toEqual(['node2', ['web-2']]);
    expect(await t.json('/v1/catalog/node-services/nope')).toEqual({ Node: null, Services: [] });
  });

  it('bad filter is 400 with the parser position', async () => {
    const before = t.lastIndex();
    const res = await t.request('GET', `/v1/catalog/nodes?filter=${encodeURIComponent('Meta.rack ==')}`);
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/^Failed to create boolean expression evaluator: 1:\d+ \(\d+\): /);
    expect(t.lastIndex()).toBe(before);
  });

  it('missing names are 400', async () => {
    for (const [url, text] of [
      ['/v1/catalog/service/', 'Missing service name'],
      ['/v1/catalog/node/', 'Missing node name'],
      ['/v1/catalog/node-services/', 'Missing node name'],
    ]) {
      const res = await t.request('GET', url!);
      expect([res.statusCode, res.body]).toEqual([400, text]);
    }
  });

  it('query-metadata headers on every read, by consistency mode', async () => {
    const plain = await t.request('GET', '/v1/catalog/service/web');
    expect(plain.headers).toMatchObject({
      'x-consul-knownleader': 'true',
      'x-consul-lastcontact': '0',
      'x-consul-effective-consistency': 'leader',
      'x-consul-default-acl-policy': 'allow',
      'content-type': 'application/json',
    });
    expect(plain.headers['x-cache']).toBeUndefined();
    expect(BigInt(plain.headers['x-consul-index'] as string)).toBe(t.agent.sm.serviceIndex('web'));
    expect((await t.request('GET', '/v1/catalog/service/web?stale')).headers['x-consul-effective-consistency']).toBe('stale');
    expect((await t.request('GET', '/v1/catalog/service/web?consistent=false')).headers['x-consul-effective-consistency']).toBe('consistent');
    const cached = await t.request('GET', '/v1/catalog/service/web?cached');
    expect([cached.headers['x-cache'], cached.headers.age]).toEqual(['MISS', '0']);
    const both = await t.request('GET', '/v1/catalog/nodes?stale&consistent');
    expect([both.statusCode, both.body]).toEqual([400, 'Cannot specify ?stale with ?consistent, conflicting semantics.']);
    const dc = await t.request('GET', '/v1/catalog/nodes?dc=dc2');
    expect([dc.statusCode, dc.body]).toEqual([500, 'No path to datacenter']);
  });

  it('?pretty indents (dev mode also does, as in Consul); compact otherwise is still the same JSON', async () => {
    const res = await t.request('GET', '/v1/catalog/datacenters?pretty');
    expect(res.body).toBe('[\n    "dc1"\n]\n');
  });
});
