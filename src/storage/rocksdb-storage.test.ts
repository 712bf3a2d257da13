import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { createLogger } from '../log.ts';
import { logKey, openRocksStorage, rawRocks } from './rocksdb-storage.ts';
import type { LogEntry, Storage } from './storage.ts';

const dirs: string[] = [];
const opened: Storage[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'herald-rocks-'));
  dirs.push(d);
  return d;
}
async function open(dir: string, extra: Parameters<typeof openRocksStorage>[0] extends infer O ? Partial<O> : never = {}) {
  const s = await openRocksStorage({ dir, ...extra });
  opened.push(s);
  return s;
}
function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger('warn', 'test', (l) => lines.push(l)) };
}
const run = (from: bigint, to: bigint): LogEntry[] => {
  const out: LogEntry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term: 1n, data: Buffer.from(`entry-${i}`) });
  return out;
};

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('rocksdb storage', () => {
  it('reopen after close keeps log, stable state and snapshot', async () => {
    const dir = tmp();
    const a = await open(dir);
    await a.log.append(run(1n, 50n));
    await a.log.compactUpTo(10n);
    await a.log.truncateAfter(40n);
    await a.stable.set('CurrentTerm', Buffer.from('7'));
    await a.log.append(run(41n, 41n), [{ key: 'HardState', value: Buffer.from('with-41') }]);
    await a.snapshots.save({ index: 10n, term: 1n }, Buffer.from('snap-10'));
    await a.close();

    const b = await open(dir);
    expect([await b.log.firstIndex(), await b.log.lastIndex()]).toEqual([11n, 41n]);
    expect((await b.log.range(11n, 41n)).map((e) => e.data.toString())).toEqual(
      run(11n, 41n).map((e) => e.data.toString()),
    );
    expect((await b.stable.get('CurrentTerm'))!.toString()).toBe('7');
    expect((await b.stable.get('HardState'))!.toString()).toBe('with-41');
    expect(await b.snapshots.latest()).toEqual({ meta: { index: 10n, term: 1n }, data: Buffer.from('snap-10') });
  });

  it('a second open of the same dir is refused while the first holds it, naming the dir', async () => {
    const dir = tmp();
    await open(dir);
    const err = await openRocksStorage({ dir }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: ERR.STORAGE_OPEN });
    expect((err as Error).message).toContain(`storage: ${dir} is in use by another process`);
  });

  it('a full disk fails the sync with STORAGE_NO_SPACE, refuses later writes, and recover() reopens', async () => {
    const dir = tmp();
    let full = false;
    // The binding's own words for ENOSPC (seen on a full tmpfs): code LEVEL_IO_ERROR.
    const enospc = () =>
      Object.assign(new Error('IO error: No space left on device: While appending to file: 000011.sst: No space left on device'), {
        code: 'LEVEL_IO_ERROR',
      });
    const wrap = (db: ReturnType<typeof rawRocks>): ReturnType<typeof rawRocks> => ({
      ...db,
      open: () => (full ? Promise.reject(enospc()) : db.open()),
      close: () => db.close(),
      get: (k) => db.get(k),
      iterator: (o) => db.iterator(o),
      batch: (ops, o) => (full ? Promise.reject(enospc()) : db.batch(ops, o)),
    });
    const s = await open(dir, { wrap });
    await s.log.append(run(1n, 3n));
    full = true;
    const failed = await Promise.allSettled([s.log.append(run(4n, 4n)), s.log.append(run(5n, 5n))]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const err = (failed[0] as PromiseRejectedResult).reason as Error & { code: string };
    expect(err.code).toBe(ERR.STORAGE_NO_SPACE);
    expect(err.message).toMatch(/^storage: no space left on device: log append \(sync write\) failed: IO error: No space left/);
    expect(s.failed).toBe(err);
    // Everything else refuses too, with the same error, until recovered; reads still work.
    await expect(s.stable.set('k', Buffer.from('v'))).rejects.toBe(err);
    await expect(s.log.append(run(4n, 4n))).rejects.toBe(err);
    expect(await s.log.lastIndex()).toBe(3n);
    // Still full: recover() rejects and the store stays failed.
    await expect(s.recover()).rejects.toMatchObject({ code: ERR.STORAGE_NO_SPACE });
    expect(s.failed).toBeDefined();
    full = false;
    await s.recover();
    expect(s.failed).toBeUndefined();
    await s.log.append(run(4n, 5n));
    expect((await s.log.range(1n, 5n)).map((e) => e.data.toString())).toEqual(run(1n, 5n).map((e) => e.data.toString()));
  });

  it('refuses a data dir with an unknown format marker', async () => {
    const dir = tmp();
    const raw = rawRocks(dir);
    await raw.open();
    await raw.batch([{ type: 'put', key: Buffer.from('meta/format'), value: Buffer.from('99') }], { sync: true });
    await raw.close();
    await expect(openRocksStorage({ dir })).rejects.toMatchObject({ code: ERR.STORAGE_OPEN });
  });

  async function damage(dir: string, op: (raw: ReturnType<typeof rawRocks>) => Promise<void>) {
    const a = await openRocksStorage({ dir });
    await a.log.append(run(1n, 10n));
    await a.close();
    const raw = rawRocks(dir);
    await raw.open();
    await op(raw);
    await raw.close();
  }

  it('a corrupted record is detected on open and the tail from it dropped, with the range logged', async () => {
    const dir = tmp();
    await damage(dir, async (raw) => {
      const v = Buffer.from(await raw.get(logKey(7n)));
      v[v.length - 1]! ^= 0x01; // flip a bit in the entry data
      await raw.batch([{ type: 'put', key: logKey(7n), value: v }], { sync: true });
    });
    const { lines, logger } = capture();
    const s = await open(dir, { logger });
    expect(await s.log.lastIndex()).toBe(6n);
    expect(await s.log.get(7n)).toBeUndefined();
    expect((await s.log.get(6n))!.data.toString()).toBe('entry-6');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\[WARN\].*dropped entries 7\.\.10 \(4 records\).*checksum/);
    // The log continues from the cut, and the drop itself was persisted.
    await s.log.append(run(7n, 8n));
    await s.close();
    const again = capture();
    const t = await open(dir, { logger: again.logger });
    expect(await t.log.lastIndex()).toBe(8n);
    expect(again.lines).toEqual([]);
  });

  it('a torn (short) record is dropped the same way', async () => {
    const dir = tmp();
    await damage(dir, async (raw) => {
      const v = await raw.get(logKey(10n));
      await raw.batch([{ type: 'put', key: logKey(10n), value: v.subarray(0, v.length - 3) }], { sync: true });
    });
    const { lines, logger } = capture();
    const s = await open(dir, { logger });
    expect(await s.log.lastIndex()).toBe(9n);
    expect(lines[0]).toMatch(/dropped entries 10\.\.10 \(1 records\).*length field/);
  });

  it('a gap truncates the log after it', async () => {
    const dir = tmp();
    await damage(dir, async (raw) => {
      await raw.batch([{ type: 'del', key: logKey(5n) }], { sync: true });
    });
    const { lines, logger } = capture();
    const s = await open(dir, { logger });
    expect([await s.log.firstIndex(), await s.log.lastIndex()]).toEqual([1n, 4n]);
    expect(lines[0]).toMatch(/dropped entries 6\.\.10 \(5 records\).*index 5 is missing/);
  });

  it('a value stored under the wrong index is caught', async () => {
    const dir = tmp();
    await damage(dir, async (raw) => {
      const v = await raw.get(logKey(3n));
      await raw.batch([{ type: 'put', key: logKey(4n), value: v }], { sync: true });
    });
    const { lines, logger } = capture();
    const s = await open(dir, { logger });
    expect(await s.log.lastIndex()).toBe(3n);
    expect(lines[0]).toMatch(/dropped entries 4\.\.10.*record says index 3/);
  });

  it('group commit: 200 concurrent appends share fewer syncs, all durable', async () => {
    const dir = tmp();
    const syncs: Array<{ appends: number; entries: number }> = [];
    const s = await open(dir, { hooks: { onLogSync: (i) => syncs.push(i) } });
    await Promise.all(run(1n, 200n).map((e) => s.log.append([e])));
    expect(syncs.length).toBeLessThan(200);
    expect(syncs.reduce((n, x) => n + x.appends, 0)).toBe(200);
    expect(syncs.reduce((n, x) => n + x.entries, 0)).toBe(200);
    await s.close();
    const t = await open(dir);
    expect(await t.log.lastIndex()).toBe(200n);
    const all = await t.log.range(1n, 200n);
    expect(all.map((e) => e.data.toString())).toEqual(run(1n, 200n).map((e) => e.data.toString()));
  });

  it('appends issued while a sync is in flight join the next single sync', async () => {
    const dir = tmp();
    const syncs: number[] = [];
    const s = await open(dir, { hooks: { onLogSync: (i) => syncs.push(i.appends) } });
    const first = s.log.append(run(1n, 1n));
    // Issued in later turns of the loop, while #1 is queued or syncing.
    const rest = new Promise<void>((resolve, reject) =>
      setImmediate(() => Promise.all(run(2n, 11n).map((e) => s.log.append([e]))).then(() => resolve(), reject)),
    );
    await Promise.all([first, rest]);
    expect(syncs.reduce((a, b) => a + b, 0)).toBe(11);
    expect(syncs.length).toBeLessThanOrEqual(2);
  });

  it('a crashed writer (SIGKILL) loses no acknowledged append', async () => {
    const dir = tmp();
    const fixture = fileURLToPath(new URL('./fixtures/append-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir, '4'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const acked: bigint[] = [];
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, sig) => resolve(sig)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const n = out.split('\n').length;
      if (n > 300 && !child.killed) child.kill('SIGKILL'); // mid-stream: the writers are still going
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000); // bound: never hang the suite
    const sig = await exited;
    clearTimeout(killer);
    expect(err).toBe('');
    expect(sig).toBe('SIGKILL');
    const lines = out.split('\n');
    expect(lines[0]).toBe('ready');
    lines.pop(); // possibly partial last line
    for (const l of lines.slice(1)) acked.push(BigInt(l));
    expect(acked.length).toBeGreaterThan(100);

    const s = await open(dir);
    const last = await s.log.lastIndex();
    const max = acked.reduce((a, b) => (b > a ? b : a));
    expect(last).toBeGreaterThanOrEqual(max);
    const all = await s.log.range(1n, last);
    expect(all.map((e) => e.index)).toEqual(run(1n, last).map((e) => e.index));
    for (const i of acked) expect(all[Number(i) - 1]!.data.toString()).toBe(`entry-${i}`);
  });
});
