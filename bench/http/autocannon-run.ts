/**
 * One autocannon run as its own process (pinned with taskset when a core is given), read back
 * from its `--json` output. A separate process keeps the load generator off the harness's event
 * loop and on the client core.
 */
import { createRequire } from 'node:module';
import type { ProcessReaper } from '../dns/process-reaper.ts';

const require = createRequire(import.meta.url);
/** autocannon's CLI entry (its package `bin`). */
export const AUTOCANNON_BIN: string = require.resolve('autocannon/autocannon.js');
export const AUTOCANNON_VERSION: string = (require('autocannon/package.json') as { version: string }).version;

export interface LoadOptions {
  url: string;
  connections: number;
  /** Requests in flight per connection (autocannon -p); default 1. */
  pipelining?: number;
  durationSec: number;
  /** Core to pin autocannon to; undefined leaves it unpinned. */
  cpu?: number;
}

/** What the report keeps of one run. Latencies are autocannon's (milliseconds, integer buckets). */
export interface LoadResult {
  url: string;
  /** Mean of the per-second samples. */
  reqPerSec: number;
  totalRequests: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyAvgMs: number;
  bytesPerSec: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  throughput: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

/** Extracts a LoadResult from autocannon's `--json` stdout (the last JSON line). */
export function parseAutocannonJson(url: string, stdout: string): LoadResult {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`autocannon printed no JSON result for ${url}: ${stdout.slice(0, 500)}`);
  const r = JSON.parse(line) as AutocannonJson;
  return {
    url,
    reqPerSec: r.requests.average,
    totalRequests: r.requests.total,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    latencyAvgMs: r.latency.average,
    bytesPerSec: r.throughput.average,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
  };
}

/** Runs autocannon to completion through the reaper (bounded: duration + 30 s, then killed). */
export async function runAutocannon(reaper: ProcessReaper, o: LoadOptions): Promise<LoadResult> {
  const argv = [process.execPath, AUTOCANNON_BIN, '--json', '--no-progress', '-c', String(o.connections), '-p', String(o.pipelining ?? 1), '-d', String(o.durationSec), o.url];
  const [cmd, ...args] = o.cpu === undefined ? argv : ['taskset', '-c', String(o.cpu), ...argv];
  const t = await reaper.spawn('autocannon', cmd!, args, { captureStdout: true });
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), (o.durationSec + 30) * 1000)));
  const end = await Promise.race([t.exited, limit]);
  clearTimeout(timer);
  if (end === 'timeout') {
    await reaper.stop(t);
    throw new Error(`autocannon did not finish within ${o.durationSec + 30} s: ${t.tail()}`);
  }
  if (end.code !== 0) throw new Error(`autocannon exited ${end.code ?? end.signal}: ${t.tail()}`);
  return parseAutocannonJson(o.url, t.stdout());
}
