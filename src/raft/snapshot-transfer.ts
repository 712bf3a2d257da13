/**
 * InstallSnapshot for snapshots larger than one RPC frame (the core stays pure: chunking is
 * the driver's business). The core emits one MsgSnap carrying the whole snapshot; when its
 * data does not fit a chunk, the leader's driver hands it here instead of to transport.send.
 * It goes as a sequence of `raft.snapshotChunk` requests, one at a time, each carrying the
 * MsgSnap header (the snapshot's metadata without its data) and the next byte range
 * (rpc/byte-chunks.ts). Requests rather than one-way messages: each chunk is acknowledged, so
 * the transfer is paced by the follower, never dropped by a full queue, and a failure is known.
 *
 * The follower keeps at most ONE partial transfer (memory: one snapshot). Offset 0 starts a
 * new one (dropping any partial); a later chunk must continue the partial exactly (same
 * sender, term, snapshot, next offset) or is refused; a chunk from a term older than the
 * follower's is refused; a new leader drops the partial. Only when the last byte is in does the
 * whole MsgSnap go into the core, as if it had arrived in one message.
 *
 * The leader runs at most one transfer per follower. The core resends a MsgSnap it got no
 * answer to after snapshotRetryTicks: the same snapshot already on its way is not restarted
 * (a large snapshot may take longer than that); a different one replaces it. When a transfer
 * ends the driver tells the core (reportSnapshot): failed (connection lost, refused, timed
 * out) — the core probes and sends a snapshot again later; done — the core waits for the
 * follower's answer to the installed snapshot. A leader that lost its term stops sending.
 */
