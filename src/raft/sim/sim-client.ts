/**
 * A simulated KV client, Jepsen style: it issues one operation at a time, records its call and
 * return in virtual time, and retries at other servers when a server redirects it, loses its
 * entry or does not answer in time. Every attempt of an operation carries the same command
 * number, so the state machine's session applies it at most once (kv-state-machine.ts).
 *
 * What goes into the history (the linearizability checker's input):
 * - an answer: the operation with its output, returning at the time the answer arrived;
 * - no answer by the operation's deadline: if some attempt may have taken effect (it timed
 *   out, or its server vanished), the operation is indeterminate (no return) — it may take
 *   effect at any later time or never; if every attempt was refused outright (redirect: nothing
 *   was appended; lost: its entry was replaced), it had no effect and is left out.
 */
import { CATALOG_PREFIX, type KvCommand, type KvResult } from './kv-state-machine.ts';
import type { VersionedKvInput, VersionedKvOperation, VersionedKvOutput } from './linearizability-kv.ts';
import type { Prng } from './prng.ts';
import type { ClientRequest, ClientResponse } from './sim-network.ts';
import type { SimOptions } from './sim-options.ts';

/** What a client needs from the simulation. */
export interface ClientEnv {
  readonly options: SimOptions;
  now(): number;
  schedule(delay: number, label: string, run: () => void): void;
  send(to: string, req: ClientRequest): void;
  /** Servers a client may address (the whole fleet: it does not track membership). */
  servers(): readonly string[];
}

interface OpenOp {
  readonly seq: number;
  readonly call: number;
  readonly deadline: number;
  readonly input: VersionedKvInput;
  readonly cmd: KvCommand;
  readonly readIndex: boolean;
  attempt: number;
  /** Some attempt may have taken effect. */
  maybe: boolean;
}

/** Per-client counters. */
export interface ClientStats {
  ok: number;
  indeterminate: number;
  failed: number;
  retries: number;
}

export class SimClient {
  private seq = 0;
  private op: OpenOp | undefined;
  private target: string;
  private done = 0;
  private stopped = false;
  /** Versions this client saw per key, so its cas operations often have a chance to succeed. */
  private readonly seen = new Map<string, number>();
  readonly stats: ClientStats = { ok: 0, indeterminate: 0, failed: 0, retries: 0 };

  constructor(
    readonly id: number,
    private readonly rng: Prng,
    private readonly env: ClientEnv,
    private readonly history: VersionedKvOperation[],
  ) {
    this.target = rng.pick(env.servers());
  }

  get address(): string {
    return `c${this.id}`;
  }

  get busy(): boolean {
    return this.op !== undefined;
  }

  /** Starts the first operation after a random delay. */
  begin(): void {
    this.scheduleNext();
  }

  /** Starts no new operation; the one in flight may still finish (see `abandon`). */
  stop(): void {
    this.stopped = true;
  }

  /** Ends the open operation now, as its deadline would. */
  abandon(): void {
    if (this.op) this.giveUp(this.op);
  }

  private scheduleNext(): void {
    if (this.stopped || this.done >= this.env.options.opsPerClient) return;
    const [lo, hi] = this.env.options.thinkTime;
    this.env.schedule(this.rng.between(lo, hi), `client ${this.id} next op`, () => this.startOp());
  }

  private startOp(): void {
    if (this.stopped || this.op) return;
    const o = this.env.options;
    const seq = ++this.seq;
    const value = `${this.id}.${seq}`;
    const base = { c: this.id, s: seq };
    let input: VersionedKvInput;
    let cmd: KvCommand;
    let readIndex = false;
    if (this.rng.chance(o.catalogOps)) {
      const k = `${CATALOG_PREFIX}${this.rng.pick(['web', 'db'])}`;
      const r = this.rng.int(10);
      if (r < 4) {
        input = { op: 'put', key: k, value };
        cmd = { ...base, op: 'reg', k, v: value };
      } else if (r < 6) {
        input = { op: 'delete', key: k };
        cmd = { ...base, op: 'dereg', k };
      } else {
        input = { op: 'get', key: k };
        cmd = { ...base, op: 'get', k };
        readIndex = !this.rng.chance(o.logReads);
      }
    } else {
      const k = `k${this.rng.int(o.kvKeys)}`;
      const r = this.rng.int(100);
      if (r < 40) {
        input = { op: 'get', key: k };
        cmd = { ...base, op: 'get', k };
        readIndex = !this.rng.chance(o.logReads);
      } else if (r < 70) {
        input = { op: 'put', key: k, value };
        cmd = { ...base, op: 'put', k, v: value };
      } else if (r < 92) {
        // Mostly the version this client last saw (a real read-modify-write), sometimes
        // "absent" or a version that is surely stale.
        const last = this.seen.get(k);
        const x = this.rng.int(10);
        const e = last === undefined || x < 2 ? 0 : x < 8 ? last : Math.max(1, last - 1);
        input = { op: 'cas', key: k, expected: e, value };
        cmd = { ...base, op: 'cas', k, e, v: value };
      } else {
        input = { op: 'delete', key: k };
        cmd = { ...base, op: 'del', k };
      }
    }
    const now = this.env.now();
    this.op = { seq, call: now, deadline: now + o.opTimeout, input, cmd, readIndex, attempt: 0, maybe: false };
    this.sendAttempt();
  }

