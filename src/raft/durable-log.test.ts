import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateMachine } from '../catalog/state-machine.ts';
import type { ChangeSet, Command } from '../catalog/types.ts';
import { ERR, HeraldError } from '../errors.ts';
import { createLogger } from '../log.ts';
import type { StateExtension } from '../plugin.ts';
import { createMemoryStorage } from '../storage/memory-storage.ts';
import { openRocksStorage, type RawRocks } from '../storage/rocksdb-storage.ts';
import type { LogEntry, Storage } from '../storage/storage.ts';
import { encodeCommand } from './command-codec.ts';
import { DurableLog } from './durable-log.ts';

const dirs: string[] = [];
const stores: Storage[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'herald-durable-'));
  dirs.push(d);
  return d;
}
async function rocks(dir: string, wrap?: (db: RawRocks) => RawRocks): Promise<Storage> {
  const s = await openRocksStorage({ dir, wrap });
  stores.push(s);
  return s;
}

const node = (n: string) => ({ node: n, id: '', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} });
const reg = (n: string, service?: string): Command => ({
  type: 'catalog.register',
  node: node(n),
  ...(service
    ? { service: { id: service, service, tags: [], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false, taggedAddresses: {} } }
    : {}),
});
const check = (n: string, serviceId: string): Command => ({
  type: 'catalog.register',
  node: node(n),
  checks: [{ checkId: `c-${serviceId}`, name: 'c', status: 'passing', notes: '', output: '', serviceId, serviceName: '', serviceTags: [], type: 'ttl', definition: {} }],
});

/** A tiny replicated table: `t.set` always applies, `t.cas` only when the current value matches. */
function table(): StateExtension & { values: () => Record<string, unknown> } {
  let values = new Map<string, unknown>();
  return {
    commands: ['t.set', 't.cas'],
    apply(_index, c) {
      const key = String(c.key);
      if (c.type === 't.cas' && (values.get(key) ?? null) !== c.expect) {
        throw new HeraldError(ERR.COMMAND_INVALID, `cas failed on ${key}`);
      }
      values.set(key, c.value);
      return { tables: ['t'], result: c.value };
    },
    snapshot: () => Object.fromEntries([...values].sort(([a], [b]) => (a < b ? -1 : 1))),
    restore: (d) => {
      values = new Map(Object.entries((d ?? {}) as Record<string, unknown>));
    },
    values: () => Object.fromEntries(values),
  };
}
const set = (key: string, value: unknown): Command => ({ type: 't.set', key, value });
const cas = (key: string, expect: unknown, value: unknown): Command => ({ type: 't.cas', key, expect, value });

function machine() {
  const sm = new StateMachine();
  const t = table();
  sm.registerExtension(t);
  return { sm, t };
}
async function openLog(storage: Storage, opts: Parameters<typeof DurableLog.open>[2] = {}) {
  const m = machine();
  const { log, report } = await DurableLog.open(m.sm, storage, opts);
  return { ...m, log, report };
}
function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger('debug', 'test', (l) => lines.push(l)) };
}

/** A memory storage whose appends wait until released, to watch what happens before durability. */
function heldStorage() {
  const inner = createMemoryStorage();
  const held: Array<() => void> = [];
  const storage: Storage = {
    ...inner,
    engine: inner.engine,
    failed: undefined,
    recover: () => inner.recover(),
    close: () => inner.close(),
    log: {
      ...inner.log,
      firstIndex: () => inner.log.firstIndex(),
      lastIndex: () => inner.log.lastIndex(),
      get: (i) => inner.log.get(i),
      range: (a, b, m) => inner.log.range(a, b, m),
      truncateAfter: (i) => inner.log.truncateAfter(i),
      compactUpTo: (i) => inner.log.compactUpTo(i),
      append: (entries: LogEntry[]) => {
        const written = inner.log.append(entries);
        return new Promise<void>((resolve, reject) => held.push(() => written.then(resolve, reject)));
      },
    },
  };
  return { storage, release: () => held.splice(0).forEach((f) => f()) };
}

