/**
 * The outbound link to one peer: dials its address, runs the handshake (expecting the peer's
 * node id), and keeps the connection up — on loss or failure it redials after a backoff delay
 * (backoff.ts), forever, until closed. Requests and subscriptions made while it is down wait
 * here (bounded by the queue bound, each within its own timeout) and go out when it opens;
 * one-way messages are not kept (Raft retransmits; stale heartbeats help nobody).
 */
import type { Logger } from '../log.ts';
import { backoffDelay } from './backoff.ts';
import type { LocalIdentity } from './handshake.ts';
import type { Submittable } from './pending-request.ts';
import type { RpcTuning } from './rpc-config.ts';
import { RpcConnection, type ConnectionHost } from './rpc-connection.ts';
import { ERR, RpcError } from './rpc-error.ts';
import type { RpcNetwork } from './rpc-network.ts';
import type { PeerState, PeerStats } from './rpc-stats.ts';
import { ANY_PEER_PREFIX } from './transport.ts';

/** What a client link needs from its transport. */
export interface ClientContext {
  readonly local: LocalIdentity;
  readonly tuning: RpcTuning;
  readonly network: RpcNetwork;
  readonly host: ConnectionHost;
  readonly logger: Logger;
  /** Uniform in [0, 1), for backoff jitter. */
  readonly random: () => number;
  /** Fails an item with RPC_BACKPRESSURE (and counts it). */
  backpressure(item: Submittable, why: string): void;
}

export class RpcClient {
  state: PeerState = 'connecting';
  /** The open connection, if any. */
  conn: RpcConnection | undefined;
  /** Why the last attempt or connection ended. */
  lastError: RpcError | undefined;

  private connecting: RpcConnection | undefined;
  private attempt = 0;
  private everOpened = false;
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  private waiting: Submittable[] = [];
  private waitingBytes = 0;
  private loggedError: string | undefined;
  private readonly live = new Set<RpcConnection>();

  constructor(
    readonly peerId: string,
    public address: string,
    private readonly ctx: ClientContext,
  ) {
    this.dial();
  }

  /** True when a connection is open. */
  get isOpen(): boolean {
    return this.conn?.state === 'open';
  }

  /** Points the link at a new address: the current connection (if any) is closed and the new one dialed now. */
  setAddress(address: string): void {
    if (address === this.address || this.state === 'closed') return;
    this.address = address;
    const old = this.conn ?? this.connecting;
    this.conn = undefined;
    this.connecting = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.attempt = 0;
    this.dial();
    old?.close(new RpcError(ERR.RPC_CLOSED, `peer ${this.peerId} moved to ${address}`));
  }

  private dial(): void {
    this.state = 'connecting';
    this.timer = undefined;
    const gen = ++this.generation;
    const { network, local, tuning, host } = this.ctx;
    const address = this.address;
    network.dial(address, { localId: local.nodeId }, tuning.handshakeTimeoutMs).then(
      (pipe) => {
        if (gen !== this.generation) {
          pipe.destroy();
          return;
        }
        const conn = new RpcConnection(pipe, 'dialer', address, { ...local, tuning, expectedPeer: this.peerId.startsWith(ANY_PEER_PREFIX) ? undefined : this.peerId }, host, {
          onOpen: (c) => this.opened(c, gen),
          onClose: (c, err, unsent) => this.lost(c, err, unsent, gen),
        });
        this.live.add(conn);
        void conn.done.then(() => this.live.delete(conn));
        if (conn.state !== 'closed') this.connecting = conn;
      },
      (err: Error) => {
        if (gen !== this.generation) return;
        host.counters.dialFailures++;
        this.note(new RpcError(ERR.RPC_CONNECTION_LOST, `cannot connect to ${this.peerId} at ${address}: ${err.message}`));
        this.retry();
      },
    );
  }

