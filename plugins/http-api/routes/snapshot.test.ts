import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSnapshotArchive } from '../../../src/catalog/snapshot-archive.ts';
import { startTestAgent, type TestAgent } from '../test-agent.ts';


const agents: TestAgent[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An agent named `node`; with `durable`, on a fresh data dir with the rocksdb engine. */
async function agent(node: string, opts: { durable?: string | true } = {}): Promise<TestAgent & { dataDir?: string }> {
  const flags = ['-node', node, '-plugin', 'kv'];
  let dataDir: string | undefined;
  if (opts.durable) {
    dataDir = opts.durable === true ? mkdtempSync(join(tmpdir(), 'herald-snap-')) : opts.durable;
    if (opts.durable === true) dirs.push(dataDir);
    flags.push('-data-dir', dataDir, '-storage-engine', 'rocksdb');
  }
  const a = await startTestAgent({}, flags);
  agents.push(a);
  return Object.assign(a, { dataDir });
}

async function save(a: TestAgent): Promise<{ archive: Buffer; index: string; hash: string; state: Record<string, unknown> }> {
  const res = await a.request('GET', '/v1/snapshot');
  expect(res.statusCode).toBe(200);
  const archive = res.rawPayload;
  const { meta, state } = readSnapshotArchive(archive);
  expect(res.headers['x-consul-index']).toBe(meta.index > 0n ? String(meta.index) : '1');
  return {
    archive,
    index: String(res.headers['x-consul-index']),
    hash: createHash('sha256').update(state).digest('hex'),
    state: JSON.parse(state.toString()) as Record<string, unknown>,
  };
}

async function put(a: TestAgent, url: string, body?: unknown): Promise<void> {
  const res = await a.request('PUT', url, body);
  expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
}

/** Services and checks through both the agent and the catalog API, and KV entries. */
async function populate(a: TestAgent): Promise<void> {
  await put(a, '/v1/agent/service/register', { Name: 'web', ID: 'web-1', Port: 80, Tags: ['v1'], Check: { TTL: '30s' } });
  await put(a, '/v1/agent/check/pass/service:web-1');
  await put(a, '/v1/catalog/register', {
    Node: 'ext1',
    Address: '10.1.0.1',
    Service: { Service: 'db', ID: 'db-1', Port: 5432, Meta: { role: 'primary' } },
    Check: { CheckID: 'db-alive', Name: 'db alive', Status: 'warning', ServiceID: 'db-1' },
  });
  await put(a, '/v1/kv/app/config', 'v=1');
  await put(a, '/v1/kv/app/flag?flags=42', 'on');
  await put(a, '/v1/kv/bin', randomBytes(64));
}

describe('/v1/snapshot', () => {
  it('GET sends a verified gzipped tar with X-Consul-Index and Consul’s sniffed content type', async () => {
    const a = await agent('node-a');
    await populate(a);
    const res = await a.request('GET', '/v1/snapshot');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-gzip');
    expect(res.headers['x-consul-knownleader']).toBe('true');
    const { meta } = readSnapshotArchive(res.rawPayload);
    expect(res.headers['x-consul-index']).toBe(String(meta.index));
    expect(meta.index).toBe(a.lastIndex());
    expect((await a.request('POST', '/v1/snapshot')).statusCode).toBe(405);
    expect((await a.request('GET', '/v1/snapshot?dc=elsewhere')).statusCode).toBe(500);
  });

  it('save, restore on a fresh durable agent, save again: the same state, byte for byte; a restart keeps it', async () => {
    const a = await agent('node-a');
    await populate(a);
    const first = await save(a);
    expect(Object.keys(first.state.extensions as object)).toContain('kv');

    const b = await agent('node-b', { durable: true });
    // A query blocked on B before the restore wakes when it lands.
    const idx = b.lastIndex();
    const blocked = b.request('GET', `/v1/catalog/service/db?index=${idx}&wait=30s`);
    await new Promise((r) => setImmediate(r));
    await put(b, '/v1/snapshot', first.archive);
    const woke = await blocked;
    expect(woke.statusCode).toBe(200);
    expect(JSON.parse(woke.body)).toEqual([expect.objectContaining({ Node: 'ext1', ServiceID: 'db-1' })]);

    const second = await save(b);
    expect(second.hash).toBe(first.hash);
    expect(await b.json('/v1/health/service/web')).toEqual([
      expect.objectContaining({ Node: expect.objectContaining({ Node: 'node-a' }), Checks: expect.any(Array) }),
    ]);
    expect(await b.json('/v1/kv/app/flag')).toEqual([expect.objectContaining({ Key: 'app/flag', Flags: 42 })]);

    // Restart B on the same data dir: the restored state is still there (B's own node comes
    // back too, by anti-entropy, so compare what the archive held rather than the hash).
    const dataDir = (b as { dataDir?: string }).dataDir!;
    await b.stop();
    agents.splice(agents.indexOf(b), 1);
    const c = await agent('node-b', { durable: dataDir });
    const third = await save(c);
    for (const key of ['extensions'] as const) expect(third.state[key]).toEqual(first.state[key]);
    const rows = (s: Record<string, unknown>, table: string) =>
      (s[table] as Array<{ node: string }>).filter((r) => r.node !== 'node-b');
    for (const table of ['nodes', 'services', 'checks']) expect(rows(third.state, table)).toEqual(rows(first.state, table));
  });

  it('PUT refuses a damaged archive with 400 and the reason, changing nothing', async () => {
    const a = await agent('node-a', { durable: true });
    await populate(a);
    const before = await save(a);
    const garbage = await a.request('PUT', '/v1/snapshot', Buffer.from('not an archive'));
    expect(garbage.statusCode).toBe(400);
    expect(garbage.body).toMatch(/^snapshot archive: not a gzip file or damaged/);
    const truncated = await a.request('PUT', '/v1/snapshot', before.archive.subarray(0, before.archive.length - 20));
    expect(truncated.statusCode).toBe(400);
    const empty = await a.request('PUT', '/v1/snapshot');
    expect(empty.statusCode).toBe(400);
    expect(empty.body).toMatch(/empty/);
    expect((await save(a)).hash).toBe(before.hash);
  });

  it('PUT takes archives larger than the API’s general body limit', async () => {
    const a = await agent('node-a');
    // Incompressible metadata: 30 services x 64 x 512 random bytes is ~1.3 MB gzipped.
    for (let i = 0; i < 30; i++) {
      const meta: Record<string, string> = {};
      for (let k = 0; k < 64; k++) meta[`k${k}`] = randomBytes(384).toString('base64');
      await put(a, '/v1/catalog/register', { Node: `big${i}`, Address: '10.2.0.1', Service: { Service: `s${i}`, Meta: meta } });
    }
    const snap = await save(a);
    expect(snap.archive.length).toBeGreaterThan(512 * 1024);
    const b = await agent('node-b');
    await put(b, '/v1/snapshot', snap.archive);
    expect((await save(b)).hash).toBe(snap.hash);
  });
});
