/**
 * The long version of src/agent/agent-crash.test.ts: many SIGKILL/restart rounds of a real
 * `herald agent` on one data dir while KV, CAS and catalog writers run (src/agent/crash-harness.ts
 * has the rules checked after every restart). Exits 1 on the first violation, printing the seed.
 *
 * Run: `npx tsx bench/durability/crash-rounds.ts [--rounds 50] [--seed N] [--kv-writers 4]
 *       [--cas-writers 2] [--kill-min 50] [--kill-max 1500]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { crashRound, finalCheck, newHistory, seededRandom } from '../../src/agent/crash-harness.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const rounds = arg('rounds', 50);
const seed = arg('seed', Math.floor(Math.random() * 2 ** 31));
const opts = {
  dataDir: mkdtempSync(join(os.tmpdir(), 'herald-crash-rounds-')),
  seed,
  kvWriters: arg('kv-writers', 4),
  casWriters: arg('cas-writers', 2),
  killAfterMs: [arg('kill-min', 50), arg('kill-max', 1500)] as [number, number],
};
console.log(`# crash rounds: seed ${seed}, ${rounds} rounds, node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model}`);
const rand = seededRandom(seed);
const h = newHistory();
const t0 = Date.now();
try {
  for (let r = 0; r < rounds; r++) {
    const acked = await crashRound(h, opts, rand);
    console.log(`round ${r + 1}: ${acked} writes acknowledged before the kill; all earlier ones verified`);
  }
  await finalCheck(h, opts);
  console.log(`ok: ${h.rounds} rounds, ${h.ackedWrites} acknowledged writes, none lost, CAS counter at ${h.cas.acked}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
} catch (err) {
  console.error(`FAILED (seed ${seed}): ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  rmSync(opts.dataDir, { recursive: true, force: true });
}
