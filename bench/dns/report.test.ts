import { describe, expect, it } from 'vitest';
import type { DnsperfResult } from './dnsperf.ts';
import {
  boundBy,
  evaluateTargets,
  fmtQps,
  median,
  quietSubset,
  ratios,
  renderMarkdown,
  shortReason,
  summarize,
  type BenchReport,
  type QueryKind,
  type RunRecord,
} from './report.ts';

function result(qps: number, lost = 0, extra: Partial<DnsperfResult> = {}): DnsperfResult {
  return {
    sent: qps * 3,
    completed: qps * 3 - lost,
    lost,
    timeouts: lost,
    rcodes: { NOERROR: qps * 3 - lost },
    requestBytes: 41,
    responseBytes: 150,
    runTimeS: 3,
    qps,
    latencyAvgUs: 200_000_000 / qps,
    latencyMinUs: 20,
    latencyMaxUs: 5000,
    latencyStddevUs: 300,
    ...extra,
  };
}

/** Three reps of every query set for each server at the given QPS. */
function runsFor(qps: Record<string, number>, lost: Record<string, number> = {}): RunRecord[] {
  const runs: RunRecord[] = [];
  for (const query of ['a', 'srv', 'nx', 'mix'] as QueryKind[]) {
    for (const [server, q] of Object.entries(qps)) {
      for (const [rep, f] of [[1, 0.98], [2, 1], [3, 1.04]] as const) {
        runs.push({ rep, server, query, result: result(Math.round(q * f), rep === 2 ? (lost[server] ?? 0) : 0), serverBusy: 0.99, clientBusy: 0.6 });
      }
    }
  }
  return runs;
}

describe('median', () => {
  it('takes the middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('gives median with min–max, summed losses, and counts failed runs', () => {
    const runs = runsFor({ herald: 100_000 }, { herald: 3 });
    runs.push({ rep: 4, server: 'herald', query: 'mix', error: 'dnsperf exited 1', contended: true });
    const cells = summarize(runs, ['herald']);
    const mix = cells.find((c) => c.query === 'mix')!;
    expect(mix.qps).toEqual({ median: 100_000, min: 98_000, max: 104_000 });
    expect(mix.runs).toBe(4);
    expect(mix.failed).toBe(1);
    expect(mix.lost).toBe(3);
    expect(mix.contended).toBe(1);
    expect(mix.serverBusy).toBeCloseTo(0.99);
    expect(cells.map((c) => c.query)).toEqual(['a', 'srv', 'nx', 'mix']);
  });
});

describe('ratios and targets', () => {
  it('passes when herald is >= 0.9 x the node ceiling, >= 2 x dnsmasq on SRV and mix, and loses nothing', () => {
    const cells = summarize(runsFor({ herald: 95_000, 'node-responder': 100_000, dnsmasq: 40_000, knot: 200_000 }), [
      'herald',
      'node-responder',
      'dnsmasq',
      'knot',
    ]);
    const mix = ratios(cells).find((r) => r.query === 'mix')!;
    expect(mix.heraldOverNode).toBeCloseTo(0.95);
    expect(mix.heraldOverDnsmasq).toBeCloseTo(2.375);
    expect(mix.knotOverHerald).toBeCloseTo(200 / 95);
    const t = evaluateTargets(cells);
    expect(t).toHaveLength(7);
    expect(t.every((x) => x.pass === true)).toBe(true);
  });

  it('fails each target it misses, and says so per query set', () => {
    const cells = summarize(runsFor({ herald: 85_000, 'node-responder': 100_000, dnsmasq: 45_000 }, { herald: 2 }), [
      'herald',
      'node-responder',
      'dnsmasq',
    ]);
    const t = evaluateTargets(cells);
    expect(t.filter((x) => x.target.startsWith('herald >= 0.90')).every((x) => x.pass === false)).toBe(true);
    expect(t.find((x) => x.target === 'herald >= 2 x dnsmasq QPS (srv)')!.pass).toBe(false);
    const lost = t.find((x) => x.target === 'herald loses no queries')!;
    expect(lost.pass).toBe(false);
    expect(lost.measured).toMatch(/^8 lost of /);
  });

  it('marks targets "not measured" when herald did not run, and falls back to the default-buffer responder', () => {
    const cells = summarize(runsFor({ 'node-responder-defbuf': 50_000, dnsmasq: 20_000 }), ['node-responder-defbuf', 'dnsmasq']);
    const t = evaluateTargets(cells);
    expect(t.every((x) => x.pass === undefined)).toBe(true);
    expect(t[0]!.target).toContain('node-responder-defbuf');
    expect(ratios(cells)[0]!.nodeOverDnsmasq).toBeCloseTo(2.5);
  });
});

