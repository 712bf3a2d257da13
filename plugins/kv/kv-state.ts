/**
 * The kv plugin's replicated state: a StateExtension holding the KV table (entries, tombstones,
 * the session -> keys index), the sessions table and the lock delays, and applying the
 * plugin's commands deterministically (no clock, no randomness, no I/O: a session ID and the
 * clock a lock delay needs come in the command, chosen by the proposer).
 *
 * Commands (all JSON-safe: uint64 as decimal strings, values as base64):
 * - `kv.op` `{op: KvOp, now}`: one verb of the KV endpoint. Result: true/false. An unknown or
 *   malformed session on `lock` throws KV_REFUSED with Consul's text (nothing applied).
 * - `kv.txn` `{ops: KvOp[], now}`: all or nothing. Result: `{results}` or `{errors}` (then
 *   nothing changed).
 * - `kv.session-create` `{session, now}`: result the ID; a missing node or check, or a critical
 *   check, throws KV_REFUSED.
 * - `kv.session-destroy` `{id, now, reason?}`: destroy or TTL expiry; invalidates.
 * - `kv.reap` `{index}`: drops the tombstones at or below `index` (the tombstone GC).
 *
 * A core catalog change that leaves a session's node gone or one of its checks missing or
 * critical invalidates the session in the same apply (onCatalogChange), as Consul's state
 * store does in the transaction that changes the check.
 *
 * Besides the state, the extension notes what each apply changed (keys, deleted prefixes,
 * sessions created or removed, a restore) for the plugin's runtime to drain from the change
 * feed: that is where readers are woken and timers armed, outside apply.
 */
import { ERR, HeraldError, type CatalogChange, type CatalogReader, type Command, type StateExtension } from '../../src/plugin.ts';
import { runOp, falseMessage, WRITE_VERBS, type KvOp, type OpEnv } from './kv-ops.ts';
import { KvTable, type KvEntry, type KvJournal } from './kv-table.ts';
import { LockDelays } from './lock-delay.ts';
import { sessionCheckIds, SessionTable, type ServiceCheckRef, type SessionBehavior, type SessionRow } from './sessions.ts';
import { compareKeys } from './sorted-keys.ts';
import { goQuote } from './go-text.ts';

/** Table names in ChangeSets (and the core's table indexes). */
export const KV_TABLE = 'kv';
export const SESSIONS_TABLE = 'kv.sessions';

export const KV_COMMANDS = ['kv.op', 'kv.txn', 'kv.session-create', 'kv.session-destroy', 'kv.reap'] as const;

/** A session as `kv.session-create` carries it (validated by the proposer, re-checked here). */
export interface SessionSpec {
  id: string;
  name: string;
  node: string;
  /** ns */
  lockDelay: number;
  behavior: SessionBehavior;
  ttl: string;
  nodeChecks: string[] | null;
  serviceChecks: ServiceCheckRef[] | null;
  checks: string[] | null;
}

/** One transaction result: the entry, with or without its value. */
export interface TxnResult {
  entry: KvEntry;
  withValue: boolean;
}

export type TxnOutcome = { results: TxnResult[] } | { errors: { opIndex: number; what: string }[] };

/** What applies changed since the runtime last looked. */
export interface KvChanges {
  keys: string[];
  trees: string[];
  created: SessionRow[];
  removed: string[];
  restored: boolean;
}

const emptyChanges = (): KvChanges => ({ keys: [], trees: [], created: [], removed: [], restored: false });

function invalid(msg: string): HeraldError {
  return new HeraldError(ERR.COMMAND_INVALID, msg);
}

const UINT = /^[0-9]{1,20}$/;

