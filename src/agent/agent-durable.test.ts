/**
 * The agent with a data dir (rocksdb engine), in process: a restart restores everything, only
 * one agent may hold a data dir, a damaged last log record is dropped with a log line, and a
 * full disk (a real tmpfs) answers 500, acknowledges nothing it did not persist and recovers.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { createLogger } from '../log.ts';
import { runningHttpApi } from '../../plugins/http-api/index.ts';
import { effectivePlugins } from '../cli/agent-command.ts';
import { decodeRecord } from '../storage/log-record.ts';
import { logKey, rawRocks } from '../storage/rocksdb-storage.ts';
import { storageDir } from '../storage/open-storage.ts';
import { mountTmpfs } from '../storage/fixtures/tmpfs.ts';
import { Agent } from './agent.ts';
import { loadConfig } from './config.ts';

const running: Agent[] = [];
const cleanup: Array<() => void> = [];
afterEach(async () => {
  for (const a of running.splice(0)) await a.stop();
  for (const f of cleanup.splice(0)) f();
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'herald-agent-durable-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

interface Started {
  agent: Agent;
  lines: string[];
  req(method: string, url: string, body?: unknown): Promise<{ status: number; body: string; json: () => unknown }>;
  stop(): Promise<void>;
}

/** An agent on `dataDir` (not -dev: the rocksdb engine by default), its log lines captured. */
async function start(dataDir: string, configDir?: string): Promise<Started> {
  const lines: string[] = [];
  const config = effectivePlugins(
    loadConfig({
      flags: [
        '-data-dir', dataDir, '-dns-port', '0', '-http-port', '-1', '-node', 'node1', '-bind', '127.0.0.1',
        '-plugin', 'http-api', '-plugin', 'kv', ...(configDir ? ['-config-dir', configDir] : []),
      ],
    }),
  );
  expect(config.storageEngine).toBe('rocksdb');
  const agent = await Agent.start(config, { log: createLogger('info', 'agent', (l) => lines.push(l)) });
  running.push(agent);
  const api = runningHttpApi(agent.config)!;
  return {
    agent,
    lines,
    async req(method, url, body) {
      const res = await api.app.inject({
        method: method as 'GET',
        url,
        ...(body === undefined ? {} : { payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
      });
      return { status: res.statusCode, body: res.body, json: () => JSON.parse(res.body) };
    },
    async stop() {
      running.splice(running.indexOf(agent), 1);
      await agent.stop();
    },
  };
}

async function ok(a: Started, method: string, url: string, body?: unknown): Promise<string> {
  const res = await a.req(method, url, body);
  expect(res.status, `${method} ${url}: ${res.body}`).toBe(200);
  return res.body;
}

describe('agent with a data dir', () => {
  it('a restart restores the catalog, API registrations, maintenance and plugin state, with unchanged indexes', async () => {
    const dataDir = tmp();
    const conf = tmp();
    writeFileSync(join(conf, 'svc.json'), JSON.stringify({ service: { name: 'from-file', port: 1 } }));
    const a = await start(dataDir, conf);
    await ok(a, 'PUT', '/v1/agent/service/register', { Name: 'api', ID: 'api-1', Port: 8080, Tags: ['x'], Check: { TTL: '1h', CheckID: 'api-ttl' } });
    await ok(a, 'PUT', '/v1/agent/check/register', { Name: 'disk', CheckID: 'disk', TTL: '1h' });
    await ok(a, 'PUT', '/v1/agent/service/maintenance/api-1?enable=true&reason=upgrading');
    await ok(a, 'PUT', '/v1/catalog/register', { Node: 'ext', Address: '10.3.0.1', Service: { Service: 'ext-db', Port: 5432 } });
    await ok(a, 'PUT', '/v1/kv/cfg/a', 'hello');
    const before = {
      catalog: await a.req('GET', '/v1/catalog/service/api').then((r) => r.json()),
      ext: await a.req('GET', '/v1/catalog/service/ext-db').then((r) => r.json()),
      services: Object.keys((await a.req('GET', '/v1/agent/services').then((r) => r.json())) as object).sort(),
      checks: Object.keys((await a.req('GET', '/v1/agent/checks').then((r) => r.json())) as object).sort(),
      kv: await a.req('GET', '/v1/kv/cfg/a').then((r) => r.json()),
    };
    expect(before.services).toEqual(['api-1', 'from-file']);
    expect(before.checks).toEqual(['_service_maintenance:api-1', 'api-ttl', 'disk']);
    await a.stop();

    const b = await start(dataDir, conf);
    expect(b.lines.some((l) => /storage: rocksdb at .*\/raft; no snapshot, replayed \d+ entries; index \d+/.test(l))).toBe(true);
    expect(await b.req('GET', '/v1/catalog/service/api').then((r) => r.json())).toEqual(before.catalog);
    expect(await b.req('GET', '/v1/catalog/service/ext-db').then((r) => r.json())).toEqual(before.ext);
    expect(Object.keys((await b.req('GET', '/v1/agent/services').then((r) => r.json())) as object).sort()).toEqual(before.services);
    expect(Object.keys((await b.req('GET', '/v1/agent/checks').then((r) => r.json())) as object).sort()).toEqual(before.checks);
    expect(await b.req('GET', '/v1/kv/cfg/a').then((r) => r.json())).toEqual(before.kv);

    // A deregistration is durable too.
    await ok(b, 'PUT', '/v1/agent/service/deregister/api-1');
    await b.stop();
    const c = await start(dataDir, conf);
    expect(Object.keys((await c.req('GET', '/v1/agent/services').then((r) => r.json())) as object)).toEqual(['from-file']);
    expect(await c.req('GET', '/v1/catalog/service/api').then((r) => r.json())).toEqual([]);
  }, 20_000);

  it('a second agent on the same data dir is refused with an error naming the dir', async () => {
    const dataDir = tmp();
    await start(dataDir);
    const err = await start(dataDir).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.code).toBe(ERR.STORAGE_OPEN);
    expect(err?.message).toContain(`storage: ${storageDir(dataDir)} is in use by another process (is another herald agent running with this data dir?)`);
  });

  it('a damaged last log record is dropped with a log line; everything before it is served', async () => {
    const dataDir = tmp();
    const a = await start(dataDir);
    for (let i = 0; i < 5; i++) await ok(a, 'PUT', '/v1/catalog/register', { Node: `n${i}`, Address: `10.4.0.${i}` });
    const last = a.agent.raftLog.lastIndex;
    await a.stop();

    // Flip one byte of the newest record's payload through the raw store.
    const raw = rawRocks(storageDir(dataDir));
    await raw.open();
    const v = Buffer.from(await raw.get(logKey(last)));
    expect(decodeRecord(v).ok).toBe(true);
    v[v.length - 1]! ^= 0xff;
    await raw.batch([{ type: 'put', key: logKey(last), value: v }], { sync: true });
    await raw.close();

    const b = await start(dataDir);
    expect(b.lines.filter((l) => l.includes('[WARN]'))).toEqual([
      expect.stringMatching(new RegExp(`storage: log: dropped entries ${last}\\.\\.${last} \\(1 records\\) on open: entry ${last}: checksum .* log now ends at ${last - 1n}`)),
    ]);
    // The last entry was n4's registration: gone with it; everything before is served.
    const nodes = (await b.req('GET', '/v1/catalog/nodes').then((r) => r.json())) as Array<{ Node: string }>;
    expect(nodes.map((n) => n.Node).sort()).toEqual(['n0', 'n1', 'n2', 'n3', 'node1']);
  }, 20_000);
});

describe('agent on a full disk (a real 4 MiB tmpfs)', () => {
  it('answers 500, acknowledges nothing it did not persist, and recovers once space is freed', async (ctx) => {
    const fs = mountTmpfs(4 * 1024 * 1024);
    if ('skip' in fs) return ctx.skip(fs.skip);
    // Unmounted even when the test fails or times out.
    ctx.onTestFinished(() => fs.unmount());
    const dataDir = join(fs.dir, 'data');
    const a = await start(dataDir);
    const filler = fs.fill(256 * 1024);
    const acked = new Map<string, string>();
    let failure: { status: number; body: string } | undefined;
    // Incompressible values, so the WAL really grows.
    for (let i = 0; i < 2000 && !failure; i++) {
      const key = `k${i % 50}`;
      const value = `${i}:` + randomBytes(3000).toString('base64');
      const res = await a.req('PUT', `/v1/kv/${key}`, value);
      if (res.status === 200) acked.set(key, value);
      else failure = res;
    }
    expect(failure, "the disk never filled up").toBeDefined();
    expect(failure!.status).toBe(500);
    expect(failure!.body).toMatch(/^storage: no space left on device: /);
    expect(acked.size).toBeGreaterThan(0);

    const read = async (s: Started, key: string) => {
      const r = await s.req('GET', `/v1/kv/${key}?raw`);
      return r.status === 200 ? r.body : undefined;
    };
    const checkAll = async (s: Started) => {
      for (const [key, value] of acked) expect(await read(s, key), key).toBe(value);
    };
    // Still full: a big write fails clearly again, reads keep answering. (The first write after a
    // failure reopens the store, which may reclaim some WAL space: a write may then fit, and is
    // then acknowledged like any other.)
    const big = `more:` + randomBytes(200_000).toString('base64');
    const again = await a.req('PUT', '/v1/kv/more', big);
    if (again.status === 200) acked.set('more', big);
    else {
      expect(again.status).toBe(500);
      expect(again.body).toMatch(/^storage: no space left on device/);
    }
    await checkAll(a);

    rmSync(filler);
    // Recovery is attempted at most once a second: retry until a write goes through.
    let recovered = false;
    const deadline = Date.now() + 20_000;
    while (!recovered && Date.now() < deadline) {
      const res = await a.req('PUT', '/v1/kv/after', 'free');
      recovered = res.status === 200;
      if (!recovered) await new Promise((r) => setTimeout(r, 100));
    }
    expect(recovered).toBe(true);
    await checkAll(a);
    await a.stop();

    const b = await start(dataDir);
    await checkAll(b);
    expect(await read(b, 'after')).toBe('free');
    await b.stop();
  }, 60_000);
});
