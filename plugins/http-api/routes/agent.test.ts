/** `/v1/agent/*` on a real in-process agent (and a stub agent for reload/leave). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateMachine } from '../../../src/catalog/state-machine.ts';
import { silentLogger } from '../../../src/log.ts';
import type { AgentAccess, RuntimeConfig } from '../../../src/plugin.ts';
import { buildHttpApi } from '../server.ts';
import { startTestAgent, type TestAgent } from '../test-agent.ts';

let t: TestAgent;

beforeAll(async () => {
  t = await startTestAgent({ node_meta: { rack: 'r1' }, services: [{ id: 'db-1', name: 'db', port: 5432, check: { id: 'db-tcp', name: 'db tcp', tcp: '127.0.0.1:1', interval: '1h' } }] });
});

afterAll(async () => {
  await t?.stop();
});

describe('self, members, host, version, metrics', () => {
  it('self has Config.Datacenter (what Prometheus reads), the member and a coordinate', async () => {
    const self = await t.json<{ Config: Record<string, unknown>; Member: Record<string, unknown>; Coord: { Vec: number[] }; Meta: Record<string, string> }>('/v1/agent/self');
    expect(self.Config).toMatchObject({ Datacenter: 'dc1', NodeName: 'node1', Server: true });
    expect(self.Member).toMatchObject({ Name: 'node1', Status: 1, Port: 8301 });
    expect(self.Coord.Vec).toHaveLength(8);
    expect(self.Meta).toMatchObject({ rack: 'r1' });
  });

  it('members, and ?wan names the member <node>.<dc>', async () => {
    const [lan] = await t.json<{ Name: string; Tags: Record<string, string> }[]>('/v1/agent/members');
    expect(lan).toMatchObject({ Name: 'node1', Tags: { role: 'consul', dc: 'dc1' } });
    const [wan] = await t.json<{ Name: string; Port: number }[]>('/v1/agent/members?wan=1');
    expect([wan.Name, wan.Port]).toEqual(['node1.dc1', 8302]);
  });

  it('host and version', async () => {
    expect(await t.json('/v1/agent/host')).toMatchObject({ Host: { hostname: expect.any(String) }, Memory: { total: expect.any(Number) } });
    expect(await t.json('/v1/agent/version')).toMatchObject({ SKU: 'oss', Version: '1.10.0' });
  });

  it('metrics as JSON and as Prometheus text, with DNS stats', async () => {
    const m = await t.json<{ Counters: { Name: string }[] }>('/v1/agent/metrics');
    expect(m.Counters.map((c) => c.Name)).toContain('herald.dns.queries');
    const p = await t.request('GET', '/v1/agent/metrics?format=prometheus');
    expect(p.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(p.body).toMatch(/^herald_dns_queries \d+$/m);
  });
});

describe('services', () => {
  it('register takes python-consul style keys, then services and service/<id> show it', async () => {
    const body = { name: 'web', id: 'web-1', port: 8080, tags: ['v1'], meta: { version: '1' }, enable_tag_override: true, check: { ttl: '30s', status: 'passing' } };
    const res = await t.request('PUT', '/v1/agent/service/register', body);
    expect([res.statusCode, res.body]).toEqual([200, '']);
    const services = await t.json<Record<string, Record<string, unknown>>>('/v1/agent/services');
    expect(services['web-1']).toEqual({
      ID: 'web-1',
      Service: 'web',
      Tags: ['v1'],
      Meta: { version: '1' },
      Port: 8080,
      Address: '',
      Weights: { Passing: 1, Warning: 1 },
      EnableTagOverride: true,
      Datacenter: 'dc1',
    });
    const one = await t.request('GET', '/v1/agent/service/web-1');
    const j = JSON.parse(one.body) as { ContentHash: string };
    expect(j.ContentHash).toMatch(/^[0-9a-f]{16}$/);
    expect(one.headers['x-consul-contenthash']).toBe(j.ContentHash);
    const checks = await t.json<Record<string, { Status: string; ServiceID: string; Type: string }>>('/v1/agent/checks');
    expect(checks['service:web-1']).toMatchObject({ Status: 'passing', ServiceID: 'web-1', Type: 'ttl' });
    expect(await t.json('/v1/agent/services?filter=' + encodeURIComponent('Service == db'))).toEqual({ 'db-1': expect.objectContaining({ Port: 5432 }) });
  });

  it('service/<id> blocks on ?hash until the service changes', async () => {
    const first = await t.request('GET', '/v1/agent/service/web-1');
    const hash = first.headers['x-consul-contenthash'] as string;
    const same = await t.request('GET', `/v1/agent/service/web-1?hash=${hash}&wait=10ms`);
    expect(same.headers['x-consul-contenthash']).toBe(hash);
    const parked = t.request('GET', `/v1/agent/service/web-1?hash=${hash}&wait=5m`);
    const end = Date.now() + 10_000;
    while (t.api.waiters.size === 0 && Date.now() < end) await new Promise((r) => setImmediate(r));
    await t.request('PUT', '/v1/agent/service/register', { Name: 'web', ID: 'web-1', Port: 9090, Check: { TTL: '30s' } });
    const changed = await parked;
    expect(changed.headers['x-consul-contenthash']).not.toBe(hash);
    expect(JSON.parse(changed.body)).toMatchObject({ Port: 9090 });
  });

  it('unknown service is 404', async () => {
    const res = await t.request('GET', '/v1/agent/service/nope');
    expect([res.statusCode, res.body]).toEqual([404, 'unknown service ID: nope']);
  });

  it.each([
    ['no name', { Port: 1 }, 'Missing service name'],
    ['script check not allowed from the API', { Name: 'x', Check: { Args: ['/bin/true'], Interval: '10s' } }, /Scripts are disabled on this agent/],
    ['interval and TTL', { Name: 'x', Check: { Interval: '10s', TTL: '10s', HTTP: 'http://x' } }, /Interval and TTL cannot both be specified/],
    ['unsupported check type', { Name: 'x', Check: { GRPC: 'localhost:1', Interval: '10s' } }, /gRPC checks are not supported/],
    ['wrong type', { Name: 'x', Port: 'eighty' }, /port/i],
    ['malformed JSON', '{"Name":', /^Request decode failed/],
  ])('register refuses %s with 400 and changes nothing', async (_what, body, text) => {
    const before = t.lastIndex();
    const res = await t.request('PUT', '/v1/agent/service/register', body);
    expect(res.statusCode).toBe(400);
    if (typeof text === 'string') expect(res.body).toBe(text);
    else expect(res.body).toMatch(text);
    expect(t.lastIndex()).toBe(before);
    expect(Object.keys(await t.json('/v1/agent/services'))).not.toContain('x');
  });

  it('deregister, and 404 for an unknown ID', async () => {
    await t.request('PUT', '/v1/agent/service/register', { Name: 'tmp' });
    expect((await t.request('PUT', '/v1/agent/service/deregister/tmp')).statusCode).toBe(200);
    expect(await t.json('/v1/catalog/service/tmp')).toEqual([]);
    const res = await t.request('PUT', '/v1/agent/service/deregister/tmp');
    expect([res.statusCode, res.body]).toEqual([404, 'Unknown service ID "tmp". Ensure that the service ID is passed, not the service name.']);
  });

  it('IDs with an encoded slash reach the handler whole', async () => {
    await t.request('PUT', '/v1/agent/service/register', { Name: 'slash', ID: 'a/b' });
    expect(JSON.parse((await t.request('GET', '/v1/agent/service/a%2Fb')).body)).toMatchObject({ ID: 'a/b' });
    expect((await t.request('PUT', '/v1/agent/service/deregister/a%2Fb')).statusCode).toBe(200);
  });

  it('service maintenance adds and removes _service_maintenance:<id>', async () => {
    const on = await t.request('PUT', '/v1/agent/service/maintenance/db-1?enable=true&reason=upgrade');
    expect(on.statusCode).toBe(200);
    const checks = await t.json<Record<string, { Status: string; Notes: string }>>('/v1/agent/checks');
    expect(checks['_service_maintenance:db-1']).toMatchObject({ Status: 'critical', Notes: 'upgrade' });
    expect(await t.json('/v1/health/service/db?passing')).toEqual([]);
    await t.request('PUT', '/v1/agent/service/maintenance/db-1?enable=false');
    expect(Object.keys(await t.json('/v1/agent/checks'))).not.toContain('_service_maintenance:db-1');
    const missing = await t.request('PUT', '/v1/agent/service/maintenance/db-1');
    expect([missing.statusCode, missing.body]).toEqual([400, 'Missing value for enable']);
    const bad = await t.request('PUT', '/v1/agent/service/maintenance/db-1?enable=maybe');
    expect([bad.statusCode, bad.body]).toEqual([400, 'Invalid value for enable: "maybe"']);
    const unknown = await t.request('PUT', '/v1/agent/service/maintenance/nope?enable=true');
    expect([unknown.statusCode, unknown.body]).toEqual([404, 'No service registered with ID "nope"']);
  });

  it('node maintenance', async () => {
    await t.request('PUT', '/v1/agent/maintenance?enable=true');
    const checks = await t.json<Record<string, { Notes: string }>>('/v1/agent/checks');
    expect(checks._node_maintenance!.Notes).toBe('Maintenance mode is enabled for this node, but no reason was provided. This is a default message.');
    await t.request('PUT', '/v1/agent/maintenance?enable=false');
    expect(Object.keys(await t.json('/v1/agent/checks'))).not.toContain('_node_maintenance');
  });
});

describe('checks', () => {
  it('register a TTL check; pass/warn/fail set status and output from ?note', async () => {
    const res = await t.request('PUT', '/v1/agent/check/register', { name: 'mem', ttl: '1m' });
    expect(res.statusCode).toBe(200);
    const status = async () => (await t.json<Record<string, { Status: string; Output: string }>>('/v1/agent/checks')).mem;
    expect(await status()).toMatchObject({ Status: 'critical' });
    for (const [verb, want] of [['pass', 'passing'], ['warn', 'warning'], ['fail', 'critical']] as const) {
      const r = await t.request('PUT', `/v1/agent/check/${verb}/mem?note=${verb}ed`);
      expect([r.statusCode, r.body]).toEqual([200, '']);
      expect(await status()).toMatchObject({ Status: want, Output: `${verb}ed` });
    }
    const checks = await t.json<{ CheckID: string; Status: string }[]>('/v1/health/node/node1');
    expect(checks.find((c) => c.CheckID === 'mem')!.Status).toBe('critical');
  });

  it('update takes {Status, Output} with any key case', async () => {
    expect((await t.request('PUT', '/v1/agent/check/update/mem', { status: 'warning', output: 'swap' })).statusCode).toBe(200);
    expect((await t.json<Record<string, { Status: string; Output: string }>>('/v1/agent/checks')).mem).toMatchObject({ Status: 'warning', Output: 'swap' });
    const bad = await t.request('PUT', '/v1/agent/check/update/mem', { Status: 'ok' });
    expect([bad.statusCode, bad.body]).toEqual([400, "Invalid check status: 'ok'"]);
  });

  it('unknown and non-TTL checks are 404 (new Consul wording)', async () => {
    for (const url of ['/v1/agent/check/pass/nope', '/v1/agent/check/fail/db-tcp']) {
      const before = t.lastIndex();
      const res = await t.request('PUT', url);
      const id = url.split('/').pop();
      expect([res.statusCode, res.body]).toEqual([404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`]);
      expect(t.lastIndex()).toBe(before);
    }
    const upd = await t.request('PUT', '/v1/agent/check/update/nope', { Status: 'passing' });
    expect(upd.statusCode).toBe(404);
  });

  it('a check for a missing service is 400; deregister is 200 then 404', async () => {
    const res = await t.request('PUT', '/v1/agent/check/register', { Name: 'orphan', TTL: '1m', ServiceID: 'nope' });
    expect([res.statusCode, res.body]).toEqual([400, 'ServiceID "nope" does not exist']);
    expect((await t.request('PUT', '/v1/agent/check/deregister/mem')).statusCode).toBe(200);
    const again = await t.request('PUT', '/v1/agent/check/deregister/mem');
    expect(again.statusCode).toBe(404);
  });

  it('agent writes are PUT only, except the GETs python-consul 0.7 sends, which browsers cannot make', async () => {
    const reg = await t.request('GET', '/v1/agent/check/register');
    expect([reg.statusCode, reg.headers.allow]).toEqual([405, 'OPTIONS,PUT']);
    await t.request('PUT', '/v1/agent/check/register', { Name: 'legacy', TTL: '1m' });
    expect((await t.request('GET', '/v1/agent/check/pass/legacy?note=py')).statusCode).toBe(200);
    expect((await t.json<Record<string, { Status: string }>>('/v1/agent/checks')).legacy!.Status).toBe('passing');
    const browserHeaders: Record<string, string>[] = [{ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' }, { origin: 'http://evil.example' }];
    for (const h of browserHeaders) {
      const res = await t.request('GET', '/v1/agent/check/fail/legacy', undefined, h);
      expect([res.statusCode, res.headers.allow]).toEqual([405, 'OPTIONS,PUT']);
    }
    expect((await t.json<Record<string, { Status: string }>>('/v1/agent/checks')).legacy!.Status).toBe('passing');
    expect((await t.request('GET', '/v1/agent/check/deregister/legacy')).statusCode).toBe(200);
    expect(Object.keys(await t.json('/v1/agent/checks'))).not.toContain('legacy');
  });
});

describe('reload and leave (stub agent)', () => {
  it('reload answers 200 after the agent reloaded, 500 with its error when refused', async () => {
    let reloads = 0;
    let refuse = false;
    let left = 0;
    const agent = {
      config: () => ({ datacenter: 'dc1', dev: false }) as RuntimeConfig,
      reload: async () => {
        reloads++;
        if (refuse) throw new Error('config dir: bad JSON');
      },
      leave: async () => {
        left++;
      },
    } as unknown as AgentAccess;
    const sm = new StateMachine();
    const api = await buildHttpApi({ catalog: sm, agent, core: { propose: async () => ({ index: 1n }), onChange: (l) => sm.onChange(l) }, log: silentLogger });
    expect((await api.app.inject({ method: 'PUT', url: '/v1/agent/reload' })).statusCode).toBe(200);
    refuse = true;
    const bad = await api.app.inject({ method: 'PUT', url: '/v1/agent/reload' });
    expect([bad.statusCode, bad.body, reloads]).toEqual([500, 'config dir: bad JSON', 2]);
    const leave = await api.app.inject({ method: 'PUT', url: '/v1/agent/leave' });
    expect(leave.statusCode).toBe(200);
    // leave() runs once the answer has gone out.
    const end = Date.now() + 5000;
    while (left === 0 && Date.now() < end) await new Promise((r) => setImmediate(r));
    expect(left).toBe(1);
    await api.close();
  });
});