function checkOp(v: unknown, where: string): KvOp {
  if (typeof v !== 'object' || v === null) throw invalid(`${where}: must be an object`);
  const o = v as Record<string, unknown>;
  if (typeof o.verb !== 'string') throw invalid(`${where}.verb: must be a string`);
  if (typeof o.key !== 'string') throw invalid(`${where}.key: must be a string`);
  if (o.value !== undefined && o.value !== null && typeof o.value !== 'string') throw invalid(`${where}.value: must be base64 text`);
  for (const f of ['flags', 'index'] as const) {
    if (o[f] !== undefined && (typeof o[f] !== 'string' || !UINT.test(o[f] as string))) throw invalid(`${where}.${f}: must be a decimal uint64 string`);
  }
  if (o.session !== undefined && typeof o.session !== 'string') throw invalid(`${where}.session: must be a string`);
  return o as unknown as KvOp;
}

function checkNow(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid('now: must be a number (ms since the epoch)');
  return v;
}

const strList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function checkSession(v: unknown): SessionSpec {
  if (typeof v !== 'object' || v === null) throw invalid('session: must be an object');
  const s = v as Record<string, unknown>;
  for (const f of ['id', 'name', 'node', 'ttl']) if (typeof s[f] !== 'string') throw invalid(`session.${f}: must be a string`);
  if (typeof s.lockDelay !== 'number' || !Number.isFinite(s.lockDelay)) throw invalid('session.lockDelay: must be a number');
  if (s.behavior !== 'release' && s.behavior !== 'delete') throw invalid(`Invalid session behavior: ${String(s.behavior)}`);
  for (const f of ['nodeChecks', 'checks']) if (s[f] !== null && !strList(s[f])) throw invalid(`session.${f}: must be a string list or null`);
  if (
    s.serviceChecks !== null &&
    !(Array.isArray(s.serviceChecks) && s.serviceChecks.every((c) => typeof c === 'object' && c !== null && typeof c.id === 'string' && typeof c.namespace === 'string'))
  ) {
    throw invalid('session.serviceChecks: must be a list of {id, namespace} or null');
  }
  return s as unknown as SessionSpec;
}

/** Undo journal of one transaction: first-touch state of every key, in touch order. */
class Journal implements KvJournal {
  readonly saved = new Map<string, { entry: KvEntry | undefined; stone: bigint | undefined }>();
  touch(key: string, entry: KvEntry | undefined, stone: bigint | undefined): void {
    if (!this.saved.has(key)) this.saved.set(key, { entry, stone });
  }
}

export class KvState implements StateExtension {
  readonly commands = [...KV_COMMANDS];
  readonly kv = new KvTable();
  readonly sessions = new SessionTable();
  readonly delays = new LockDelays();
  private changes = emptyChanges();

  constructor(private readonly catalog: Pick<CatalogReader, 'getNode' | 'nodeChecks'>) {}

  /** What changed since the last call, or undefined when nothing did (the runtime reads it from the change feed). */
  drainChanges(): KvChanges | undefined {
    const c = this.changes;
    if (c.keys.length === 0 && c.trees.length === 0 && c.created.length === 0 && c.removed.length === 0 && !c.restored) return undefined;
    this.changes = emptyChanges();
    return c;
  }

  apply(index: bigint, command: Command): { tables: string[]; result?: unknown } {
    const c = command as Record<string, unknown>;
    switch (c.type) {
      case 'kv.op':
        return this.applyOp(index, checkOp(c.op, 'op'), checkNow(c.now));
      case 'kv.txn': {
        if (!Array.isArray(c.ops)) throw invalid('ops: must be an array');
        const ops = c.ops.map((o, i) => checkOp(o, `ops[${i}]`));
        return this.applyTxn(index, ops, checkNow(c.now));
      }
      case 'kv.session-create':
        return this.applyCreate(index, checkSession(c.session), checkNow(c.now));
      case 'kv.session-destroy': {
        if (typeof c.id !== 'string') throw invalid('id: must be a string');
        const now = checkNow(c.now);
        this.delays.stamp(now);
        let s: SessionRow | undefined;
        try {
          s = this.sessions.lookup(c.id);
        } catch (err) {
          throw new HeraldError(ERR.KV_REFUSED, `failed session lookup: ${(err as Error).message}`);
        }
        if (!s) return { tables: [], result: true };
        const tables = this.invalidate(index, s, now);
        return { tables, result: true };
      }
      case 'kv.reap': {
        if (typeof c.index !== 'string' || !UINT.test(c.index)) throw invalid('index: must be a decimal uint64 string');
        const gone = this.kv.reap(BigInt(c.index));
        if (gone.length === 0) return { tables: [] };
        // Consul moves the tombstones table index to the reap's own index.
        this.kv.maxIndex = index;
        for (const k of gone) this.changes.keys.push(k);
        return { tables: [KV_TABLE] };
      }
      default:
        throw new HeraldError(ERR.COMMAND_UNKNOWN, `unknown command type ${JSON.stringify(c.type)}`);
    }
  }

