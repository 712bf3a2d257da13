import { describe, expect, it } from 'vitest';
import { parseOptions } from './orchestrate.ts';
import { judgeTargets, renderMarkdown, throughputSummary, type ClusterBenchReport, type SystemResult, type ThroughputRun } from './report.ts';
import { percentile, summarizeMs } from './stats.ts';

const tput = (rep: number, okPerSec: number, p99Ms: number): ThroughputRun => ({
  rep, reqPerSec: okPerSec, okPerSec, p50Ms: 1, p99Ms, errors: 0, non2xx: 0, leaderCores: 0.5, core0Busy: 0.9, core1Busy: 0.5,
});

function system(kind: 'herald' | 'etcd', failoverMs: (number | undefined)[], seqMs: number[], runs: ThroughputRun[]): SystemResult {
  const ok = failoverMs.filter((x): x is number => x !== undefined);
  return {
    kind,
    version: kind === 'herald' ? '0.1.0' : '3.4.23',
    settings: 'defaults',
    sequential: { summary: summarizeMs(seqMs), failures: 0, coreBusy: [0.5, 0.4] },
    throughput: { runs, ...throughputSummary(runs) },
    failover: {
      trials: failoverMs.map((ms, i) => ({ trial: i + 1, killed: 'a', writeThrough: 'b', ms, attempts: 3, lastRefusal: '', newLeader: 'c', catchUpMs: 100 })),
      summary: summarizeMs(ok),
      failures: failoverMs.length - ok.length,
      coreBusy: [0.2, 0.1],
    },
  };
}

describe('cluster bench statistics and report', () => {
  it('takes nearest-rank percentiles: p99 of 30 trials is the worst trial, p50 of 100 samples the 50th', () => {
    const thirty = Array.from({ length: 30 }, (_, i) => i + 1);
    expect(percentile(thirty, 99)).toBe(30);
    expect(percentile(thirty, 50)).toBe(15);
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 0)).toThrow(/outside/);
    expect(summarizeMs([3, 1, 2])).toEqual({ n: 3, p50: 2, p99: 3, max: 3, mean: 2 });
  });

  it('judges the targets on Herald, fails the failover targets when a trial got no write acknowledged, and renders both systems', () => {
    const herald = system('herald', [400, 500, 600], [1, 1.5, 3], [tput(1, 2500, 40), tput(2, 1900, 60), tput(3, 2100, 45)]);
    const etcd = system('etcd', [1100, 1200], [2, 3], [tput(1, 1500, 90)]);
    const rows = judgeTargets([herald, etcd]);
    expect(rows.map((r) => r.met)).toEqual([true, true, true, true, true, true]);
    expect(rows[4]!.herald).toBe('2,100/s');
    expect(rows[0]!.etcd).toBe('1100 ms');

    const failed = system('herald', [400, undefined], [5], [tput(1, 100, 500)]);
    const bad = judgeTargets([failed]);
    expect(bad.map((r) => r.met)).toEqual([false, false, false, true, false, false]);
    expect(bad[0]!.herald).toBe('400 ms (1 failed)');
    expect(bad[0]!.etcd).toBe('not run');

    const report: ClusterBenchReport = {
      when: '2026-01-01T00:00:00.000Z', command: 'npm run bench:cluster', machine: { node: 'v20' }, options: { 'failover trials': 3 },
      systems: [herald, etcd], targets: rows, notes: ['n1'], todo: ['G6 later'],
    };
    const md = renderMarkdown(report);
    expect(md).toContain('## Cluster: 3 Herald servers vs 3 etcd members (2026-01-01T00:00:00.000Z)');
    expect(md).toContain('| G1 failover p50 <= 1000 ms | 500 ms | 1100 ms | PASS |');
    expect(md).toContain('| herald | 3 (0) | 500 / 600 / 600 | 3 (0) | 1.50 / 3.00 / 3.00 | 20 % / 10 %; 50 % / 40 % |');
    expect(md).toContain('| etcd | 1 | 1,500 | 1,500 | 1 | 90 | 0 | 0 | 0.50 | 90 % / 50 % |');
    expect(md).toContain('- TODO: G6 later');
  });

  it('parses flags over environment over defaults, and refuses unknown flags and systems', () => {
    const d = parseOptions([], {});
    expect([d.trials, d.writes, d.durationSec, d.reps, d.connections, d.serverCpus, d.clientCpu, d.systems]).toEqual([30, 2000, 10, 3, 64, '0', 1, ['herald', 'etcd']]);
    const o = parseOptions(['--trials', '3', '--systems=herald'], { BENCH_TRIALS: '7', BENCH_WRITES: '200' });
    expect([o.trials, o.writes, o.systems]).toEqual([3, 200, ['herald']]);
    expect(() => parseOptions(['--bogus', '1'], {})).toThrow(/unknown flag --bogus/);
    expect(() => parseOptions(['--systems', 'consul'], {})).toThrow(/unknown "consul"/);
    expect(() => parseOptions(['--server-cpus', 'all'], {})).toThrow(/taskset CPU list/);
  });
});