describe('quietSubset', () => {
  it('recomputes everything over the uncontended runs, and is absent when no run was contended', () => {
    const runs = runsFor({ herald: 90_000, 'node-responder': 100_000 });
    expect(quietSubset(runs, ['herald', 'node-responder'])).toBeUndefined();
    // Herald's slowest run of each set was contended: without it the median moves up.
    for (const r of runs) if (r.server === 'herald' && r.rep === 1) r.contended = true;
    const q = quietSubset(runs, ['herald', 'node-responder'])!;
    expect(q.runs).toBe(runs.length - 4);
    expect(q.cells.find((c) => c.server === 'herald' && c.query === 'a')!.qps).toEqual({ median: 91_800, min: 90_000, max: 93_600 });
    expect(q.targets[0]!.pass).toBe(true);
  });
});

describe('formatting', () => {
  it('formats QPS, the limiting side and short failure reasons', () => {
    expect(fmtQps(123_456)).toBe('123.5k');
    expect(fmtQps(999)).toBe('999');
    expect(boundBy({ serverBusy: 0.99, clientBusy: 0.99 })).toBe('server');
    expect(boundBy({ serverBusy: 0.7, clientBusy: 0.99 })).toBe('dnsperf');
    expect(boundBy({ serverBusy: 0.5, clientBusy: 0.5 })).toBe('neither');
    expect(shortReason('exited (code 1) before answering: node:internal\n  at x\nError [ERR_MODULE_NOT_FOUND]: Cannot find module')).toBe(
      'exited (code 1) before answering: node:internal … Error [ERR_MODULE_NOT_FOUND]: Cannot find module',
    );
  });

  it('renders the tables with every server, ratio and target', () => {
    const cells = summarize(runsFor({ herald: 95_000, 'node-responder': 100_000, dnsmasq: 40_000 }), ['herald', 'node-responder', 'dnsmasq']);
    const report: BenchReport = {
      startedAt: 't0',
      finishedAt: 't1',
      command: 'bash bench/dns/run.sh',
      options: {},
      machine: { nproc: '2' },
      servers: [
        { name: 'herald', status: 'ran', port: 1, readyMs: 10, affinity: ['0'], rssKiBReady: 51200, rssKiBAfter: 61440, hwmKiBAfter: 65536 },
        { name: 'knot', status: 'skipped', reason: 'cannot start knotd: ENOENT' },
      ],
      answers: [{ server: 'herald', question: 'web-0.service.consul A', bytes: 86, rcode: 'NOERROR', answers: 3, authority: 0, additional: 0, sameAsKnot: true }],
      runs: [{ rep: 1, server: 'herald', query: 'a', contended: true }, { rep: 1, server: 'herald', query: 'srv' }],
      cells,
      ratios: ratios(cells),
      targets: evaluateTargets(cells),
    };
    const md = renderMarkdown(report);
    expect(md).toContain('| herald | ran | 1 | 10 | 0 | 50.0 | 60.0 | 64.0 |');
    expect(md).toContain('| knot | skipped: cannot start knotd: ENOENT |');
    expect(md).toContain('| mix | herald | **95.0k** (93.1k–98.8k) |');
    expect(md).toContain('| mix | 0.95× | 2.38× | n/a |');
    expect(md).toContain('| herald >= 2 x dnsmasq QPS (mix) | 2.38× | PASS |');
    expect(md).toContain('| herald | web-0.service.consul A | NOERROR | 3 / 0 / 0 | 86 | yes |');
    expect(md).toContain('**Warning:** 1 of 2 runs had other work on the bench cores');
    expect(md).toMatch(/\| mix \| herald \| .* \| server \| n\/a \| 0\/3 \| NOERROR/);
    expect(md).not.toContain('Uncontended runs only');
    const withQuiet = renderMarkdown({ ...report, quiet: { runs: 1, cells: [], ratios: [], targets: [] } });
    expect(withQuiet).toContain('#### Uncontended runs only (1 of 2)');
  });
});
