import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { RawBatchOp, RawRocks } from './rocksdb-storage.ts';
import { packOps, threadRocks, unpackEntries } from './rocks-thread.ts';

const dirs: string[] = [];
const handles: RawRocks[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'herald-rocks-thread-'));
  dirs.push(d);
  return d;
}
async function open(dir: string): Promise<RawRocks> {
  const db = threadRocks(dir);
  handles.push(db);
  await db.open();
  return db;
}
afterEach(async () => {
  for (const h of handles.splice(0)) await h.close().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const b = (s: string) => Buffer.from(s);

describe('RocksDB on a worker thread', () => {
  it('packs batches and entries without losing a byte (empty keys and values included)', () => {
    const ops: RawBatchOp[] = [
      { type: 'put', key: b('a'), value: b('') },
      { type: 'del', key: b('') },
      { type: 'put', key: Buffer.alloc(300, 7), value: Buffer.alloc(70_000, 9) },
    ];
    const packed = Buffer.from(packOps(ops));
    expect(packed.length).toBe(5 + 1 + 4 + 0 + 5 + 0 + 5 + 300 + 4 + 70_000);
    // Entries use the answer layout: [u32 klen][key][u32 vlen][value].
    const ab = new ArrayBuffer(4 + 1 + 4 + 2);
    const v = Buffer.from(ab);
    v.writeUInt32BE(1, 0);
    v.write('k', 4);
    v.writeUInt32BE(2, 5);
    v.write('vv', 9);
    expect(unpackEntries(ab).map(([k, x]) => [k.toString(), x.toString()])).toEqual([['k', 'vv']]);
  });

  it('serves batch, get and iteration in call order, and rejects a miss with the binding’s code', async () => {
    const db = await open(tmp());
    const puts: RawBatchOp[] = [];
    for (let i = 0; i < 2500; i++) puts.push({ type: 'put', key: b(`k${String(i).padStart(5, '0')}`), value: b(`v${i}`) });
    // Not awaited: the get below is queued behind the batch and must see it.
    const written = db.batch(puts, { sync: true });
    const got = db.get(b('k01234'));
    await written;
    expect((await got).toString()).toBe('v1234');
    await expect(db.get(b('missing'))).rejects.toMatchObject({ code: 'LEVEL_NOT_FOUND' });

    await db.batch([{ type: 'del', key: b('k00001') }], { sync: false });
    const it = db.iterator({ gte: b('k00000'), lt: b('k00010') });
    const first = await it.nextv(4);
    const rest = await it.nextv(100);
    expect(await it.nextv(100)).toEqual([]);
    await it.close();
    expect([...first, ...rest].map(([k, v]) => `${k}=${v}`)).toEqual([
      'k00000=v0', 'k00002=v2', 'k00003=v3', 'k00004=v4', 'k00005=v5', 'k00006=v6', 'k00007=v7', 'k00008=v8', 'k00009=v9',
    ]);
    const rev = db.iterator({ lte: b('k02499'), reverse: true, limit: 2 });
    expect((await rev.nextv(10)).map(([k]) => k.toString())).toEqual(['k02499', 'k02498']);
    await rev.close();
  });

  it('keeps the data across close and reopen, and a second open of a held dir is refused as locked', async () => {
    const dir = tmp();
    const a = await open(dir);
    await a.batch([{ type: 'put', key: b('x'), value: b('1') }], { sync: true });
    const second = threadRocks(dir);
    const refused = await second.open().then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    await second.close();
    expect(refused).toMatchObject({ code: 'LEVEL_DATABASE_NOT_OPEN', cause: { code: 'LEVEL_LOCKED' } });
    await a.close();
    const c = await open(dir);
    expect((await c.get(b('x'))).toString()).toBe('1');
  });

  it('an idle open store does not hold the process open; close ends the thread', async () => {
    // A child opens a store, writes, and then neither closes it nor does anything else: it
    // must exit by itself. A second child closes it and prints once close() resolved.
    const dir = tmp();
    const script = `
      const { threadRocks } = await import(${JSON.stringify(new URL('./rocks-thread.ts', import.meta.url).href)});
      const db = threadRocks(process.argv[1]);
      await db.open();
      await db.batch([{ type: 'put', key: Buffer.from('k'), value: Buffer.from('v') }], { sync: true });
      if (process.argv[2] === 'close') { await db.close(); console.log('closed'); }
      else console.log('left open');
    `;
    const runChild = (mode: string) =>
      new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, join(dir, mode), mode], {
          cwd: fileURLToPath(new URL('../..', import.meta.url)),
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(killer);
          resolve({ code, out });
        });
      });
    const [left, closed] = await Promise.all([runChild('open'), runChild('close')]);
    expect(left).toEqual({ code: 0, out: 'left open\n' });
    expect(closed).toEqual({ code: 0, out: 'closed\n' });
  }, 20_000); // two tsx child processes: seconds on a loaded 2-core machine
});
