/**
 * The state extension on its own: deterministic (same commands, same snapshot JSON), snapshot
 * -> restore -> snapshot exact, all-or-nothing transactions, sessions and their invalidation
 * (destroy, catalog change), lock delays from the command clock.
 */
import { describe, expect, it } from 'vitest';
import { ERR, type CheckRow, type Command, type NodeRow } from '../../src/plugin.ts';
import { KvState, type SessionSpec, type TxnOutcome } from './kv-state.ts';

/** A catalog with one node and mutable checks (enough for sessions). */
function fakeCatalog() {
  const nodes = new Map<string, NodeRow>();
  const checks = new Map<string, CheckRow[]>();
  const addNode = (name: string, nodeChecks: { id: string; status: 'passing' | 'critical' }[] = [{ id: 'serfHealth', status: 'passing' }]) => {
    nodes.set(name.toLowerCase(), { node: name } as NodeRow);
    checks.set(name.toLowerCase(), nodeChecks.map((c) => ({ checkId: c.id, status: c.status }) as CheckRow));
  };
  return {
    addNode,
    removeNode: (name: string) => {
      nodes.delete(name.toLowerCase());
      checks.delete(name.toLowerCase());
    },
    setCheck: (node: string, id: string, status: 'passing' | 'critical') => {
      const list = checks.get(node.toLowerCase())!;
      list.find((c) => c.checkId === id)!.status = status;
    },
    reader: {
      getNode: (n: string) => nodes.get(n.toLowerCase()),
      nodeChecks: (n: string) => checks.get(n.toLowerCase()) ?? [],
    },
  };
}

const SID = '11111111-2222-3333-4444-555555555555';
const SID2 = 'aaaaaaaa-2222-3333-4444-555555555555';

