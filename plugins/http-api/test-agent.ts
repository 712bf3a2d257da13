/**
 * For tests: a real in-process Agent running the http-api plugin (dev mode, DNS and HTTP on
 * free loopback ports), as src/agent/agent-dns.test.ts starts one, plus small request helpers
 * over fastify's inject().
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { Agent } from '../../src/agent/agent.ts';
import { loadConfig } from '../../src/agent/config.ts';
import { effectivePlugins } from '../../src/cli/agent-command.ts';
import { silentLogger } from '../../src/log.ts';
import { runningHttpApi } from './index.ts';
import type { HttpApi } from './server.ts';

export interface TestAgent {
  agent: Agent;
  api: HttpApi;
  /** inject() shorthand; `body` objects are sent as JSON text. */
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** GET and parse the JSON body (fails the test on a non-200). */
  json<T = unknown>(url: string): Promise<T>;
  /** The catalog's last applied index (to show a refused write changed nothing). */
  lastIndex(): bigint;
  stop(): Promise<void>;
}

/**
 * Starts an agent named `node1` with `config` (a Consul-style JSON config object) in a fresh
 * config dir, and any extra flags. HTTP listens on a free port unless `-http-port` is given.
 */
export async function startTestAgent(config: Record<string, unknown> = {}, flags: string[] = []): Promise<TestAgent> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-http-api-'));
  writeFileSync(join(dir, 'agent.json'), JSON.stringify(config));
  const cfg = effectivePlugins(
    loadConfig({
      flags: ['-dev', '-config-dir', dir, '-dns-port', '0', '-http-port', '0', '-node', 'node1', '-plugin', 'http-api', '-log-level', 'error', ...flags],
    }),
  );
  const agent = await Agent.start(cfg, { log: silentLogger });
  const api = runningHttpApi(agent.config);
  if (!api) throw new Error('http-api did not start');
  const request = (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) =>
    api.app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(body === undefined ? {} : { payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
    });
  return {
    agent,
    api,
    request,
    async json<T>(url: string): Promise<T> {
      const res = await request('GET', url);
      if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`);
      return JSON.parse(res.body) as T;
    },
    lastIndex: () => agent.sm.lastIndex,
    stop: () => agent.stop(),
  };
}