  private sendAttempt(): void {
    const op = this.op!;
    op.attempt++;
    if (op.attempt > 1) this.stats.retries++;
    const attempt = op.attempt;
    this.env.send(this.target, { client: this.id, seq: op.seq, attempt, cmd: op.cmd, readIndex: op.readIndex });
    this.env.schedule(this.env.options.attemptTimeout, `client ${this.id} timeout ${op.seq}.${attempt}`, () => {
      if (this.op !== op || op.attempt !== attempt) return;
      // No answer: the server may have appended it and crashed, or the answer was lost.
      op.maybe = true;
      this.target = this.otherServer(this.target);
      this.retryOrGiveUp(op, 0);
    });
  }

  /** An answer arrived (possibly for an earlier attempt, or a duplicate). */
  receive(resp: ClientResponse): void {
    const op = this.op;
    if (op === undefined || resp.seq !== op.seq) return;
    if (resp.kind === 'ok') {
      // Any attempt's answer is the operation's: the session applied it once.
      this.finish(op, resp.result);
      return;
    }
    if (resp.attempt !== op.attempt) return; // a refusal of an attempt we already gave up on
    if (resp.kind === 'redirect') {
      this.target = resp.leader !== undefined && resp.leader !== this.target ? resp.leader : this.otherServer(this.target);
      // With a hint, retry at once; without one an election is probably running.
      const backoff = resp.leader !== undefined ? this.rng.between(0, 1000) : this.rng.between(5_000, 20_000);
      this.retryOrGiveUp(op, backoff);
    } else {
      this.target = this.otherServer(this.target);
      this.retryOrGiveUp(op, this.rng.between(0, 5_000));
    }
  }

  private retryOrGiveUp(op: OpenOp, after: number): void {
    // Leave the in-flight attempt count unchanged until the retry is sent, so a late refusal
    // of the current attempt is still recognised.
    const attempt = op.attempt;
    this.env.schedule(after, `client ${this.id} retry ${op.seq}`, () => {
      if (this.op !== op || op.attempt !== attempt) return;
      if (this.env.now() >= op.deadline) this.giveUp(op);
      else this.sendAttempt();
    });
  }

  private finish(op: OpenOp, result: KvResult): void {
    let output: VersionedKvOutput | undefined;
    switch (result.kind) {
      case 'put':
        output = result.version;
        this.seen.set(op.input.key, result.version);
        break;
      case 'cas':
        output = result.ok;
        break;
      case 'get':
        output = result.value === null ? null : { value: result.value.value, version: result.value.version };
        if (result.value) this.seen.set(op.input.key, result.value.version);
        break;
      case 'del':
        output = undefined;
        break;
      case 'stale':
        // Cannot happen for the open operation: its number is the client's latest.
        throw new Error(`client ${this.id}: stale answer for its open operation ${op.seq}`);
    }
    this.history.push({ clientId: this.id, call: op.call, return: this.env.now(), input: op.input, ...(output !== undefined ? { output } : {}) });
    this.stats.ok++;
    this.close();
  }

  private giveUp(op: OpenOp): void {
    if (op.maybe) {
      this.history.push({ clientId: this.id, call: op.call, input: op.input });
      this.stats.indeterminate++;
    } else this.stats.failed++;
    this.close();
  }

  private close(): void {
    this.op = undefined;
    this.done++;
    this.scheduleNext();
  }

  private otherServer(current: string): string {
    const all = this.env.servers();
    if (all.length < 2) return current;
    let next = current;
    while (next === current) next = this.rng.pick(all);
    return next;
  }
}
