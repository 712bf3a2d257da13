/**
 * The simulated servers' state machine: a deterministic KV map whose versions are log indexes
 * (Consul's ModifyIndex), a catalog-like key space (register / deregister), and client
 * sessions that make retried commands take effect at most once (dissertation §6.3: a client
 * numbers its commands; the state machine remembers each client's latest number and answer,
 * and a command at or below it does nothing and answers the remembered result).
 *
 * Without sessions a write retried after a timeout could apply twice (once from the old
 * leader's log, once from the retry), which is not linearizable; with them a client may retry
 * an operation at another server safely.
 *
 * Commands are JSON in the entry data, so transcripts print them (describeData). Snapshots are
 * the whole state as JSON. No clock, randomness or I/O: every server that applies the same
 * entries ends in the same state (`fingerprint()` compares them).
 */
import type { Entry } from '../core/index.ts';

/** A client's command as carried in a log entry. `c`/`s`: client id and its command number. */
export type KvCommand =
  | { readonly c: number; readonly s: number; readonly op: 'put'; readonly k: string; readonly v: string }
  | { readonly c: number; readonly s: number; readonly op: 'cas'; readonly k: string; readonly e: number; readonly v: string }
  | { readonly c: number; readonly s: number; readonly op: 'del'; readonly k: string }
  /** A read through the log (the alternative to ReadIndex). */
  | { readonly c: number; readonly s: number; readonly op: 'get'; readonly k: string }
  /** Catalog key space (`k` starts with `svc/`): service `k` now lives on node `v`. */
  | { readonly c: number; readonly s: number; readonly op: 'reg'; readonly k: string; readonly v: string }
  | { readonly c: number; readonly s: number; readonly op: 'dereg'; readonly k: string };

/** A stored value and the index of the write that set it. */
export interface Versioned {
  readonly value: string;
  readonly version: number;
}

/** What applying a command answers. `stale`: a command number below the client's latest (a late duplicate). */
export type KvResult =
  | { readonly kind: 'put'; readonly version: number }
  | { readonly kind: 'cas'; readonly ok: boolean }
  | { readonly kind: 'del' }
  | { readonly kind: 'get'; readonly value: Versioned | null }
  | { readonly kind: 'stale' };

interface Session {
  readonly seq: number;
  readonly result: KvResult;
}

interface SnapshotShape {
  readonly applied: number;
  readonly kv: [string, string, number][];
  readonly catalog: [string, string, number][];
  readonly sessions: [number, number, KvResult][];
}

/** Keys under this prefix are catalog services; reads of them look at the catalog table. */
export const CATALOG_PREFIX = 'svc/';

export function encodeCommand(cmd: KvCommand): Buffer {
  return Buffer.from(JSON.stringify(cmd), 'utf8');
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as KvCommand;
}

/** One server's replica of the application state. */
export class KvStateMachine {
  private kv = new Map<string, Versioned>();
  private catalog = new Map<string, Versioned>();
  private sessions = new Map<number, Session>();
  /** Index of the last entry applied (or of the snapshot restored). */
  applied = 0n;

  /**
   * Applies committed entry `e` (the next index). Noop and conf entries only move `applied`;
   * normal entries are commands. Returns the command's answer, undefined for the others.
   */
  apply(e: Entry): KvResult | undefined {
    this.applied = e.index;
    if (e.kind !== 'normal') return undefined;
    const cmd = decodeCommand(e.data);
    const s = this.sessions.get(cmd.c);
    if (s !== undefined && cmd.s <= s.seq) return cmd.s === s.seq ? s.result : { kind: 'stale' };
    const version = Number(e.index);
    let result: KvResult;
    switch (cmd.op) {
      case 'put':
        this.kv.set(cmd.k, { value: cmd.v, version });
        result = { kind: 'put', version };
        break;
      case 'cas': {
        const cur = this.kv.get(cmd.k);
        const ok = cmd.e === 0 ? cur === undefined : cur !== undefined && cur.version === cmd.e;
        if (ok) this.kv.set(cmd.k, { value: cmd.v, version });
        result = { kind: 'cas', ok };
        break;
      }
      case 'del':
        this.kv.delete(cmd.k);
        result = { kind: 'del' };
        break;
      case 'get':
        result = { kind: 'get', value: this.read(cmd.k) };
        break;
      case 'reg':
        this.catalog.set(cmd.k, { value: cmd.v, version });
        result = { kind: 'put', version };
        break;
      case 'dereg':
        this.catalog.delete(cmd.k);
        result = { kind: 'del' };
        break;
    }
    this.sessions.set(cmd.c, { seq: cmd.s, result });
    return result;
  }

  /**
   * A local read (the caller decides whether it is linearizable): keys under `svc/` name a
   * catalog service (register / deregister), all others a KV key.
   */
  read(key: string): Versioned | null {
    return (key.startsWith(CATALOG_PREFIX) ? this.catalog.get(key) : this.kv.get(key)) ?? null;
  }

  /** The whole state, for a snapshot. Deterministic: keys are sorted. */
  snapshot(): Buffer {
    const shape: SnapshotShape = {
      applied: Number(this.applied),
      kv: [...this.kv].sort(byKey).map(([k, v]) => [k, v.value, v.version]),
      catalog: [...this.catalog].sort(byKey).map(([k, v]) => [k, v.value, v.version]),
      sessions: [...this.sessions].sort((a, b) => a[0] - b[0]).map(([c, s]) => [c, s.seq, s.result]),
    };
    return Buffer.from(JSON.stringify(shape), 'utf8');
  }

  /** Replaces the state with a snapshot's (empty data: the empty state at `index`). */
  restore(data: Uint8Array, index: bigint): void {
    this.kv = new Map();
    this.catalog = new Map();
    this.sessions = new Map();
    this.applied = index;
    if (data.length === 0) return;
    const shape = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as SnapshotShape;
    for (const [k, value, version] of shape.kv) this.kv.set(k, { value, version });
    for (const [k, value, version] of shape.catalog) this.catalog.set(k, { value, version });
    for (const [c, seq, result] of shape.sessions) this.sessions.set(c, { seq, result });
  }

  /** Equal for two replicas iff their states (and applied index) are equal. */
  fingerprint(): string {
    return this.snapshot().toString('utf8');
  }
}

function byKey<V>(a: [string, V], b: [string, V]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