import { ERR, HeraldError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { ChunkAssembler, chunkSizeFor, chunksOf } from '../rpc/byte-chunks.ts';
import type { Transport } from '../rpc/transport.ts';
import type { Message, NodeId } from './core/index.ts';
import { fromWire, toWire } from './raft-wire.ts';

/** RPC method of one chunk: body `{ snap: RaftWireMessage (MsgSnap, empty data), offset, total, data }` -> null. */
export const SNAPSHOT_CHUNK_METHOD = 'raft.snapshotChunk';

export interface SnapshotTransferOptions {
  /** The server's transport (its localId is this server's id). */
  readonly transport: Transport;
  readonly logger: Logger;
  /** Whether this server still leads in `term`; a transfer started in an older term stops. */
  readonly leading: (term: bigint) => boolean;
  /** This server's current term: chunks of an older term are refused. */
  readonly currentTerm: () => bigint;
  /** Steps a reassembled MsgSnap into the core; throws when the driver is not running. */
  readonly deliver: (m: Message) => void;
  /** A transfer to `to` ended: `ok` when the follower took the whole snapshot (RaftNode.reportSnapshot). */
  readonly reported: (to: NodeId, ok: boolean) => void;
}

interface Outgoing {
  readonly msgTerm: bigint;
  readonly index: bigint;
  readonly snapTerm: bigint;
  readonly abort: AbortController;
}

interface Incoming {
  readonly from: NodeId;
  /** The MsgSnap without its data. */
  readonly header: Message;
  readonly asm: ChunkAssembler;
}

const EMPTY = Buffer.alloc(0);

function sameSnapshot(a: Message, b: Message): boolean {
  return a.term === b.term && a.snapshot!.index === b.snapshot!.index && a.snapshot!.term === b.snapshot!.term;
}

export class SnapshotTransfer {
  /** Data bytes per chunk; a snapshot no larger goes whole, in one message. */
  readonly chunkBytes: number;
  private readonly outgoing = new Map<NodeId, Outgoing>();
  private incoming: Incoming | undefined;

  constructor(private readonly opts: SnapshotTransferOptions) {
    this.chunkBytes = chunkSizeFor(opts.transport.maxFrameBytes);
    opts.transport.handle(SNAPSHOT_CHUNK_METHOD, (body, ctx) => this.receiveChunk(body, ctx.from));
  }

  // ---- leader side -------------------------------------------------------------------------

  /**
   * Takes over MsgSnap `m` when its snapshot is larger than one chunk and returns true (the
   * caller must not send it); false for a small one, which goes whole (transport.send).
   */
  send(m: Message): boolean {
    const snap = m.snapshot;
    if (m.type !== 'MsgSnap' || !snap || snap.data.length <= this.chunkBytes) return false;
    const current = this.outgoing.get(m.to);
    if (current && current.msgTerm === m.term && current.index === snap.index && current.snapTerm === snap.term) return true;
    current?.abort.abort();
    const out: Outgoing = { msgTerm: m.term, index: snap.index, snapTerm: snap.term, abort: new AbortController() };
    this.outgoing.set(m.to, out);
    void this.run(m, out);
    return true;
  }

  private async run(m: Message, out: Outgoing): Promise<void> {
    const data = m.snapshot!.data;
    const header = toWire({ ...m, snapshot: { ...m.snapshot!, data: EMPTY } });
    const what = `snapshot ${m.snapshot!.term}/${m.snapshot!.index} (${data.length} bytes) to ${m.to}`;
    const started = performance.now();
    this.opts.logger.info(`raft: sending ${what} in chunks of ${this.chunkBytes} bytes`);
    let ok = false;
    try {
      for (const c of chunksOf(data, this.chunkBytes)) {
        if (out.abort.signal.aborted) return;
        if (!this.opts.leading(m.term)) throw new Error(`no longer the leader in term ${m.term}`);
        await this.opts.transport.request(m.to, SNAPSHOT_CHUNK_METHOD, { snap: header, offset: c.offset, total: data.length, data: c.data }, { signal: out.abort.signal });
      }
      ok = true;
      this.opts.logger.info(`raft: sent ${what} in ${Math.round(performance.now() - started)} ms`);
    } catch (err) {
      if (out.abort.signal.aborted) return;
      this.opts.logger.warn(`raft: sending ${what} failed: ${(err as Error).message}; it will be sent again`);
    } finally {
      if (this.outgoing.get(m.to) === out) this.outgoing.delete(m.to);
    }
    // A transfer replaced by a newer one says nothing: the newer one will (returned above).
    this.opts.reported(m.to, ok);
  }

  // ---- follower side -----------------------------------------------------------------------

  /** A new leader: a partial transfer from another server will never be finished. */
  leaderChanged(leader: NodeId | undefined): void {
    if (leader !== undefined && this.incoming && this.incoming.from !== leader) this.incoming = undefined;
  }

  private receiveChunk(body: unknown, from: NodeId): null {
    const b = (typeof body === 'object' && body !== null ? body : {}) as { snap?: unknown; offset?: unknown; total?: unknown; data?: unknown };
    const m = fromWire(from, b.snap);
    if (!m || m.type !== 'MsgSnap' || !m.snapshot || m.to !== this.opts.transport.localId) {
      throw new HeraldError(ERR.CHUNK_SEQUENCE, `raft: malformed snapshot chunk from ${from}`);
    }
    if (m.term < this.opts.currentTerm()) {
      throw new HeraldError(ERR.CHUNK_SEQUENCE, `raft: snapshot chunk from ${from} is from term ${m.term}, older than this server's ${this.opts.currentTerm()}`);
    }
    let cur = this.incoming;
    if (b.offset === 0) {
      // The sender (re)starts: whatever was partial here is abandoned.
      cur = { from, header: m, asm: new ChunkAssembler(b.total) };
      this.incoming = cur;
    } else if (!cur || cur.from !== from || !sameSnapshot(cur.header, m) || cur.asm.total !== b.total) {
      throw new HeraldError(ERR.CHUNK_SEQUENCE, `raft: no transfer of snapshot ${m.snapshot.term}/${m.snapshot.index} from ${from} in progress here`);
    }
    let whole: Buffer | undefined;
    try {
      whole = cur.asm.add(b.offset, b.data);
    } catch (err) {
      this.incoming = undefined;
      throw err;
    }
    if (!whole) return null;
    this.incoming = undefined;
    this.opts.deliver({ ...cur.header, snapshot: { ...cur.header.snapshot!, data: whole } });
    return null;
  }
}