  private env(index: bigint, journal?: KvJournal): OpEnv {
    return { kv: this.kv, sessions: this.sessions, index, journal, touched: [], trees: [] };
  }

  private noteEnv(env: OpEnv): void {
    for (const k of env.touched) this.changes.keys.push(k);
    for (const p of env.trees) this.changes.trees.push(p);
  }

  private applyOp(index: bigint, op: KvOp, now: number): { tables: string[]; result: boolean } {
    this.delays.stamp(now);
    if (!WRITE_VERBS.has(op.verb)) throw invalid(`op.verb: ${JSON.stringify(op.verb)} is not a write`);
    if (op.key === '' && op.verb !== 'delete-tree') throw new HeraldError(ERR.KV_REFUSED, 'Must provide key');
    // Consul checks the lock delay before Raft (kvsPreApply) and answers false.
    if (op.verb === 'lock' && this.delays.blocks(op.key, now)) return { tables: [], result: false };
    const env = this.env(index);
    const out = runOp(env, op);
    if (out.kind === 'error') throw new HeraldError(ERR.KV_REFUSED, out.message);
    this.noteEnv(env);
    return { tables: env.touched.length > 0 ? [KV_TABLE] : [], result: out.kind === 'ok' };
  }

  private applyTxn(index: bigint, ops: KvOp[], now: number): { tables: string[]; result: TxnOutcome } {
    this.delays.stamp(now);
    // Consul's preCheck, before Raft: a missing key, or a lock under lock delay, fails the whole
    // transaction with only these errors.
    const pre: { opIndex: number; what: string }[] = [];
    ops.forEach((op, i) => {
      if (op.key === '' && op.verb !== 'delete-tree') pre.push({ opIndex: i, what: 'Must provide key' });
      else if (op.verb === 'lock' && this.delays.blocks(op.key, now)) pre.push({ opIndex: i, what: `failed to lock key ${goQuote(op.key)} due to lock delay` });
    });
    if (pre.length > 0) return { tables: [], result: { errors: pre } };

    const journal = new Journal();
    const indexBefore = this.kv.maxIndex;
    const env = this.env(index, journal);
    const results: TxnResult[] = [];
    const errors: { opIndex: number; what: string }[] = [];
    ops.forEach((op, i) => {
      const out = runOp(env, op);
      if (out.kind === 'ok') for (const r of out.results) results.push(r);
      else errors.push({ opIndex: i, what: out.kind === 'error' ? out.message : falseMessage(op) });
    });
    if (errors.length > 0) {
      // Roll back in reverse order of first touch: every key goes back to what it was.
      for (const [key, saved] of [...journal.saved].reverse()) this.kv.restoreKey(key, saved.entry, saved.stone);
      this.kv.maxIndex = indexBefore;
      return { tables: [], result: { errors } };
    }
    this.noteEnv(env);
    return { tables: env.touched.length > 0 ? [KV_TABLE] : [], result: { results } };
  }

  /**
   * A transaction with no write, run against the current state without the log (Consul's
   * TxnRO). Read verbs never mutate, so no journal is needed.
   */
  read(ops: KvOp[]): TxnOutcome {
    const pre: { opIndex: number; what: string }[] = [];
    ops.forEach((op, i) => {
      if (op.key === '' && op.verb !== 'delete-tree') pre.push({ opIndex: i, what: 'Must provide key' });
    });
    if (pre.length > 0) return { errors: pre };
    const env = this.env(this.kv.maxIndex);
    const results: TxnResult[] = [];
    const errors: { opIndex: number; what: string }[] = [];
    ops.forEach((op, i) => {
      if (WRITE_VERBS.has(op.verb)) {
        errors.push({ opIndex: i, what: `${op.verb} is a write` });
        return;
      }
      const out = runOp(env, op);
      if (out.kind === 'ok') for (const r of out.results) results.push(r);
      else errors.push({ opIndex: i, what: out.kind === 'error' ? out.message : falseMessage(op) });
    });
    return errors.length > 0 ? { errors } : { results };
  }

