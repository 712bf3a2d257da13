import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { runHttpCheck } from './http-check.ts';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

const seen: Seen[] = [];
const pending = new Set<http.ServerResponse>();
let bigBodyClosed: Promise<void> = Promise.resolve();
let base = '';

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body });
    const path = req.url!;
    if (path === '/ok') return void res.end('hello');
    if (path === '/created') return void res.writeHead(201).end('made');
    if (path === '/busy') return void res.writeHead(429).end('slow down');
    if (path === '/down') return void res.writeHead(503).end('maintenance');
    if (path === '/slow') return void pending.add(res); // never answers
    if (path === '/slow-body') {
      res.writeHead(200);
      res.write('partial');
      pending.add(res);
      return;
    }
    if (path === '/echo') return void res.end(JSON.stringify({ method: req.method, headers: req.headers, body }));
    if (path === '/redirect') return void res.writeHead(302, { Location: '/ok' }).end();
    if (path === '/see-other') return void res.writeHead(303, { Location: '/echo' }).end();
    if (path === '/temporary') return void res.writeHead(307, { Location: '/echo' }).end();
    if (path === '/loop') return void res.writeHead(302, { Location: '/loop' }).end();
    if (path === '/no-location') return void res.writeHead(302).end('stay');
    if (path === '/big') {
      // 1 MB: the check must stop reading after 4 KB and close the connection.
      bigBodyClosed = new Promise((resolve) => res.once('close', () => resolve()));
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 'x');
      let sent = 0;
      const pump = () => {
        while (sent < 64 && res.write(chunk)) sent++;
        if (sent >= 64) res.end();
        else res.once('drain', pump);
      };
      pump();
      return;
    }
    res.writeHead(404).end();
  });
}

const server = http.createServer(handler);

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const res of pending) res.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('runHttpCheck: status mapping and output', () => {
  const cases: { path: string; status: string; output: (url: string) => string }[] = [
    { path: '/ok', status: 'passing', output: (u) => `HTTP GET ${u}: 200 OK Output: hello` },
    { path: '/created', status: 'passing', output: (u) => `HTTP GET ${u}: 201 Created Output: made` },
    { path: '/busy', status: 'warning', output: (u) => `HTTP GET ${u}: 429 Too Many Requests Output: slow down` },
    { path: '/down', status: 'critical', output: (u) => `HTTP GET ${u}: 503 Service Unavailable Output: maintenance` },
    { path: '/nothing', status: 'critical', output: (u) => `HTTP GET ${u}: 404 Not Found Output: ` },
    { path: '/no-location', status: 'critical', output: (u) => `HTTP GET ${u}: 302 Found Output: stay` },
  ];
  for (const c of cases) {
    it(`${c.path} -> ${c.status}`, async () => {
      const url = base + c.path;
      expect(await runHttpCheck({ url })).toEqual({ status: c.status, output: c.output(url) });
    });
  }

  it('reads at most 4 KB of body and then closes the response', async () => {
    const url = base + '/big';
    const r = await runHttpCheck({ url });
    expect(r).toEqual({ status: 'passing', output: `HTTP GET ${url}: 200 OK Output: ${'x'.repeat(4096)}` });
    await bigBodyClosed; // the server sees the connection go away before it sent 1 MB
  });
});

describe('runHttpCheck: request', () => {
  it("sends Consul's User-Agent and Accept by default", async () => {
    const r = await runHttpCheck({ url: base + '/echo' });
    const echoed = JSON.parse(r.output.slice(r.output.indexOf('Output: ') + 8));
    expect(echoed.method).toBe('GET');
    expect(echoed.headers['user-agent']).toBe('Consul Health Check');
    expect(echoed.headers['accept']).toBe('text/plain, text/*, */*');
  });

  it('sends method, body and multi-valued headers; overrides the defaults case-insensitively', async () => {
    seen.length = 0;
    const r = await runHttpCheck({
      url: base + '/echo',
      method: 'PUT',
      header: { 'user-agent': ['probe/1'], 'X-Multi': ['a', 'b'], Accept: ['application/json'] },
      body: '{"ping":true}',
    });
    expect(r.status).toBe('passing');
    expect(r.output.startsWith(`HTTP PUT ${base}/echo: 200 OK Output: `)).toBe(true);
    const req = seen[0]!;
    expect(req.method).toBe('PUT');
    expect(req.body).toBe('{"ping":true}');
    expect(req.headers['user-agent']).toBe('probe/1');
    expect(req.headers['accept']).toBe('application/json');
    // Two header lines, not one joined value.
    const multi = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]!.toLowerCase() === 'x-multi');
    expect(multi).toHaveLength(2);
    expect(req.headers['x-multi']).toBe('a, b');
  });

  it('a Host header overrides the request Host', async () => {
    seen.length = 0;
    await runHttpCheck({ url: base + '/ok', header: { Host: ['svc.example'] } });
    expect(seen[0]!.headers.host).toBe('svc.example');
  });
});

