/**
 * The server's side of client agents (DESIGN "Reads are local"): a change stream of the
 * committed catalog commands, and a write path for clients' commands.
 *
 * The feed sits between the Raft driver and the catalog state machine (it wraps the
 * RaftStateMachine), so it sees exactly the entries this server applies, in index order, as
 * the bytes the log holds. It keeps the most recent ones in a bounded ring; a subscriber whose
 * `fromIndex` the ring still covers gets the entries after it, else first a snapshot of the
 * state machine (with the index it covers), then entries, forever, paced by the transport's
 * credit. Entries the state machine refused are streamed too: a client refuses them the same
 * way (deterministic), and its cursor moves past them.
 */
import { performance } from 'node:perf_hooks';
import type { StateMachine } from '../catalog/state-machine.ts';
import { ERR, HeraldError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RaftStateMachine } from '../raft/raft-driver.ts';
import type { ReplicatedLog } from '../raft/local-log.ts';
import { decodeCommand } from '../raft/command-codec.ts';
import { chunkSizeFor, chunksOf } from '../rpc/byte-chunks.ts';
import type { StreamSink, Transport } from '../rpc/transport.ts';
import type { LeaderFacts } from './read-point.ts';

/** Topic and method names between client agents and servers. */
export const CLIENT_RPC = {
  /** Stream, params `{ fromIndex: bigint }`; items are FeedItem. */
  changes: 'catalog.changes',
  /** Request, body `{ data: Buffer }` (an encoded command) -> `{ index: bigint, result?: unknown }`. */
  propose: 'herald.clientPropose',
} as const;

/**
 * One stream item. `servers` comes first on every subscription: the voters' RPC addresses and
 * the server's last applied index then (a client is caught up once it has applied that far).
 * A snapshot (the state machine's JSON, UTF-8) may exceed a frame, so it comes as consecutive
 * `snapshot` items, each a byte range of it in offset order (rpc/byte-chunks.ts); the state
 * at `index` is whole once `offset + data.length === total`.
 * `keepalive` follows `servers` at once and then comes at least every keepaliveMs, busy or
 * idle: the server's leader facts then, so a client's X-Consul-KnownLeader / LastContact stay
 * true (read-point.ts) and an idle cluster does not look stale.
 */
export type FeedItem =
  | { readonly kind: 'servers'; readonly addresses: string[]; readonly lastIndex: bigint; readonly plugins: string[] }
  | { readonly kind: 'snapshot'; readonly index: bigint; readonly offset: number; readonly total: number; readonly data: Buffer }
  | { readonly kind: 'entry'; readonly index: bigint; readonly data: Buffer }
  | { readonly kind: 'keepalive'; readonly knownLeader: boolean; readonly lastContactMs: number; readonly leader?: string };

/**
 * How often a subscriber hears the server's leader facts. 250 ms: a client agent's
 * X-Consul-LastContact is the server's own plus the age of the last keepalive, so on an idle
 * cluster it stays within about 300 ms (a Consul follower's is within its 100 ms heartbeat),
 * far below the thresholds clients act on (consul-template's max_stale, DNS max_stale); the
 * cost is 4 small frames a second per client agent.
 */
export const KEEPALIVE_MS = 250;

interface RingEntry {
  readonly index: bigint;
  readonly data: Buffer;
}

export interface ChangeFeedOptions {
  readonly sm: StateMachine;
  /** Entries kept for resumption (default 10 000). */
  readonly ringSize?: number;
  /** The server's replicated-state plugins (a client must run the same ones to apply the stream). */
  readonly plugins: readonly string[];
  readonly log: Logger;
  /** This server's leader facts for keepalives (read-point.ts); default: its own leader (a single node, tests). */
  readonly leader?: () => LeaderFacts;
  /** The leader's server RPC address for keepalives (`""` when none is known); default `""`. */
  readonly leaderAddress?: () => string;
  /** Keepalive period in ms (default KEEPALIVE_MS). */
  readonly keepaliveMs?: number;
}

export class ChangeFeed {
  private readonly ring: RingEntry[] = [];
  private readonly ringSize: number;
  /** Every entry applied after this index is in the ring. */
  private coveredFrom = 0n;
  /** The last index the state machine was given (applied, refused, or restored to). */
  private lastIndex = 0n;
  private wake = new Set<() => void>();

  constructor(private readonly opts: ChangeFeedOptions) {
    this.ringSize = opts.ringSize ?? 10_000;
  }

  /** Wraps the driver's state machine so every applied entry and restored snapshot passes through the feed. */
  wrap(inner: RaftStateMachine): RaftStateMachine {
    return {
      ...(inner.validate ? { validate: (data: Buffer) => inner.validate!(data) } : {}),
      apply: (index, data) => {
        try {
          return inner.apply(index, data);
        } finally {
          this.record(index, data);
        }
      },
      snapshot: () => inner.snapshot(),
      restore: (data, index) => {
        inner.restore(data, index);
        this.ring.length = 0;
        this.coveredFrom = index;
        this.lastIndex = index;
        this.notify();
      },
    };
  }

