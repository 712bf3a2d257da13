/**
 * Waiting for quiet bench cores before a measured run, and the thresholds that flag a run as
 * contended (other work on the cores), shared by the HTTP, KV and cluster harnesses.
 */
import { busyBetween, readCoreTimes } from './dns/cpu-busy.ts';

/** Busy fraction under which a bench core counts as quiet. */
export const QUIET_BUSY = 0.15;
/** Server-core time not charged to the server process above which a run is contended. */
export const FOREIGN_BUSY = 0.1;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits (at most `maxSec`) until every core in `cores` is under QUIET_BUSY over one 0.3 s
 * sample. Resolves false when they never were: the run that follows is flagged contended.
 */
export async function waitQuiet(cores: readonly number[], maxSec: number): Promise<boolean> {
  const end = Date.now() + maxSec * 1000;
  for (let i = 0; i < 10_000; i++) {
    const a = readCoreTimes();
    await sleep(300);
    const b = readCoreTimes();
    if (Math.max(...cores.map((c) => busyBetween(a, b, c) ?? 0)) < QUIET_BUSY) return true;
    if (Date.now() > end) return false;
  }
  return false;
}
