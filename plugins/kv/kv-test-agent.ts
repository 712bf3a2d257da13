/**
 * For the kv tests: an in-process agent running http-api + kv (startTestAgent with `-plugin kv`),
 * and waits on events (a read parked on a waiter key, a promise settled) with deadlines.
 */
import { startTestAgent, type TestAgent } from '../http-api/test-agent.ts';
import { runningKv } from './index.ts';
import type { KvRuntime } from './kv-runtime.ts';

export interface KvTestAgent extends TestAgent {
  kv: KvRuntime;
  /** Resolves once `n` reads are parked on the waiter key (fails after 5 s). */
  parked(waiterKey: string, n?: number): Promise<void>;
}

export async function startKvAgent(config: Record<string, unknown> = {}, flags: string[] = []): Promise<KvTestAgent> {
  const t = await startTestAgent(config, ['-plugin', 'kv', ...flags]);
  const kv = runningKv(t.agent.config);
  if (!kv) throw new Error('kv did not start');
  return {
    ...t,
    kv,
    parked: (key, n = 1) => until(() => t.api.waiters.sizeOf(key) >= n, `a read parked on ${key}`),
  };
}

/** Polls `cond` on every turn of the event loop until true; throws after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Lets the event loop run the deferred waiter flushes (two turns). */
export async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Tracks whether a promise has settled. */
export function track<T>(p: Promise<T>): { done: () => boolean; promise: Promise<T> } {
  let settled = false;
  const promise = p.finally(() => {
    settled = true;
  });
  return { done: () => settled, promise };
}