  private record(index: bigint, data: Buffer): void {
    this.ring.push({ index, data });
    this.lastIndex = index;
    if (this.ring.length > this.ringSize) this.coveredFrom = this.ring.shift()!.index;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = new Set();
    for (const f of w) f();
  }

  /** Resolves on the next applied entry or restore, on abort, or after `ms` (when given). */
  private changed(signal: AbortSignal, ms?: number): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      // Every way out unregisters the others: an idle stream waits here 4 times a second.
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake.delete(done);
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, Math.max(0, ms));
      this.wake.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Writes the server's leader facts; resolves with when (performance.now()). */
  private async keepalive(sink: StreamSink): Promise<number> {
    const facts = this.opts.leader?.() ?? { knownLeader: true, lastContactMs: 0 };
    await sink.write({ kind: 'keepalive', knownLeader: facts.knownLeader, lastContactMs: facts.lastContactMs, leader: this.opts.leaderAddress?.() ?? '' } satisfies FeedItem);
    return performance.now();
  }

  /**
   * Serves the change stream and the clients' write path on `transport`. `servers()` names the
   * voters' RPC addresses (sent to every subscriber, so a client learns where else to go).
   */
  serve(transport: Transport, raftLog: () => ReplicatedLog, servers: () => string[]): void {
    transport.serveStream(CLIENT_RPC.changes, (params, sink) => {
      const p = params as { fromIndex?: unknown } | null;
      const from = typeof p?.fromIndex === 'bigint' ? p.fromIndex : 0n;
      return this.stream(from, sink, servers(), chunkSizeFor(transport.maxFrameBytes));
    });
    transport.handle(CLIENT_RPC.propose, async (body) => {
      const b = body as { data?: unknown } | null;
      if (!b || !Buffer.isBuffer(b.data)) throw new HeraldError(ERR.COMMAND_INVALID, `${CLIENT_RPC.propose}: body needs data`);
      const d = decodeCommand(b.data);
      if (!d.ok) throw new HeraldError(ERR.COMMAND_INVALID, `${CLIENT_RPC.propose}: ${d.reason}`);
      // Through this server's log: forwarded to the leader, resolves once applied here.
      const out = await raftLog().propose(d.command);
      return out.result === undefined ? { index: out.index } : { index: out.index, result: out.result };
    });
  }

  private async stream(fromIndex: bigint, sink: StreamSink, servers: string[], chunkBytes: number): Promise<void> {
    await sink.write({ kind: 'servers', addresses: servers, lastIndex: this.lastIndex, plugins: [...this.opts.plugins] } satisfies FeedItem);
    const every = this.opts.keepaliveMs ?? KEEPALIVE_MS;
    let keptAlive = await this.keepalive(sink);
    let cursor = fromIndex;
    while (!sink.signal.aborted) {
      if (performance.now() - keptAlive >= every) keptAlive = await this.keepalive(sink);
      if (cursor < this.coveredFrom) {
        // Older than the ring: start over from the whole state. Taken synchronously, so the
        // state and its index are one instant.
        const index = this.lastIndex;
        const state = Buffer.from(JSON.stringify(this.opts.sm.snapshot()));
        for (const c of chunksOf(state, chunkBytes)) {
          await sink.write({ kind: 'snapshot', index, offset: c.offset, total: state.length, data: c.data } satisfies FeedItem);
        }
        cursor = index;
        continue;
      }
      const pending = this.entriesAfter(cursor);
      // Nothing new, or the client is ahead of this server (it streamed from a more advanced
      // one): committed entries are the same everywhere, so wait until this server catches up.
      if (pending.length === 0) {
        await this.changed(sink.signal, every - (performance.now() - keptAlive));
        continue;
      }
      for (const e of pending) {
        if (sink.signal.aborted) return;
        // A restore while we wrote: the rest of this batch may be from an older history.
        if (e.index <= cursor || cursor < this.coveredFrom) break;
        await sink.write({ kind: 'entry', index: e.index, data: e.data } satisfies FeedItem);
        cursor = e.index;
      }
    }
  }

  /** The ring's entries after `index` (a copy: the ring moves while the stream awaits credit). */
  private entriesAfter(index: bigint): RingEntry[] {
    const r = this.ring;
    // Binary search for the first entry above index.
    let lo = 0;
    let hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r[mid]!.index <= index) lo = mid + 1;
      else hi = mid;
    }
    return r.slice(lo, Math.min(r.length, lo + 256));
  }
}
