/**
 * Prometheus `consul_sd_configs` (discovery/consul/consul.go over the Go `api` client), replayed
 * request for request against a real `herald agent` process (consul-compat.md §9):
 *
 *   GET /v1/agent/self                                  -> Config.Datacenter
 *   GET /v1/catalog/services?[index=i&]node-meta=..&stale=&wait=30000ms     (blocking loop)
 *   GET /v1/health/service/<s>?[index=i&]node-meta=..&stale=&tag=a&tag=b&wait=30000ms
 *
 * The query strings are built the way Go's url.Values.Encode builds them (keys sorted, `stale`
 * with an empty value, repeated `tag`), the first call of each loop has no index, and the Go
 * client's metadata parsing rules are applied to every response: X-Consul-Index and
 * X-Consul-LastContact must parse as uint64 (parseQueryMeta fails the whole call otherwise),
 * X-Consul-KnownLeader is compared with "true". Bodies are checked against the field types Go's
 * encoding/json needs to decode them into api.CatalogService / api.ServiceEntry (a string where
 * Go wants an int fails the decode and Prometheus drops the target group).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess } from './agent-process.ts';

/**
 * The wait Prometheus asks for, as the Go client prints a time.Duration (`%dms`). The spec lists
 * 30000ms (older Prometheus, watchTimeout = 30s); current Prometheus has watchTimeout = 2m, i.e.
 * `wait=120000ms`, which the header test also sends.
 */
const WAIT = '30000ms';
const NODE = 'prom-node';

let agent: AgentProcess;

beforeAll(async () => {
  agent = await startAgentProcess({ nodeName: NODE, extraArgs: ['-node-meta', 'rack:r1', '-node-meta', 'env:test'] });
}, 40_000);

afterAll(async () => {
  await agent?.stop();
});

/** Go's url.Values.Encode: keys sorted, values in insertion order, `key=` for empty values. */
function goQuery(params: [string, string][]): string {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of params) byKey.set(k, [...(byKey.get(k) ?? []), v]);
  const parts: string[] = [];
  for (const k of [...byKey.keys()].sort()) {
    for (const v of byKey.get(k)!) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return parts.join('&');
}

/** The QueryOptions Prometheus passes: WaitIndex (when non-zero), WaitTime, AllowStale, NodeMeta. */
function queryOptions(index: bigint, nodeMeta: Record<string, string>, extra: [string, string][] = [], wait = WAIT): string {
  const p: [string, string][] = [['stale', ''], ['wait', wait], ...extra];
  if (index !== 0n) p.push(['index', index.toString()]);
  for (const [k, v] of Object.entries(nodeMeta)) p.push(['node-meta', `${k}:${v}`]);
  return goQuery(p);
}

interface Meta {
  lastIndex: bigint;
  knownLeader: boolean;
  lastContact: bigint;
}

/** api.parseQueryMeta: the same failures the Go client reports. */
function parseQueryMeta(res: Response, what: string): Meta {
  const index = res.headers.get('x-consul-index');
  const last = res.headers.get('x-consul-lastcontact');
  const leader = res.headers.get('x-consul-knownleader');
  expect(index, `${what}: X-Consul-Index`).toMatch(/^[0-9]+$/);
  expect(BigInt(index!), `${what}: X-Consul-Index must not be 0`).toBeGreaterThan(0n);
  expect(last, `${what}: X-Consul-LastContact (Go: "Failed to parse X-Consul-LastContact")`).toMatch(/^[0-9]+$/);
  expect(leader, `${what}: X-Consul-KnownLeader`).toMatch(/^(true|false)$/);
  return { lastIndex: BigInt(index!), knownLeader: leader === 'true', lastContact: BigInt(last!) };
}

