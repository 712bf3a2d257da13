/**
 * Consul's cross-cutting wire rules (consul-compat.md §0) on the assembled server: routing
 * answers, path cleaning, bodies, size limit, exact uint64, and route groups from other plugins.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { StateMachine } from '../../src/catalog/state-machine.ts';
import { silentLogger } from '../../src/log.ts';
import type { AgentAccess, RuntimeConfig } from '../../src/plugin.ts';
import { notFound } from './http-error.ts';
import { DEFAULT_MAX_BODY_BYTES, MAX_JSON_DEPTH } from './request-body.ts';
import { buildHttpApi } from './server.ts';
import { startTestAgent, type TestAgent } from './test-agent.ts';

let t: TestAgent;
beforeAll(async () => {
  t = await startTestAgent();
});
afterAll(async () => {
  await t?.stop();
});

/** One raw HTTP/1.1 exchange over a real socket, so the request line reaches the server unnormalised. */
function rawRequest(port: number, requestLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.end(`${requestLine}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let out = '';
    sock.on('data', (d) => (out += d.toString('latin1')));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
    sock.setTimeout(10_000, () => sock.destroy(new Error('raw request timed out')));
  });
}

describe('routing answers', () => {
  it('GET / is the Consul Agent banner', async () => {
    const res = await t.request('GET', '/');
    expect([res.statusCode, res.body, res.headers['content-type']]).toEqual([200, 'Consul Agent', 'text/plain; charset=utf-8']);
  });

  it('unknown paths are 404 with an empty body', async () => {
    for (const url of ['/v1/nope', '/v1/agent/selfish', '/favicon.ico']) {
      const res = await t.request('GET', url);
      expect([res.statusCode, res.body]).toEqual([404, '']);
    }
  });

  it('a known path with another method is 405 with Allow; OPTIONS is 200 with Allow', async () => {
    for (const m of ['DELETE', 'POST', 'PUT', 'PATCH', 'HEAD']) {
      const res = await t.request(m, '/v1/catalog/nodes');
      expect([res.statusCode, res.headers.allow]).toEqual([405, 'OPTIONS,GET']);
      if (m !== 'HEAD') expect(res.body).toBe(`method ${m} not allowed`);
    }
    const opt = await t.request('OPTIONS', '/v1/agent/service/register');
    expect([opt.statusCode, opt.headers.allow, opt.body]).toEqual([200, 'OPTIONS,PUT', '']);
  });

  it('unclean paths get a 301 to the cleaned path, query kept', async () => {
    for (const [url, location] of [
      ['//v1/agent/self', '/v1/agent/self'],
      ['//v1/agent/self?pretty', '/v1/agent/self?pretty'],
      ['/v1/catalog/service//web', '/v1/catalog/service/web'],
      ['/v1/agent/x%2F..%2Fself', '/v1/agent/self'],
    ]) {
      const res = await t.request('GET', url!);
      expect([res.statusCode, res.headers.location]).toEqual([301, location]);
    }
  });

  it('`..` and `/./` in the request line redirect too (real socket: inject() would normalise them)', async () => {
    const before = t.lastIndex();
    const res = await rawRequest(t.api.port!, 'PUT /v1/agent/../catalog/deregister HTTP/1.1');
    expect(res).toMatch(/^HTTP\/1\.1 301 /);
    expect(res).toMatch(/\r\nlocation: \/v1\/catalog\/deregister\r\n/i);
    expect(t.lastIndex()).toBe(before);
    const dot = await rawRequest(t.api.port!, 'GET /v1/./agent/self?pretty HTTP/1.1');
    expect(dot).toMatch(/^HTTP\/1\.1 301 [^]*\r\nlocation: \/v1\/agent\/self\?pretty\r\n/i);
  });

  it('undecodable escapes are 400', async () => {
    const res = await rawRequest(t.api.port!, 'GET /v1/catalog/service/a%zz HTTP/1.1');
    expect(res).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('%2F inside an ID is part of the ID', async () => {
    await t.request('PUT', '/v1/catalog/register', { Node: 'slashy', Address: '10.1.1.1', Service: { Service: 'a/b', Port: 1 } });
    const [svc] = await t.json<{ ServiceName: string }[]>('/v1/catalog/service/a%2Fb');
    expect(svc!.ServiceName).toBe('a/b');
    // Consul's prefix routes take the rest of the path, slashes included.
    expect(await t.json('/v1/catalog/service/a/b')).toEqual([svc]);
  });
});

describe('bodies', () => {
  it('any Content-Type (or none) is read as JSON', async () => {
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', '', 'nonsense', 'application/json']) {
      const res = await t.request('PUT', '/v1/catalog/register', JSON.stringify({ Node: `ct-${ct || 'none'}`, Address: '10.2.2.2' }), { 'content-type': ct });
      expect([ct, res.statusCode]).toEqual([ct, 200]);
    }
  });

  it('a body over the limit is 413 and nothing is written', async () => {
    const before = t.lastIndex();
    const big = JSON.stringify({ Node: 'big', Address: '10.3.3.3', NodeMeta: { pad: 'x'.repeat(DEFAULT_MAX_BODY_BYTES) } });
    const res = await t.request('PUT', '/v1/catalog/register', big);
    expect(res.statusCode).toBe(413);
    expect(res.body).toBe(`Request body(${Buffer.byteLength(big)} bytes) too large, max size: ${DEFAULT_MAX_BODY_BYTES} bytes`);
    expect(t.lastIndex()).toBe(before);
  });

  it('deep JSON is 400 and nothing is written', async () => {
    const before = t.lastIndex();
    const deep = `{"Node":"deep","Address":"10.4.4.4","NodeMeta":${'['.repeat(MAX_JSON_DEPTH * 2)}${']'.repeat(MAX_JSON_DEPTH * 2)}}`;
    const res = await t.request('PUT', '/v1/catalog/register', deep);
    expect([res.statusCode, res.body]).toEqual([400, `Request decode failed: JSON nests deeper than ${MAX_JSON_DEPTH} levels`]);
    expect(t.lastIndex()).toBe(before);
  });
});

describe('a server on a bare state machine', () => {
  const config = { datacenter: 'dc1', dev: false } as RuntimeConfig;
  const agent = { config: () => config } as unknown as AgentAccess;

  it('keeps uint64 indexes exact in headers and bodies', async () => {
    const sm = new StateMachine();
    const api = await buildHttpApi({ catalog: sm, agent, core: { propose: async () => ({ index: 0n }), onChange: (l) => sm.onChange(l) }, log: silentLogger });
    const huge = 2n ** 63n + 7n;
    sm.apply(huge, { type: 'catalog.register', node: { node: 'n1', id: '', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} } });
    const res = await api.app.inject('/v1/catalog/nodes');
    expect(res.headers['x-consul-index']).toBe(huge.toString());
    expect(res.body).toContain(`"CreateIndex":${huge},"ModifyIndex":${huge}`);
    // Blocking with an index past 2^53 compares exactly: one below returns at once.
    const at = await api.app.inject(`/v1/catalog/nodes?index=${huge - 1n}`);
    expect(at.headers['x-consul-index']).toBe(huge.toString());
    await api.close();
  });

  it('mounts other plugins\' route groups, under the same error rules', async () => {
    const sm = new StateMachine();
    const groups = [
      {
        plugin: 'kv',
        routes: (server: unknown) => {
          const app = server as FastifyInstance;
          app.get('/v1/kv/*', async (req) => {
            const key = (req.params as { '*': string })['*'];
            if (key === 'missing') throw notFound('');
            return [{ Key: key }];
          });
        },
      },
    ];
    const api = await buildHttpApi({
      catalog: sm,
      agent,
      core: { propose: async () => ({ index: 0n }), onChange: (l) => sm.onChange(l), httpRouteGroups: () => groups },
      log: silentLogger,
    });
    expect(JSON.parse((await api.app.inject('/v1/kv/a/b')).body)).toEqual([{ Key: 'a/b' }]);
    const missing = await api.app.inject('/v1/kv/missing');
    expect([missing.statusCode, missing.body]).toEqual([404, '']);
    expect((await api.app.inject('/v1/kv//a')).statusCode).toBe(301);
    await api.close();
  });
});
