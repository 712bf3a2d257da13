/**
 * Blocking queries (consul-compat.md §4): `?index=N&wait=D` parks a read until what it reads
 * changes past N, or the wait runs out.
 *
 * Rules, from Consul's blockingQuery (agent/consul/rpc.go) and parseWait (agent/http.go):
 * - `index` is a uint64 (400 `Invalid index` otherwise); absent or 0 answers at once.
 * - `wait` is a Go duration (400 `Invalid wait time`); 0/absent is the default 5m, more than
 *   10m is cut to 10m, and up to wait/16 of random jitter is added (clients budget for it).
 * - The read returns at once when its index is above N. Otherwise it waits for a change to the
 *   data it reads, re-checks, and returns on an increase or at the deadline (200, same body,
 *   same index: returning is not proof of a change).
 * - If N is ahead of the current index (snapshot restore, a client confused across agents),
 *   Consul does not reset: it blocks until the deadline and the client resets when it sees the
 *   index go down. Herald does the same. The one exception, as in Consul, is a restore while
 *   parked: an index that goes backwards under a parked read returns it at once.
 *
 * The registry is keyed by the one resource a read depends on (per service, per node, the
 * service list, the node list, check state), and driven by the change feed: a ChangeSet wakes
 * only the keys it names (`svc:<name>` for each service, `node:<name>` for each node, the list
 * keys when the list indexes moved, `checks` when the checks table did), on the next turn of the
 * event loop. A write to service A costs one map lookup per name it touched, never a scan of
 * every parked request. Each parked
 * request is one Waiter object plus one timer, and leaves the registry when its client goes
 * away (the response's `close`).
 */
import type { EventEmitter } from 'node:events';
import { parseDuration, type ChangeSet } from '../../src/plugin.ts';
import { badRequest } from './http-error.ts';
import { firstParam, type Query } from './query-params.ts';

/** Consul's `default_query_time`. */
export const DEFAULT_WAIT_MS = 5 * 60_000;
/** Consul's `max_query_time`. */
export const MAX_WAIT_MS = 10 * 60_000;
/** Jitter: up to wait/16 is added (Consul's jitterFraction). */
export const JITTER_FRACTION = 16;

const MAX_UINT64 = (1n << 64n) - 1n;

/** Registry keys: one per resource a blocking read can watch. Names are lowercased, as the change feed's are. */
export const WAIT_KEY = {
  service: (name: string): string => `svc:${name.toLowerCase()}`,
  node: (name: string): string => `node:${name.toLowerCase()}`,
  serviceList: 'list:services',
  nodeList: 'list:nodes',
  checks: 'checks',
} as const;

export interface BlockingParams {
  /** The client's `?index`; 0n means do not block. */
  index: bigint;
  /** How long to wait at most, jitter included (0 when not blocking). */
  timeoutMs: number;
}

/** `?wait` in ms as the client sent it (0 when absent). Throws 400 `Invalid wait time`. */
export function parseWaitMs(q: Query): number {
  const raw = firstParam(q, 'wait');
  if (raw === undefined || raw === '') return 0;
  try {
    return parseDuration(raw);
  } catch {
    throw badRequest('Invalid wait time');
  }
}

/** The deadline for a wait: 0/negative gives the default, above the max the max, plus up to wait/16 jitter. */
export function blockingTimeoutMs(waitMs: number, random: () => number = Math.random): number {
  const timeout = waitMs > MAX_WAIT_MS ? MAX_WAIT_MS : waitMs <= 0 ? DEFAULT_WAIT_MS : waitMs;
  return timeout + Math.floor(random() * (timeout / JITTER_FRACTION));
}

/** `?wait` as a deadline (parseWaitMs, then blockingTimeoutMs). */
export function waitTimeoutMs(q: Query, random: () => number = Math.random): number {
  return blockingTimeoutMs(parseWaitMs(q), random);
}

