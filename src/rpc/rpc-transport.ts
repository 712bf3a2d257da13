/**
 * The Transport implementation over any RpcNetwork: a listening RpcServer (optional: agents
 * only dial), one RpcClient link per configured peer, and routing by node id over those links
 * or, failing that, over a connection the peer opened to us. TcpTransport and InmemTransport
 * are this class over tcp-network.ts and inmem-network.ts.
 */
import { silentLogger, type Logger } from '../log.ts';
import { encodeFrame, FrameType } from './frame-codec.ts';
import type { LocalIdentity } from './handshake.ts';
import { PendingRequest, type Submittable } from './pending-request.ts';
import { RpcClient } from './rpc-client.ts';
import { resolveRpcTuning, type RpcTuning } from './rpc-config.ts';
import type { ConnectionHost, RpcConnection } from './rpc-connection.ts';
import { ERR, RpcError } from './rpc-error.ts';
import type { RpcNetwork } from './rpc-network.ts';
import { RpcServer } from './rpc-server.ts';
import { newCounters, type PeerStats, type RpcCounters, type TransportStats } from './rpc-stats.ts';
import { StreamReceiver } from './rpc-stream.ts';
import type {
  MessageHandler,
  NodeId,
  RequestHandler,
  RequestOptions,
  RpcStream,
  StreamHandler,
  SubscribeOptions,
  Transport,
} from './transport.ts';

export interface RpcTransportOptions {
  /** This node's id (Raft's NodeId); non-empty. */
  readonly nodeId: string;
  /** Nodes of other clusters are refused in the handshake. */
  readonly clusterId: string;
  /** Address to accept connections on (`host:port` for TCP; port 0 picks one). Omit to only dial. */
  readonly listen?: string;
  readonly network: RpcNetwork;
  /** Overrides of rpc-config.ts defaults. */
  readonly tuning?: Partial<RpcTuning>;
  /** Where connection events go (refusals, reconnects, protocol errors). Default: silent. */
  readonly logger?: Logger;
  /** Uniform in [0, 1) for backoff jitter (default Math.random); inject for reproducible tests. */
  readonly random?: () => number;
  /**
   * Copy byte strings out of received frames (default true). False hands out views of the
   * receive buffers: faster, but a kept view pins its whole read chunk (see value-codec).
   */
  readonly copyBytes?: boolean;
}

export class RpcTransport<M = unknown> implements Transport<M>, ConnectionHost {
  readonly localId: NodeId;
  readonly counters: RpcCounters = newCounters();
  readonly logger: Logger;
  readonly copyBytes: boolean;
  readonly tuning: RpcTuning;

  private readonly local: LocalIdentity;
  private readonly network: RpcNetwork;
  private readonly random: () => number;
  private readonly listenAddress: string | undefined;
  private server: RpcServer | undefined;
  private readonly peers = new Map<NodeId, RpcClient>();
  private readonly inbound = new Map<NodeId, RpcConnection>();
  private readonly messageHandlers = new Set<MessageHandler<M>>();
  private readonly methods = new Map<string, RequestHandler>();
  private readonly topics = new Map<string, StreamHandler>();
  private idSeq = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(opts: RpcTransportOptions) {
    if (typeof opts.nodeId !== 'string' || opts.nodeId === '') {
      throw new RpcError(ERR.RPC_NO_ROUTE, 'rpc transport needs a non-empty nodeId');
    }
    this.localId = opts.nodeId;
    this.tuning = resolveRpcTuning(opts.tuning);
    this.local = { nodeId: opts.nodeId, clusterId: opts.clusterId, maxFrameBytes: this.tuning.maxFrameBytes };
    this.network = opts.network;
    this.logger = opts.logger ?? silentLogger;
    this.random = opts.random ?? Math.random;
    this.copyBytes = opts.copyBytes ?? true;
    this.listenAddress = opts.listen;
  }

  get address(): string | undefined {
    return this.server?.address;
  }

  get maxFrameBytes(): number {
    return this.tuning.maxFrameBytes;
  }

  async start(): Promise<void> {
    if (this.listenAddress === undefined || this.server) return;
    if (this.closed) throw new RpcError(ERR.RPC_CLOSED, 'transport is closed');
    const server = new RpcServer({
      local: this.local,
      tuning: this.tuning,
      network: this.network,
      host: this,
      onOpen: (c) => this.inboundOpened(c),
      onClose: (c) => {
        if (c.peerId !== undefined && this.inbound.get(c.peerId) === c) this.inbound.delete(c.peerId);
      },
    });
    this.server = server;
    try {
      await server.listen(this.listenAddress);
    } catch (err) {
      this.server = undefined;
      throw err;
    }
  }

  private inboundOpened(conn: RpcConnection): void {
    const id = conn.peerId!;
    const old = this.inbound.get(id);
    this.inbound.set(id, conn);
    // A peer redialing before we noticed its old connection die: the new one wins.
    old?.close(new RpcError(ERR.RPC_CONNECTION_LOST, `replaced by a newer connection from ${id}`));
  }

  setPeer(id: NodeId, address: string): void {
    if (this.closed || id === this.localId) return;
    const existing = this.peers.get(id);
    if (existing) {
      existing.setAddress(address);
      return;
    }
    this.peers.set(
      id,
      new RpcClient(id, address, {
        local: this.local,
        tuning: this.tuning,
        network: this.network,
        host: this,
        logger: this.logger,
        random: this.random,
        backpressure: (item, why) => this.backpressure(item, why),
      }),
    );
  }

