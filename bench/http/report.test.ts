import { describe, expect, it } from 'vitest';
import { parseAutocannonJson, type LoadResult } from './autocannon-run.ts';
import { parseOptions } from './orchestrate.ts';
import { median, renderMarkdown, summarize, type HttpBenchReport, type RunRecord } from './report.ts';

const load = (reqPerSec: number, p99: number, non2xx = 0): LoadResult => ({
  url: 'u', reqPerSec, totalRequests: reqPerSec * 10, latencyP50Ms: 1, latencyP99Ms: p99, latencyAvgMs: 1, bytesPerSec: 1, errors: 0, timeouts: 0, non2xx,
});
const run = (endpoint: string, server: 'herald' | 'ceiling', rep: number, qps: number, p99: number, non2xx = 0): RunRecord => ({
  endpoint, server, rep, load: load(qps, p99, non2xx), serverCores: 1, serverCoreBusy: 1, clientCoreBusy: 0.5, contended: false,
});

describe('HTTP bench report', () => {
  it('takes medians', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(() => median([])).toThrow();
  });

  it('summarizes per endpoint: medians, ratio, target, failures', () => {
    const runs = [
      run('/a', 'herald', 1, 7000, 5), run('/a', 'ceiling', 1, 10000, 3),
      run('/a', 'herald', 2, 8000, 6), run('/a', 'ceiling', 2, 10000, 3),
      run('/a', 'herald', 3, 9000, 7, 2), run('/a', 'ceiling', 3, 12000, 4),
      run('/b', 'herald', 1, 5000, 9), run('/b', 'ceiling', 1, 10000, 2),
    ];
    const [a, b] = summarize(runs);
    expect(a).toMatchObject({ endpoint: '/a', ratio: 0.8, meetsTarget: true, failures: 2 });
    expect(a!.herald).toMatchObject({ reqPerSec: 8000, p99Ms: 6, min: 7000, max: 9000 });
    expect(b).toMatchObject({ endpoint: '/b', ratio: 0.5, meetsTarget: false });
    // Contended runs are left out of quietRatio, and with none left for a server it is undefined.
    const noisy = [...runs.slice(0, 6)];
    noisy[0] = { ...noisy[0]!, contended: true }; // herald 7000 out: herald median 8500
    expect(summarize(noisy)[0]!.quietRatio).toBeCloseTo(8500 / 10000);
    expect(summarize(runs.slice(6).map((r) => ({ ...r, contended: true })))[0]!.quietRatio).toBeUndefined();
  });

  it('renders the RESULTS.md section with the figures', () => {
    const runs = [run('/v1/catalog/services', 'herald', 1, 8000, 5), run('/v1/catalog/services', 'ceiling', 1, 10000, 3)];
    const report: HttpBenchReport = {
      when: '2026-01-01T00:00:00.000Z', command: 'npm run bench:http',
      machine: { cpuModel: 'CPU', cpus: 2, kernel: '6', node: 'v20', herald: '0.1.0', fastify: '5', autocannon: '9', serverCpu: 0, clientCpu: 1 },
      options: { durationSec: 10, reps: 1, connections: 50, pipelining: 1, services: 50, instances: 3, watchers: 10000 },
      bodies: { '/v1/catalog/services': 1234 }, runs, summaries: summarize(runs),
      watchers: {
        requested: 10000, written: 10000, parkedGauge: 10000, services: 50, rssBeforeKiB: 102400, rssParkedKiB: 153600, parkedCpuCores: 0.004,
        windowSec: 5, returnedBeforeChange: 0, changedService: 'svc-07', expectedReturns: 200, returnedForChanged: 200, returnedOthers: 0, allReturnedMs: 40, parkErrors: 0,
      },
      notes: [],
    };
    const md = renderMarkdown(report);
    expect(md).toContain('| `GET /v1/catalog/services` | 1,234 | 8,000 (8,000–8,000) | 5 ms | 10,000 (10,000–10,000) | 3 ms | 0.80 | 0.80 | met |');
    expect(md).toContain('| agent RSS with all parked | 150.0 MiB (+50.0 MiB, 5243 B per watcher) |');
    expect(md).toContain('| returned after one check of `svc-07` failed | 200 of 200 watching it |');
    expect(md).toContain('0.4% of a core');
  });

  it('reads autocannon --json output', () => {
    const out = JSON.stringify({
      requests: { average: 12345.6, total: 123456 }, latency: { p50: 3, p99: 11, average: 3.9 }, throughput: { average: 999 }, errors: 1, timeouts: 2, non2xx: 3,
    });
    expect(parseAutocannonJson('http://x/', `noise\n${out}\n`)).toEqual({
      url: 'http://x/', reqPerSec: 12345.6, totalRequests: 123456, latencyP50Ms: 3, latencyP99Ms: 11, latencyAvgMs: 3.9, bytesPerSec: 999, errors: 1, timeouts: 2, non2xx: 3,
    });
    expect(() => parseAutocannonJson('http://x/', 'nothing')).toThrow(/no JSON/);
  });

  it('parses flags over environment over defaults, and refuses unknown or bad ones', () => {
    const o = parseOptions(['--duration', '3', '--watchers=0'], { BENCH_REPS: '5', BENCH_DURATION: '9' });
    expect(o).toMatchObject({ durationSec: 3, reps: 5, watchers: 0, connections: 50, services: 50, instances: 3, serverCpu: 0, clientCpu: 1 });
    expect(() => parseOptions(['--nope', '1'], {})).toThrow(/unknown flag --nope/);
    expect(() => parseOptions(['--reps', '0'], {})).toThrow(/--reps/);
  });
});
