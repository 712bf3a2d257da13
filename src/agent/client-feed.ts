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
import type { StateMachine } from '../catalog/state-machine.ts';
import { ERR, HeraldError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RaftStateMachine } from '../raft/raft-driver.ts';
import type { ReplicatedLog } from '../raft/local-log.ts';
import { decodeCommand } from '../raft/command-codec.ts';
import type { StreamSink, Transport } from '../rpc/transport.ts';

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
 */
export type FeedItem =
  | { readonly kind: 'servers'; readonly addresses: string[]; readonly lastIndex: bigint; readonly plugins: string[] }
  | { readonly kind: 'snapshot'; readonly index: bigint; readonly state: string }
  | { readonly kind: 'entry'; readonly index: bigint; readonly data: Buffer };

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
}

export class ChangeFeed {
  private readonly ring: RingEntry[] = [];
  private readonly ringSize: number;
  /** Every entry applied after this index is in the ring. */
  private coveredFrom = 0n;
  /** The last index the state machine was given (applied, refused, or restored to). */
  private lastIndex = 0n;
  private wake: Array<() => void> = [];

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
    this.wake = [];
    for (const f of w) f();
  }

  private changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      this.wake.push(resolve);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /**
   * Serves the change stream and the clients' write path on `transport`. `servers()` names the
   * voters' RPC addresses (sent to every subscriber, so a client learns where else to go).
   */
  serve(transport: Transport, raftLog: () => ReplicatedLog, servers: () => string[]): void {
    transport.serveStream(CLIENT_RPC.changes, (params, sink) => {
      const p = params as { fromIndex?: unknown } | null;
      const from = typeof p?.fromIndex === 'bigint' ? p.fromIndex : 0n;
      return this.stream(from, sink, servers());
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

  private async stream(fromIndex: bigint, sink: StreamSink, servers: string[]): Promise<void> {
    await sink.write({ kind: 'servers', addresses: servers, lastIndex: this.lastIndex, plugins: [...this.opts.plugins] } satisfies FeedItem);
    let cursor = fromIndex;
    while (!sink.signal.aborted) {
      if (cursor < this.coveredFrom) {
        // Older than the ring: start over from the whole state. Taken synchronously, so the
        // state and its index are one instant.
        const index = this.lastIndex;
        const state = JSON.stringify(this.opts.sm.snapshot());
        await sink.write({ kind: 'snapshot', index, state } satisfies FeedItem);
        cursor = index;
        continue;
      }
      const pending = this.entriesAfter(cursor);
      // Nothing new, or the client is ahead of this server (it streamed from a more advanced
      // one): committed entries are the same everywhere, so wait until this server catches up.
      if (pending.length === 0) {
        await this.changed(sink.signal);
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
