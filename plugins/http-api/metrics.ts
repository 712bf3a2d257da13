/**
 * `/v1/agent/metrics`: Herald's counters and gauges in Consul's two formats, the go-metrics
 * in-memory JSON (`{Timestamp, Gauges, Points, Counters, Samples}`) and, with
 * `?format=prometheus`, the Prometheus text exposition format (version 0.0.4).
 *
 * Names follow Consul's dotted style under `herald.` (`herald.dns.queries`); Prometheus names
 * replace dots with underscores. Counters are cumulative since start (Consul's in-memory sink
 * reports per 10 s interval; a cumulative count is what a Prometheus counter wants, and the
 * JSON carries the same number).
 */
import process from 'node:process';
import type { AgentAccess, CatalogReader } from '../../src/plugin.ts';

export interface Metric {
  name: string;
  value: number;
  help: string;
}

export interface MetricsSnapshot {
  at: Date;
  uptimeSeconds: number;
  gauges: Metric[];
  counters: Metric[];
}

const DNS_HELP: Record<string, string> = {
  queries: 'DNS queries received',
  hits: 'DNS queries answered from the answer cache',
  misses: 'DNS queries that had to build an answer',
  dropped: 'DNS packets dropped unanswered (no readable header, or responses)',
  formerr: 'DNS FORMERR replies',
  notimp: 'DNS NOTIMP replies',
  refused: 'DNS REFUSED replies',
  servfail: 'DNS SERVFAIL replies',
  truncated: 'DNS replies truncated to fit the transport',
  hookErrors: 'DNS hook failures',
};

/** Reads the current values. `blocked` is the number of parked blocking queries. */
export function collectMetrics(catalog: Pick<CatalogReader, 'counts' | 'lastIndex'>, agent: Pick<AgentAccess, 'dnsStats' | 'startedAt'>, blocked: number, now = new Date()): MetricsSnapshot {
  const mem = process.memoryUsage();
  const counts = catalog.counts();
  const gauges: Metric[] = [
    { name: 'herald.runtime.heap_used_bytes', value: mem.heapUsed, help: 'V8 heap in use, bytes' },
    { name: 'herald.runtime.rss_bytes', value: mem.rss, help: 'Resident set size, bytes' },
    { name: 'herald.catalog.nodes', value: counts.nodes, help: 'Nodes in the catalog' },
    { name: 'herald.catalog.services', value: counts.services, help: 'Service instances in the catalog' },
    { name: 'herald.catalog.checks', value: counts.checks, help: 'Checks in the catalog' },
    { name: 'herald.catalog.last_index', value: Number(catalog.lastIndex), help: 'Index of the last applied log entry' },
    { name: 'herald.http.queries_blocking', value: blocked, help: 'HTTP blocking queries currently parked' },
  ];
  const stats = agent.dnsStats() as unknown as Record<string, number>;
  const counters: Metric[] = Object.keys(stats).map((k) => ({
    name: `herald.dns.${k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())}`,
    value: stats[k]!,
    help: DNS_HELP[k] ?? `DNS ${k}`,
  }));
  return { at: now, uptimeSeconds: Math.max(0, (now.getTime() - agent.startedAt) / 1000), gauges, counters };
}

/** Go's `time.Time.String()` of a UTC instant rounded to the second: `2006-01-02 15:04:05 +0000 UTC`. */
function goTimestamp(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ') + ' +0000 UTC';
}

/** Consul's MetricsInfo JSON (api.MetricsInfo). */
export function metricsJson(m: MetricsSnapshot): Record<string, unknown> {
  return {
    Timestamp: goTimestamp(m.at),
    Gauges: m.gauges.map((g) => ({ Name: g.name, Value: g.value, Labels: {} })),
    Points: [],
    Counters: m.counters.map((c) => ({
      Name: c.name,
      Count: c.value,
      Rate: m.uptimeSeconds > 0 ? c.value / m.uptimeSeconds : 0,
      Sum: c.value,
      Min: c.value > 0 ? 1 : 0,
      Max: c.value > 0 ? 1 : 0,
      Mean: c.value > 0 ? 1 : 0,
      Stddev: 0,
      Labels: {},
    })),
    Samples: [],
  };
}

/** Content-Type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The Prometheus text exposition format: HELP, TYPE and one sample per metric. */
export function metricsPrometheus(m: MetricsSnapshot): string {
  const lines: string[] = [];
  const put = (metric: Metric, type: 'gauge' | 'counter') => {
    const name = metric.name.replace(/[^a-zA-Z0-9_:]/g, '_');
    lines.push(`# HELP ${name} ${metric.help}`, `# TYPE ${name} ${type}`, `${name} ${metric.value}`);
  };
  for (const g of m.gauges) put(g, 'gauge');
  for (const c of m.counters) put(c, 'counter');
  return lines.join('\n') + '\n';
}