  private applyCreate(index: bigint, s: SessionSpec, now: number): { tables: string[]; result: string } {
    this.delays.stamp(now);
    let existing: SessionRow | undefined;
    try {
      existing = this.sessions.lookup(s.id);
    } catch (err) {
      throw invalid(`session.id: ${(err as Error).message}`);
    }
    if (existing) throw invalid(`session ${s.id} already exists`);
    const node = this.catalog.getNode(s.node);
    if (!node) throw new HeraldError(ERR.KV_REFUSED, 'Missing node registration');
    const checks = new Map(this.catalog.nodeChecks(s.node).map((c) => [c.checkId, c]));
    for (const id of sessionCheckIds(s)) {
      const c = checks.get(id);
      if (!c) throw new HeraldError(ERR.KV_REFUSED, `Missing check '${id}' registration`);
      if (c.status === 'critical') throw new HeraldError(ERR.KV_REFUSED, `Check '${id}' is in critical state`);
    }
    const row: SessionRow = { ...s, createIndex: index, modifyIndex: index };
    this.sessions.insert(row);
    this.sessions.index = index;
    this.changes.created.push(row);
    return { tables: [SESSIONS_TABLE], result: s.id };
  }

  /**
   * Removes a session and releases or deletes its keys per Behavior, setting their lock delay
   * (from `now`, or pending when the caller has no clock). Returns the tables touched.
   */
  private invalidate(index: bigint, s: SessionRow, now: number | undefined): string[] {
    this.sessions.remove(s);
    this.sessions.index = index;
    this.changes.removed.push(s.id);
    const delayMs = s.lockDelay / 1e6;
    const keys = this.kv.heldBy(s.id);
    for (const k of keys) {
      const e = this.kv.get(k)!;
      if (s.behavior === 'delete') this.kv.delete(k, index);
      else {
        this.kv.put({ key: k, flags: e.flags, value: e.value, session: '', lockIndex: e.lockIndex, createIndex: e.createIndex, modifyIndex: index });
      }
      this.delays.set(k, delayMs, now);
      this.changes.keys.push(k);
    }
    return keys.length > 0 ? [SESSIONS_TABLE, KV_TABLE] : [SESSIONS_TABLE];
  }

  onCatalogChange(index: bigint, change: CatalogChange): { tables: string[] } | void {
    if (this.sessions.size === 0) return;
    const tables = new Set<string>();
    for (const lnode of [...change.nodes].sort()) {
      const list = this.sessions.ofNode(lnode);
      if (list.length === 0) continue;
      const node = this.catalog.getNode(lnode);
      const checks = node ? new Map(this.catalog.nodeChecks(lnode).map((c) => [c.checkId, c.status])) : undefined;
      for (const s of list) {
        const dead = !checks || sessionCheckIds(s).some((id) => checks.get(id) === undefined || checks.get(id) === 'critical');
        if (dead) for (const t of this.invalidate(index, s, undefined)) tables.add(t);
      }
    }
    if (tables.size > 0) return { tables: [...tables] };
  }

  // ---- snapshots ---------------------------------------------------------------------------

