/**
 * The ceiling as the harness runs it: its own process (tsx), serving captured responses byte for
 * byte, with the captured headers and without the framing ones.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../plugins/http-api/clients/agent-process.ts';
import type { CapturedRoute } from './ceiling-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'herald-ceiling-'));
const kill: (() => void)[] = [];
afterAll(() => {
  for (const k of kill) k();
  rmSync(dir, { recursive: true, force: true });
});

describe('ceiling-server', () => {
  it('replays each captured response: status, headers, exact body bytes', async () => {
    const body = Buffer.from('[{"Node":{"Node":"n1"},"Service":{"ID":"web-1","Port":8001}}]');
    const routes: CapturedRoute[] = [
      {
        path: '/v1/health/service/web',
        status: 200,
        headers: { 'content-type': 'application/json', 'x-consul-index': '42', 'content-length': '999', connection: 'close', date: 'x' },
        bodyBase64: body.toString('base64'),
      },
    ];
    const file = join(dir, 'routes.json');
    writeFileSync(file, JSON.stringify(routes));
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'ceiling-server.ts'), file, String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    kill.push(() => child.kill('SIGKILL'));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ceiling did not start: ${out}`)), 15_000);
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr.on('data', (d) => (out += d));
      child.once('exit', (code) => reject(new Error(`ceiling exited ${code}: ${out}`)));
    });
    const res = await fetch(`http://127.0.0.1:${port}/v1/health/service/web?passing`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-consul-index')).toBe('42');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('content-length')).toBe(String(body.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/v1/other`)).status).toBe(404);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }, 30_000);
});