/** One Go-client GET: 200 and JSON, or the call fails (as `requireOK` makes it). */
async function goGet<T>(path: string, signal?: AbortSignal): Promise<{ body: T; meta: Meta }> {
  const res = await fetch(`${agent.baseUrl}${path}`, {
    headers: { 'User-Agent': 'Go-http-client/1.1', 'Accept-Encoding': 'gzip' },
    signal: signal ?? AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  expect(res.status, `GET ${path}: ${text}`).toBe(200);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  return { body: JSON.parse(text) as T, meta: parseQueryMeta(res, `GET ${path}`) };
}

async function put(path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${agent.baseUrl}${path}`, {
    method: 'PUT',
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  expect(res.status, `PUT ${path}: ${await res.text()}`).toBe(200);
}

const isStringMap = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

/**
 * api.HealthChecks.AggregatedStatus, which Prometheus puts in __meta_consul_health: maintenance
 * checks (by ID) win, then critical, then warning; no checks at all is passing; an unknown
 * status makes the whole thing "".
 */
function aggregatedStatus(checks: { CheckID: string; Status: string }[]): string {
  let warning = false, critical = false, maintenance = false;
  for (const c of checks) {
    if (c.CheckID === '_node_maintenance' || c.CheckID.startsWith('_service_maintenance:')) {
      maintenance = true;
      continue;
    }
    if (c.Status === 'warning') warning = true;
    else if (c.Status === 'critical') critical = true;
    else if (c.Status !== 'passing') return '';
  }
  if (maintenance) return 'maintenance';
  if (critical) return 'critical';
  if (warning) return 'warning';
  return 'passing';
}

interface ServiceEntry {
  Node: { Node: string; Address: string; Datacenter: string; Meta: Record<string, string>; TaggedAddresses: Record<string, string> };
  Service: { ID: string; Service: string; Address: string; Port: number; Tags: string[]; Meta: Record<string, string> };
  Checks: { CheckID: string; Status: string }[];
}

/** Prometheus's per-target labels, computed the way consul.go computes them. */
function targetOf(e: ServiceEntry, dc: string): Record<string, string> {
  const host = e.Service.Address !== '' ? e.Service.Address : e.Node.Address;
  const labels: Record<string, string> = {
    __address__: `${host}:${e.Service.Port}`,
    __meta_consul_address: e.Node.Address,
    __meta_consul_dc: dc,
    __meta_consul_node: e.Node.Node,
    __meta_consul_tags: `,${e.Service.Tags.join(',')},`,
    __meta_consul_service_address: e.Service.Address,
    __meta_consul_service_port: String(e.Service.Port),
    __meta_consul_service_id: e.Service.ID,
    __meta_consul_health: aggregatedStatus(e.Checks),
  };
  for (const [k, v] of Object.entries(e.Node.Meta)) labels[`__meta_consul_metadata_${k}`] = v;
  for (const [k, v] of Object.entries(e.Service.Meta)) labels[`__meta_consul_service_metadata_${k}`] = v;
  for (const [k, v] of Object.entries(e.Node.TaggedAddresses)) labels[`__meta_consul_tagged_address_${k}`] = v;
  return labels;
}

/** Checks every field Prometheus reads has the type Go's decoder needs. */
function expectServiceEntryShape(e: ServiceEntry, where: string): void {
  expect(typeof e.Node.Node, `${where}: Node.Node`).toBe('string');
  expect(typeof e.Node.Address, `${where}: Node.Address`).toBe('string');
  expect(isStringMap(e.Node.Meta), `${where}: Node.Meta is a map of strings`).toBe(true);
  expect(isStringMap(e.Node.TaggedAddresses), `${where}: Node.TaggedAddresses is a map of strings`).toBe(true);
  expect(typeof e.Service.ID, `${where}: Service.ID`).toBe('string');
  expect(typeof e.Service.Address, `${where}: Service.Address`).toBe('string');
  expect(Number.isInteger(e.Service.Port), `${where}: Service.Port is an integer`).toBe(true);
  expect(Array.isArray(e.Service.Tags) && e.Service.Tags.every((t) => typeof t === 'string'), `${where}: Service.Tags`).toBe(true);
  expect(isStringMap(e.Service.Meta), `${where}: Service.Meta is a map of strings`).toBe(true);
  expect(Array.isArray(e.Checks), `${where}: Checks`).toBe(true);
  for (const c of e.Checks) expect(['passing', 'warning', 'critical'], `${where}: Checks[].Status`).toContain(c.Status);
}

/** True once `p` has settled; used to show a blocking request is still parked. */
function settledFlag(p: Promise<unknown>): () => boolean {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  return () => settled;
}

describe('Prometheus consul_sd_configs flow against a herald agent', () => {
  it('agent/self gives the datacenter; the catalog loop blocks until a service is registered', async () => {
    const self = await fetch(`${agent.baseUrl}/v1/agent/self`, { signal: AbortSignal.timeout(10_000) });
    expect(self.status).toBe(200);
    const info = (await self.json()) as { Config: { Datacenter: unknown } };
    expect(typeof info.Config.Datacenter).toBe('string');
    expect(info.Config.Datacenter).toBe('dc1');

    const nodeMeta = { rack: 'r1' };
    // First catalog call: no index, so it answers at once even with wait=30000ms.
    const first = await goGet<Record<string, string[]>>(`/v1/catalog/services?${queryOptions(0n, nodeMeta)}`);
    expect(first.meta.knownLeader).toBe(true);
    expect(first.body).toHaveProperty('consul');
    expect(first.body).not.toHaveProperty('web');
    for (const tags of Object.values(first.body)) expect(Array.isArray(tags)).toBe(true);

    // Second call carries the index Prometheus got back: it must park, not spin.
    const ctl = new AbortController();
    const deadline = setTimeout(() => ctl.abort(new Error('blocking catalog/services never returned')), 10_000);
    const parked = goGet<Record<string, string[]>>(`/v1/catalog/services?${queryOptions(first.meta.lastIndex, nodeMeta)}`, ctl.signal);
    const isSettled = settledFlag(parked);
    // A full round trip on another connection while nothing changed: the request sent first is
    // still pending (a server that did not block would have answered it at once).
    const again = await goGet<Record<string, string[]>>(`/v1/catalog/services?${queryOptions(0n, nodeMeta)}`);
    expect(again.meta.lastIndex).toBe(first.meta.lastIndex);
    expect(isSettled(), 'catalog/services with the current index returned without a change').toBe(false);

    await put('/v1/agent/service/register', {
      ID: 'web-1',
      Name: 'web',
      Tags: ['prod', 'v1'],
      Address: '10.2.0.1',
      Port: 9100,
      Meta: { team: 'edge' },
      Check: { CheckID: 'web-1-ttl', TTL: '60s', Status: 'passing' },
    });
    const woke = await parked;
    clearTimeout(deadline);
    expect(woke.meta.lastIndex).toBeGreaterThan(first.meta.lastIndex);
    expect(woke.body).toHaveProperty('web');
    expect([...woke.body['web']!].sort()).toEqual(['prod', 'v1']);
  }, 30_000);

  it('node-meta filters the catalog list as Prometheus node_meta does', async () => {
    const match = await goGet<Record<string, string[]>>(`/v1/catalog/services?${queryOptions(0n, { rack: 'r1', env: 'test' })}`);
    expect(match.body).toHaveProperty('web');
    const miss = await goGet<Record<string, string[]>>(`/v1/catalog/services?${queryOptions(0n, { rack: 'nope' })}`);
    expect(miss.body).toEqual({});
  }, 30_000);

  it('health/service with stale, repeated tag and node-meta: shapes, labels, and blocking on a check flip', async () => {
    const nodeMeta = { rack: 'r1' };
    const tags: [string, string][] = [['tag', 'prod'], ['tag', 'v1']];
    const path = (index: bigint) => `/v1/health/service/web?${queryOptions(index, nodeMeta, tags)}`;

    const first = await goGet<ServiceEntry[]>(path(0n));
    expect(first.body).toHaveLength(1);
    const entry = first.body[0]!;
    expectServiceEntryShape(entry, 'health/service/web');
    expect(targetOf(entry, 'dc1')).toMatchObject({
      __address__: '10.2.0.1:9100',
      __meta_consul_node: NODE,
      __meta_consul_tags: ',prod,v1,',
      __meta_consul_service_address: '10.2.0.1',
      __meta_consul_service_port: '9100',
      __meta_consul_service_id: 'web-1',
      __meta_consul_health: 'passing',
      __meta_consul_metadata_rack: 'r1',
      __meta_consul_metadata_env: 'test',
      __meta_consul_service_metadata_team: 'edge',
    });
    expect(entry.Node.Address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // Tags are ANDed: one tag the instance lacks empties the result; node-meta likewise.
    const wrongTag = await goGet<ServiceEntry[]>(`/v1/health/service/web?${queryOptions(0n, nodeMeta, [['tag', 'prod'], ['tag', 'nope']])}`);
    expect(wrongTag.body).toEqual([]);
    const wrongMeta = await goGet<ServiceEntry[]>(`/v1/health/service/web?${queryOptions(0n, { rack: 'r9' }, tags)}`);
    expect(wrongMeta.body).toEqual([]);

    // Park on the current index; a write to another service must not return it.
    const ctl = new AbortController();
    const deadline = setTimeout(() => ctl.abort(new Error('blocking health/service never returned')), 10_000);
    const parked = goGet<ServiceEntry[]>(path(first.meta.lastIndex), ctl.signal);
    const isSettled = settledFlag(parked);
    await put('/v1/agent/service/register', { ID: 'db-1', Name: 'db', Port: 5432, Check: { CheckID: 'db-1-ttl', TTL: '60s', Status: 'passing' } });
    const unrelated = await goGet<ServiceEntry[]>(path(0n));
    expect(unrelated.meta.lastIndex).toBe(first.meta.lastIndex);
    expect(isSettled(), 'health/service/web returned on a write to another service').toBe(false);

    // The instance's check goes critical: the parked request returns with a higher index.
    await put('/v1/agent/check/fail/web-1-ttl?note=down');
    const woke = await parked;
    clearTimeout(deadline);
    expect(woke.meta.lastIndex).toBeGreaterThan(first.meta.lastIndex);
    expect(woke.body).toHaveLength(1); // Prometheus does not filter on health: the target stays
    expectServiceEntryShape(woke.body[0]!, 'health/service/web after fail');
    expect(aggregatedStatus(woke.body[0]!.Checks)).toBe('critical');
    expect(woke.body[0]!.Checks.find((c) => c.CheckID === 'web-1-ttl')?.Status).toBe('critical');
  }, 30_000);

  it('sends the three query-metadata headers as integers / booleans on every read Prometheus makes', async () => {
    const paths = [
      `/v1/catalog/services?${queryOptions(0n, {})}`,
      `/v1/health/service/web?${queryOptions(0n, {}, [['tag', 'prod']])}`,
      // Current Prometheus (watchTimeout = 2m); with no index it must still answer at once.
      `/v1/health/service/web?${queryOptions(0n, {}, [], '120000ms')}`,
      // An unknown service is an empty list, still with the headers (Prometheus keeps watching it).
      `/v1/health/service/nope?${queryOptions(0n, {})}`,
    ];
    for (const p of paths) {
      const { body, meta } = await goGet<unknown>(p);
      expect(meta.lastContact).toBeGreaterThanOrEqual(0n);
      expect(meta.knownLeader).toBe(true);
      if (p.includes('/nope')) expect(body).toEqual([]);
    }
  }, 30_000);
});
