/**
 * The load runner sends the same logical operation to both stores, and its writes really go to
 * a different key each time: checked against a local HTTP server that records what arrives.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { requestFor, runLoad, type LoadSpec } from './load-runner.ts';

const value = Buffer.from('v'.repeat(100));
const spec = (workload: LoadSpec['workload'], over: Partial<LoadSpec> = {}): LoadSpec => ({
  workload, origin: 'http://127.0.0.1:1', connections: 1, pipelining: 1, durationSec: 1, key: 'bench/put/', valueBase64: value.toString('base64'), keySpace: 1000, ...over,
});

describe('KV load requests', () => {
  it('writes the same key and value to Herald (raw body) and etcd (base64 JSON)', () => {
    expect(requestFor(spec('herald-put'), 7)).toEqual({ method: 'PUT', path: '/v1/kv/bench/put/7', body: value });
    const etcd = requestFor(spec('etcd-put'), 7);
    expect(etcd).toMatchObject({ method: 'POST', path: '/v3/kv/put', headers: { 'content-type': 'application/json' } });
    const body = JSON.parse(String(etcd.body)) as { key: string; value: string };
    expect(Buffer.from(body.key, 'base64').toString()).toBe('bench/put/7');
    expect(Buffer.from(body.value, 'base64')).toEqual(value);
    // The key space wraps.
    expect(requestFor(spec('herald-put'), 1007).path).toBe('/v1/kv/bench/put/7');
  });

  it('reads the one key from each store, and the ceiling path as given', () => {
    expect(requestFor(spec('herald-get', { key: 'bench/get' }), 5)).toEqual({ method: 'GET', path: '/v1/kv/bench/get' });
    const etcd = requestFor(spec('etcd-get', { key: 'bench/get', etcdGateway: '/v3beta' }), 5);
    expect(etcd.path).toBe('/v3beta/kv/range');
    expect(Buffer.from((JSON.parse(String(etcd.body)) as { key: string }).key, 'base64').toString()).toBe('bench/get');
    expect(requestFor(spec('plain-get', { key: '/v1/kv/bench/get' }), 5)).toEqual({ method: 'GET', path: '/v1/kv/bench/get' });
  });

  it('drives a real server: every PUT of a run goes to a new key, with the value as the body', async () => {
    const paths: string[] = [];
    const bodies = new Set<string>();
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        paths.push(`${req.method} ${req.url}`);
        bodies.add(Buffer.concat(chunks).toString());
        res.end('true');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const result = (await runLoad(spec('herald-put', { origin: `http://127.0.0.1:${port}`, connections: 2, keySpace: 1_000_000 }))) as { requests: { total: number }; non2xx: number };
      expect(result.requests.total).toBeGreaterThan(10);
      expect(result.non2xx).toBe(0);
      expect(paths.every((p) => p.startsWith('PUT /v1/kv/bench/put/'))).toBe(true);
      expect(new Set(paths).size).toBe(paths.length);
      expect([...bodies]).toEqual([value.toString()]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 15_000);
});
