/**
 * KvLock's algorithm against an in-memory stand-in for the agent's KV and session API (the
 * process-level behaviour is in lock-command.test.ts): renewal every TTL/2, waiting on the
 * holder's index, the lock-delay retry, monitoring, release and cleanup, and a conflicting key.
 */
import { describe, expect, it } from 'vitest';
import type { Indexed, KvApi, KvPair, PutOptions, ReadOptions } from './kv-api.ts';
import { KvLock, LOCK_FLAG_VALUE, LockConflictError } from './kv-lock.ts';

/** Just enough of /v1/kv and /v1/session, with blocking reads that wake on a write. */
class FakeKv {
  index = 10n;
  readonly keys = new Map<string, KvPair>();
  readonly sessions = new Set<string>();
  renewals = 0;
  refuseAcquires = 0;
  private waiters: (() => void)[] = [];
  private n = 0;

  private bump(): bigint {
    this.index += 1n;
    for (const w of this.waiters.splice(0)) w();
    return this.index;
  }

  async get(key: string, o: ReadOptions = {}): Promise<Indexed<KvPair | undefined>> {
    const current = () => this.keys.get(key)?.ModifyIndex ?? this.index;
    if (o.index !== undefined && o.index > 0n && current() <= o.index) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, o.waitMs ?? 1000);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.waiters.push(wake);
        o.signal?.addEventListener('abort', wake, { once: true });
      });
      if (o.signal?.aborted) throw new Error('aborted');
    }
    return { value: this.keys.get(key), index: current() };
  }

  async put(key: string, value: Uint8Array, o: PutOptions = {}): Promise<boolean> {
    const old = this.keys.get(key);
    if (o.acquire !== undefined) {
      if (!this.sessions.has(o.acquire)) throw new Error(`invalid session "${o.acquire}"`);
      if (old?.Session && old.Session !== o.acquire) return false;
      if (this.refuseAcquires > 0) {
        this.refuseAcquires--;
        return false;
      }
    }
    if (o.release !== undefined && old?.Session !== o.release) return false;
    const idx = this.bump();
    this.keys.set(key, {
      Key: key,
      Flags: o.flags ?? 0n,
      Value: Buffer.from(value),
      Session: o.acquire ?? (o.release !== undefined ? '' : (old?.Session ?? '')),
      LockIndex: (old?.LockIndex ?? 0n) + (o.acquire !== undefined && old?.Session !== o.acquire ? 1n : 0n),
      CreateIndex: old?.CreateIndex ?? idx,
      ModifyIndex: idx,
    });
    return true;
  }

  async delete(key: string, o: { cas?: bigint } = {}): Promise<boolean> {
    if (o.cas !== undefined && this.keys.get(key)?.ModifyIndex !== o.cas) return false;
    this.keys.delete(key);
    this.bump();
    return true;
  }

  async createSession(): Promise<string> {
    const id = `session-${++this.n}`;
    this.sessions.add(id);
    return id;
  }

  async renewSession(id: string): Promise<string | undefined> {
    this.renewals++;
    return this.sessions.has(id) ? '200ms' : undefined;
  }

  async destroySession(id: string): Promise<void> {
    this.sessions.delete(id);
    for (const [k, p] of this.keys) if (p.Session === id) this.keys.set(k, { ...p, Session: '', ModifyIndex: this.bump() });
  }
}

const options = { key: 'job/.lock', sessionName: 'test', sessionTtl: '200ms', monitorRetries: 0, retryMs: 20, waitMs: 500 };

describe('KvLock', () => {
  it('acquires a free lock with the lock Flags, renews the session while held, releases and cleans up', async () => {
    const kv = new FakeKv();
    const lock = new KvLock(kv as unknown as KvApi, options);
    expect(await lock.acquire(new AbortController().signal)).toBe(true);
    expect(kv.keys.get('job/.lock')).toMatchObject({ Session: lock.sessionId, Flags: LOCK_FLAG_VALUE, LockIndex: 1n });
    // TTL 200ms: a renewal every 100ms.
    await expect.poll(() => kv.renewals, { timeout: 2000 }).toBeGreaterThanOrEqual(2);
    await lock.release();
    expect(kv.keys.get('job/.lock')?.Session).toBe('');
    expect(kv.sessions.has(lock.sessionId)).toBe(false);
    const renewals = kv.renewals;
    expect(await lock.cleanup()).toBe('removed');
    expect(kv.keys.has('job/.lock')).toBe(false);
    // Renewal stopped with the release.
    await new Promise((r) => setTimeout(r, 250));
    expect(kv.renewals).toBe(renewals);
  });

  it('waits while another session holds the key, and takes it once released', async () => {
    const kv = new FakeKv();
    const other = await kv.createSession();
    await kv.put('job/.lock', Buffer.alloc(0), { acquire: other, flags: LOCK_FLAG_VALUE });
    const lock = new KvLock(kv as unknown as KvApi, options);
    let held = false;
    const acquiring = lock.acquire(new AbortController().signal).then((h) => (held = h));
    await new Promise((r) => setTimeout(r, 50));
    expect(held).toBe(false);
    await kv.put('job/.lock', Buffer.alloc(0), { release: other, flags: LOCK_FLAG_VALUE });
    expect(await acquiring).toBe(true);
    expect(kv.keys.get('job/.lock')?.Session).toBe(lock.sessionId);
    await lock.release();
  });

  it('retries after a refused acquire (lock-delay), and gives up at the deadline', async () => {
    const kv = new FakeKv();
    kv.refuseAcquires = 2;
    const lock = new KvLock(kv as unknown as KvApi, options);
    const t0 = performance.now();
    expect(await lock.acquire(new AbortController().signal)).toBe(true);
    // Two refusals cost two retry pauses (20 ms each here), not two parked reads (500 ms each).
    expect(performance.now() - t0).toBeLessThan(450);
    expect(kv.refuseAcquires).toBe(0);
    await lock.release();

    const holder = await kv.createSession();
    await kv.put('job/.lock', Buffer.alloc(0), { acquire: holder, flags: LOCK_FLAG_VALUE });
    const late = new KvLock(kv as unknown as KvApi, options);
    expect(await late.acquire(new AbortController().signal, Date.now() + 100)).toBe(false);
    // Its session was destroyed on the way out.
    expect(kv.sessions.has(late.sessionId)).toBe(false);
  });

  it('reports the lock lost when its session goes away', async () => {
    const kv = new FakeKv();
    const lock = new KvLock(kv as unknown as KvApi, options);
    expect(await lock.acquire(new AbortController().signal)).toBe(true);
    let lost = false;
    void lock.lost.then(() => (lost = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(lost).toBe(false);
    await kv.destroySession(lock.sessionId);
    await lock.lost;
    await lock.release(); // refused harmlessly: the key is no longer ours
    expect(await lock.cleanup()).toBe('removed');
  });

  it('refuses a key that is not a lock (other Flags), destroying its session', async () => {
    const kv = new FakeKv();
    await kv.put('job/.lock', Buffer.from('plain'));
    const lock = new KvLock(kv as unknown as KvApi, options);
    await expect(lock.acquire(new AbortController().signal)).rejects.toBeInstanceOf(LockConflictError);
    expect(kv.sessions.size).toBe(0);
    await expect(lock.cleanup()).rejects.toThrow('Existing key does not match lock use');
  });
});
