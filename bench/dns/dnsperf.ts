/**
 * Running dnsperf (2.10, Debian package) and reading its report. The command line is the one in
 * dns-perf-anchors.md: one thread, 2 clients, 200 outstanding queries, 1 s query timeout, a
 * fixed time limit, pinned with taskset to the load core.
 */
import type { ProcessReaper, Tracked } from './process-reaper.ts';

/** What one dnsperf run reported. Latencies are in microseconds. */
export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  /** `[Timeout] Query timed out` lines printed during the run. */
  timeouts: number;
  /** RCODE name to count, as dnsperf printed it. */
  rcodes: Record<string, number>;
  requestBytes: number;
  responseBytes: number;
  runTimeS: number;
  qps: number;
  latencyAvgUs: number;
  latencyMinUs: number;
  latencyMaxUs: number;
  latencyStddevUs: number;
}

/** Options for {@link dnsperfArgs}. */
export interface DnsperfOptions {
  port: number;
  file: string;
  seconds: number;
  host?: string;
  clients?: number;
  outstanding?: number;
  timeoutS?: number;
  /** CPU the load generator is pinned to; undefined runs it unpinned. */
  cpu?: number;
}

/** The argv (command first) for one run: `taskset -c CPU dnsperf -s H -p P -d F -T 1 -c 2 -q 200 -t 1 -l S`. */
export function dnsperfArgs(o: DnsperfOptions): string[] {
  const argv = [
    'dnsperf',
    '-s', o.host ?? '127.0.0.1',
    '-p', String(o.port),
    '-d', o.file,
    '-T', '1',
    '-c', String(o.clients ?? 2),
    '-q', String(o.outstanding ?? 200),
    '-t', String(o.timeoutS ?? 1),
    '-l', String(o.seconds),
  ];
  return o.cpu === undefined ? argv : ['taskset', '-c', String(o.cpu), ...argv];
}

function num(text: string, re: RegExp, what: string): number {
  const m = re.exec(text);
  if (!m) throw new Error(`dnsperf output has no ${what}`);
  return Number(m[1]);
}

/**
 * Parses dnsperf's "Statistics:" block. Throws (naming the missing field) when the output is
 * not a finished run, e.g. dnsperf failed to start or was killed.
 */
export function parseDnsperf(text: string): DnsperfResult {
  const rcodes: Record<string, number> = {};
  const rc = /^[ \t]*Response codes:[ \t]*(.*)$/m.exec(text);
  if (rc) {
    for (const m of rc[1]!.matchAll(/([A-Z]+)\s+(\d+)\s+\(/g)) rcodes[m[1]!] = Number(m[2]);
  }
  const lat = /^\s*Average Latency \(s\):\s*([\d.]+)\s*\(min\s*([\d.]+),\s*max\s*([\d.]+)\)/m.exec(text);
  if (!lat) throw new Error('dnsperf output has no average latency');
  const size = /^\s*Average packet size:\s*request\s*(\d+),\s*response\s*(\d+)/m.exec(text);
  return {
    sent: num(text, /^\s*Queries sent:\s*(\d+)/m, 'queries sent'),
    completed: num(text, /^\s*Queries completed:\s*(\d+)/m, 'queries completed'),
    lost: num(text, /^\s*Queries lost:\s*(\d+)/m, 'queries lost'),
    timeouts: (text.match(/^\[Timeout\]/gm) ?? []).length,
    rcodes,
    // No replies at all means no size line; 0 says so without failing the parse.
    requestBytes: size ? Number(size[1]) : 0,
    responseBytes: size ? Number(size[2]) : 0,
    runTimeS: num(text, /^\s*Run time \(s\):\s*([\d.]+)/m, 'run time'),
    qps: num(text, /^\s*Queries per second:\s*([\d.]+)/m, 'queries per second'),
    latencyAvgUs: Number(lat[1]) * 1e6,
    latencyMinUs: Number(lat[2]) * 1e6,
    latencyMaxUs: Number(lat[3]) * 1e6,
    // dnsperf omits the stddev line when nothing completed.
    latencyStddevUs: Number(/^\s*Latency StdDev \(s\):\s*([\d.]+)/m.exec(text)?.[1] ?? 0) * 1e6,
  };
}

/**
 * Runs dnsperf to completion under `reaper` and parses its report. The wait is bounded: after
 * seconds + timeout + `slackMs` the run is killed and this rejects. `onStart` is called once
 * the process is running (the harness starts its CPU sampling window from there).
 */
export async function runDnsperf(
  reaper: ProcessReaper,
  o: DnsperfOptions,
  opts: { slackMs?: number; onStart?: (dnsperf: Tracked) => void } = {},
): Promise<{ result: DnsperfResult; output: string }> {
  const [cmd, ...args] = dnsperfArgs(o);
  const t = await reaper.spawn('dnsperf', cmd!, args, { captureStdout: true });
  opts.onStart?.(t);
  const limitMs = (o.seconds + (o.timeoutS ?? 1)) * 1000 + (opts.slackMs ?? 10_000);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((res) => {
    timer = setTimeout(() => res('timeout'), limitMs);
  });
  const outcome = await Promise.race([t.exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    await reaper.stop(t, 1000);
    throw new Error(`dnsperf did not finish within ${limitMs} ms: ${t.tail().slice(-500)}`);
  }
  const output = t.stdout();
  if (outcome.code !== 0) throw new Error(`dnsperf exited ${outcome.code ?? outcome.signal}: ${t.tail().slice(-500)}`);
  return { result: parseDnsperf(output), output };
}
