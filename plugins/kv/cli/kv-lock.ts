/**
 * A KV lock held by a session, the algorithm of Consul's api.Lock (what `consul lock` uses):
 * create a session with a TTL and renew it every TTL/2; wait (blocking reads) until the key
 * `<prefix>/.lock` has no holder, then `PUT ?acquire=<session>` with the lock's magic Flags;
 * while held, watch the key with consistent blocking reads and report the lock lost as soon as
 * another session (or none) holds it; release, destroy the session, and delete the key if
 * nobody holds it. The same key and Flags as Consul, so a Herald lock and a `consul lock` on the
 * same prefix exclude each other.
 */
import { parseDuration } from '../../../src/plugin.ts';
import type { KvApi, KvPair } from './kv-api.ts';

/** api.LockFlagValue: marks a key as a lock (semaphores and plain keys carry other Flags). */
export const LOCK_FLAG_VALUE = 0x2ddccbc058a50c18n;
/** api.DefaultLockSessionTTL. */
export const LOCK_SESSION_TTL = '15s';
/** api.DefaultLockWaitTime: one blocking read while the lock is held by someone else. */
export const LOCK_WAIT_MS = 15_000;
/** api.DefaultLockRetryTime: pause after a refused acquire (lock-delay in force). */
export const LOCK_RETRY_MS = 5_000;
/** One blocking read of the held key while monitoring it. */
export const MONITOR_WAIT_MS = 60_000;

/** api.ErrLockConflict: the key exists with other Flags (a plain key or a semaphore). */
export class LockConflictError extends Error {
  constructor() {
    super('Existing key does not match lock use');
    this.name = 'LockConflictError';
  }
}

export interface KvLockOptions {
  /** The lock key (`<prefix>/.lock`). */
  key: string;
  sessionName: string;
  /** Go duration string; default LOCK_SESSION_TTL. */
  sessionTtl?: string;
  /** Failed monitor reads tolerated (1 s apart) before the lock counts as lost. */
  monitorRetries: number;
  monitorRetryMs?: number;
  retryMs?: number;
  waitMs?: number;
  /** Tells about each step (`-verbose`). */
  verbose?: (message: string) => void;
}

