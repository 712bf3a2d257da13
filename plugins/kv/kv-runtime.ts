/**
 * The kv plugin's non-replicated side on one agent: it proposes commands (stamping the clock),
 * follows the change feed to wake exactly the parked readers a change concerns, runs the
 * session TTL timers and the tombstone GC. Everything here happens outside apply.
 */
import type { ChangeSet, Command, CoreAccess, HttpToolkit, Logger } from '../../src/plugin.ts';
import { parseDuration } from '../../src/plugin.ts';
import type { KvOptions } from './kv-options.ts';
import type { KvState } from './kv-state.ts';
import { SessionTimers } from './session-timers.ts';
import type { SessionRow } from './sessions.ts';
import { TombstoneGc } from './tombstone-gc.ts';
import { SESSIONS_WAITER, WatchedPrefixes } from './wake-keys.ts';

/** A session's TTL in ms (0 for none or unparseable: no timer). */
export function ttlMs(s: Pick<SessionRow, 'ttl'>): number {
  if (s.ttl === '') return 0;
  try {
    return parseDuration(s.ttl);
  } catch {
    return 0;
  }
}

export class KvRuntime {
  readonly prefixes = new WatchedPrefixes();
  readonly timers: SessionTimers;
  readonly gc: TombstoneGc;
  private kit: HttpToolkit | undefined;
  private started = false;
  private gcHinted = 0n;
  /** The clock stamped into commands (tests may replace it). */
  now: () => number = Date.now;

  constructor(
    readonly state: KvState,
    private readonly core: Pick<CoreAccess, 'propose'>,
    readonly options: KvOptions,
    private readonly log: Logger,
  ) {
    this.timers = new SessionTimers({ expire: (id) => this.expire(id) });
    this.gc = new TombstoneGc({
      ttlMs: options.tombstoneTtlMs,
      reap: (index) => {
        this.propose({ type: 'kv.reap', index: index.toString() }).catch((err) => this.log.warn(`tombstone reap failed: ${(err as Error).message}`));
      },
    });
  }

  /** Proposes a command through the log. */
  propose(command: Command): Promise<{ index: bigint; result?: unknown }> {
    return this.core.propose(command);
  }

  /** The HTTP server's toolkit, once it mounts the routes. */
  attach(kit: HttpToolkit): void {
    this.kit = kit;
  }

  /** Arms a timer for every session with a TTL (agent start; after a restore). */
  start(): void {
    this.started = true;
    this.timers.clearAll();
    for (const s of this.state.sessions.all()) this.timers.arm(s.id, ttlMs(s));
    this.hintGc();
  }

  private hintGc(): void {
    const stones = this.state.kv.lastTombstoneIndex;
    if (stones > this.gcHinted && this.started) {
      this.gcHinted = stones;
      this.gc.hint(stones);
    }
  }

  stop(): void {
    this.started = false;
    this.timers.clearAll();
    this.gc.stop();
    this.kit = undefined;
  }

  /** Renew: restarts the session's TTL timer (not a log write, as in Consul). */
  renew(s: SessionRow): void {
    if (this.started) this.timers.arm(s.id, ttlMs(s));
  }

  private expire(id: string): void {
    this.log.debug(`session ${id} expired (TTL x2 without renew)`);
    this.propose({ type: 'kv.session-destroy', id, now: this.now(), reason: 'ttl' }).catch((err) => this.log.warn(`session ${id}: expiry failed: ${(err as Error).message}`));
  }

  /** Change-feed listener: wakes readers, arms and clears timers, hints the tombstone GC. */
  onChange(change: ChangeSet): void {
    // A restore's ChangeSet names only tables that ever had an index: look at the state's own
    // record instead of the table names.
    const c = this.state.drainChanges();
    if (!c) return;
    const wake = new Set<string>();
    for (const k of c.keys) this.prefixes.forKey(k, wake);
    for (const t of c.trees) this.prefixes.forTree(t, wake);
    if (c.created.length > 0 || c.removed.length > 0) wake.add(SESSIONS_WAITER);
    if (c.restored) {
      this.kit?.wakeAll();
      this.gcHinted = 0n;
      if (this.started) this.start();
    } else if (this.started) {
      for (const s of c.created) this.timers.arm(s.id, ttlMs(s));
      for (const id of c.removed) this.timers.clear(id);
    }
    if (wake.size > 0) this.kit?.wake(wake);
    this.hintGc();
  }
}
