import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { queryUdp } from './dns-probe.ts';
import { parseOptions, runBench } from './orchestrate.ts';
import type { BenchReport } from './report.ts';

const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe('parseOptions', () => {
  it('defaults to the issue run: 3 reps x 3 s, every server and query set, 200 services, server core 0, dnsperf core 1', () => {
    const o = parseOptions([], {});
    expect(o).toMatchObject({
      duration: 3,
      reps: 3,
      servers: ['herald', 'knot', 'dnsmasq', 'node-responder', 'node-responder-defbuf'],
      queries: ['a', 'srv', 'nx', 'mix'],
      services: 200,
      seed: 1,
      warmup: 1,
      serverCpu: 0,
      clientCpu: 1,
      heraldArgs: [],
      quietWait: 30,
      quietBusy: 0.15,
      quietBudget: 300,
      keep: false,
    });
    expect(o.out.endsWith('/bench/out')).toBe(true);
  });

  it('takes environment variables, and flags over them', () => {
    const o = parseOptions(['--reps', '2', '--servers=knot,herald', '--keep', '--herald-args', '-http-port 18500'], {
      BENCH_REPS: '5',
      BENCH_SERVICES: '10000',
      BENCH_DURATION: '1.5',
    });
    expect(o).toMatchObject({ reps: 2, services: 10000, duration: 1.5, servers: ['knot', 'herald'], keep: true, heraldArgs: ['-http-port', '18500'] });
  });

  it('refuses unknown flags, unknown servers and bad numbers', () => {
    expect(() => parseOptions(['--nope', '1'], {})).toThrow(/unknown flag --nope/);
    expect(() => parseOptions(['--servers', 'bind'], {})).toThrow(/unknown "bind"/);
    expect(() => parseOptions(['--reps', '1.5'], {})).toThrow(/positive integer/);
    expect(() => parseOptions(['--duration', '0'], {})).toThrow(/positive number/);
    expect(() => parseOptions(['--server-cpu', 'x'], {})).toThrow(/CPU number/);
    expect(() => parseOptions(['--duration'], {})).toThrow(/needs a value/);
    expect(() => parseOptions(['--quiet-wait', '-1'], {})).toThrow(/>= 0/);
  });
});

describe.skipIf(!has('dnsperf') || !has('knotd') || !has('taskset'))('runBench end to end (real servers, real dnsperf)', () => {
  it('measures every server and query set, writes the JSON, and leaves no server running', async () => {
    const out = await mkdtemp(join(tmpdir(), 'bench-out-'));
    try {
      const opts = parseOptions(['--servers', 'knot,node-responder', '--queries', 'a,mix', '--reps', '1', '--duration', '0.5', '--warmup', '0.3', '--services', '20', '--quiet-wait', '0', '--out', out], {});
      const report = await runBench(opts, 'test');
      expect(report.servers.map((s) => [s.name, s.status])).toEqual([
        ['knot', 'ran'],
        ['node-responder', 'ran'],
      ]);
      expect(report.cells.map((c) => `${c.query}/${c.server}`)).toEqual(['a/knot', 'a/node-responder', 'mix/knot', 'mix/node-responder']);
      for (const c of report.cells) {
        expect(c.failed).toBe(0);
        expect(c.qps!.median).toBeGreaterThan(0);
      }
      expect(report.cells.find((c) => c.query === 'mix' && c.server === 'knot')!.rcodes.NXDOMAIN).toBeGreaterThan(0);
      expect(report.answers.find((a) => a.server === 'knot' && a.question === '_web-0._tcp.service.consul SRV')).toMatchObject({
        rcode: 'NOERROR',
        answers: 3,
        additional: 3,
      });
      expect(report.machine.nproc).toMatch(/^\d+$/);
      for (const r of report.runs) {
        expect(r.backgroundBusy).toBeGreaterThanOrEqual(0);
        expect(r.foreignBusy).toBeGreaterThanOrEqual(0);
        expect(r.serverBusy).toBeGreaterThan(0);
      }
      const files = execFileSync('ls', [out], { encoding: 'utf8' }).trim().split('\n');
      const json = files.find((f) => f.endsWith('.json'))!;
      expect(files).toContain(json.replace(/\.json$/, '.md'));
      expect((JSON.parse(readFileSync(join(out, json), 'utf8')) as BenchReport).cells).toHaveLength(4);
      // Every server was stopped: its port no longer answers.
      for (const s of report.servers) {
        await expect(queryUdp({ port: s.port!, name: 'web-0.service.consul', type: 'A', timeoutMs: 200 })).rejects.toThrow();
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 30_000);
});
