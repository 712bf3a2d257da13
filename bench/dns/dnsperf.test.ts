import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dnsperfArgs, parseDnsperf, runDnsperf } from './dnsperf.ts';
import { startResponder } from './node-responder.ts';
import { ProcessReaper } from './process-reaper.ts';

const hasDnsperf = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v dnsperf'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

// Verbatim dnsperf 2.10.0 output from this machine (Knot, q-mix).
const SAMPLE = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 15353 -d /tmp/hb/q-mix -T 1 -c 2 -q 200 -t 1 -l 2
[Status] Sending queries (to 127.0.0.1:15353)
[Status] Started at: Wed Nov 25 10:30:06 2026
[Status] Stopping after 2.000000 seconds
[Timeout] Query timed out: msg id 468
[Timeout] Query timed out: msg id 469
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         240701
  Queries completed:    240699 (100.00%)
  Queries lost:         2 (0.00%)

  Response codes:       NOERROR 228670 (95.00%), NXDOMAIN 12029 (5.00%)
  Average packet size:  request 41, response 151
  Run time (s):         2.000195
  Queries per second:   120338.766970

  Average Latency (s):  0.000558 (min 0.000028, max 0.004926)
  Latency StdDev (s):   0.000328

`;

const NOTHING_ANSWERED = `Statistics:

  Queries sent:         5
  Queries completed:    0 (0.00%)
  Queries lost:         5 (100.00%)

  Response codes:       
  Average packet size:  request 38, response 0
  Run time (s):         0.500138
  Queries per second:   0.000000

  Average Latency (s):  0.000000 (min 0.000000, max 0.000000)
`;

describe('dnsperfArgs', () => {
  it('is the anchors-doc command line, pinned with taskset', () => {
    expect(dnsperfArgs({ port: 5300, file: '/q', seconds: 3, cpu: 1 })).toEqual(
      ['taskset', '-c', '1', 'dnsperf', '-s', '127.0.0.1', '-p', '5300', '-d', '/q', '-T', '1', '-c', '2', '-q', '200', '-t', '1', '-l', '3'],
    );
    expect(dnsperfArgs({ port: 1, file: 'f', seconds: 0.5 })[0]).toBe('dnsperf');
  });
});

describe('parseDnsperf', () => {
  it('reads counts, rcodes, sizes, QPS and latencies (µs)', () => {
    const r = parseDnsperf(SAMPLE);
    expect(r).toMatchObject({
      sent: 240701,
      completed: 240699,
      lost: 2,
      timeouts: 2,
      rcodes: { NOERROR: 228670, NXDOMAIN: 12029 },
      requestBytes: 41,
      responseBytes: 151,
      runTimeS: 2.000195,
      qps: 120338.76697,
    });
    expect(r.latencyAvgUs).toBeCloseTo(558, 6);
    expect(r.latencyMinUs).toBeCloseTo(28, 6);
    expect(r.latencyMaxUs).toBeCloseTo(4926, 6);
    expect(r.latencyStddevUs).toBeCloseTo(328, 6);
  });

  it('reads a run where nothing answered (no rcodes, no stddev line)', () => {
    const r = parseDnsperf(NOTHING_ANSWERED);
    expect(r).toMatchObject({ sent: 5, completed: 0, lost: 5, rcodes: {}, responseBytes: 0, qps: 0, latencyStddevUs: 0 });
  });

  it('refuses output that is not a finished run', () => {
    expect(() => parseDnsperf('Error: could not open /nope')).toThrow(/no average latency/);
  });
});

describe.skipIf(!hasDnsperf)('runDnsperf (real dnsperf against the node responder)', () => {
  it('runs for the time limit and reports what the responder sent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dnsperf-test-'));
    const file = join(dir, 'q');
    await writeFile(file, 'web-0.service.consul A\nweb-1.service.consul A\n');
    const responder = await startResponder(0, '127.0.0.1', { recvBufferSize: 4 << 20 });
    const reaper = new ProcessReaper();
    let started = false;
    try {
      const { result, output } = await runDnsperf(reaper, { port: responder.port, file, seconds: 0.5 }, { onStart: () => (started = true) });
      expect(started).toBe(true);
      expect(output).toContain('Statistics:');
      expect(result.completed).toBeGreaterThan(0);
      expect(result.rcodes.NOERROR).toBe(result.completed);
      expect(result.responseBytes).toBe(86);
      expect(result.requestBytes).toBe(38);
      expect(reaper.running()).toEqual([]);
    } finally {
      await reaper.stopAll();
      await responder.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects when dnsperf fails', async () => {
    const reaper = new ProcessReaper();
    await expect(runDnsperf(reaper, { port: 9, file: '/nonexistent/queries', seconds: 0.2 })).rejects.toThrow(/dnsperf exited|no average latency/);
    await reaper.stopAll();
  });
});
