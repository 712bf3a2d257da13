/**
 * Crash-safety harness (used by agent-crash.test.ts and bench/durability/crash-rounds.ts): a
 * real `herald agent` child process on a data dir (rocksdb engine), concurrent writers over
 * HTTP, SIGKILL at a seeded random moment, restart on the same dir, and a check of what came
 * back against what the writers were told. The agent snapshots every 64 entries by default, so
 * kills also land during snapshot saves and log compaction, and restarts go through both the
 * snapshot restore and the log replay.
 *
 * Writers, each sequential (so at most one of its writes is in flight at the kill):
 * - KV writers: writer i puts `w<i>-<seq>` to `crash/w<i>`;
 * - a catalog writer: re-registers service `crash-cat` with Meta.seq = <seq> through the agent
 *   API (persisted as an API registration, so a restart must bring it back);
 * - CAS writers (kv): read `crash/counter`, put value+1 with `?cas=<ModifyIndex>`.
 *
 * The rules after every restart:
 * - each writer's key holds the last acknowledged value or the one in flight at the kill
 *   (acked <= seq <= attempted), never an older one and never one that was not written;
 * - the counter is between the highest acknowledged CAS value and the highest attempted one
 *   (a lost acknowledged increment, or a value nobody wrote, fails);
 * - the service registered once at the start (`crash-fixed`) is still in the catalog.
 * A violation throws with the seed, the round and what was expected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
export { seededRandom } from '../seeded-random.ts';
import { freePort } from '../cli/commands/cli-harness.ts';

const HERALD = join(import.meta.dirname, '..', 'cli', 'herald.mjs');

/** What every writer was told, across rounds. */
export interface CrashHistory {
  /** Per KV writer key and for the catalog writer: highest seq acknowledged / attempted. */
  writers: Map<string, { acked: number; attempted: number }>;
  cas: { acked: number; attempted: number };
  rounds: number;
  /** Writes acknowledged over all rounds. */
  ackedWrites: number;
}

export function newHistory(): CrashHistory {
  return { writers: new Map(), cas: { acked: 0, attempted: 0 }, rounds: 0, ackedWrites: 0 };
}

export interface CrashOptions {
  dataDir: string;
  seed: number;
  kvWriters: number;
  casWriters: number;
  /** The kill comes this long after the writers start: uniform in [min, max] ms (seeded). */
  killAfterMs: [number, number];
  /** Per-request deadline. */
  requestTimeoutMs?: number;
  /**
   * raft_snapshot_threshold for the agent: small, so kills also land while a snapshot is saved
   * and the log compacted (default 64).
   */
  snapshotThreshold?: number;
}

interface Agent {
  child: ChildProcess;
  base: string;
  output: () => string;
  exited: Promise<void>;
}