describe('DurableLog', () => {
  it('applies an entry only once its append is durable, in index order, and resolves with index and result', async () => {
    const { storage, release } = heldStorage();
    const { sm, t, log } = await openLog(storage);
    const seen: bigint[] = [];
    sm.onChange((c) => seen.push(c.index));
    const a = log.propose(set('a', 1));
    const b = log.propose(reg('n1', 'web'));
    expect(log.lastIndex).toBe(2n);
    await new Promise((r) => setImmediate(r));
    // Appended but not yet durable: nothing applied, nothing acknowledged.
    expect(sm.lastIndex).toBe(0n);
    expect(t.values()).toEqual({});
    release();
    expect(await a).toEqual({ index: 1n, result: 1 });
    expect(await b).toEqual({ index: 2n });
    expect(seen).toEqual([1n, 2n]);
    expect((await storage.log.range(1n, 2n)).map((e) => e.index)).toEqual([1n, 2n]);
  });

  it('refuses a command the state machine refuses, writing nothing', async () => {
    const storage = createMemoryStorage();
    const { log } = await openLog(storage);
    await log.propose(reg('n1'));
    await expect(log.propose({ type: 'nope.cmd' })).rejects.toMatchObject({ code: ERR.COMMAND_UNKNOWN });
    await expect(log.propose({ type: 'check.update', node: 'n1', checkId: 'x', status: 'passing', output: '' })).rejects.toMatchObject({
      code: ERR.CHECK_UNKNOWN,
    });
    expect(await storage.log.lastIndex()).toBe(1n);
    expect(await log.propose(reg('n2'))).toEqual({ index: 2n });
  });

  it('a check proposed right behind its (not yet applied) service is accepted', async () => {
    const { log, sm } = await openLog(createMemoryStorage());
    const [s, c] = await Promise.all([log.propose(reg('n1', 'web')), log.propose(check('n1', 'web'))]);
    expect([s.index, c.index]).toEqual([1n, 2n]);
    expect(sm.nodeChecks('n1').map((x) => x.checkId)).toEqual(['c-web']);
    // Still refused when nothing queued could make it valid.
    await expect(log.propose(check('n1', 'db'))).rejects.toMatchObject({ code: ERR.SERVICE_UNKNOWN });
  });

  it('a command refused at apply time rejects, stays in the log, and is refused again on replay', async () => {
    const dir = tmp();
    const s1 = await rocks(dir);
    const a = await openLog(s1);
    await a.log.propose(set('k', 'v1'));
    // Both pass validation; the second finds the value already changed by the first.
    const results = await Promise.allSettled([a.log.propose(cas('k', 'v1', 'v2')), a.log.propose(cas('k', 'v1', 'v3'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: ERR.COMMAND_INVALID });
    expect(a.t.values()).toEqual({ k: 'v2' });
    expect(await s1.log.lastIndex()).toBe(3n);
    const before = JSON.stringify(a.sm.snapshot());
    await a.log.close();
    await s1.close();

    const b = await openLog(await rocks(dir));
    expect(b.report).toMatchObject({ snapshotIndex: 0n, replayed: 3, undecodable: 0 });
    expect(JSON.stringify(b.sm.snapshot())).toBe(before);
    expect(await b.log.propose(set('k2', 1))).toEqual({ index: 4n, result: 1 });
  });

  it('a listener that proposes gets the next index; every listener sees changes in index order', async () => {
    const { sm, log } = await openLog(createMemoryStorage());
    const first: bigint[] = [];
    const second: bigint[] = [];
    const nested: Promise<unknown>[] = [];
    sm.onChange((c: ChangeSet) => {
      first.push(c.index);
      if (c.nodes.has('a') && sm.nodeChecks('a').length === 0) nested.push(log.propose(check('a', '')));
    });
    sm.onChange((c) => second.push(c.index));
    expect(await log.propose(reg('a'))).toEqual({ index: 1n });
    expect(await Promise.all(nested)).toEqual([{ index: 2n }]);
    expect(first).toEqual([1n, 2n]);
    expect(second).toEqual([1n, 2n]);
  });

  it('restarts to exactly the same state, through snapshots and the log after them', async () => {
    const dir = tmp();
    const s1 = await rocks(dir);
    const a = await openLog(s1, { snapshotThreshold: 10 });
    for (let i = 0; i < 25; i++) await a.log.propose(i % 2 ? set(`k${i % 7}`, i) : reg(`n${i % 5}`, `svc${i % 3}`));
    await a.log.snapshotNow(); // settle the periodic one in flight, if any
    expect(a.log.snapshotIndex).toBeGreaterThanOrEqual(20n);
    expect(await s1.log.firstIndex()).toBe(a.log.snapshotIndex === 25n ? 0n : a.log.snapshotIndex + 1n);
    await a.log.propose(set('after', 'snap'));
    const before = JSON.stringify(a.sm.snapshot());
    await a.log.close();
    await s1.close();

    const b = await openLog(await rocks(dir), { snapshotThreshold: 10 });
    expect(b.report.snapshotIndex).toBe(a.log.snapshotIndex);
    expect(JSON.stringify(b.sm.snapshot())).toBe(before);
    expect(b.log.lastIndex).toBe(26n);
    expect(await b.log.propose(set('next', 1))).toMatchObject({ index: 27n });
  });

  it('takes at most one periodic snapshot per raft_snapshot_interval, however many entries pass the threshold', async () => {
    let now = 1_000;
    const a = await openLog(createMemoryStorage(), { snapshotThreshold: 5, snapshotIntervalMs: 30_000, now: () => now });
    for (let i = 0; i < 40; i++) await a.log.propose(set(`k${i % 3}`, i));
    // 40 entries, 8 thresholds' worth, but the interval has not passed since open: none yet.
    expect(a.log.snapshotIndex).toBe(0n);
    now += 30_000;
    await a.log.propose(set('k0', 'due'));
    await a.log.snapshotNow(); // settles the periodic one the entry above started
    expect(a.log.snapshotIndex).toBe(41n);
    for (let i = 0; i < 20; i++) await a.log.propose(set(`k${i % 3}`, i));
    now += 29_999;
    await a.log.propose(set('k1', 'not yet'));
    expect(a.log.snapshotIndex).toBe(41n);
    now += 1;
    await a.log.propose(set('k2', 'due again'));
    await a.log.snapshotNow();
    expect(a.log.snapshotIndex).toBe(63n);
  });

  it('an entry that cannot be decoded is dropped on replay with a warning; the rest applies', async () => {
    const dir = tmp();
    const s1 = await rocks(dir);
    const a = await openLog(s1);
    await a.log.propose(set('a', 1));
    await s1.log.append([{ index: 2n, term: 1n, data: Buffer.from([9, 9, 9]) }]);
    await s1.log.append([{ index: 3n, term: 1n, data: encodeCommand(set('b', 2)) }]);
    await s1.close();
    const { lines, logger } = capture();
    const b = await openLog(await rocks(dir), { logger });
    expect(b.t.values()).toEqual({ a: 1, b: 2 });
    expect(b.report).toMatchObject({ replayed: 3, undecodable: 1 });
    expect(lines.filter((l) => l.includes('[WARN]'))).toEqual([expect.stringMatching(/log: entry 2 dropped on replay: unknown command format 9/)]);
  });

  it('installSnapshot replaces the state, wakes watchers, survives a restart, and refuses a bad snapshot unchanged', async () => {
    const dir = tmp();
    const src = await openLog(createMemoryStorage());
    await src.log.propose(reg('other', 'api'));
    await src.log.propose(set('x', 'from-archive'));
    const archiveState = src.sm.snapshot();

    const s1 = await rocks(dir);
    const a = await openLog(s1);
    for (let i = 0; i < 5; i++) await a.log.propose(set(`k${i}`, i));
    const changes: ChangeSet[] = [];
    a.sm.onChange((c) => changes.push(c));
    // A proposal made during the restore waits for it and lands on the restored state.
    const restoring = a.log.installSnapshot(archiveState);
    const during = a.log.propose(set('during', true));
    const index = await restoring;
    expect(index).toBe(6n);
    expect(await during).toEqual({ index: 7n, result: true });
    expect(a.t.values()).toEqual({ x: 'from-archive', during: true });
    expect(changes[0]!.tables.has('t')).toBe(true);
    expect(changes[0]!.services.has('api')).toBe(true);
    expect(await s1.log.firstIndex()).toBe(7n);

    const bad = JSON.parse(JSON.stringify(archiveState)) as { nodes: unknown };
    bad.nodes = 'garbage';
    const stateBefore = JSON.stringify(a.sm.snapshot());
    await expect(a.log.installSnapshot(bad)).rejects.toMatchObject({ code: ERR.SNAPSHOT_INVALID });
    expect(JSON.stringify(a.sm.snapshot())).toBe(stateBefore);
    await a.log.close();
    await s1.close();

    const b = await openLog(await rocks(dir));
    expect(JSON.stringify(b.sm.snapshot())).toBe(stateBefore);
    expect(b.report.snapshotIndex).toBe(6n);
  });

  describe('a full disk', () => {
    const enospc = () =>
      Object.assign(new Error('IO error: No space left on device: While appending to file: 000011.log: No space left on device'), {
        code: 'LEVEL_IO_ERROR',
      });
    /** `mode.full`: every write fails; `mode.writeThenFail`: the batch lands, then the sync "fails". */
    function faulty(mode: { full: boolean; writeThenFail: boolean }) {
      return (db: RawRocks): RawRocks => ({
        open: () => (mode.full ? Promise.reject(enospc()) : db.open()),
        close: () => db.close(),
        get: (k) => db.get(k),
        iterator: (o) => db.iterator(o),
        batch: async (ops, o) => {
          if (mode.writeThenFail) {
            await db.batch(ops, o);
            throw enospc();
          }
          if (mode.full) throw enospc();
          return db.batch(ops, o);
        },
      });
    }

    it('rejects what it could not persist, applies none of it, fails fast, and resumes once space is back', async () => {
      const dir = tmp();
      const mode = { full: false, writeThenFail: false };
      const s1 = await rocks(dir, faulty(mode));
      const { lines, logger } = capture();
      const a = await openLog(s1, { recoverIntervalMs: 0, logger });
      await a.log.propose(set('a', 1));
      mode.full = true;
      const failed = await Promise.allSettled([a.log.propose(set('b', 2)), a.log.propose(set('c', 3))]);
      expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      const err = (failed[0] as PromiseRejectedResult).reason as HeraldError;
      expect(err.code).toBe(ERR.STORAGE_NO_SPACE);
      expect(err.message).toMatch(/^storage: no space left on device: /);
      expect(a.t.values()).toEqual({ a: 1 });
      expect(a.log.lastIndex).toBe(1n);
      // Still full: the reopen fails too, and the proposal with it.
      await expect(a.log.propose(set('d', 4))).rejects.toMatchObject({ code: ERR.STORAGE_NO_SPACE });
      mode.full = false;
      expect(await a.log.propose(set('e', 5))).toEqual({ index: 2n, result: 5 });
      expect(lines.some((l) => /storage writable again after a failed write; log continues after 1/.test(l))).toBe(true);
      await a.log.close();
      await s1.close();
      const b = await openLog(await rocks(dir));
      expect(b.t.values()).toEqual({ a: 1, e: 5 });
    });

    it('without recoverIntervalMs elapsed, later proposals fail fast with the same error', async () => {
      const mode = { full: false, writeThenFail: false };
      const a = await openLog(await rocks(tmp(), faulty(mode)), { recoverIntervalMs: 60_000 });
      mode.full = true;
      const first = await a.log.propose(set('b', 2)).catch((e: unknown) => e);
      // The first proposal after the failure tries a reopen (still full); the next one within
      // the interval does not even try.
      await expect(a.log.propose(set('c', 3))).rejects.toMatchObject({ code: ERR.STORAGE_NO_SPACE });
      await expect(a.log.propose(set('d', 4))).rejects.toBe(first);
    });

    it('drops entries a failed sync left on disk, so a restart does not bring back what was refused', async () => {
      const dir = tmp();
      const mode = { full: false, writeThenFail: false };
      const s1 = await rocks(dir, faulty(mode));
      const { lines, logger } = capture();
      const a = await openLog(s1, { recoverIntervalMs: 0, logger });
      await a.log.propose(set('a', 1));
      mode.writeThenFail = true;
      await expect(a.log.propose(set('b', 2))).rejects.toMatchObject({ code: ERR.STORAGE_NO_SPACE });
      mode.writeThenFail = false;
      expect(await a.log.propose(set('c', 3))).toEqual({ index: 2n, result: 3 });
      expect(lines.some((l) => /dropped entries 2\.\.2 written by a failed sync/.test(l))).toBe(true);
      await a.log.close();
      await s1.close();
      const b = await openLog(await rocks(dir));
      expect(b.t.values()).toEqual({ a: 1, c: 3 });
    });
  });
});