/**
 * Parses `?index` and `?wait` with Consul's rules (see blockingTimeoutMs). Throws 400
 * `Invalid wait time` / `Invalid index`; both are validated even when index is 0, as Consul's
 * parseWait does.
 */
export function parseBlockingParams(q: Query, random: () => number = Math.random): BlockingParams {
  const waitMs = parseWaitMs(q);
  let index = 0n;
  const indexRaw = firstParam(q, 'index');
  if (indexRaw !== undefined && indexRaw !== '') {
    // strconv.ParseUint(s, 10, 64): digits only, no sign, at most 2^64-1.
    if (!/^[0-9]+$/.test(indexRaw)) throw badRequest('Invalid index');
    index = BigInt(indexRaw);
    if (index > MAX_UINT64) throw badRequest('Invalid index');
  }
  return index === 0n ? { index, timeoutMs: 0 } : { index, timeoutMs: blockingTimeoutMs(waitMs, random) };
}

/** How a wait ended: the data moved, the deadline passed, or the client went away. */
export type WaitOutcome = 'changed' | 'timeout' | 'closed';

/** One parked request. Methods live on the prototype, so an instance is a handful of fields. */
class Waiter {
  timer: NodeJS.Timeout | undefined;
  done = false;
  readonly onClose: () => void;

  constructor(
    readonly registry: WaiterRegistry,
    readonly key: string,
    readonly ready: () => boolean,
    readonly resolve: (o: WaitOutcome) => void,
    readonly emitter: EventEmitter | undefined,
  ) {
    this.onClose = () => this.finish('closed');
  }

  /** Woken by a change to its key: return if the data moved, otherwise park again. */
  wake(): void {
    if (this.done) return;
    if (this.ready()) this.finish('changed');
    else this.registry.park(this);
  }

  finish(outcome: WaitOutcome): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.emitter?.off('close', this.onClose);
    this.registry.forget(this);
    this.resolve(outcome);
  }
}

/** The parked blocking reads of one HTTP server, keyed by the resource each one watches. */
export class WaiterRegistry {
  private readonly byKey = new Map<string, Set<Waiter>>();
  private readonly all = new Set<Waiter>();
  private lastChange = 0n;
  /** Keys named by changes since the last flush (only keys someone waits on). */
  private readonly pending = new Set<string>();
  private wakeEveryone = false;
  private scheduled = false;
  private readonly flushBound = () => this.flush();

  /** `lists` gives the list indexes, to tell whether a ChangeSet moved the service or node list. */
  constructor(private readonly lists: { readonly servicesListIndex: bigint; readonly nodesListIndex: bigint }) {}

  /** Requests currently blocked. */
  get size(): number {
    return this.all.size;
  }

  /** Requests blocked on `key` right now (tests, metrics). */
  sizeOf(key: string): number {
    return this.byKey.get(key)?.size ?? 0;
  }

  /**
   * Parks until `ready()` is true after a change to `key`, `timeoutMs` passes, or `emitter`
   * (the response) emits `close`. `ready` is re-evaluated on each wake, synchronously inside
   * the change feed, so it must be cheap (an index lookup).
   */
  wait(key: string, ready: () => boolean, timeoutMs: number, emitter?: EventEmitter): Promise<WaitOutcome> {
    return new Promise<WaitOutcome>((resolve) => {
      const w = new Waiter(this, key, ready, resolve, emitter);
      this.all.add(w);
      w.timer = setTimeout(() => w.finish('timeout'), timeoutMs);
      emitter?.once('close', w.onClose);
      this.park(w);
    });
  }

  /** @internal (Waiter) */
  park(w: Waiter): void {
    let set = this.byKey.get(w.key);
    if (!set) this.byKey.set(w.key, (set = new Set()));
    set.add(w);
  }