async function startAgent(opts: CrashOptions): Promise<Agent> {
  const [http, dns] = [await freePort(), await freePort()];
  const config = join(opts.dataDir, 'crash-agent.json');
  writeFileSync(config, JSON.stringify({ raft_snapshot_threshold: opts.snapshotThreshold ?? 64, raft_snapshot_interval: '0s' }));
  const args = [
    HERALD, 'agent', '-data-dir', opts.dataDir, '-config-file', config, '-node', 'crash', '-bind', '127.0.0.1', '-dns-port', String(dns), '-http-port', String(http),
    '-plugin', 'http-api', '-plugin', 'kv', '-log-level', 'warn',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let gone = false;
  const exited = new Promise<void>((resolve) => child.on('exit', () => ((gone = true), resolve())));
  const base = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (gone) throw new Error(`agent exited during start:\n${out}`);
    try {
      const res = await fetch(`${base}/v1/status/leader`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`agent did not answer within 20 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, base, output: () => out, exited };
}

async function request(base: string, method: string, path: string, body: string | undefined, timeoutMs: number) {
  const res = await fetch(base + path, { method, body, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text() };
}

const kvKey = (i: number) => `crash/w${i}`;
const CATALOG_WRITER = 'catalog';

/** Reads what the agent holds and checks it against `h`; then makes it the new baseline. */
async function verify(agent: Agent, h: CrashHistory, opts: CrashOptions, timeoutMs: number): Promise<void> {
  const fail = (what: string) => {
    throw new Error(`crash check failed (seed ${opts.seed}, after round ${h.rounds}): ${what}\nagent output:\n${agent.output()}`);
  };
  const check = (name: string, got: number | undefined, want: { acked: number; attempted: number }) => {
    const value = got ?? 0;
    if (value < want.acked) fail(`${name}: holds ${got ?? 'nothing'}, but ${want.acked} was acknowledged`);
    if (value > want.attempted) fail(`${name}: holds ${value}, but nothing above ${want.attempted} was ever written`);
    want.acked = want.attempted = value;
  };
  for (const [name, want] of h.writers) {
    if (name === CATALOG_WRITER) {
      const res = await request(agent.base, 'GET', '/v1/catalog/service/crash-cat', undefined, timeoutMs);
      const rows = JSON.parse(res.text) as Array<{ ServiceMeta: { seq?: string } }>;
      check('service crash-cat Meta.seq', rows[0] ? Number(rows[0].ServiceMeta.seq) : undefined, want);
      continue;
    }
    const res = await request(agent.base, 'GET', `/v1/kv/${name}?raw`, undefined, timeoutMs);
    let seq: number | undefined;
    if (res.status === 200) {
      const m = /^w(\d+)-(\d+)$/.exec(res.text);
      if (!m || kvKey(Number(m[1])) !== name) fail(`${name}: holds ${JSON.stringify(res.text)}, which no writer wrote`);
      seq = Number(m![2]);
    } else if (res.status !== 404) fail(`GET ${name}: ${res.status} ${res.text}`);
    check(name, seq, want);
  }
  if (opts.casWriters > 0) {
    const res = await request(agent.base, 'GET', '/v1/kv/crash/counter?raw', undefined, timeoutMs);
    const value = res.status === 200 ? Number(res.text) : undefined;
    if (res.status === 200 && !Number.isInteger(value)) fail(`crash/counter: holds ${JSON.stringify(res.text)}`);
    check('crash/counter (CAS chain)', value, h.cas);
  }
  const fixed = await request(agent.base, 'GET', '/v1/catalog/service/crash-fixed', undefined, timeoutMs);
  if (h.rounds > 0 && !/"ServiceID":"crash-fixed"/.test(fixed.text)) fail(`service crash-fixed is gone from the catalog: ${fixed.text}`);
}

/**
 * One round: start the agent on the data dir, check what the previous round left, run the
 * writers until the seeded kill, SIGKILL. Resolves with the writes acknowledged this round.
 */
export async function crashRound(h: CrashHistory, opts: CrashOptions, rand: () => number): Promise<number> {
  const timeoutMs = opts.requestTimeoutMs ?? 5000;
  const agent = await startAgent(opts);
  try {
    await verify(agent, h, opts, timeoutMs);
    if (h.rounds === 0) {
      const res = await request(agent.base, 'PUT', '/v1/agent/service/register', JSON.stringify({ Name: 'crash-fixed', Port: 1 }), timeoutMs);
      if (res.status !== 200) throw new Error(`register crash-fixed: ${res.status} ${res.text}`);
    }
    let stop = false;
    let acked = 0;
    const writer = async (name: string, put: (seq: number) => Promise<boolean>) => {
      const w = h.writers.get(name) ?? { acked: 0, attempted: 0 };
      h.writers.set(name, w);
      while (!stop) {
        const seq = w.attempted + 1;
        w.attempted = seq;
        let ok: boolean;
        try {
          ok = await put(seq);
        } catch {
          return; // the agent is gone (or the request timed out): this one stays "attempted"
        }
        if (!ok) throw new Error(`${name}: write ${seq} refused while the agent was up`);
        w.acked = seq;
        acked++;
      }
    };
    const casWriter = async () => {
      while (!stop) {
        let current: { value: number; index: string };
        try {
          const res = await request(agent.base, 'GET', '/v1/kv/crash/counter', undefined, timeoutMs);
          if (res.status === 404) current = { value: 0, index: '0' };
          else {
            const [e] = JSON.parse(res.text) as Array<{ Value: string; ModifyIndex: number }>;
            current = { value: Number(Buffer.from(e!.Value, 'base64').toString()), index: String(e!.ModifyIndex) };
          }
        } catch {
          return;
        }
        const next = current.value + 1;
        if (next > h.cas.attempted) h.cas.attempted = next;
        let res: { status: number; text: string };
        try {
          res = await request(agent.base, 'PUT', `/v1/kv/crash/counter?cas=${current.index}`, String(next), timeoutMs);
        } catch {
          return;
        }
        if (res.status !== 200) throw new Error(`CAS put: ${res.status} ${res.text}`);
        if (res.text.trim() === 'true') {
          if (next > h.cas.acked) h.cas.acked = next;
          acked++;
        }
      }
    };
    const loops: Promise<void>[] = [];
    loops.push(
      writer(CATALOG_WRITER, async (seq) => {
        const body = JSON.stringify({ Name: 'crash-cat', Port: 2, Meta: { seq: String(seq) } });
        return (await request(agent.base, 'PUT', '/v1/agent/service/register', body, timeoutMs)).status === 200;
      }),
    );
    for (let i = 0; i < opts.kvWriters; i++) {
      loops.push(writer(kvKey(i), async (seq) => (await request(agent.base, 'PUT', `/v1/kv/${kvKey(i)}`, `w${i}-${seq}`, timeoutMs)).text.trim() === 'true'));
    }
    for (let i = 0; i < opts.casWriters; i++) loops.push(casWriter());
    const [lo, hi] = opts.killAfterMs;
    const wait = lo + Math.floor(rand() * (hi - lo + 1));
    await new Promise((r) => setTimeout(r, wait));
    agent.child.kill('SIGKILL');
    stop = true;
    await agent.exited;
    const results = await Promise.allSettled(loops);
    const bad = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (bad) throw new Error(`seed ${opts.seed}, round ${h.rounds + 1}: ${(bad.reason as Error).message}\n${agent.output()}`);
    h.rounds++;
    h.ackedWrites += acked;
    return acked;
  } finally {
    if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL');
  }
}

/** Starts the agent once more on the data dir, checks the last round, and stops it cleanly. */
export async function finalCheck(h: CrashHistory, opts: CrashOptions): Promise<void> {
  const agent = await startAgent(opts);
  try {
    await verify(agent, h, opts, opts.requestTimeoutMs ?? 5000);
  } finally {
    agent.child.kill('SIGTERM');
    await agent.exited;
  }
}
