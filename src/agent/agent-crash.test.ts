/**
 * Crash safety with real processes (crash-harness.ts): `herald agent` on a data dir, concurrent
 * KV, CAS and catalog writers over HTTP, SIGKILL at seeded random moments, restart on the same
 * dir, and after every restart: each acknowledged write is there, nothing that was never
 * written is, CAS chains are consistent and the catalog is intact. A few rounds here (~10 s);
 * bench/durability/crash-rounds.ts runs many. HERALD_CRASH_SEED replays a failing seed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { storageDir } from '../storage/open-storage.ts';
import { openRocksStorage } from '../storage/rocksdb-storage.ts';
import { crashRound, finalCheck, newHistory, seededRandom } from './crash-harness.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'herald-crash-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const seed = Number(process.env.HERALD_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('herald agent killed with SIGKILL while writing', () => {
  it(`loses no acknowledged write over 4 kill/restart rounds (seed ${seed})`, async () => {
    const rand = seededRandom(seed);
    const h = newHistory();
    const opts = { dataDir, seed, kvWriters: 3, casWriters: 2, killAfterMs: [150, 600] as [number, number] };
    for (let round = 0; round < 4; round++) await crashRound(h, opts, rand);
    await finalCheck(h, opts);
    expect(h.rounds).toBe(4);
    // The kills landed while writes were flowing, not before the first one.
    expect(h.ackedWrites).toBeGreaterThan(20);
    // Restarts went through snapshots (every 64 entries) and compacted logs, not only replay.
    const storage = await openRocksStorage({ dir: storageDir(dataDir) });
    try {
      const snap = await storage.snapshots.latest();
      expect(snap?.meta.index ?? 0n).toBeGreaterThan(0n);
      expect(await storage.log.firstIndex()).not.toBe(1n);
    } finally {
      await storage.close();
    }
  }, 60_000);
});
