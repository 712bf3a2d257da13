import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStorage, storageDir, storageEngineFor } from './open-storage.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('openStorage', () => {
  it.each([
    [{ dev: true }, 'memory'],
    [{ dev: false }, 'memory'],
    [{ dev: true, dataDir: '/var/lib/herald' }, 'memory'],
    [{ dev: false, dataDir: '' }, 'memory'],
    [{ dev: false, dataDir: '/var/lib/herald' }, 'rocksdb'],
    [{ dev: false, dataDir: '/var/lib/herald', storageEngine: 'memory' }, 'memory'],
    [{ dev: true, dataDir: '/var/lib/herald', storageEngine: 'rocksdb' }, 'rocksdb'],
  ] as const)('%j -> %s', (config, engine) => {
    expect(storageEngineFor(config)).toBe(engine);
  });

  it('opens memory in dev mode without touching the data dir', async () => {
    const dataDir = join(tmpdir(), `herald-open-never-${process.pid}`);
    const s = await openStorage({ dev: true, dataDir });
    expect(s.engine).toBe('memory');
    await s.close();
    expect(existsSync(dataDir)).toBe(false);
  });

  it('opens rocksdb under <dataDir>/raft and keeps data across opens', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-open-'));
    dirs.push(dataDir);
    const a = await openStorage({ dev: false, dataDir });
    expect(a.engine).toBe('rocksdb');
    await a.stable.set('CurrentTerm', Buffer.from('3'));
    await a.close();
    expect(existsSync(join(storageDir(dataDir), 'CURRENT'))).toBe(true);
    const b = await openStorage({ dev: false, dataDir });
    expect((await b.stable.get('CurrentTerm'))!.toString()).toBe('3');
    await b.close();
  });
});