  removePeer(id: NodeId): void {
    const link = this.peers.get(id);
    if (!link) return;
    this.peers.delete(id);
    link.close(new RpcError(ERR.RPC_CLOSED, `peer ${id} was removed`));
  }

  // ---- ConnectionHost -----------------------------------------------------------------------

  deliverMessage(from: string, value: unknown): void {
    for (const h of this.messageHandlers) {
      try {
        h(from, value as M);
      } catch (err) {
        this.logger.error(`message handler failed on a message from ${from}: ${(err as Error).message}`);
      }
    }
  }

  requestHandler(method: string): RequestHandler | undefined {
    return this.methods.get(method);
  }

  streamHandler(topic: string): StreamHandler | undefined {
    return this.topics.get(topic);
  }

  // ---- Transport ----------------------------------------------------------------------------

  private nextId(): number {
    this.idSeq = (this.idSeq % 0xffffffff) + 1;
    return this.idSeq;
  }

  /** The open connection to `to`: our link first, else one the peer opened to us. */
  private openConnection(to: NodeId): RpcConnection | undefined {
    const link = this.peers.get(to);
    if (link?.conn?.state === 'open') return link.conn;
    const inb = this.inbound.get(to);
    return inb?.state === 'open' ? inb : undefined;
  }

  send(to: NodeId, message: M): boolean {
    const frame = encodeFrame(FrameType.MESSAGE, undefined, message, this.tuning.maxFrameBytes);
    const conn = this.closed ? undefined : this.openConnection(to);
    if (!conn) {
      this.counters.messagesDropped++;
      return false;
    }
    if (!conn.sendMessage(frame)) {
      this.counters.messagesDropped++;
      this.counters.messagesDroppedBackpressure++;
      return false;
    }
    return true;
  }

  onMessage(handler: MessageHandler<M>): () => void {
    this.messageHandlers.add(handler);
    return () => this.messageHandlers.delete(handler);
  }

  handle(method: string, handler: RequestHandler): void {
    this.methods.set(method, handler);
  }

  serveStream(topic: string, handler: StreamHandler): void {
    this.topics.set(topic, handler);
  }

  request(to: NodeId, method: string, body: unknown, opts: RequestOptions = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(new RpcError(ERR.RPC_CLOSED, 'transport is closed'));
    if (opts.signal?.aborted) return Promise.reject(new RpcError(ERR.RPC_CANCELLED, `request '${method}' to ${to} was cancelled`));
    const id = this.nextId();
    let frame: Buffer;
    try {
      frame = encodeFrame(FrameType.REQUEST, id, [method, body], this.tuning.maxFrameBytes);
    } catch (err) {
      return Promise.reject(err);
    }
    const timeoutMs = opts.timeoutMs ?? this.tuning.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const req = new PendingRequest(id, to, method, frame, timeoutMs, opts.signal, { resolve, reject });
      this.route(to, req);
    });
  }

  subscribe(to: NodeId, topic: string, params: unknown, opts: SubscribeOptions = {}): RpcStream {
    const window = opts.window ?? this.tuning.streamWindow;
    if (!Number.isSafeInteger(window) || window <= 0) {
      throw new RpcError(ERR.RPC_ENCODE, `stream window must be a positive integer (got ${window})`);
    }
    const id = this.nextId();
    const frame = encodeFrame(FrameType.SUBSCRIBE, id, [topic, params, window], this.tuning.maxFrameBytes);
    const recv = new StreamReceiver(id, to, topic, frame, window, opts.signal);
    if (this.closed) recv.fail(new RpcError(ERR.RPC_CLOSED, 'transport is closed'));
    else if (opts.signal?.aborted) recv.fail(new RpcError(ERR.RPC_CANCELLED, `stream '${topic}' from ${to} was cancelled`));
    else this.route(to, recv);
    return recv;
  }

  /** Sends `item` over the best connection to `to`, or waits on its link, or fails it. */
  private route(to: NodeId, item: Submittable): void {
    const link = this.peers.get(to);
    if (link?.isOpen) {
      link.submit(item);
      return;
    }
    const inb = this.inbound.get(to);
    if (inb?.state === 'open') {
      if (!inb.submit(item)) this.backpressure(item, `queue to ${to} is full`);
      return;
    }
    if (link) {
      link.submit(item);
      return;
    }
    item.fail(new RpcError(ERR.RPC_NO_ROUTE, `no route to ${to}: not a configured peer and not connected to this node`));
  }

  private backpressure(item: Submittable, why: string): void {
    this.counters.requestsRejectedBackpressure++;
    item.fail(new RpcError(ERR.RPC_BACKPRESSURE, `not sent: ${why}`));
  }

  isConnected(to: NodeId): boolean {
    return this.openConnection(to) !== undefined;
  }

  stats(): TransportStats {
    let connections = 0;
    let queuedBytes = 0;
    const peers: Record<string, PeerStats> = {};
    for (const [id, link] of this.peers) {
      peers[id] = link.info();
      if (link.isOpen) {
        connections++;
        queuedBytes += link.conn!.queuedBytes;
      }
    }
    for (const conn of this.inbound.values()) {
      if (conn.state !== 'open') continue;
      connections++;
      queuedBytes += conn.queuedBytes;
    }
    return { ...this.counters, connections, queuedBytes, peers };
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    const err = new RpcError(ERR.RPC_CLOSED, `${this.localId} is shutting down`);
    const links = [...this.peers.values()];
    this.peers.clear();
    for (const link of links) link.close(err);
    const server = this.server;
    this.closing = Promise.all([server?.close(err), ...links.map((l) => l.closed())]).then(() => undefined);
    return this.closing;
  }
}
