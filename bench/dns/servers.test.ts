import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryUdp, replyContent } from './dns-probe.ts';
import { writeBenchData, type BenchPaths } from './gen-data.ts';
import { groupAffinity } from './proc-status.ts';
import { ProcessReaper } from './process-reaper.ts';
import { freePort, knotConfig, serverCommand, startServer, waitReady, type ServerContext } from './servers.ts';

const REPO = resolve(__dirname, '../..');
const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

let work: string;
let paths: BenchPaths;
let ctx: ServerContext;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'servers-test-'));
  paths = await writeBenchData(join(work, 'data'), 20, 3);
  ctx = { repoRoot: REPO, paths, services: 20, workDir: work, cpu: 0, readyTimeoutMs: 10_000, heraldExtraArgs: [] };
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('freePort', () => {
  it('returns a loopback port free for both UDP and TCP', async () => {
    const port = await freePort();
    const udp = createSocket('udp4');
    await new Promise<void>((res, rej) => {
      udp.once('error', rej);
      udp.bind(port, '127.0.0.1', () => res());
    });
    const tcp = createServer();
    await new Promise<void>((res, rej) => {
      tcp.once('error', rej);
      tcp.listen(port, '127.0.0.1', () => res());
    });
    await new Promise<void>((res) => udp.close(() => res()));
    await new Promise<void>((res) => tcp.close(() => res()));
  });
});

describe('serverCommand', () => {
  it('writes a one-worker Knot config and pins knotd to the server core', async () => {
    const sc = await serverCommand('knot', 5353, ctx);
    expect('skip' in sc).toBe(false);
    if ('skip' in sc) return;
    expect([sc.cmd, ...sc.args.slice(0, 3)]).toEqual(['taskset', '-c', '0', 'knotd']);
    const conf = knotConfig({ dir: '/w/knot', port: 5353, zoneFile: '/d/consul.zone' });
    expect(conf).toContain('    listen: 127.0.0.1@5353\n');
    expect(conf).toContain('    udp-workers: 1\n');
    expect(conf).toContain('    storage: "/d"\n    file: "consul.zone"\n');
  });

  it('runs dnsmasq in the foreground, local only, on the given port', async () => {
    const sc = await serverCommand('dnsmasq', 5400, ctx);
    if ('skip' in sc) throw new Error(sc.skip);
    expect(sc.args).toEqual(
      expect.arrayContaining(['--no-daemon', '--no-resolv', '--no-hosts', '--bind-interfaces', `--conf-file=${paths.dnsmasqConf}`]),
    );
    expect(sc.args.join(' ')).toContain('--port 5400 --listen-address 127.0.0.1');
  });

  it('starts herald with the generated config dir and DNS port, or says why it cannot', async () => {
    const missing = await serverCommand('herald', 5500, { ...ctx, repoRoot: work });
    expect(missing).toEqual({ skip: expect.stringContaining('src/cli/herald.mjs does not exist') });
    const sc = await serverCommand('herald', 5500, { ...ctx, cpu: undefined, heraldExtraArgs: ['-http-port', '18500'] });
    if ('skip' in sc) return; // the CLI is not in this checkout
    const auto = await serverCommand('herald', 5500, ctx);
    if ('skip' in auto) throw new Error(auto.skip);
    // Without an explicit -http-port the harness gives HTTP a free port of its own.
    expect(auto.args.slice(-2)[0]).toBe('-http-port');
    expect(Number(auto.args.at(-1))).toBeGreaterThan(0);
    expect(sc.cmd).toBe(process.execPath);
    expect(sc.args).toEqual([
      join(REPO, 'src/cli/herald.mjs'), 'agent', '-dev', '-config-dir', paths.heraldConfigDir,
      '-dns-port', '5500', '-log-level', 'warn', '-http-port', '18500',
    ]);
  });
});

describe('waitReady', () => {
  it('fails fast, with the output, when the server exits', async () => {
    const reaper = new ProcessReaper();
    const p = await reaper.spawn('dies', 'sh', ['-c', 'echo "bad config line 3" >&2; exit 3']);
    await expect(waitReady(await freePort(), [{ name: 'x.consul', type: 'A', minAnswers: 1 }], p, 10_000)).rejects.toThrow(
      /exited \(code 3\).*bad config line 3/s,
    );
  });

  it('gives up at the deadline when nothing answers', async () => {
    const reaper = new ProcessReaper();
    const p = await reaper.spawn('silent', 'sleep', ['30']);
    try {
      await expect(waitReady(await freePort(), [{ name: 'x.consul', type: 'A', minAnswers: 1 }], p, 600)).rejects.toThrow(/not ready within 600 ms/);
    } finally {
      await reaper.stopAll();
    }
  });
});

describe.skipIf(!has('knotd') || !has('dnsmasq'))('real Knot and dnsmasq on the generated data', () => {
  it('start pinned, become ready, and give the same answers', async () => {
    const reaper = new ProcessReaper();
    try {
      const knot = await startServer(reaper, 'knot', ctx);
      const dnsmasq = await startServer(reaper, 'dnsmasq', ctx);
      if ('skipped' in knot) throw new Error(knot.skipped);
      if ('skipped' in dnsmasq) throw new Error(dnsmasq.skipped);
      expect(groupAffinity(knot.process.pid)).toEqual(['0']);
      expect(groupAffinity(dnsmasq.process.pid)).toEqual(['0']);
      for (const [name, type] of [
        ['web-19.service.consul', 'A'],
        ['_web-4._tcp.service.consul', 'SRV'],
        ['web-5.service.consul', 'SRV'],
        ['missing-2.service.consul', 'A'],
      ] as const) {
        const k = await queryUdp({ port: knot.port, name, type, timeoutMs: 1000 });
        const d = await queryUdp({ port: dnsmasq.port, name, type, timeoutMs: 1000 });
        expect(replyContent(d)).toBe(replyContent(k));
        if (type === 'SRV') {
          expect(k.answers).toHaveLength(3);
          expect(k.additionals.filter((a) => a.type === 'A')).toHaveLength(3);
        }
      }
    } finally {
      expect(await reaper.stopAll()).toEqual([]);
    }
    expect(reaper.running()).toEqual([]);
  });
});
