import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../http/autocannon-run.ts';
import { parseOptions } from './orchestrate.ts';
import { judgeTargets, median, okPerSec, renderMarkdown, summarize, type KvBenchReport, type KvRunRecord } from './report.ts';

const load = (reqPerSec: number, p99: number, non2xx = 0): LoadResult => ({
  url: 'u', reqPerSec, totalRequests: reqPerSec * 10, latencyP50Ms: 1, latencyP99Ms: p99, latencyAvgMs: 1, bytesPerSec: 1, errors: 0, timeouts: 0, non2xx,
});
const run = (c: 'put' | 'get', server: 'herald' | 'etcd' | 'ceiling', rep: number, qps: number, p99: number, non2xx = 0): KvRunRecord => ({
  case: c, server, rep, load: load(qps, p99, non2xx), durationSec: 10, serverCores: 0.9, serverCoreBusy: 1, clientCoreBusy: 0.6, contended: false,
});

describe('KV bench report', () => {
  it('counts only 2xx answers as acknowledged', () => {
    expect(okPerSec(run('put', 'herald', 1, 6000, 5))).toBe(6000);
    // A tenth of the answers were not 2xx: a tenth of the rate is not acknowledged.
    expect(okPerSec(run('put', 'herald', 1, 6000, 5, 6000))).toBeCloseTo(5400);
    expect(median([5, 1, 3])).toBe(3);
  });

  it('summarizes per case and server and judges the targets on the medians', () => {
    const runs = [
      run('put', 'herald', 1, 5200, 12), run('put', 'herald', 2, 4800, 25), run('put', 'herald', 3, 5600, 14),
      run('put', 'etcd', 1, 9000, 8), run('put', 'etcd', 2, 9500, 9), run('put', 'etcd', 3, 9100, 9),
      run('get', 'herald', 1, 14_000, 6), run('get', 'ceiling', 1, 20_000, 4), run('get', 'etcd', 1, 11_000, 7),
    ];
    const s = summarize(runs);
    expect(s.map((x) => `${x.case}/${x.server}`)).toEqual(['put/herald', 'put/etcd', 'get/herald', 'get/etcd', 'get/ceiling']);
    expect(s[0]).toMatchObject({ reqPerSec: 5200, okPerSec: 5200, min: 4800, max: 5600, p99Ms: 14, p99MaxMs: 25, failures: 0, runs: 3 });
    const t = judgeTargets(s);
    expect(t.map((x) => x.met)).toEqual([true, true, true]);
    expect(t[2]!.measured).toBe('0.70x');
    // Writes acknowledged too slowly, or with a long tail, fail; a missing case is "not measured".
    const slow = judgeTargets(summarize([run('put', 'herald', 1, 4000, 30)]));
    expect(slow.map((x) => x.met)).toEqual([false, false, undefined]);
  });

  it('renders the RESULTS.md section with the figures, the ratios and the verdicts', () => {
    const runs = [run('put', 'herald', 1, 6000, 12), run('put', 'etcd', 1, 9000, 8), run('get', 'herald', 1, 12_000, 5), run('get', 'ceiling', 1, 20_000, 4)];
    const summaries = summarize(runs);
    const report: KvBenchReport = {
      when: '2026-11-25T12:00:00.000Z', command: 'npm run bench:kv', machine: { cpu: 'test cpu' }, options: { connections: 64 },
      workloads: { 'put herald': 'PUT ...' }, runs, summaries, targets: judgeTargets(summaries), checks: ['Herald holds 6 keys'], notes: ['a note'],
    };
    const md = renderMarkdown(report);
    expect(md).toContain('| put | herald | **6,000** (6,000–6,000) | 6,000 | 1 | 12 (12) | 0.90 | 100 % | 60 % | 0 | 0/1 |');
    expect(md).toContain('| put | 0.67x | 12 / 8 |');
    expect(md).toContain('| Herald GET >= 0.70 x ceiling | 0.60x | FAIL |');
    expect(md).toContain('| Herald PUT >= 5,000 acknowledged/s (64 clients) | 6,000/s | PASS |');
    expect(md).toContain('- Check: Herald holds 6 keys');
  });

  it('parses flags over environment over defaults', () => {
    const d = parseOptions([], {});
    expect(d).toMatchObject({ durationSec: 10, reps: 3, connections: 64, valueBytes: 100, cases: ['put', 'get'], servers: ['herald', 'etcd'], storageEngine: 'rocksdb', serverCpu: 0, clientCpu: 1 });
    expect(parseOptions(['--duration', '1', '--servers=herald', '--storage-engine='], { BENCH_REPS: '1' })).toMatchObject({ durationSec: 1, reps: 1, servers: ['herald'], storageEngine: '' });
    expect(() => parseOptions(['--cases', 'scan'], {})).toThrow(/unknown "scan"/);
    expect(() => parseOptions(['--bogus', '1'], {})).toThrow(/unknown flag --bogus/);
  });
});
