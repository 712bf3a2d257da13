/**
 * Session TTL timers (Consul's agent/consul/session_ttl.go): a session with a TTL is
 * invalidated when it is not renewed within TTL × 2 (SessionTTLMultiplier: the server is
 * lenient by a factor of two, clients renew at about TTL/2). A renew resets the timer and is
 * not a log write. Timers are runtime state, not replicated: the agent arms one for every
 * session at start-up and for every session it sees created, and clears them on invalidation.
 */
import { realClearTimer, unrefSetTimer } from './injectable-timer.ts';

/** Consul's structs.SessionTTLMultiplier. */
export const SESSION_TTL_MULTIPLIER = 2;

export interface SessionTimerOptions {
  /** Called when a session's timer runs out (propose its destruction). */
  expire(id: string): void;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export class SessionTimers {
  private readonly timers = new Map<string, unknown>();
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;

  constructor(private readonly opts: SessionTimerOptions) {
    this.setTimer = opts.setTimer ?? unrefSetTimer;
    this.clearTimer = opts.clearTimer ?? realClearTimer;
  }

  get size(): number {
    return this.timers.size;
  }

  has(id: string): boolean {
    return this.timers.has(id);
  }

  /** (Re)starts `id`'s timer for `ttlMs` × 2. A TTL of 0 means no timer. */
  arm(id: string, ttlMs: number): void {
    this.clear(id);
    if (!(ttlMs > 0)) return;
    const handle = this.setTimer(() => {
      this.timers.delete(id);
      this.opts.expire(id);
    }, ttlMs * SESSION_TTL_MULTIPLIER);
    this.timers.set(id, handle);
  }

  clear(id: string): void {
    const h = this.timers.get(id);
    if (h === undefined) return;
    this.clearTimer(h);
    this.timers.delete(id);
  }

  clearAll(): void {
    for (const h of this.timers.values()) this.clearTimer(h);
    this.timers.clear();
  }
}
