/**
 * The long soak of the deterministic cluster simulator (src/raft/sim): thousands of seeds with
 * longer fault phases and more client operations than the CI sweep. Not part of CI.
 *
 * Run: `npm run bench:raft-soak -- [--seeds 5000] [--start 1000000] [--servers 3,5]
 *       [--fault-ms 6000] [--ops 120] [--workers 2]`
 *
 * Seeds alternate over the --servers sizes. --workers forks that many processes, each taking
 * every k-th seed. Exits 1 at the first failure, printing its HERALD_SIM_SEED line, the
 * options that reproduce it and the transcript.
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import { runSimulation, SimulationFailure } from '../../src/raft/sim/cluster-sim.ts';
import { addResult, describeTotals, emptyTotals, type SweepTotals } from '../../src/raft/sim/seed-sweep.ts';
import { optionsForSeed, type SimOptions } from '../../src/raft/sim/sim-options.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const seeds = Number(arg('seeds', '5000'));
const start = Number(arg('start', '1000000'));
const sizes = arg('servers', '3,5').split(',').map(Number);
const faultMs = Number(arg('fault-ms', '6000'));
const ops = Number(arg('ops', '120'));
const workers = Number(arg('workers', '1'));
const worker = Number(arg('worker', '-1'));

/** The soak's options for one seed: the CI mix, with a longer fault phase and more operations. */
function soakOptions(seed: number): SimOptions {
  const servers = sizes[(seed - start) % sizes.length]!;
  return optionsForSeed(seed, servers, { faultPhase: faultMs * 1000, opsPerClient: ops });
}

interface Report {
  totals: SweepTotals;
  failure?: string;
}

/** Runs this worker's share of the seeds (every `of`-th from `start + index`). */
function runShare(index: number, of: number): Report {
  const totals = emptyTotals();
  for (let seed = start + index; seed < start + seeds; seed += of) {
    const options = soakOptions(seed);
    try {
      addResult(totals, runSimulation(options));
    } catch (err) {
      const msg = err instanceof SimulationFailure ? err.message : String((err as Error).stack ?? err);
      return { totals, failure: `${msg}\nreproduce with: optionsForSeed(${seed}, ${options.servers}, { faultPhase: ${options.faultPhase}, opsPerClient: ${ops} })` };
    }
    if (of === 1 && totals.seeds % 500 === 0) console.log(`  ${totals.seeds} seeds…`);
  }
  return { totals };
}

function merge(into: SweepTotals, t: SweepTotals): void {
  for (const k of Object.keys(into) as (keyof SweepTotals)[]) into[k] += t[k];
}

if (worker >= 0) {
  process.send!(runShare(worker, workers));
} else {
  console.log(
    `# raft soak: seeds ${start}..${start + seeds - 1}, servers ${sizes.join('/')}, fault phase ${faultMs} ms, ${ops} ops/client, ` +
      `${workers} worker(s); node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model}`,
  );
  const t0 = performance.now();
  let reports: Report[];
  if (workers <= 1) reports = [runShare(0, 1)];
  else {
    reports = await Promise.all(
      Array.from(
        { length: workers },
        (_, w) =>
          new Promise<Report>((resolve, reject) => {
            const child = fork(process.argv[1]!, [...process.argv.slice(2), '--worker', String(w)], { execArgv: process.execArgv });
            child.once('message', (m) => resolve(m as Report));
            child.once('error', reject);
            child.once('exit', (code) => {
              if (code !== 0) reject(new Error(`worker ${w} exited with ${code}`));
            });
          }),
      ),
    );
  }
  const totals = emptyTotals();
  for (const r of reports) merge(totals, r.totals);
  const secs = (performance.now() - t0) / 1000;
  console.log(`${totals.seeds} seeds in ${secs.toFixed(1)} s (${(totals.virtualSeconds / secs).toFixed(0)}x real time): ${describeTotals(totals)}`);
  const failed = reports.find((r) => r.failure);
  if (failed) {
    console.error(`FAILED: ${failed.failure}`);
    process.exit(1);
  }
  console.log('ok: no invariant, liveness or linearizability failure');
}
