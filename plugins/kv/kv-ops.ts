/**
 * The KV verbs as Consul's state store runs them (agent/consul/state/kvs.go, txn.go), shared by
 * the single-key endpoint and transactions. Each verb checks everything it needs before its
 * only mutation, so a verb that fails changes nothing; a transaction undoes earlier verbs
 * through its journal.
 *
 * One deliberate difference: a plain `set` or `cas` keeps the key's LockIndex. Consul's
 * kvsSetTxn takes LockIndex from the request, which has none, so a plain PUT over a key resets
 * it to 0 and a later acquisition can hand out a fencing token that was already used. No client
 * reads LockIndex after a plain PUT expecting 0, and keeping it makes LockIndex count
 * acquisitions, as the API documents.
 */
import { goQuote } from './go-text.ts';
import { sameEntry, type KvEntry, type KvJournal, type KvTable } from './kv-table.ts';
import type { SessionTable } from './sessions.ts';

/** KV verbs of `/v1/txn` (api.KVOp). */
export const KV_VERBS = [
  'set',
  'cas',
  'lock',
  'unlock',
  'get',
  'get-tree',
  'check-index',
  'check-session',
  'check-not-exists',
  'delete',
  'delete-tree',
  'delete-cas',
] as const;
export type KvVerb = (typeof KV_VERBS)[number];

/** Verbs that change the store (Consul's isWrite). */
export const WRITE_VERBS: ReadonlySet<string> = new Set(['set', 'cas', 'lock', 'unlock', 'delete', 'delete-tree', 'delete-cas']);

/** One KV operation as commands carry it (JSON-safe: uint64 as decimal strings, the value as base64). */
export interface KvOp {
  verb: string;
  key: string;
  /** Base64 of the value bytes; null or absent for none. */
  value?: string | null;
  flags?: string;
  /** ModifyIndex for cas, check-index, delete-cas. */
  index?: string;
  session?: string;
}

/** What a verb did: `ok` with its transaction results, `false` (CAS/lock refusal), or an error text. */
export type OpOutcome =
  | { kind: 'ok'; results: { entry: KvEntry; withValue: boolean }[] }
  | { kind: 'false' }
  | { kind: 'error'; message: string };

/** Where a verb runs: the tables, the entry's index, and the keys and prefixes it changed (for waking readers). */
export interface OpEnv {
  kv: KvTable;
  sessions: SessionTable;
  index: bigint;
  journal?: KvJournal;
  /** Keys whose entry changed. */
  touched: string[];
  /** Prefixes deleted as a tree. */
  trees: string[];
}

const OK_NONE: OpOutcome = { kind: 'ok', results: [] };
const FALSE: OpOutcome = { kind: 'false' };
const ok = (entry: KvEntry, withValue = false): OpOutcome => ({ kind: 'ok', results: [{ entry, withValue }] });
const error = (message: string): OpOutcome => ({ kind: 'error', message });

function big(v: string | undefined): bigint {
  return v === undefined || v === '' ? 0n : BigInt(v);
}

/** Writes `next` unless it equals what is stored (then, as Consul, nothing changes and the stored entry is the result). */
function write(env: OpEnv, existing: KvEntry | undefined, next: KvEntry): KvEntry {
  if (existing && sameEntry(existing, next)) return existing;
  env.kv.put(next, env.journal);
  env.touched.push(next.key);
  return next;
}

function setEntry(env: OpEnv, op: KvOp): KvEntry {
  const existing = env.kv.get(op.key);
  return write(env, existing, {
    key: op.key,
    flags: big(op.flags),
    value: op.value ?? null,
    session: existing?.session ?? '',
    lockIndex: existing?.lockIndex ?? 0n,
    createIndex: existing?.createIndex ?? env.index,
    modifyIndex: env.index,
  });
}

/** Consul's failure text for a verb that answered false, inside a transaction. */
export function falseMessage(op: KvOp): string {
  const k = goQuote(op.key);
  switch (op.verb) {
    case 'cas':
      return `failed to set key ${k}, index is stale`;
    case 'lock':
      return `failed to lock key ${k}, lock is already held`;
    case 'unlock':
      return `failed to unlock key ${k}, lock isn't held, or is held by another session`;
    case 'delete-cas':
      return `failed to delete key ${k}, index is stale`;
    default:
      return `operation ${op.verb} on key ${k} failed`;
  }
}

