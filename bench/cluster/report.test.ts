import { describe, expect, it } from 'vitest';
import { parseOptions } from './orchestrate.ts';
import {
  dnsFlipSummary,
  judgeTargets,
  renderMarkdown,
  throughputSummary,
  type ClusterBenchReport,
  type DnsFlip,
  type DnsPropagationResult,
  type SystemResult,
  type ThroughputRun,
} from './report.ts';
import { percentile, summarizeMs } from './stats.ts';

const tput = (rep: number, okPerSec: number, p99Ms: number): ThroughputRun => ({
  rep, reqPerSec: okPerSec, okPerSec, p50Ms: 1, p99Ms, errors: 0, non2xx: 0, leaderCores: 0.5, core0Busy: 0.9, core1Busy: 0.5,
});

/** Flips alternating critical/passing with B's times `remote` (undefined: never reflected); A and HTTP at half. */
const flipsOf = (remote: (number | undefined)[]): DnsFlip[] =>
  remote.map((ms, i) => ({
    flip: i + 1,
    to: i % 2 === 0 ? 'critical' : 'passing',
    remoteMs: ms,
    localMs: ms === undefined ? undefined : ms / 2,
    httpMs: 1,
    httpStatus: 200,
    remoteRcode: ms === undefined ? '' : i % 2 === 0 ? 'NXDOMAIN' : 'NOERROR',
  }));

function propagation(remote: (number | undefined)[], extra: Partial<DnsPropagationResult> = {}): DnsPropagationResult {
  const flips = flipsOf(remote);
  return {
    trigger: 'ttl', path: 'A -> h2, B -> h3', timed: 'send to answer', pollIntervalMs: 2,
    pollGap: { remote: summarizeMs([2, 2.5, 3]), local: summarizeMs([2, 2]) }, lostQueries: 1,
    flips, ...dnsFlipSummary(flips), coreBusy: [0.3, 0.2], ...extra,
  };
}

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
    expect(rows.map((r) => r.met)).toEqual([true, true, true, true, true, true, undefined]);
    expect(rows[4]!.herald).toBe('2,100/s');
    expect(rows[0]!.etcd).toBe('1100 ms');

    const failed = system('herald', [400, undefined], [5], [tput(1, 100, 500)]);
    const bad = judgeTargets([failed]);
    expect(bad.map((r) => r.met)).toEqual([false, false, false, true, false, false, undefined]);
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

  it('summarises the flips per direction and counts unreflected flips and refused requests as failures, not samples', () => {
    const flips = flipsOf([10, 20, 30, undefined, 50, 60]);
    flips[1]!.httpStatus = 500;
    const s = dnsFlipSummary(flips);
    expect([s.remote.n, s.remote.p50, s.remote.max, s.remoteFailures]).toEqual([5, 30, 60, 1]);
    // critical: flips 1, 3, 5 (10, 30, 50); passing: 2, 4, 6 (20, never, 60).
    expect([s.remoteToCritical.n, s.remoteToCritical.p50, s.remoteToPassing.n, s.remoteToPassing.max]).toEqual([3, 30, 2, 60]);
    expect([s.local.n, s.local.max, s.localFailures]).toEqual([5, 30, 1]);
    expect([s.http.n, s.httpFailures]).toEqual([5, 1]);
  });

  it('judges G6 on client B\'s p99, fails it on an unreflected flip or a phase cut short, and renders its table', () => {
    const herald = system('herald', [400], [1], [tput(1, 2500, 40)]);
    const etcd = system('etcd', [1100], [2], [tput(1, 1500, 90)]);
    const g6 = (h: SystemResult) => judgeTargets([h, etcd])[6]!;
    expect(g6(herald)).toMatchObject({ herald: 'not run', met: undefined });
    // 100 flips: p99 is the 99th smallest, so one slow flip of 100 does not fail it, two do.
    const times = Array.from({ length: 100 }, (_, i) => 5 + (i % 10));
    herald.dnsPropagation = propagation([...times.slice(0, 99), 1500]);
    expect(g6(herald)).toEqual({ target: 'G6 DNS propagation p99 <= 1000 ms (health flip on client A -> DNS on client B)', herald: '14 ms', etcd: 'n/a (no DNS)', met: true });
    herald.dnsPropagation = propagation([...times.slice(0, 98), 1500, 1200]);
    expect(g6(herald)).toMatchObject({ herald: '1200 ms', met: false });
    herald.dnsPropagation = propagation([...times.slice(0, 99), undefined]);
    expect(g6(herald)).toMatchObject({ herald: '14 ms (1 failed)', met: false });
    herald.dnsPropagation = propagation(times, { stopped: 'not settled' });
    expect(g6(herald).met).toBe(false);

    herald.dnsPropagation = propagation([100, 200, undefined, 400]);
    const md = renderMarkdown({
      when: 'w', command: 'c', machine: {}, options: {}, systems: [herald, etcd], targets: judgeTargets([herald, etcd]), notes: [], todo: [],
    });
    expect(md).toContain('| G6 DNS propagation p99 <= 1000 ms (health flip on client A -> DNS on client B) | 400 ms (1 failed) | n/a (no DNS) | FAIL |');
    expect(md).toContain("| client B's DNS (another agent), every flip | 4 (1) | 200 / 400 / 400 |");
    expect(md).toContain('| client B, check -> critical (A record gone) | 2 (1) | 100 / 100 / 100 |');
    expect(md).toContain('| client B, check -> passing (A record back) | 2 (0) | 200 / 400 / 400 |');
    expect(md).toContain("| client A's own DNS (local path, reference; A's replica is fed by the stream too) | 4 (1) | 100 / 200 / 200 |");
    expect(md).toContain('| flip request answered by A (HTTP; before the catalog write commits) | 4 (0) | 1.00 / 1.00 / 1.00 |');
    expect(md).toContain('- G6 timed: send to answer');
    expect(md).toContain('- G6 resolution: each client\'s DNS asked every 2 ms (one query outstanding); achieved gap between queries p50 / p99 / max: B 2.50 / 3.00 / 3.00 ms, A 2.00 / 2.00 / 2.00 ms; 1 queries lost');
    expect(md).not.toContain('stopped early');
  });

  it('parses flags over environment over defaults, and refuses unknown flags and systems', () => {
    const d = parseOptions([], {});
    expect([d.trials, d.writes, d.durationSec, d.reps, d.connections, d.flips, d.dnsPollMs, d.serverCpus, d.clientCpu, d.systems]).toEqual([30, 2000, 10, 3, 64, 100, 2, '0', 1, ['herald', 'etcd']]);
    const o = parseOptions(['--trials', '3', '--systems=herald', '--flips', '0'], { BENCH_TRIALS: '7', BENCH_WRITES: '200', BENCH_FLIPS: '20' });
    expect([o.trials, o.writes, o.systems, o.flips]).toEqual([3, 200, ['herald'], 0]);
    expect(() => parseOptions(['--dns-poll-ms', '0'], {})).toThrow(/--dns-poll-ms/);
    expect(() => parseOptions(['--bogus', '1'], {})).toThrow(/unknown flag --bogus/);
    expect(() => parseOptions(['--systems', 'consul'], {})).toThrow(/unknown "consul"/);
    expect(() => parseOptions(['--server-cpus', 'all'], {})).toThrow(/taskset CPU list/);
  });
});
