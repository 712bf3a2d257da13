/**
 * The in-memory twin of TcpTransport (hashicorp/raft inmem_transport.go's role): nodes in one
 * process connected by in-memory pipes, for tests of the Raft driver and of agents. It runs the
 * same RpcTransport code over an InmemNetwork instead of TCP, so it keeps the same contract —
 * framing, handshake refusals, bounded queues, drops, connection loss, reconnects — and the
 * shared suite (transport-contract.ts) checks both.
 *
 * What it adds for tests: partition(a, b) cuts two nodes apart (their connections die, dials
 * fail until heal), stall(id) makes a node stop reading (its peers' queues fill: backpressure
 * without kernel buffers). Delivery is asynchronous (setImmediate), as with a socket, so a
 * send never runs the receiver's handler inside the sender's call stack.
 */
import { Duplex } from 'node:stream';
import { ERR, HeraldError } from '../errors.ts';
import type { NetworkEndpoint, NetworkListener, RpcNetwork } from './rpc-network.ts';
import { RpcTransport, type RpcTransportOptions } from './rpc-transport.ts';

/** One end of an in-memory pipe. Writes land in the other end's read buffer. */
class PipeEnd extends Duplex {
  peer!: PipeEnd;
  /** The write callback of the peer, held while our read buffer is full (its backpressure). */
  private blockedWriter: (() => void) | undefined;

  constructor(
    readonly owner: string,
    highWaterMark: number,
  ) {
    super({ allowHalfOpen: false, highWaterMark });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    setImmediate(() => this.deliver([chunk], cb));
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    const bufs = chunks.map((c) => c.chunk);
    setImmediate(() => this.deliver(bufs, cb));
  }

  private deliver(bufs: Buffer[], cb: () => void): void {
    const peer = this.peer;
    if (peer.destroyed || this.destroyed) {
      cb(); // lost in flight, as bytes are when a connection resets
      return;
    }
    let room = true;
    for (const b of bufs) room = peer.push(b) && room;
    if (room) cb();
    else peer.blockedWriter = cb;
  }

  override _read(): void {
    const cb = this.blockedWriter;
    this.blockedWriter = undefined;
    cb?.();
  }

  override _final(cb: (err?: Error | null) => void): void {
    setImmediate(() => {
      if (!this.peer.destroyed) this.peer.push(null);
      cb();
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    setImmediate(() => {
      if (!peer.destroyed) peer.destroy();
    });
    cb(err);
  }
}

interface Listening {
  readonly localId: string;
  readonly onConnection: (pipe: Duplex, remote: string) => void;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/** A set of in-memory addresses and the pipes between them, with fault hooks for tests. */
export class InmemNetwork implements RpcNetwork {
  private readonly listeners = new Map<string, Listening>();
  private readonly ends = new Set<PipeEnd>();
  private readonly cuts = new Set<string>();
  private readonly stalled = new Set<string>();
  private readonly highWaterMark: number;

  /** `highWaterMark`: bytes each pipe end buffers before it pushes back (default 16 KiB, a socket's). */
  constructor(opts: { highWaterMark?: number } = {}) {
    this.highWaterMark = opts.highWaterMark ?? 16 * 1024;
  }

  listen(address: string, local: NetworkEndpoint, onConnection: (pipe: Duplex, remote: string) => void): Promise<NetworkListener> {
    const addr = address === '' ? `inmem:${local.localId}` : address;
    if (this.listeners.has(addr)) return Promise.reject(new HeraldError(ERR.LISTEN, `inmem address '${addr}' is in use`));
    const entry: Listening = { localId: local.localId, onConnection };
    this.listeners.set(addr, entry);
    return Promise.resolve({
      address: addr,
      close: () => {
        if (this.listeners.get(addr) === entry) this.listeners.delete(addr);
        return Promise.resolve();
      },
    });
  }

  dial(address: string, local: NetworkEndpoint, _timeoutMs: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      setImmediate(() => {
        const target = this.listeners.get(address);
        if (!target) {
          reject(new Error(`connection refused: nothing listens on inmem address '${address}'`));
          return;
        }
        if (this.cuts.has(pairKey(local.localId, target.localId))) {
          reject(new Error(`network partition between ${local.localId} and ${target.localId}`));
          return;
        }
        const mine = new PipeEnd(local.localId, this.highWaterMark);
        const theirs = new PipeEnd(target.localId, this.highWaterMark);
        mine.peer = theirs;
        theirs.peer = mine;
        for (const end of [mine, theirs]) {
          this.ends.add(end);
          end.once('close', () => this.ends.delete(end));
          if (this.stalled.has(end.owner)) end.pause();
        }
        target.onConnection(theirs, `inmem:${local.localId}`);
        resolve(mine);
      });
    });
  }

  /** Cuts `a` and `b` apart: their connections reset, dials between them fail until heal(). */
  partition(a: string, b: string): void {
    this.cuts.add(pairKey(a, b));
    for (const end of [...this.ends]) {
      if ((end.owner === a && end.peer.owner === b) || (end.owner === b && end.peer.owner === a)) end.destroy();
    }
  }

  /** Undoes partition(a, b); with no arguments, every partition. */
  heal(a?: string, b?: string): void {
    if (a === undefined || b === undefined) this.cuts.clear();
    else this.cuts.delete(pairKey(a, b));
  }

  /** Node `id` stops reading every connection it has (and any new one) until unstall(). */
  stall(id: string): void {
    this.stalled.add(id);
    for (const end of this.ends) if (end.owner === id) end.pause();
  }

  unstall(id: string): void {
    this.stalled.delete(id);
    for (const end of this.ends) if (end.owner === id) end.resume();
  }
}

/**
 * A Transport over an InmemNetwork. Give each node a `listen` address (any string; '' names it
 * `inmem:<nodeId>`) and point peers at it with setPeer.
 */
export class InmemTransport<M = unknown> extends RpcTransport<M> {
  constructor(
    readonly inmem: InmemNetwork,
    opts: Omit<RpcTransportOptions, 'network'>,
  ) {
    super({ ...opts, network: inmem });
  }
}
