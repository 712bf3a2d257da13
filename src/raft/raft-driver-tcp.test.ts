import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpTransport } from '../rpc/tcp-transport.ts';
import { openRocksStorage } from '../storage/rocksdb-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { DriverHarness, registerCommand } from './driver-harness.ts';

const dirs: string[] = [];
const harnesses: DriverHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('RaftDriver over TcpTransport with RocksDB storage', () => {
  it('elects, replicates, fails over, and restarts a server from its data dir on its old port', async () => {
    const dirOf = new Map<string, string>();
    const h = new DriverHarness({
      ids: ['s1', 's2', 's3'],
      transport: async (id, listen) => {
        const t = new TcpTransport({ nodeId: id, clusterId: 'c1', listen: listen ?? '127.0.0.1:0', tuning: { backoffBaseMs: 10, backoffMaxMs: 50 } });
        await t.start();
        return t;
      },
      storage: async (id) => {
        let dir = dirOf.get(id);
        if (!dir) {
          dir = mkdtempSync(join(tmpdir(), `herald-raft-${id}-`));
          dirs.push(dir);
          dirOf.set(id, dir);
        }
        return openRocksStorage({ dir });
      },
      releaseStorage: (s: Storage) => s.close(),
      tuning: { tickMs: 20, electionTicks: 10, snapshotThreshold: 50, snapshotIntervalMs: 0, trailingEntries: 10 },
    });
    harnesses.push(h);
    await h.start();
    const first = await h.leader();
    expect(first.address).toMatch(/^127\.0\.0\.1:\d+$/);

    let last = 0n;
    for (let i = 0; i < 100; i += 25) {
      const done = await Promise.all(Array.from({ length: 25 }, (_, j) => first.log.propose(registerCommand(`t-${i + j}`))));
      for (const d of done) if (d.index > last) last = d.index;
    }
    await h.allApplied(last);
    expect(new Set(h.live().map(DriverHarness.state)).size).toBe(1);

    await h.stop(first.id);
    const second = await h.leader(h.live());
    expect(second.id).not.toBe(first.id);
    let last2 = 0n;
    for (let i = 0; i < 80; i++) last2 = (await second.log.propose(registerCommand(`u-${i}`))).index;

    // Back from RocksDB: its own snapshot and log, then what it missed (past a compaction).
    const back = await h.restart(first.id);
    expect(back.sm.getNode('t-99')).toBeDefined();
    await back.driver.waitForApplied(last2, 10_000);
    expect(back.restoresAfterStart).toBeGreaterThanOrEqual(1);
    const states = h.live().map(DriverHarness.state);
    expect(states).toHaveLength(3);
    expect(new Set(states).size).toBe(1);
  }, 20_000);
});