  /** @internal (Waiter) */
  forget(w: Waiter): void {
    this.all.delete(w);
    const set = this.byKey.get(w.key);
    if (set?.delete(w) && set.size === 0) this.byKey.delete(w.key);
  }

  /**
   * Notes the keys a ChangeSet names; the waiters on them are re-checked on the next turn of
   * the event loop (see flush). Subscribe it to the change feed.
   */
  onChange(change: ChangeSet): void {
    if (change.index <= this.lastChange) {
      // Indexes only go backwards across a snapshot restore: re-check everyone (Consul's
      // abandon channel does the same).
      this.lastChange = change.index;
      this.wakeEveryone = true;
    } else {
      this.lastChange = change.index;
      for (const s of change.services) this.note(WAIT_KEY.service(s));
      for (const n of change.nodes) this.note(WAIT_KEY.node(n));
      // `>=`: a listener may have proposed a later entry before this one reached us.
      if (this.lists.servicesListIndex >= change.index) this.note(WAIT_KEY.serviceList);
      if (this.lists.nodesListIndex >= change.index) this.note(WAIT_KEY.nodeList);
      if (change.tables.has('checks')) this.note(WAIT_KEY.checks);
    }
    this.schedule();
  }

  private note(key: string): void {
    if (this.byKey.has(key)) this.pending.add(key);
  }

  /**
   * Notes keys changed outside the catalog's change feed (a plugin's own tables: `kv:<key>`);
   * their waiters are re-checked on the next turn of the event loop, exactly as for onChange.
   * Keys nobody waits on cost one lookup each.
   */
  notify(keys: Iterable<string>): void {
    for (const k of keys) this.note(k);
    this.schedule();
  }

  /** Re-checks every parked waiter on the next turn of the event loop (a plugin's state was restored). */
  notifyAll(): void {
    this.wakeEveryone = true;
    this.schedule();
  }

  /** True when some request is parked on `key`. */
  watched(key: string): boolean {
    return this.byKey.has(key);
  }

  private schedule(): void {
    if (!this.scheduled && (this.wakeEveryone || this.pending.size > 0)) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  /**
   * Re-checks the waiters of every key noted since the last flush. Deferred rather than run
   * inside the change feed so that (1) the write that caused the change answers its own client
   * before the watchers it woke answer theirs, as in Consul, where a client that writes and then
   * waits for the next change does not miss it; (2) a burst of writes in one tick re-checks each
   * watcher once; (3) no response work runs inside the state machine's apply. Safe to call
   * directly (tests).
   */
  flush(): void {
    this.scheduled = false;
    const keys = this.wakeEveryone ? [...this.byKey.keys()] : [...this.pending];
    this.wakeEveryone = false;
    this.pending.clear();
    for (const key of keys) this.wake(key);
  }

  private wake(key: string): void {
    const set = this.byKey.get(key);
    if (!set) return;
    // Take the whole set first: a waiter that is not ready parks itself again into a new one.
    this.byKey.delete(key);
    for (const w of set) w.wake();
  }

  /** Ends every wait as if its deadline had passed (server shutdown: answer, then close). */
  releaseAll(): void {
    for (const w of [...this.all]) w.finish('timeout');
  }
}

/**
 * Runs the blocking part of a read: returns at once unless `?index` asks to block and the
 * resource's `index()` is not above it; otherwise parks on `key` until the index rises (or
 * falls, after a restore), the deadline, or the client leaves. Resolves 'closed' when the
 * client went away (nothing needs to be sent).
 */
export async function blockUntilChanged(
  registry: WaiterRegistry,
  params: BlockingParams,
  key: string,
  index: () => bigint,
  emitter?: EventEmitter,
): Promise<WaitOutcome | 'immediate'> {
  if (params.index === 0n) return 'immediate';
  const seen = index();
  if (seen > params.index) return 'immediate';
  return registry.wait(key, () => {
    const now = index();
    return now > params.index || now < seen;
  }, params.timeoutMs, emitter);
}
