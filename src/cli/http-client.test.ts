import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERR, HeraldError } from '../errors.ts';
import { freePort } from './commands/cli-harness.ts';
import { FlagSet } from './flag-set.ts';
import { AgentClient, AgentRequestError, addHttpFlags, clientFromFlags, parseHttpAddr, resolveHttpSettings } from './http-client.ts';

describe('parseHttpAddr', () => {
  it('accepts bare host:port and http(s) URLs', () => {
    expect(parseHttpAddr('127.0.0.1:8500').origin).toBe('http://127.0.0.1:8500');
    expect(parseHttpAddr('http://127.0.0.1:8501').origin).toBe('http://127.0.0.1:8501');
    expect(parseHttpAddr('HTTP://localhost:8500/').origin).toBe('http://localhost:8500');
    expect(parseHttpAddr('https://consul.example:8501').origin).toBe('https://consul.example:8501');
    expect(parseHttpAddr('[::1]:8500').origin).toBe('http://[::1]:8500');
    expect(parseHttpAddr('localhost').origin).toBe('http://localhost');
  });

  it('refuses other schemes, paths, credentials and garbage with CLI_HTTP_ADDR_INVALID', () => {
    const cases: [string, RegExp][] = [
      ['unix:///var/run/consul.sock', /unix sockets are not supported/],
      ['ftp://127.0.0.1:21', /Unknown protocol scheme: ftp/],
      ['http://127.0.0.1:8500/v1', /only scheme, host and port/],
      ['http://u:p@127.0.0.1:8500', /credentials/],
      ['127.0.0.1:99999', /not host:port/],
      ['', /empty/],
    ];
    for (const [addr, why] of cases) {
      let caught: unknown;
      try {
        parseHttpAddr(addr);
      } catch (err) {
        caught = err;
      }
      expect(caught, addr).toBeInstanceOf(HeraldError);
      expect((caught as HeraldError).code).toBe(ERR.CLI_HTTP_ADDR_INVALID);
      expect((caught as HeraldError).message).toMatch(why);
    }
  });
});

describe('resolveHttpSettings', () => {
  it('defaults to 127.0.0.1:8500 with no token', () => {
    const s = resolveHttpSettings({}, {});
    expect(s.baseUrl.origin).toBe('http://127.0.0.1:8500');
    expect(s.token).toBe('');
  });

  it('prefers the flag, then HERALD_*, then CONSUL_*; an empty variable counts as unset', () => {
    const env = { HERALD_HTTP_ADDR: '127.0.0.2:1', CONSUL_HTTP_ADDR: '127.0.0.3:1', HERALD_HTTP_TOKEN: 'h', CONSUL_HTTP_TOKEN: 'c' };
    expect(resolveHttpSettings({ addr: '127.0.0.4:1', token: 'f' }, env)).toMatchObject({ token: 'f' });
    expect(resolveHttpSettings({ addr: '127.0.0.4:1' }, env).baseUrl.host).toBe('127.0.0.4:1');
    expect(resolveHttpSettings({}, env).baseUrl.host).toBe('127.0.0.2:1');
    expect(resolveHttpSettings({}, env).token).toBe('h');
    const consulOnly = { HERALD_HTTP_ADDR: '', CONSUL_HTTP_ADDR: 'http://127.0.0.3:2', CONSUL_HTTP_TOKEN: 'c' };
    expect(resolveHttpSettings({}, consulOnly).baseUrl.host).toBe('127.0.0.3:2');
    expect(resolveHttpSettings({}, consulOnly).token).toBe('c');
  });

  it('lets an explicit empty -token override the environment', () => {
    expect(resolveHttpSettings({ token: '' }, { CONSUL_HTTP_TOKEN: 'c' }).token).toBe('');
  });

  it('reads the flags registered by addHttpFlags', () => {
    const fs = new FlagSet('x');
    const flags = addHttpFlags(fs, { server: true });
    fs.parse(['-http-addr=http://127.0.0.9:7', '-token', 't', '-datacenter', 'dc2', '-stale']);
    const c = clientFromFlags(flags, { CONSUL_HTTP_ADDR: '127.0.0.1:1' });
    expect(c.settings).toMatchObject({ token: 't', datacenter: 'dc2', stale: true });
    expect(c.settings.baseUrl.origin).toBe('http://127.0.0.9:7');
  });
});

