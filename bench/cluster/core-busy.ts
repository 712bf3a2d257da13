/** Each core's busy fraction over one benchmark phase (from /proc/stat, via bench/dns/cpu-busy.ts). */
import { cpus } from 'node:os';
import { busyBetween, readCoreTimes } from '../dns/cpu-busy.ts';
import type { CoreBusy } from './report.ts';

/** Every CPU number of this machine. */
export const coreIds = (): number[] => cpus().map((_, i) => i);

/** Runs `fn` and returns its result with each core's busy fraction over it. */
export async function withCoreBusy<T>(fn: () => Promise<T>): Promise<[T, CoreBusy]> {
  const a = readCoreTimes();
  const v = await fn();
  const b = readCoreTimes();
  return [v, coreIds().map((c) => busyBetween(a, b, c))];
}
