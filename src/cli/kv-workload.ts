/**
 * A Jepsen-style KV workload against real agents' HTTP API, recording a history for the
 * linearizability checker (src/raft/sim/linearizability-kv.ts, versioned model: a key's version
 * is its ModifyIndex). Concurrent clients, each sequential, pick a random key and op:
 * `GET` (`?consistent` or the default mode, half each) on a random read target, `PUT` or `PUT ?cas=<ModifyIndex>` (with the last
 * index the client read) on a random write target (servers, or client agents, which forward
 * writes to a server). A history entry's clientId is `c<client>@<agent>`.
 *
 * How an answer is recorded (an op known to have had no effect is left out; one whose outcome is
 * unknown gets no return time, i.e. indeterminate: it may take effect at any later time or never):
 * - 200 → completed with its output (a cas `false` is a definite result);
 * - connection refused → left out (nothing reached a server);
 * - any other error, timeout or non-200 on a write → indeterminate. That includes 500
 *   `No cluster leader`: a follower forwarding to a leader that was deposed mid-request cannot
 *   tell whether the entry committed, so the conservative reading is taken;
 * - a read that did not answer 200/404 → left out (it changes nothing).
 * Test-only; not part of the CLI.
 */
import { seededRandom } from '../seeded-random.ts';
import type { VersionedKvInput, VersionedKvOperation, VersionedKvOutput, VersionedValue } from '../raft/sim/linearizability-kv.ts';

/** An agent the clients talk to. */
export interface HttpTarget {
  readonly name: string;
  /** `addr:port` of its HTTP API. */
  readonly http: string;
}

/** Counts per outcome, for the report. */
export interface WorkloadStats {
  ok: number;
  /**
   * Clients' reads that answered. Failed reads are left out of the history, so without this
   * count a read path that never answers would pass unnoticed.
   */
  reads: number;
  /** Clients' reads that answered, per agent. */
  readsVia: Record<string, number>;
  casFalse: number;
  indeterminate: number;
  dropped: number;
  /** Acknowledged writes (put, cas true). */
  ackedWrites: number;
  /** Acknowledged writes per agent that took them. */
  ackedVia: Record<string, number>;
}

type Outcome = { kind: 'ok'; output?: VersionedKvOutput } | { kind: 'info' } | { kind: 'drop' };

function refused(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNREFUSED';
}

/** The recorder: one per test, shared by its clients (one process, one clock). */
export class KvWorkload {
  readonly history: VersionedKvOperation[] = [];
  readonly stats: WorkloadStats = { ok: 0, reads: 0, readsVia: {}, casFalse: 0, indeterminate: 0, dropped: 0, ackedWrites: 0, ackedVia: {} };
  private stopped = false;
  private running: Promise<void>[] = [];
  private readonly t0 = performance.now();
  /** Writes sent and not answered yet, per agent name. */
  private readonly inFlight = new Map<string, number>();
  private writeWaiters: { name: string; resolve: () => void }[] = [];

  /**
   * @param targets where clients send reads and writes (whatever the agents' state: requests to a
   *   dead or paused agent are part of the test).
   * @param keys the keys used (one linearizability partition each).
   */
  constructor(
    private readonly targets: { readonly reads: readonly HttpTarget[]; readonly writes: readonly HttpTarget[] },
    readonly keys: readonly string[],
    readonly seed: number,
    private readonly opts: { requestTimeoutMs: number; pauseMs: [number, number] } = { requestTimeoutMs: 5_000, pauseMs: [5, 30] },
  ) {}

  /**
   * Whole microseconds since the workload was created (history times; integers so failure
   * listings stay readable; two events in the same microsecond count as overlapping).
   */
  now(): number {
    return Math.round((performance.now() - this.t0) * 1000);
  }

  /** Starts `clients` client loops. */
  start(clients: number): void {
    for (let c = 0; c < clients; c++) this.running.push(this.client(c, seededRandom(this.seed * 31 + c)));
  }

  /** Stops the loops and resolves once every in-flight op is recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  /** Acknowledged writes (ok puts, true cas) completed since `since` (workload time, µs). */
  ackedSince(since: number): number {
    return this.history.filter((o) => o.return !== undefined && o.return >= since && (o.input.op === 'put' || (o.input.op === 'cas' && o.output === true))).length;
  }

  /** Writes through `name` sent and not answered yet. */
  writesInFlight(name: string): number {
    return this.inFlight.get(name) ?? 0;
  }

  /** Resolves as soon as a write through `name` is in flight (at once if one is). */
  writeInFlight(name: string): Promise<void> {
    if (this.writesInFlight(name) > 0) return Promise.resolve();
    return new Promise((resolve) => this.writeWaiters.push({ name, resolve }));
  }

  /** A consistent read of `key` on `s`, recorded like a client's (used for the final reads). */
  async finalRead(s: HttpTarget, key: string): Promise<VersionedValue | null> {
    const out = await this.record(`final@${s.name}`, { op: 'get', key }, () => this.get(s, key));
    if (out.kind !== 'ok') throw new Error(`final read of ${key} on ${s.name} failed`);
    return out.output as VersionedValue | null;
  }