describe('AgentClient against a real HTTP server on loopback', () => {
  interface Seen {
    method: string;
    url: string;
    headers: http.IncomingHttpHeaders;
    body: string;
  }
  const seen: Seen[] = [];
  let server: http.Server;
  let port: number;
  const hung: http.ServerResponse[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const path = req.url!.split('?')[0];
        if (path === '/v1/ok') {
          res.setHeader('Content-Type', 'application/json');
          res.end('{"a":1}');
        } else if (path === '/v1/bad') {
          res.statusCode = 400;
          res.end('Missing service name\n');
        } else if (path === '/v1/text') {
          res.end('not json');
        } else if (path === '/v1/hang') {
          hung.push(res); // never answered: the client's deadline must fire
        } else {
          res.statusCode = 404;
          res.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const r of hung) r.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = (over: Partial<{ token: string; datacenter: string; stale: boolean }> = {}, timeoutMs?: number) =>
    new AgentClient({ baseUrl: new URL(`http://127.0.0.1:${port}`), token: '', datacenter: '', stale: false, ...over }, timeoutMs);

  it('sends the token as X-Consul-Token, and no token header without one', async () => {
    seen.length = 0;
    await client({ token: 's3cret' }).getJson('/v1/ok');
    await client().getJson('/v1/ok');
    expect(seen[0]!.headers['x-consul-token']).toBe('s3cret');
    expect(seen[1]!.headers['x-consul-token']).toBeUndefined();
  });

  it('adds dc to every request and stale (bare) to reads only', async () => {
    seen.length = 0;
    const c = client({ datacenter: 'dc2', stale: true });
    await c.getJson('/v1/ok', [['node-meta', 'k:v'], ['near', '_agent']]);
    await c.put('/v1/ok');
    expect(seen[0]!.url).toBe('/v1/ok?node-meta=k%3Av&near=_agent&dc=dc2&stale');
    expect(seen[1]!.url).toBe('/v1/ok?dc=dc2');
  });

  it('PUTs a JSON body with its content type', async () => {
    seen.length = 0;
    await client().put('/v1/ok', { Name: 'web', Port: 80 });
    expect(seen[0]).toMatchObject({ method: 'PUT', body: '{"Name":"web","Port":80}' });
    expect(seen[0]!.headers['content-type']).toBe('application/json');
  });

  it('returns the parsed body and its text', async () => {
    expect(await client().getJson('/v1/ok')).toEqual({ value: { a: 1 }, text: '{"a":1}' });
  });

  it('reports a non-2xx answer with the status and trimmed body, as the Go client words it', async () => {
    const err = await client().put('/v1/bad').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentRequestError);
    expect(err).toMatchObject({ code: ERR.CLI_AGENT_STATUS, status: 400, body: 'Missing service name' });
    expect((err as Error).message).toBe('Unexpected response code: 400 (Missing service name)');
    const notFound = await client().getJson('/v1/none').catch((e: unknown) => e);
    expect((notFound as Error).message).toBe('Unexpected response code: 404 ()');
  });

  it('reports a 2xx body that is not JSON', async () => {
    const err = await client().getJson('/v1/text').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ERR.CLI_AGENT_RESPONSE });
    expect((err as Error).message).toMatch(/not JSON: "not json"/);
  });

  it('names the socket error when nothing listens', async () => {
    const closed = await freePort();
    const c = new AgentClient({ baseUrl: new URL(`http://127.0.0.1:${closed}`), token: '', datacenter: '', stale: false });
    const err = await c.getJson('/v1/agent/self').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ERR.CLI_AGENT_UNREACHABLE });
    expect((err as Error).message).toBe(`connect ECONNREFUSED 127.0.0.1:${closed}`);
  });

  it('gives up when the agent does not answer within the deadline', async () => {
    const err = await client({}, 200).getJson('/v1/hang').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ERR.CLI_AGENT_UNREACHABLE });
    expect((err as Error).message).toMatch(/no answer from http:\/\/127\.0\.0\.1:\d+ within 0\.2s \(GET \/v1\/hang\)/);
  });
});
