/** The plugin's lifecycle: listening on a real socket, not listening, stopping with parked queries, options. */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { ERR } from '../../src/plugin.ts';
import { resolvePlugins } from '../../src/plugins-available.ts';
import plugin, { httpApiOptions, runningHttpApi } from './index.ts';
import { WAIT_KEY } from './blocking.ts';
import { startTestAgent } from './test-agent.ts';

function get(port: number, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('request timed out')));
  });
}

describe('http-api plugin', () => {
  it('is available by name', async () => {
    const [p] = await resolvePlugins(['http-api']);
    expect(p).toBe(plugin);
    expect(p!.name).toBe('http-api');
  });

  it('listens on client_addr:ports.http, answers real clients, and closes on stop', async () => {
    const t = await startTestAgent();
    const port = t.api.port!;
    expect(port).toBeGreaterThan(0);
    const self = await get(port, '/v1/agent/self');
    expect(self.status).toBe(200);
    expect(JSON.parse(self.body).Config.NodeName).toBe('node1');
    const nodes = await get(port, '/v1/catalog/nodes');
    expect(nodes.headers['x-consul-index']).toMatch(/^[1-9]\d*$/);

    // A blocked query is answered (200, same index) when the agent stops, not cut off.
    const idx = nodes.headers['x-consul-index'] as string;
    const parked = get(port, `/v1/catalog/nodes?index=${idx}&wait=5m`);
    const end = Date.now() + 10_000;
    while (t.api.waiters.sizeOf(WAIT_KEY.nodeList) === 0 && Date.now() < end) await new Promise((r) => setImmediate(r));
    await t.stop();
    const answered = await parked;
    expect([answered.status, answered.headers['x-consul-index']]).toEqual([200, idx]);
    expect(runningHttpApi(t.agent.config)).toBeUndefined();
    await expect(get(port, '/v1/agent/self')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('does not listen with ports.http < 0, but still serves inject()', async () => {
    const t = await startTestAgent({}, ['-http-port', '-1']);
    expect(t.api.port).toBeUndefined();
    expect((await t.request('GET', '/v1/status/leader')).statusCode).toBe(200);
    await t.stop();
  });

  it('takes max_body_bytes from plugin_config', async () => {
    const t = await startTestAgent({ plugin_config: { 'http-api': { max_body_bytes: 64 } } });
    const body = JSON.stringify({ Name: 'x'.repeat(100) });
    const res = await t.request('PUT', '/v1/agent/service/register', body);
    expect([res.statusCode, res.body]).toEqual([413, `Request body(${body.length} bytes) too large, max size: 64 bytes`]);
    expect((await t.request('PUT', '/v1/agent/service/register', { Name: 'small' })).statusCode).toBe(200);
    await t.stop();
  });

  it('refuses bad options', () => {
    expect(httpApiOptions({ max_body_bytes: 1024 })).toEqual({ maxBodyBytes: 1024 });
    expect(() => httpApiOptions({ max_body_bytes: '1k' })).toThrow(expect.objectContaining({ code: ERR.CONFIG_INVALID }));
    expect(() => httpApiOptions({ pretty: true })).toThrow(expect.objectContaining({ code: ERR.CONFIG_INVALID }));
  });
});