function session(id: string, extra: Partial<SessionSpec> = {}): SessionSpec {
  return { id, name: '', node: 'n1', lockDelay: 15e9, behavior: 'release', ttl: '', nodeChecks: ['serfHealth'], serviceChecks: null, checks: null, ...extra };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const put = (key: string, value: string, extra: Record<string, unknown> = {}): Command => ({ type: 'kv.op', op: { verb: 'set', key, value: b64(value), ...extra }, now: 1000 });

/** A scripted history touching every command kind. */
function history(): Command[] {
  return [
    put('a/1', 'one', { flags: '7' }),
    put('a/2', 'two'),
    { type: 'kv.session-create', session: session(SID), now: 1000 },
    { type: 'kv.op', op: { verb: 'lock', key: 'a/lock', value: b64('me'), session: SID }, now: 1001 },
    { type: 'kv.op', op: { verb: 'delete', key: 'a/2' }, now: 1002 },
    { type: 'kv.txn', ops: [{ verb: 'set', key: 'b/1', value: b64('x') }, { verb: 'cas', key: 'a/1', index: '1' }], now: 1003 },
    { type: 'kv.txn', ops: [{ verb: 'set', key: 'b/2', value: null }, { verb: 'cas', key: 'a/1', index: '99' }], now: 1004 },
    { type: 'kv.session-create', session: session(SID2, { behavior: 'delete', lockDelay: 5e9 }), now: 1005 },
    { type: 'kv.op', op: { verb: 'lock', key: 'c', session: SID2 }, now: 1006 },
    { type: 'kv.session-destroy', id: SID2, now: 1007 },
    { type: 'kv.op', op: { verb: 'delete-tree', key: 'b/' }, now: 1008 },
  ];
}

function run(cmds: Command[]) {
  const cat = fakeCatalog();
  cat.addNode('n1');
  const st = new KvState(cat.reader);
  const results: unknown[] = [];
  cmds.forEach((c, i) => results.push(st.apply(BigInt(i + 1), c).result));
  return { st, results, cat };
}

describe('KvState', () => {
  it('is deterministic: the same commands give byte-identical snapshots', () => {
    const a = run(history());
    const b = run(history());
    expect(JSON.stringify(a.st.snapshot())).toBe(JSON.stringify(b.st.snapshot()));
    expect(a.results).toEqual(b.results);
  });

  it('snapshot -> restore -> snapshot is exact, and restore(undefined) empties', () => {
    const { st } = run(history());
    const snap = JSON.stringify(st.snapshot());
    const cat = fakeCatalog();
    const other = new KvState(cat.reader);
    other.restore(JSON.parse(snap));
    expect(JSON.stringify(other.snapshot())).toBe(snap);
    // The rebuilt indexes work: the restored session still holds its lock.
    expect(other.kv.heldBy(SID)).toEqual(['a/lock']);
    expect(other.sessions.find(SID)?.createIndex).toBe(3n);
    other.restore(undefined);
    expect(JSON.stringify(other.snapshot())).toBe(JSON.stringify(new KvState(cat.reader).snapshot()));
    expect(other.kv.size).toBe(0);
  });

  it('refuses a malformed snapshot and keeps its state', () => {
    const { st } = run(history());
    const before = JSON.stringify(st.snapshot());
    const bad = JSON.parse(before);
    bad.entries.reverse();
    expect(() => st.restore(bad)).toThrow(expect.objectContaining({ code: ERR.SNAPSHOT_INVALID }));
    expect(() => st.restore({ v: 2 })).toThrow(/unknown format version/);
    expect(JSON.stringify(st.snapshot())).toBe(before);
  });

  it('a failed transaction changes nothing, including indexes and tombstones', () => {
    const { st } = run(history());
    const before = JSON.stringify(st.snapshot());
    const out = st.apply(100n, {
      type: 'kv.txn',
      ops: [
        { verb: 'set', key: 'a/1', value: b64('changed') },
        { verb: 'delete', key: 'a/lock' },
        { verb: 'delete-tree', key: 'a/' },
        { verb: 'set', key: 'new', value: null },
        { verb: 'check-index', key: 'a/1', index: '1' },
      ],
      now: 2000,
    });
    expect(out.tables).toEqual([]);
    expect((out.result as TxnOutcome & { errors: unknown[] }).errors).toEqual([
      // Later ops see earlier ones: the tree delete removed a/1.
      { opIndex: 4, what: `failed to check index, key "a/1" doesn't exist` },
    ]);
    expect(JSON.stringify(st.snapshot())).toBe(before);
  });

  it('a transaction collects every error, in op order, with Consul texts', () => {
    const { st } = run(history());
    const out = st.apply(100n, {
      type: 'kv.txn',
      ops: [
        { verb: 'get', key: 'missing' },
        { verb: 'lock', key: 'a/lock', session: SID2 },
        { verb: 'check-session', key: 'a/lock', session: 'x' },
        { verb: 'check-not-exists', key: 'a/1' },
        { verb: 'unlock', key: 'a/1', session: SID },
        { verb: 'delete-cas', key: 'a/1', index: '1' },
        { verb: 'nope', key: 'k' },
      ],
      now: 2000,
    }).result as { errors: { opIndex: number; what: string }[] };
    expect(out.errors.map((e) => e.what)).toEqual([
      `key "missing" doesn't exist`,
      `invalid session "${SID2}"`,
      `failed session check for key "a/lock", current session "${SID}" != "x"`,
      'key "a/1" exists',
      `failed to unlock key "a/1", lock isn't held, or is held by another session`,
      'failed to delete key "a/1", index is stale',
      'unknown KV verb "nope"',
    ]);
  });

  it('LockIndex counts acquisitions; the holder re-acquiring keeps it; a plain set keeps it too', () => {
    const cat = fakeCatalog();
    cat.addNode('n1');
    const st = new KvState(cat.reader);
    let i = 0n;
    const ap = (c: Command) => st.apply(++i, c).result;
    ap({ type: 'kv.session-create', session: session(SID, { lockDelay: 0 }), now: 0 });
    expect(ap({ type: 'kv.op', op: { verb: 'lock', key: 'L', session: SID, value: b64('1') }, now: 0 })).toBe(true);
    expect(ap({ type: 'kv.op', op: { verb: 'lock', key: 'L', session: SID, value: b64('2') }, now: 0 })).toBe(true);
    expect(st.kv.get('L')).toMatchObject({ lockIndex: 1n, value: b64('2'), session: SID });
    ap(put('L', 'plain'));
    expect(st.kv.get('L')).toMatchObject({ lockIndex: 1n, session: SID });
    expect(ap({ type: 'kv.op', op: { verb: 'unlock', key: 'L', session: SID }, now: 0 })).toBe(true);
    expect(ap({ type: 'kv.op', op: { verb: 'lock', key: 'L', session: SID }, now: 0 })).toBe(true);
    expect(st.kv.get('L')!.lockIndex).toBe(2n);
  });

  it('an unknown or malformed session on acquire is refused with Consul text and applies nothing', () => {
    const { st } = run(history());
    const before = JSON.stringify(st.snapshot());
    expect(() => st.apply(100n, { type: 'kv.op', op: { verb: 'lock', key: 'z', session: SID2 }, now: 0 })).toThrow(`invalid session "${SID2}"`);
    expect(() => st.apply(100n, { type: 'kv.op', op: { verb: 'lock', key: 'z', session: 'abc' }, now: 0 })).toThrow('failed session lookup: UUID must be 36 characters');
    expect(() => st.apply(100n, { type: 'kv.op', op: { verb: 'lock', key: 'z', session: '' }, now: 0 })).toThrow('missing session');
    expect(JSON.stringify(st.snapshot())).toBe(before);
  });

  it('invalidation releases (or deletes) held keys and blocks re-acquire for the lock delay of the command clock', () => {
    const cat = fakeCatalog();
    cat.addNode('n1');
    const st = new KvState(cat.reader);
    let i = 0n;
    const ap = (c: Command) => st.apply(++i, c).result;
    ap({ type: 'kv.session-create', session: session(SID, { lockDelay: 10e9 }), now: 0 });
    ap({ type: 'kv.session-create', session: session(SID2, { lockDelay: 0 }), now: 0 });
    ap({ type: 'kv.op', op: { verb: 'lock', key: 'L', session: SID }, now: 0 });
    ap({ type: 'kv.session-destroy', id: SID, now: 50_000 });
    expect(st.kv.get('L')).toMatchObject({ session: '', lockIndex: 1n });
    expect(ap({ type: 'kv.op', op: { verb: 'lock', key: 'L', session: SID2 }, now: 59_999 })).toBe(false);
    const tx = st.apply(++i, { type: 'kv.txn', ops: [{ verb: 'lock', key: 'L', session: SID2 }], now: 59_999 }).result as { errors: unknown[] };
    expect(tx.errors).toEqual([{ opIndex: 0, what: 'failed to lock key "L" due to lock delay' }]);
    expect(ap({ type: 'kv.op', op: { verb: 'lock', key: 'L', session: SID2 }, now: 60_000 })).toBe(true);
    expect(st.kv.get('L')).toMatchObject({ session: SID2, lockIndex: 2n });
    expect(st.delays.size).toBe(0);
  });

  it('a critical check, a removed check or a removed node invalidates the session (onCatalogChange)', () => {
    const cat = fakeCatalog();
    cat.addNode('n1', [
      { id: 'serfHealth', status: 'passing' },
      { id: 'web', status: 'passing' },
    ]);
    cat.addNode('n2');
    const st = new KvState(cat.reader);
    let i = 0n;
    st.apply(++i, { type: 'kv.session-create', session: session(SID, { behavior: 'delete', lockDelay: 1e9, nodeChecks: ['serfHealth', 'web'] }), now: 0 });
    st.apply(++i, { type: 'kv.session-create', session: session(SID2, { node: 'n2' }), now: 0 });
    st.apply(++i, { type: 'kv.op', op: { verb: 'lock', key: 'L', session: SID }, now: 0 });
    // Unrelated nodes: nothing.
    expect(st.onCatalogChange(++i, { nodes: new Set(['n3']) })).toBeUndefined();
    cat.setCheck('n1', 'web', 'critical');
    expect(st.onCatalogChange(++i, { nodes: new Set(['n1']) })).toEqual({ tables: ['kv.sessions', 'kv'] });
    expect(st.sessions.find(SID)).toBeUndefined();
    expect(st.kv.get('L')).toBeUndefined();
    // The lock delay has no clock yet: it starts with the next command that carries one.
    expect(st.delays.toJson()).toEqual([['L', null, 1000]]);
    st.apply(++i, put('other', 'x'));
    expect(st.delays.toJson()).toEqual([['L', 2000, 1000]]);
    cat.removeNode('n2');
    expect(st.onCatalogChange(++i, { nodes: new Set(['n2']) })).toEqual({ tables: ['kv.sessions'] });
    expect(st.sessions.size).toBe(0);
  });

  it('session create checks the node and its checks in apply', () => {
    const cat = fakeCatalog();
    cat.addNode('n1', [
      { id: 'serfHealth', status: 'passing' },
      { id: 'bad', status: 'critical' },
    ]);
    const st = new KvState(cat.reader);
    expect(() => st.apply(1n, { type: 'kv.session-create', session: session(SID, { node: 'zz' }), now: 0 })).toThrow('Missing node registration');
    expect(() => st.apply(1n, { type: 'kv.session-create', session: session(SID, { checks: ['nope'] }), now: 0 })).toThrow("Missing check 'nope' registration");
    expect(() => st.apply(1n, { type: 'kv.session-create', session: session(SID, { serviceChecks: [{ id: 'bad', namespace: '' }] }), now: 0 })).toThrow(
      "Check 'bad' is in critical state",
    );
    expect(st.sessions.size).toBe(0);
    expect(st.apply(1n, { type: 'kv.session-create', session: session(SID), now: 0 }).result).toBe(SID);
    expect(() => st.apply(2n, { type: 'kv.session-create', session: session(SID), now: 0 })).toThrow(/already exists/);
  });

  it('reap drops old tombstones and moves the table index', () => {
    const { st } = run(history());
    expect(st.kv.tombstoneCount).toBeGreaterThan(0);
    const out = st.apply(50n, { type: 'kv.reap', index: '1000' });
    expect(out.tables).toEqual(['kv']);
    expect(st.kv.tombstoneCount).toBe(0);
    expect(st.kv.maxIndex).toBe(50n);
  });

  it('refuses malformed commands', () => {
    const st = new KvState(fakeCatalog().reader);
    expect(() => st.apply(1n, { type: 'kv.op', op: { verb: 'set', key: 1 }, now: 0 })).toThrow(expect.objectContaining({ code: ERR.COMMAND_INVALID }));
    expect(() => st.apply(1n, { type: 'kv.op', op: { verb: 'set', key: 'k', flags: 'x' }, now: 0 })).toThrow(/flags/);
    expect(() => st.apply(1n, { type: 'kv.op', op: { verb: 'set', key: 'k' } })).toThrow(/now/);
    expect(() => st.apply(1n, { type: 'kv.txn', ops: {}, now: 0 })).toThrow(/ops/);
  });
});