describe('runHttpCheck: redirects', () => {
  it('follows a redirect and reports the configured URL', async () => {
    const url = base + '/redirect';
    expect(await runHttpCheck({ url })).toEqual({ status: 'passing', output: `HTTP GET ${url}: 200 OK Output: hello` });
  });

  it('303 turns POST into GET without a body; 307 keeps method and body', async () => {
    seen.length = 0;
    await runHttpCheck({ url: base + '/see-other', method: 'POST', body: 'data' });
    expect(seen.map((s) => [s.url, s.method, s.body])).toEqual([
      ['/see-other', 'POST', 'data'],
      ['/echo', 'GET', ''],
    ]);
    seen.length = 0;
    await runHttpCheck({ url: base + '/temporary', method: 'POST', body: 'data' });
    expect(seen.map((s) => [s.url, s.method, s.body])).toEqual([
      ['/temporary', 'POST', 'data'],
      ['/echo', 'POST', 'data'],
    ]);
  });

  it('gives up after 10 redirects', async () => {
    seen.length = 0;
    const url = base + '/loop';
    const r = await runHttpCheck({ url });
    expect(r).toEqual({ status: 'critical', output: `Get "${url}": stopped after 10 redirects` });
    expect(seen).toHaveLength(11);
  });
});

describe('runHttpCheck: failures', () => {
  it('times out a server that never answers', async () => {
    const url = base + '/slow';
    const r = await runHttpCheck({ url, timeout: 200 });
    expect(r).toEqual({
      status: 'critical',
      output: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
    });
  });

  it('a timeout while reading the body keeps the status and the partial body (as Consul)', async () => {
    const url = base + '/slow-body';
    expect(await runHttpCheck({ url, timeout: 200 })).toEqual({ status: 'passing', output: `HTTP GET ${url}: 200 OK Output: partial` });
  });

  it('a refused connection is critical with the error', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const url = `http://127.0.0.1:${port}/`;
    const r = await runHttpCheck({ url });
    expect(r.status).toBe('critical');
    expect(r.output).toMatch(new RegExp(`^Get "${url}": .*ECONNREFUSED`));
  });

  it('an abort ends the request', async () => {
    const ac = new AbortController();
    const run = runHttpCheck({ url: base + '/slow', timeout: 30_000 }, ac.signal);
    ac.abort();
    expect((await run).status).toBe('critical');
  });

  it('rejects a URL it cannot use', async () => {
    expect((await runHttpCheck({ url: 'not a url' })).status).toBe('critical');
    expect(await runHttpCheck({ url: 'ftp://127.0.0.1/x' })).toEqual({
      status: 'critical',
      output: 'Get "ftp://127.0.0.1/x": unsupported protocol scheme "ftp"',
    });
  });
});

describe('runHttpCheck: TLS', () => {
  let dir = '';
  let tlsServer: https.Server | undefined;
  let tlsBase = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-tls-'));
    try {
      await promisify(execFile)('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ]);
    } catch {
      return; // no openssl: the TLS cases below are skipped
    }
    tlsServer = https.createServer(
      { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) },
      (_req, res) => res.end('secure'),
    );
    await new Promise<void>((r) => tlsServer!.listen(0, '127.0.0.1', r));
    tlsBase = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    if (tlsServer) await new Promise((r) => tlsServer!.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('a self-signed certificate fails verification unless TLSSkipVerify', async (ctx) => {
    if (!tlsServer) ctx.skip();
    const url = tlsBase + '/';
    const strict = await runHttpCheck({ url });
    expect(strict.status).toBe('critical');
    expect(strict.output).toMatch(/self[- ]signed/i);
    expect(await runHttpCheck({ url, tlsSkipVerify: true })).toEqual({
      status: 'passing',
      output: `HTTP GET ${url}: 200 OK Output: secure`,
    });
  });
});