  private opened(conn: RpcConnection, gen: number): void {
    if (gen !== this.generation) {
      conn.close(new RpcError(ERR.RPC_CLOSED, 'superseded connection'));
      return;
    }
    this.connecting = undefined;
    this.conn = conn;
    this.state = 'open';
    this.attempt = 0;
    if (this.everOpened) this.ctx.host.counters.reconnects++;
    this.everOpened = true;
    if (this.loggedError !== undefined) this.ctx.logger.info(`connected to ${this.peerId} at ${this.address}`);
    this.loggedError = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    for (const item of waiting) {
      item.setHolder(undefined, undefined);
      if (item.settled) continue;
      if (!conn.submit(item)) this.ctx.backpressure(item, `queue to ${this.peerId} is full`);
    }
  }

  private lost(conn: RpcConnection, err: RpcError, unsent: Submittable[], gen: number): void {
    if (this.conn === conn) this.conn = undefined;
    if (this.connecting === conn) this.connecting = undefined;
    // Never sent, so safe to send on the next connection.
    for (let i = unsent.length - 1; i >= 0; i--) this.enqueueFront(unsent[i]!);
    if (gen !== this.generation || this.state === 'closed') {
      if (this.state === 'closed') this.failWaiting(err);
      return;
    }
    this.note(err);
    this.retry();
  }

  /** Records why the link is down; logs when the reason changes (not on every retry). */
  private note(err: RpcError): void {
    this.lastError = err;
    // Numbers (ports, elapsed ms) differ between retries of the same failure.
    const key = `${err.code}:${err.message.replace(/\d+/g, '#')}`;
    if (key === this.loggedError) return;
    this.loggedError = key;
    if (err.code === ERR.RPC_HANDSHAKE_REFUSED) this.ctx.logger.warn(`${this.peerId}: ${err.message}`);
    else this.ctx.logger.info(`${this.peerId}: ${err.message}; reconnecting`);
  }

  private retry(): void {
    this.state = 'backoff';
    const { tuning, random } = this.ctx;
    const delay = backoffDelay(this.attempt++, { baseMs: tuning.backoffBaseMs, maxMs: tuning.backoffMaxMs, random });
    this.timer = setTimeout(() => this.dial(), delay);
    this.timer.unref?.();
  }

  /** Sends a request or subscription now, or keeps it until the link opens. */
  submit(item: Submittable): void {
    if (this.state === 'closed') {
      item.fail(new RpcError(ERR.RPC_CLOSED, `link to ${this.peerId} is closed`));
      return;
    }
    if (this.conn?.state === 'open') {
      if (!this.conn.submit(item)) this.ctx.backpressure(item, `queue to ${this.peerId} is full`);
      return;
    }
    if (this.waiting.length > 0 && this.waitingBytes + item.frame.length > this.ctx.tuning.queueBytes) {
      this.ctx.backpressure(item, `${this.waitingBytes} bytes already wait for ${this.peerId} to connect`);
      return;
    }
    this.waiting.push(item);
    this.hold(item);
  }

  private enqueueFront(item: Submittable): void {
    if (item.settled) return;
    this.waiting.unshift(item);
    this.hold(item);
  }

  private hold(item: Submittable): void {
    this.waitingBytes += item.frame.length;
    item.setHolder(() => {
      const i = this.waiting.indexOf(item);
      if (i >= 0) {
        this.waiting.splice(i, 1);
        this.waitingBytes -= item.frame.length;
      }
    }, undefined);
  }

  private failWaiting(err: RpcError): void {
    const waiting = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    for (const item of waiting) {
      item.setHolder(undefined, undefined);
      item.fail(new RpcError(err.code, err.message));
    }
  }

  /** Stops the link: closes its connection, fails what waits with `err`. */
  close(err: RpcError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    const conns = [this.conn, this.connecting];
    this.conn = undefined;
    this.connecting = undefined;
    for (const c of conns) c?.close(err);
    this.failWaiting(err);
  }

  /** Resolves when every pipe this link opened has closed. */
  async closed(): Promise<void> {
    await Promise.all([...this.live].map((c) => c.done));
  }

  /** For stats(). */
  info(): PeerStats {
    return {
      address: this.address,
      state: this.state,
      queuedBytes: (this.conn?.queuedBytes ?? 0) + this.waitingBytes,
      lastError: this.lastError?.message,
    };
  }
}
