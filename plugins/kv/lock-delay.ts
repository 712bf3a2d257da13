/**
 * Lock delays (Consul's state/delay.go): after a session is invalidated, the keys it held
 * cannot be acquired again until its LockDelay (at most 60 s) has passed.
 *
 * Consul keeps these in each server's memory, stamped with that server's clock, and the
 * leader checks them before proposing an acquire. Herald keeps them in the replicated state
 * so every replica, a snapshot and a restart agree; the clock comes from the commands: every
 * kv command carries the proposer's `now` (ms since the epoch). An invalidation whose command
 * has no clock (a catalog change: a check went critical, the node left) records the delay as
 * pending; the next command with a clock starts it. The delay then runs from the first write
 * after the invalidation rather than from the invalidation itself: never shorter, which is the
 * safe side for a lock.
 */
import { compareKeys } from './sorted-keys.ts';

/** Consul's structs.MaxLockDelay. */
export const MAX_LOCK_DELAY_MS = 60_000;

interface Delay {
  /** Expiry (ms since the epoch), or undefined while pending. */
  until: number | undefined;
  /** Length, ms (used to start a pending one). */
  ms: number;
}

export class LockDelays {
  private readonly delays = new Map<string, Delay>();
  private pending = 0;
  /** Earliest expiry among started delays (Infinity when none). */
  private nextExpiry = Infinity;

  get size(): number {
    return this.delays.size;
  }

  /** Sets a delay of `ms` on `key`, starting at `now`, or pending when `now` is undefined. */
  set(key: string, ms: number, now: number | undefined): void {
    const d = Math.min(ms, MAX_LOCK_DELAY_MS);
    if (d <= 0) return;
    const old = this.delays.get(key);
    if (old && old.until === undefined) this.pending--;
    const until = now === undefined ? undefined : now + d;
    if (until === undefined) this.pending++;
    else if (until < this.nextExpiry) this.nextExpiry = until;
    this.delays.set(key, { until, ms: d });
  }

  /**
   * Brings the table to the command clock `now`: starts pending delays at `now` and drops
   * expired ones. Call first in every apply whose command carries a clock. Deterministic.
   */
  stamp(now: number): void {
    if (this.pending > 0) {
      for (const d of this.delays.values()) {
        if (d.until === undefined) {
          d.until = now + d.ms;
          if (d.until < this.nextExpiry) this.nextExpiry = d.until;
        }
      }
      this.pending = 0;
    }
    if (now >= this.nextExpiry) {
      this.nextExpiry = Infinity;
      for (const [k, d] of this.delays) {
        if (d.until! <= now) this.delays.delete(k);
        else if (d.until! < this.nextExpiry) this.nextExpiry = d.until!;
      }
    }
  }

  /** True when `key` may not be acquired at `now` (call stamp(now) first). */
  blocks(key: string, now: number): boolean {
    const d = this.delays.get(key);
    return d !== undefined && (d.until === undefined || d.until > now);
  }

  /** Canonical form: [key, until|null, ms] sorted by key. */
  toJson(): [string, number | null, number][] {
    return [...this.delays.entries()]
      .sort((a, b) => compareKeys(a[0], b[0]))
      .map(([k, d]) => [k, d.until ?? null, d.ms]);
  }

  /** Replaces the table with `rows` (as toJson gives them). Throws on a malformed row. */
  restore(rows: unknown): void {
    this.delays.clear();
    this.pending = 0;
    this.nextExpiry = Infinity;
    if (rows === undefined) return;
    if (!Array.isArray(rows)) throw new Error('lockDelays: must be an array');
    for (const r of rows) {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || !(r[1] === null || Number.isFinite(r[1])) || !Number.isFinite(r[2])) {
        throw new Error(`lockDelays: bad row ${JSON.stringify(r)}`);
      }
      const until = r[1] === null ? undefined : (r[1] as number);
      if (until === undefined) this.pending++;
      else if (until < this.nextExpiry) this.nextExpiry = until;
      this.delays.set(r[0], { until, ms: r[2] as number });
    }
  }
}
