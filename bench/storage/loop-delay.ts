/**
 * What a stream of synced log appends costs the JS thread, with the RocksDB binding on that
 * thread (`main`, the old engine) and on its own worker thread (`worker`, the default).
 *
 * While `writers` loops each append one entry and await it (group commit shares fsyncs among
 * them), two things watch the JS thread:
 * - perf_hooks.monitorEventLoopDelay (1 ms resolution): how late the loop runs its timers;
 * - a UDP echo server on this thread, pinged every millisecond from a separate thread: the
 *   round trip a DNS query would see (the probe's own loop is idle, so its delays are ours).
 *
 * Run: `npx tsx bench/storage/loop-delay.ts [--seconds 5] [--writers 8] [--bytes 256] [--reps 3]`.
 * Prints the machine, Node version and one row per run; the modes alternate run by run.
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { openRocksStorage } from '../../src/storage/rocksdb-storage.ts';

export interface LoopDelayOptions {
  thread: 'main' | 'worker';
  durationMs: number;
  writers: number;
  payloadBytes: number;
  /** Directory to create the database under (default: the OS temp dir). */
  parent?: string;
}

/** Percentiles in milliseconds. */
export interface Dist {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LoopDelayResult {
  thread: 'main' | 'worker';
  appends: number;
  syncs: number;
  appendsPerSecond: number;
  loopDelay: Dist;
  udpRtt: Dist;
}

/** The probe thread: pings the port every millisecond, answers its RTTs (ms) on 'stop'. */
const PROBE = `
const dgram = require('node:dgram');
const { parentPort, workerData } = require('node:worker_threads');
const s = dgram.createSocket('udp4');
const sent = new Map();
const rtts = [];
let seq = 0;
s.on('message', (m) => {
  const t0 = sent.get(m.readUInt32BE(0));
  if (t0 !== undefined) { rtts.push(Number(process.hrtime.bigint() - t0) / 1e6); sent.delete(m.readUInt32BE(0)); }
});
const timer = setInterval(() => {
  const b = Buffer.alloc(4); b.writeUInt32BE(++seq);
  sent.set(seq, process.hrtime.bigint());
  s.send(b, workerData.port, '127.0.0.1');
}, 1);
parentPort.on('message', () => {
  clearInterval(timer);
  // Pings never answered by now count as lost; report what came back.
  parentPort.postMessage({ rtts, lost: sent.size });
  s.close();
});
`;

function dist(values: number[]): Dist {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => (v.length === 0 ? 0 : v[Math.min(v.length - 1, Math.floor(q * v.length))]!);
  return { count: v.length, p50: at(0.5), p99: at(0.99), max: v.length ? v[v.length - 1]! : 0 };
}

/** One measured run. */
export async function measureLoopDelay(opts: LoopDelayOptions): Promise<LoopDelayResult> {
  const dir = mkdtempSync(join(opts.parent ?? os.tmpdir(), `herald-loop-${opts.thread}-`));
  let syncs = 0;
  const storage = await openRocksStorage({ dir, thread: opts.thread, hooks: { onLogSync: () => void syncs++ } });
  const echo = dgram.createSocket('udp4');
  echo.on('message', (m, rinfo) => echo.send(m, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', () => resolve()));
  const probe = new Worker(PROBE, { eval: true, workerData: { port: echo.address().port } });
  const h = monitorEventLoopDelay({ resolution: 1 });
  try {
    h.enable();
    let next = 1n;
    let appends = 0;
    const end = Date.now() + opts.durationMs;
    const data = Buffer.alloc(opts.payloadBytes, 0x61);
    const writer = async () => {
      while (Date.now() < end) {
        const index = next++;
        await storage.log.append([{ index, term: 1n, data }]);
        appends++;
      }
    };
    const t0 = Date.now();
    await Promise.all(Array.from({ length: opts.writers }, writer));
    const seconds = (Date.now() - t0) / 1000;
    h.disable();
    const probed = await new Promise<{ rtts: number[]; lost: number }>((resolve) => {
      probe.once('message', resolve);
      probe.postMessage('stop');
    });
    const ns = (q: number) => h.percentile(q) / 1e6;
    return {
      thread: opts.thread,
      appends,
      syncs,
      appendsPerSecond: Math.round(appends / seconds),
      loopDelay: { count: h.count, p50: ns(50), p99: ns(99), max: h.max / 1e6 },
      udpRtt: dist(probed.rtts),
    };
  } finally {
    await probe.terminate();
    echo.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 5);
  const writers = arg('writers', 8);
  const bytes = arg('bytes', 256);
  const reps = arg('reps', 3);
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  console.log(`# storage loop delay: ${os.cpus().length} x ${cpu}, node ${process.version}, ${os.tmpdir()}`);
  console.log(`# ${writers} writers, ${bytes} B entries, ${seconds} s per run, ${reps} runs per mode (alternating)`);
  console.log('| thread | appends/s | syncs | loop delay p50 / p99 / max (ms) | UDP echo RTT p50 / p99 / max (ms) |');
  console.log('| --- | --- | --- | --- | --- |');
  const f = (d: Dist) => `${d.p50.toFixed(2)} / ${d.p99.toFixed(2)} / ${d.max.toFixed(2)}`;
  for (let r = 0; r < reps; r++) {
    for (const thread of ['main', 'worker'] as const) {
      const res = await measureLoopDelay({ thread, durationMs: seconds * 1000, writers, payloadBytes: bytes });
      console.log(`| ${thread} | ${res.appendsPerSecond} | ${res.syncs} | ${f(res.loopDelay)} | ${f(res.udpRtt)} |`);
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await main();
