/**
 * Tombstone garbage collection (Consul's agent/consul/state/tombstone_gc.go). A delete leaves
 * a tombstone so a prefix read's index does not slide backwards; after `ttl` (15 min) the
 * tombstones are reaped by a proposed `kv.reap` command, so every replica drops the same ones.
 * Hints are bucketed by expiry time with `granularity` (30 s), so a burst of deletes costs one
 * timer and one reap per bucket, each reaping up to the highest index hinted into it.
 */
import { realClearTimer, unrefSetTimer } from './injectable-timer.ts';

export const TOMBSTONE_TTL_MS = 15 * 60_000;
export const TOMBSTONE_GRANULARITY_MS = 30_000;

export interface TombstoneGcOptions {
  ttlMs?: number;
  granularityMs?: number;
  /** Propose the reap of every tombstone at or below `index`. */
  reap(index: bigint): void;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export class TombstoneGc {
  private readonly ttl: number;
  private readonly granularity: number;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  /** expiry bucket (ms) -> highest index hinted into it, and its timer */
  private readonly buckets = new Map<number, { index: bigint; timer: unknown }>();

  constructor(private readonly opts: TombstoneGcOptions) {
    this.ttl = opts.ttlMs ?? TOMBSTONE_TTL_MS;
    // A TTL shorter than the granularity (tests) buckets at the TTL itself.
    this.granularity = opts.granularityMs ?? Math.min(TOMBSTONE_GRANULARITY_MS, this.ttl);
    this.now = opts.now ?? Date.now;
    this.setTimer = opts.setTimer ?? unrefSetTimer;
    this.clearTimer = opts.clearTimer ?? realClearTimer;
  }

  /** Pending buckets (tests, metrics). */
  get pending(): number {
    return this.buckets.size;
  }

  /** Tombstones up to `index` exist now: reap them once the TTL has passed. */
  hint(index: bigint): void {
    const now = this.now();
    // The next granularity boundary strictly after now + ttl (Consul's nextExpires).
    const expires = (Math.floor((now + this.ttl) / this.granularity) + 1) * this.granularity;
    const b = this.buckets.get(expires);
    if (b) {
      if (index > b.index) b.index = index;
      return;
    }
    const bucket = { index, timer: undefined as unknown };
    bucket.timer = this.setTimer(() => {
      this.buckets.delete(expires);
      this.opts.reap(bucket.index);
    }, Math.max(0, expires - now));
    this.buckets.set(expires, bucket);
  }

  stop(): void {
    for (const b of this.buckets.values()) this.clearTimer(b.timer);
    this.buckets.clear();
  }
}