/** Runs one verb. Lock delay and key presence are checked before (precheck), as Consul does before Raft. */
export function runOp(env: OpEnv, op: KvOp): OpOutcome {
  const { kv } = env;
  switch (op.verb) {
    case 'set':
      return ok(setEntry(env, op));

    case 'cas': {
      const want = big(op.index);
      const existing = kv.get(op.key);
      if (want === 0n ? existing !== undefined : existing === undefined || existing.modifyIndex !== want) return FALSE;
      return ok(setEntry(env, op));
    }

    case 'lock': {
      const sid = op.session ?? '';
      if (sid === '') return error('missing session');
      let session;
      try {
        session = env.sessions.lookup(sid);
      } catch (err) {
        return error(`failed session lookup: ${(err as Error).message}`);
      }
      if (!session) return error(`invalid session ${goQuote(sid)}`);
      const existing = kv.get(op.key);
      let lockIndex: bigint;
      if (!existing) lockIndex = 1n;
      else if (existing.session === session.id) lockIndex = existing.lockIndex;
      else if (existing.session !== '') return FALSE;
      else lockIndex = existing.lockIndex + 1n;
      return ok(
        write(env, existing, {
          key: op.key,
          flags: big(op.flags),
          value: op.value ?? null,
          session: session.id,
          lockIndex,
          createIndex: existing?.createIndex ?? env.index,
          modifyIndex: env.index,
        }),
      );
    }

    case 'unlock': {
      const sid = op.session ?? '';
      if (sid === '') return error('missing session');
      const existing = kv.get(op.key);
      if (!existing || existing.session === '') return FALSE;
      const holder = env.sessions.find(sid);
      if (!holder || holder.id !== existing.session) return FALSE;
      return ok(
        write(env, existing, {
          key: op.key,
          flags: big(op.flags),
          value: op.value ?? null,
          session: '',
          lockIndex: existing.lockIndex,
          createIndex: existing.createIndex,
          modifyIndex: env.index,
        }),
      );
    }

    case 'get': {
      const e = kv.get(op.key);
      return e ? ok(e, true) : error(`key ${goQuote(op.key)} doesn't exist`);
    }

    case 'get-tree':
      return { kind: 'ok', results: kv.list(op.key).map((entry) => ({ entry, withValue: true })) };

    case 'check-index': {
      const e = kv.get(op.key);
      if (!e) return error(`failed to check index, key ${goQuote(op.key)} doesn't exist`);
      const want = big(op.index);
      if (e.modifyIndex !== want) return error(`failed index check for key ${goQuote(op.key)}, current modify index ${e.modifyIndex} != ${want}`);
      return ok(e);
    }

    case 'check-session': {
      const e = kv.get(op.key);
      if (!e) return error(`failed to check session, key ${goQuote(op.key)} doesn't exist`);
      const sid = op.session ?? '';
      if (e.session !== sid) return error(`failed session check for key ${goQuote(op.key)}, current session ${goQuote(e.session)} != ${goQuote(sid)}`);
      return ok(e);
    }

    case 'check-not-exists':
      return kv.get(op.key) ? error(`key ${goQuote(op.key)} exists`) : OK_NONE;

    case 'delete':
      if (kv.delete(op.key, env.index, env.journal)) env.touched.push(op.key);
      return OK_NONE;

    case 'delete-cas': {
      const e = kv.get(op.key);
      // Consul: a missing key counts as deleted; otherwise the index must match.
      if (!e) return OK_NONE;
      if (e.modifyIndex !== big(op.index)) return FALSE;
      kv.delete(op.key, env.index, env.journal);
      env.touched.push(op.key);
      return OK_NONE;
    }

    case 'delete-tree': {
      const gone = kv.deleteTree(op.key, env.index, env.journal);
      if (gone.length > 0) {
        for (const k of gone) env.touched.push(k);
        env.trees.push(op.key);
      }
      return OK_NONE;
    }

    default:
      return error(`unknown KV verb ${goQuote(op.verb)}`);
  }
}