  private async client(id: number, rnd: () => number): Promise<void> {
    const seen = new Map<string, number>();
    let n = 0;
    const pick = (ts: readonly HttpTarget[]) => ts[Math.floor(rnd() * ts.length)]!;
    while (!this.stopped) {
      const key = this.keys[Math.floor(rnd() * this.keys.length)]!;
      const r = rnd();
      if (r < 0.4) {
        const s = pick(this.targets.reads);
        // Half the reads in Consul's default mode: it must not be stale either (anchors G2), and
        // the checker holds both modes to the same order.
        const mode = r < 0.2 ? 'consistent' : 'default';
        const out = await this.record(`c${id}@${s.name}`, { op: 'get', key }, () => this.get(s, key, mode));
        if (out.kind === 'ok') seen.set(key, (out.output as VersionedValue | null)?.version ?? 0);
      } else if (r < 0.7) {
        const s = pick(this.targets.writes);
        const value = `c${id}-${n++}`;
        await this.record(`c${id}@${s.name}`, { op: 'put', key, value }, () => this.put(s, key, value));
      } else {
        const s = pick(this.targets.writes);
        const value = `c${id}-${n++}`;
        const expected = seen.get(key) ?? 0;
        await this.record(`c${id}@${s.name}`, { op: 'cas', key, expected, value }, () => this.put(s, key, value, expected));
      }
      // Pacing, not a wait for a condition: keeps the history (and the checker's search) small
      // and leaves CPU to the servers on a 2-core machine.
      const [lo, hi] = this.opts.pauseMs;
      await new Promise((res) => setTimeout(res, lo + rnd() * (hi - lo)));
    }
  }

  private async record(clientId: string, input: VersionedKvInput, run: () => Promise<Outcome>): Promise<Outcome> {
    const call = this.now();
    const out = await run();
    if (out.kind === 'drop') {
      this.stats.dropped++;
      return out;
    }
    if (out.kind === 'info') {
      this.stats.indeterminate++;
      this.history.push({ clientId, call, input });
      return out;
    }
    const ret = this.now();
    this.stats.ok++;
    const via = clientId.slice(clientId.indexOf('@') + 1);
    if (input.op === 'get' && !clientId.startsWith('final@')) {
      this.stats.reads++;
      this.stats.readsVia[via] = (this.stats.readsVia[via] ?? 0) + 1;
    }
    if (input.op === 'cas' && out.output === false) this.stats.casFalse++;
    if (input.op === 'put' || (input.op === 'cas' && out.output === true)) {
      this.stats.ackedWrites++;
      this.stats.ackedVia[via] = (this.stats.ackedVia[via] ?? 0) + 1;
    }
    this.history.push(out.output === undefined ? { clientId, call, return: ret, input } : { clientId, call, return: ret, input, output: out.output });
    return out;
  }

  private async get(s: HttpTarget, key: string, mode: 'consistent' | 'default' = 'consistent'): Promise<Outcome> {
    try {
      const res = await fetch(`http://${s.http}/v1/kv/${key}${mode === 'consistent' ? '?consistent' : ''}`, { signal: AbortSignal.timeout(this.opts.requestTimeoutMs) });
      const text = await res.text();
      if (res.status === 404) return { kind: 'ok', output: null };
      if (res.status !== 200) return { kind: 'drop' };
      const [entry] = JSON.parse(text) as { Value: string | null; ModifyIndex: number }[];
      return { kind: 'ok', output: { value: Buffer.from(entry!.Value ?? '', 'base64').toString(), version: entry!.ModifyIndex } };
    } catch {
      return { kind: 'drop' };
    }
  }

  private async put(s: HttpTarget, key: string, value: string, cas?: number): Promise<Outcome> {
    const q = cas === undefined ? '' : `?cas=${cas}`;
    this.inFlight.set(s.name, this.writesInFlight(s.name) + 1);
    const waiting = this.writeWaiters.filter((w) => w.name === s.name);
    this.writeWaiters = this.writeWaiters.filter((w) => w.name !== s.name);
    for (const w of waiting) w.resolve();
    try {
      const res = await fetch(`http://${s.http}/v1/kv/${key}${q}`, { method: 'PUT', body: value, signal: AbortSignal.timeout(this.opts.requestTimeoutMs) });
      const text = await res.text();
      if (res.status !== 200) return { kind: 'info' };
      if (cas === undefined) return text === 'true' ? { kind: 'ok' } : { kind: 'info' };
      if (text !== 'true' && text !== 'false') return { kind: 'info' };
      return { kind: 'ok', output: text === 'true' };
    } catch (err) {
      return refused(err) ? { kind: 'drop' } : { kind: 'info' };
    } finally {
      this.inFlight.set(s.name, this.writesInFlight(s.name) - 1);
    }
  }
}

/**
 * "No acknowledged write is lost": the key's final value must come from a write (acknowledged or
 * indeterminate) that no acknowledged write of that key strictly follows in real time (one that
 * was called after it returned would have to be the final value or be overwritten by another).
 * Returns a message per key that fails, empty when none does.
 */
export function lostWrites(history: readonly VersionedKvOperation[], finals: ReadonlyMap<string, VersionedValue | null>): string[] {
  const problems: string[] = [];
  for (const [key, final] of finals) {
    const writes = history.filter((o) => o.input.key === key && (o.input.op === 'put' || o.input.op === 'cas') && o.output !== false);
    const acked = writes.filter((o) => o.return !== undefined);
    if (final === null) {
      if (acked.length > 0) problems.push(`${key}: absent at the end after ${acked.length} acknowledged writes`);
      continue;
    }
    const source = writes.find((o) => (o.input as { value: string }).value === final.value);
    if (!source) {
      problems.push(`${key}: final value ${JSON.stringify(final.value)} was never written`);
      continue;
    }
    const end = source.return ?? Infinity;
    const later = acked.filter((o) => o.call > end);
    if (later.length > 0) {
      const last = later[later.length - 1]!;
      problems.push(
        `${key}: final value ${JSON.stringify(final.value)} (written [${source.call}, ${end}] µs) but ` +
          `${later.length} acknowledged write(s) came after it, e.g. ${JSON.stringify((last.input as { value: string }).value)} [${last.call}, ${last.return}] µs`,
      );
    }
  }
  return problems;
}
