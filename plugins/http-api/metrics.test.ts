import { describe, expect, it } from 'vitest';
import { collectMetrics, metricsJson, metricsPrometheus } from './metrics.ts';

const dns = { queries: 7, hits: 5, misses: 2, dropped: 0, formerr: 0, notimp: 0, refused: 1, servfail: 0, truncated: 0, hookErrors: 0 };
const snapshot = () =>
  collectMetrics(
    { counts: () => ({ nodes: 2, services: 3, checks: 4 }), lastIndex: 42n },
    { dnsStats: () => dns, startedAt: Date.parse('2026-01-01T00:00:00Z') },
    9,
    new Date('2026-01-01T00:00:10Z'),
  );

describe('metrics', () => {
  it('JSON is Consul MetricsInfo with the DNS counters and catalog gauges', () => {
    const j = metricsJson(snapshot()) as { Timestamp: string; Gauges: { Name: string; Value: number }[]; Counters: { Name: string; Count: number; Rate: number }[]; Points: unknown[]; Samples: unknown[] };
    expect(j.Timestamp).toBe('2026-01-01 00:00:10 +0000 UTC');
    expect(j.Points).toEqual([]);
    expect(j.Samples).toEqual([]);
    expect(j.Gauges).toContainEqual({ Name: 'herald.catalog.services', Value: 3, Labels: {} });
    expect(j.Gauges).toContainEqual({ Name: 'herald.http.queries_blocking', Value: 9, Labels: {} });
    expect(j.Counters.find((c) => c.Name === 'herald.dns.queries')).toMatchObject({ Count: 7, Rate: 0.7 });
    expect(j.Counters.map((c) => c.Name)).toContain('herald.dns.hook_errors');
  });

  it('Prometheus text has HELP, TYPE and a sample per metric', () => {
    const text = metricsPrometheus(snapshot());
    expect(text).toContain('# TYPE herald_dns_queries counter\nherald_dns_queries 7\n');
    expect(text).toContain('# TYPE herald_catalog_last_index gauge\nherald_catalog_last_index 42\n');
    for (const line of text.trimEnd().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) [a-z_:]+ .+|[a-z_:]+ -?[0-9.e+]+)$/);
  });
});
