/**
 * The etcd peer as the harness drives it: a real one-member etcd on loopback (Debian's
 * etcd-server; .ci/run installs it; skipped without it), its JSON gateway found, a put read
 * back, a prefix counted.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../plugins/http-api/clients/agent-process.ts';
import { detectGateway, etcdArgs, etcdCount, etcdGet, etcdHealthy, etcdPut, etcdVersion } from './etcd.ts';

const version = etcdVersion();

describe('etcd arguments', () => {
  it('make one loopback member with its own data dir', () => {
    const args = etcdArgs('/tmp/x', { client: 1, peer: 2 });
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('--data-dir')).toBe('/tmp/x/etcd');
    expect(flag('--listen-client-urls')).toBe('http://127.0.0.1:1');
    expect(flag('--initial-cluster')).toBe('bench=http://127.0.0.1:2');
    expect(args).not.toContain('--unsafe-no-fsync');
  });
});

describe.skipIf(!version)(`a real etcd (${version ?? 'not installed'})`, { timeout: 30_000 }, () => {
  let dir: string;
  let child: ReturnType<typeof spawn>;
  let origin: string;
  let output = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-etcd-test-'));
    const ports = { client: await freePort(), peer: await freePort() };
    child = spawn('etcd', etcdArgs(dir, ports), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    origin = `http://127.0.0.1:${ports.client}`;
    const end = Date.now() + 20_000;
    while (!(await etcdHealthy(origin))) {
      if (child.exitCode !== null || Date.now() > end) throw new Error(`etcd did not become healthy:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 30_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves the v3 JSON gateway under /v3 (3.4)', async () => {
    expect(await detectGateway(origin)).toBe(version!.startsWith('3.3') ? '/v3beta' : '/v3');
  });

  it('reads back what was put, and counts a prefix', async () => {
    const gw = (await detectGateway(origin))!;
    await etcdPut(origin, gw, 'bench/put/1', Buffer.from('one'));
    await etcdPut(origin, gw, 'bench/put/2', Buffer.from([0, 255, 10]));
    await etcdPut(origin, gw, 'bench/other', Buffer.from('x'));
    expect((await etcdGet(origin, gw, 'bench/put/1'))?.toString()).toBe('one');
    expect(await etcdGet(origin, gw, 'bench/put/2')).toEqual(Buffer.from([0, 255, 10]));
    expect(await etcdGet(origin, gw, 'bench/missing')).toBeUndefined();
    expect(await etcdCount(origin, gw, 'bench/put/')).toBe(2);
  });
});
