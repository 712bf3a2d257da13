import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { createMemoryStorage } from './memory-storage.ts';
import { openRocksStorage } from './rocksdb-storage.ts';
import type { LogEntry, Storage } from './storage.ts';

/** The contract every engine must meet; engine-specific behaviour sits in each engine's test file. */
interface Engine {
  name: 'memory' | 'rocksdb';
  open(): Promise<Storage>;
}

const dirs: string[] = [];
const engines: Engine[] = [
  { name: 'memory', open: async () => createMemoryStorage() },
  {
    name: 'rocksdb',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-storage-'));
      dirs.push(dir);
      return openRocksStorage({ dir });
    },
  },
];

const entry = (index: bigint, term = 1n, data = `e${index}`): LogEntry => ({ index, term, data: Buffer.from(data) });
const run = (from: bigint, to: bigint, term = 1n): LogEntry[] => {
  const out: LogEntry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
};
const indexes = (es: LogEntry[]) => es.map((e) => e.index);

describe.each(engines)('storage contract: $name', (engine) => {
  const open: Storage[] = [];
  const fresh = async () => {
    const s = await engine.open();
    open.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('names its engine', async () => {
    expect((await fresh()).engine).toBe(engine.name);
  });

  it('an empty log has first = last = 0 and no entries', async () => {
    const { log } = await fresh();
    expect(await log.firstIndex()).toBe(0n);
    expect(await log.lastIndex()).toBe(0n);
    expect(await log.get(1n)).toBeUndefined();
    expect(await log.range(1n, 10n)).toEqual([]);
  });

  it('appends and reads back entries, term and data intact', async () => {
    const { log } = await fresh();
    await log.append(run(1n, 3n));
    await log.append([entry(4n, 2n, 'four')]);
    expect(await log.firstIndex()).toBe(1n);
    expect(await log.lastIndex()).toBe(4n);
    expect(await log.get(4n)).toEqual({ index: 4n, term: 2n, data: Buffer.from('four') });
    expect(await log.get(5n)).toBeUndefined();
    expect(indexes(await log.range(2n, 100n))).toEqual([2n, 3n, 4n]);
  });

  it('refuses gaps, overlaps and unordered batches, writing nothing', async () => {
    const { log } = await fresh();
    await log.append(run(1n, 3n));
    await expect(log.append([entry(5n)])).rejects.toMatchObject({ code: ERR.STORAGE_NOT_CONTIGUOUS });
    await expect(log.append([entry(3n)])).rejects.toMatchObject({ code: ERR.STORAGE_NOT_CONTIGUOUS });
    await expect(log.append([entry(4n), entry(6n)])).rejects.toMatchObject({ code: ERR.STORAGE_NOT_CONTIGUOUS });
    await expect(log.append([entry(0n)])).rejects.toMatchObject({ code: ERR.STORAGE_INVALID });
    expect(await log.lastIndex()).toBe(3n);
    expect(await log.get(4n)).toBeUndefined();
  });

  it('checks contiguity against appends still pending', async () => {
    const { log } = await fresh();
    const a = log.append(run(1n, 2n));
    const b = log.append(run(3n, 4n));
    const bad = expect(log.append([entry(3n)])).rejects.toMatchObject({ code: ERR.STORAGE_NOT_CONTIGUOUS });
    await Promise.all([a, b, bad]);
    expect(await log.lastIndex()).toBe(4n);
  });

  it('does not alias buffers in either direction', async () => {
    const { log, stable } = await fresh();
    const e = entry(1n, 1n, 'abc');
    await log.append([e]);
    e.data[0] = 0x7a;
    const got = (await log.get(1n))!;
    expect(got.data.toString()).toBe('abc');
    got.data[0] = 0x7a;
    expect((await log.get(1n))!.data.toString()).toBe('abc');
    const v = Buffer.from('v1');
    await stable.set('k', v);
    v[0] = 0x7a;
    expect((await stable.get('k'))!.toString()).toBe('v1');
  });

  it('truncateAfter drops the suffix and lets new entries take its indexes', async () => {
    const { log } = await fresh();
    await log.append(run(1n, 10n, 1n));
    await log.truncateAfter(6n);
    expect(await log.lastIndex()).toBe(6n);
    expect(await log.get(7n)).toBeUndefined();
    await log.append(run(7n, 8n, 2n));
    expect((await log.range(1n, 10n)).map((e) => `${e.index}:${e.term}`)).toEqual([
      '1:1', '2:1', '3:1', '4:1', '5:1', '6:1', '7:2', '8:2',
    ]);
    await log.truncateAfter(100n);
    expect(await log.lastIndex()).toBe(8n);
    await log.truncateAfter(0n);
    expect([await log.firstIndex(), await log.lastIndex()]).toEqual([0n, 0n]);
  });

  it('compactUpTo drops the prefix; ranges below it are refused', async () => {
    const { log } = await fresh();
    await log.append(run(1n, 10n));
    await log.compactUpTo(4n);
    expect(await log.firstIndex()).toBe(5n);
    expect(await log.lastIndex()).toBe(10n);
    expect(await log.get(4n)).toBeUndefined();
    expect((await log.get(5n))!.data.toString()).toBe('e5');
    await expect(log.range(3n, 6n)).rejects.toMatchObject({ code: ERR.STORAGE_COMPACTED });
    expect(indexes(await log.range(5n, 6n))).toEqual([5n, 6n]);
    await log.compactUpTo(2n); // already gone: no-op
    expect(await log.firstIndex()).toBe(5n);
  });

  it('compacting past the end empties the log, which then accepts any next start', async () => {
    const { log } = await fresh();
    await log.append(run(1n, 5n));
    await log.compactUpTo(20n); // snapshot installed beyond our log
    expect([await log.firstIndex(), await log.lastIndex()]).toEqual([0n, 0n]);
    await log.append(run(21n, 22n));
    expect([await log.firstIndex(), await log.lastIndex()]).toEqual([21n, 22n]);
  });

  it('mutations apply in call order even when issued together', async () => {
    const { log } = await fresh();
    await Promise.all([log.append(run(1n, 5n)), log.truncateAfter(2n), log.append(run(3n, 4n, 2n)), log.compactUpTo(1n)]);
    expect((await log.range(2n, 10n)).map((e) => `${e.index}:${e.term}`)).toEqual(['2:1', '3:2', '4:2']);
    expect(await log.firstIndex()).toBe(2n);
  });

  it('range honours maxBytes but always returns at least one entry', async () => {
    const { log } = await fresh();
    await log.append([entry(1n, 1n, 'x'.repeat(10)), entry(2n, 1n, 'x'.repeat(10)), entry(3n, 1n, 'x'.repeat(10))]);
    expect(indexes(await log.range(1n, 3n, 25))).toEqual([1n, 2n]);
    expect(indexes(await log.range(1n, 3n, 20))).toEqual([1n, 2n]);
    expect(indexes(await log.range(1n, 3n, 5))).toEqual([1n]);
    expect(indexes(await log.range(2n, 1n))).toEqual([]);
  });

  it('handles indexes and terms beyond 2^53, up to 2^64-1', async () => {
    const { log, snapshots } = await fresh();
    const base = 2n ** 53n - 2n;
    await log.append(run(base, base + 4n, 2n ** 60n));
    expect(await log.lastIndex()).toBe(base + 4n);
    expect(indexes(await log.range(base + 1n, base + 3n))).toEqual([base + 1n, base + 2n, base + 3n]);
    expect((await log.get(base + 3n))!.term).toBe(2n ** 60n);
    await log.compactUpTo(base + 1n);
    expect(await log.firstIndex()).toBe(base + 2n);
    const max = 2n ** 64n - 1n;
    await log.compactUpTo(max - 2n);
    await log.append([entry(max - 1n), entry(max)]);
    expect(indexes(await log.range(max - 1n, max))).toEqual([max - 1n, max]);
    await expect(log.append([entry(max + 1n)])).rejects.toMatchObject({ code: ERR.STORAGE_INVALID });
    await snapshots.save({ index: max, term: max }, Buffer.from('s'));
    expect((await snapshots.latest())!.meta).toEqual({ index: max, term: max });
  });

  it('stable store keeps the last value per key', async () => {
    const { stable } = await fresh();
    expect(await stable.get('CurrentTerm')).toBeUndefined();
    await stable.set('CurrentTerm', Buffer.from([0, 0, 0, 1]));
    await stable.set('CurrentTerm', Buffer.from([0, 0, 0, 2]));
    await stable.set('LastVoteCand', Buffer.from('node-b'));
    expect(await stable.get('CurrentTerm')).toEqual(Buffer.from([0, 0, 0, 2]));
    expect((await stable.get('LastVoteCand'))!.toString()).toBe('node-b');
  });

  it('append carries stable writes in the same write, also with no entries', async () => {
    const { log, stable } = await fresh();
    await log.append(run(1n, 2n), [{ key: 'HardState', value: Buffer.from('t1') }]);
    expect(indexes(await log.range(1n, 2n))).toEqual([1n, 2n]);
    expect((await stable.get('HardState'))!.toString()).toBe('t1');
    await log.append([], [{ key: 'HardState', value: Buffer.from('t2') }]);
    expect(await log.lastIndex()).toBe(2n);
    expect((await stable.get('HardState'))!.toString()).toBe('t2');
    await stable.set('HardState', Buffer.from('t3'));
    expect((await stable.get('HardState'))!.toString()).toBe('t3');
    await log.append(run(3n, 3n));
    expect(await log.lastIndex()).toBe(3n);
  });

  it('snapshot store returns the latest snapshot with its meta', async () => {
    const { snapshots } = await fresh();
    expect(await snapshots.latest()).toBeUndefined();
    await snapshots.save({ index: 10n, term: 2n }, Buffer.from('first'));
    await snapshots.save({ index: 20n, term: 3n }, Buffer.from('second'));
    expect(await snapshots.latest()).toEqual({ meta: { index: 20n, term: 3n }, data: Buffer.from('second') });
  });

  it('refuses every call after close, and close is idempotent', async () => {
    const s = await engine.open();
    await s.close();
    await s.close();
    await expect(s.log.lastIndex()).rejects.toMatchObject({ code: ERR.STORAGE_CLOSED });
    await expect(s.log.append([entry(1n)])).rejects.toMatchObject({ code: ERR.STORAGE_CLOSED });
    await expect(s.stable.get('k')).rejects.toMatchObject({ code: ERR.STORAGE_CLOSED });
    await expect(s.snapshots.latest()).rejects.toMatchObject({ code: ERR.STORAGE_CLOSED });
  });

  it('close waits for pending appends, which all resolve', async () => {
    const s = await engine.open();
    const pending = [s.log.append(run(1n, 3n)), s.log.append(run(4n, 6n))];
    await s.close();
    await expect(Promise.all(pending)).resolves.toBeDefined();
  });
});