  /** Canonical JSON-able state: equal states give equal JSON. */
  snapshot(): unknown {
    return {
      v: 1,
      kvIndex: this.kv.maxIndex.toString(),
      sessionsIndex: this.sessions.index.toString(),
      entries: this.kv.allEntries().map((e) => [e.key, e.flags.toString(), e.value, e.session, e.lockIndex.toString(), e.createIndex.toString(), e.modifyIndex.toString()]),
      tombstones: this.kv.allTombstones().map(([k, i]) => [k, i.toString()]),
      sessions: this.sessions.all().map((s) => ({
        id: s.id,
        name: s.name,
        node: s.node,
        lockDelay: s.lockDelay,
        behavior: s.behavior,
        ttl: s.ttl,
        nodeChecks: s.nodeChecks,
        serviceChecks: s.serviceChecks,
        checks: s.checks,
        createIndex: s.createIndex.toString(),
        modifyIndex: s.modifyIndex.toString(),
      })),
      lockDelays: this.delays.toJson(),
    };
  }

  /** Replaces all state with a snapshot's (undefined: empty). Throws SNAPSHOT_INVALID on a malformed one, changing nothing. */
  restore(data: unknown): void {
    const next = { kv: new KvTable(), sessions: new SessionTable(), delays: new LockDelays() };
    if (data !== undefined) {
      try {
        decodeInto(data, next);
      } catch (err) {
        throw new HeraldError(ERR.SNAPSHOT_INVALID, `snapshot: kv: ${(err as Error).message}`, { cause: err });
      }
    }
    this.kv.clear();
    this.sessions.clear();
    for (const e of next.kv.allEntries()) this.kv.put(e);
    for (const [k, i] of next.kv.allTombstones()) this.kv.putTombstone(k, i);
    this.kv.maxIndex = next.kv.maxIndex;
    for (const s of next.sessions.all()) this.sessions.insert(s);
    this.sessions.index = next.sessions.index;
    this.delays.restore(next.delays.toJson());
    this.changes = emptyChanges();
    this.changes.restored = true;
  }
}

function u64(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !UINT.test(v)) throw new Error(`${what}: must be a decimal uint64 string`);
  return BigInt(v);
}

function decodeInto(data: unknown, into: { kv: KvTable; sessions: SessionTable; delays: LockDelays }): void {
  if (typeof data !== 'object' || data === null) throw new Error('must be an object');
  const d = data as Record<string, unknown>;
  if (d.v !== 1) throw new Error(`unknown format version ${JSON.stringify(d.v)}`);
  if (!Array.isArray(d.entries) || !Array.isArray(d.tombstones) || !Array.isArray(d.sessions)) throw new Error('entries, tombstones and sessions must be arrays');
  for (const s of d.sessions) {
    const spec = checkSession(s);
    const r = s as Record<string, unknown>;
    into.sessions.insert({ ...spec, createIndex: u64(r.createIndex, 'session.createIndex'), modifyIndex: u64(r.modifyIndex, 'session.modifyIndex') });
  }
  let last: string | undefined;
  for (const row of d.entries) {
    if (!Array.isArray(row) || row.length !== 7 || typeof row[0] !== 'string' || !(row[2] === null || typeof row[2] === 'string') || typeof row[3] !== 'string') {
      throw new Error(`bad entry ${JSON.stringify(row)?.slice(0, 200)}`);
    }
    if (last !== undefined && compareKeys(last, row[0]) >= 0) throw new Error(`entries out of order at ${JSON.stringify(row[0])}`);
    last = row[0];
    if (row[3] !== '' && !into.sessions.find(row[3])) throw new Error(`entry ${JSON.stringify(row[0])} is held by unknown session ${row[3]}`);
    into.kv.put({
      key: row[0],
      flags: u64(row[1], 'flags'),
      value: row[2],
      session: row[3],
      lockIndex: u64(row[4], 'lockIndex'),
      createIndex: u64(row[5], 'createIndex'),
      modifyIndex: u64(row[6], 'modifyIndex'),
    });
  }
  for (const row of d.tombstones) {
    if (!Array.isArray(row) || row.length !== 2 || typeof row[0] !== 'string') throw new Error(`bad tombstone ${JSON.stringify(row)}`);
    into.kv.putTombstone(row[0], u64(row[1], 'tombstone index'));
  }
  into.kv.maxIndex = u64(d.kvIndex, 'kvIndex');
  into.sessions.index = u64(d.sessionsIndex, 'sessionsIndex');
  into.delays.restore(d.lockDelays);
}