/** Whether a failed monitor read may be retried: the agent unreachable, or a 5xx. */
function retryable(err: unknown): boolean {
  const status = (err as { status?: number }).status;
  return status === undefined || status >= 500;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A Go duration string in ms; 0 when it is not one (or "0"). */
function ttlMs(ttl: string): number {
  try {
    return parseDuration(ttl);
  } catch {
    return 0;
  }
}

/** One lock, used once: acquire, (hold), release, cleanup. */
export class KvLock {
  private session = '';
  private readonly renewing = new AbortController();
  private readonly monitoring = new AbortController();
  private renewLoop: Promise<void> = Promise.resolve();
  private monitorLoop: Promise<void> = Promise.resolve();
  private held = false;
  /** Resolves once the lock, after being acquired, is lost (or released). */
  readonly lost: Promise<void>;
  private markLost!: () => void;

  constructor(
    private readonly kv: KvApi,
    private readonly o: KvLockOptions,
  ) {
    this.lost = new Promise((resolve) => (this.markLost = resolve));
  }

  /** The session holding (or trying for) the lock; '' before `acquire`. */
  get sessionId(): string {
    return this.session;
  }

  private say(message: string): void {
    this.o.verbose?.(message);
  }

  /**
   * Creates the session and waits until the lock is held: true once held (and monitored);
   * false when `signal` aborted or `deadline` (ms since the epoch) passed first, after which
   * the session is destroyed. Rejects (session destroyed too) on a conflicting key or an agent
   * error.
   */
  async acquire(signal: AbortSignal, deadline?: number): Promise<boolean> {
    const ttl = this.o.sessionTtl ?? LOCK_SESSION_TTL;
    try {
      this.session = await this.kv.createSession({ Name: this.o.sessionName, TTL: ttl });
    } catch (err) {
      throw new Error(`failed to create session: ${(err as Error).message}`, { cause: err });
    }
    this.say(`Created session ${this.session}`);
    this.renewLoop = this.renew(ttlMs(ttl));
    try {
      if (await this.waitAndAcquire(signal, deadline)) {
        this.held = true;
        this.monitorLoop = this.monitor();
        return true;
      }
    } catch (err) {
      await this.endSession();
      throw err;
    }
    await this.endSession();
    return false;
  }

  private async waitAndAcquire(signal: AbortSignal, deadline: number | undefined): Promise<boolean> {
    const waitMs = this.o.waitMs ?? LOCK_WAIT_MS;
    let index = 0n;
    for (;;) {
      if (signal.aborted) return false;
      const remaining = deadline === undefined ? Infinity : deadline - Date.now();
      if (remaining <= 0) return false;
      let pair: KvPair | undefined;
      let at: bigint;
      try {
        const r = await this.kv.get(this.o.key, { index, waitMs: Math.min(waitMs, remaining), signal });
        pair = r.value;
        at = r.index;
      } catch (err) {
        if (signal.aborted) return false;
        throw new Error(`failed to read lock: ${(err as Error).message}`, { cause: err });
      }
      if (pair && pair.Flags !== LOCK_FLAG_VALUE) throw new LockConflictError();
      if (pair && pair.Session !== '') {
        // Held by someone else: block on its index next time. Only then, as api.Lock does: after
        // a refused acquire of a free key the next read must not park on an index that will
        // not move. An index that went backwards (restore, reap) means start over.
        index = at < index ? 0n : at;
        continue;
      }
      let ok: boolean;
      try {
        ok = await this.kv.put(this.o.key, Buffer.alloc(0), { flags: LOCK_FLAG_VALUE, acquire: this.session });
      } catch (err) {
        throw new Error(`failed to acquire lock: ${(err as Error).message}`, { cause: err });
      }
      if (ok) return true;
      // Refused although free: a lock-delay is in force. Do not hot-loop.
      this.say('Lock acquisition refused (lock-delay?), retrying');
      await pause(Math.min(this.o.retryMs ?? LOCK_RETRY_MS, remaining), signal);
    }
  }

  /** Renews every TTL/2 until stopped; stops on its own once a renew fails (the TTL then decides). */
  private async renew(periodMs: number): Promise<void> {
    const signal = this.renewing.signal;
    if (periodMs <= 0) return; // a session without TTL needs no renewal
    let ttl = periodMs;
    for (;;) {
      await pause(ttl / 2, signal);
      if (signal.aborted) return;
      try {
        const next = await this.kv.renewSession(this.session);
        if (next === undefined) {
          this.say('Session no longer exists; renewal stopped');
          return;
        }
        // The server may ask for a longer TTL: follow it.
        ttl = ttlMs(next) || ttl;
      } catch (err) {
        this.say(`Session renewal failed: ${(err as Error).message}`);
        return;
      }
    }
  }

  /** Watches the held key until another session (or none) holds it, then marks the lock lost. */
  private async monitor(): Promise<void> {
    const signal = this.monitoring.signal;
    let index = 0n;
    let retries = this.o.monitorRetries;
    try {
      for (;;) {
        let r;
        try {
          r = await this.kv.get(this.o.key, { index, waitMs: MONITOR_WAIT_MS, consistent: true, signal });
        } catch (err) {
          if (signal.aborted) return;
          if (retries > 0 && retryable(err)) {
            retries--;
            this.say(`Monitoring the lock failed (${(err as Error).message}); retrying`);
            await pause(this.o.monitorRetryMs ?? 1000, signal);
            continue;
          }
          this.say(`Monitoring the lock failed: ${(err as Error).message}`);
          return;
        }
        retries = this.o.monitorRetries;
        if (!r.value || r.value.Session !== this.session) return;
        index = r.index < index ? 0n : r.index;
      }
    } finally {
      this.markLost();
    }
  }

  /** Stops renewing and destroys the session (best effort: it expires anyway). */
  private async endSession(): Promise<void> {
    this.renewing.abort();
    await this.renewLoop;
    if (this.session === '') return;
    try {
      await this.kv.destroySession(this.session);
    } catch (err) {
      this.say(`Session destroy failed: ${(err as Error).message}`);
    }
  }

  /**
   * Releases the lock (whether or not it is still ours: releasing a lock another session took
   * is refused harmlessly), stops monitoring and renewing, and destroys the session. Rejects
   * when the agent cannot be reached; the session is then left to expire.
   */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    this.monitoring.abort();
    await this.monitorLoop;
    try {
      await this.kv.put(this.o.key, Buffer.alloc(0), { flags: LOCK_FLAG_VALUE, release: this.session });
    } finally {
      await this.endSession();
    }
  }

  /**
   * api.Lock.Destroy: deletes the lock key when nobody holds it. Resolves `in-use` when a
   * session holds it (or it changed under us); rejects with LockConflictError when the key is
   * not a lock.
   */
  async cleanup(): Promise<'removed' | 'absent' | 'in-use'> {
    const { value: pair } = await this.kv.get(this.o.key);
    if (!pair) return 'absent';
    if (pair.Flags !== LOCK_FLAG_VALUE) throw new LockConflictError();
    if (pair.Session !== '') return 'in-use';
    return (await this.kv.delete(this.o.key, { cas: pair.ModifyIndex })) ? 'removed' : 'in-use';
  }
}
