/**
 * The Transport seam (hashicorp/raft transport.go): how the Raft driver and agents talk to other
 * nodes. Two implementations share one contract and one test suite (transport-contract.ts):
 * TcpTransport (real sockets) and InmemTransport (in-process pipes, for driver tests).
 *
 * Addressing: a node is reached by its node id. `setPeer(id, address)` makes this node keep a
 * connection to `id` (dialing, redialing with backoff). A node that dialed us can also be
 * reached by its id over that inbound connection, so servers can answer and push to agents that
 * do not listen. Traffic to a peer uses our link when it is open, else the peer's connection
 * to us; messages are delivered in send order as long as that connection does not change
 * (a reconnect or a switch between the two may reorder or lose messages, as Raft tolerates).
 *
 * Values: messages, request bodies, results, stream params and items are anything value-codec
 * carries (plain objects, arrays, strings, numbers, bigints up to 64 bits, Buffers, booleans,
 * null, undefined). They are encoded when handed over, so the receiver gets a copy and later
 * mutation by the sender is harmless; an unencodable value throws RpcError(RPC_ENCODE).
 * Received values are decoded from the peer and unchecked: validate what you rely on.
 */
import type { RpcError } from './rpc-error.ts';
import type { TransportStats } from './rpc-stats.ts';

/** A node's id (the Raft core's NodeId). */
export type NodeId = string;

/**
 * Peer ids starting with this prefix stand for "whoever answers at this address": the link
 * skips the handshake's node-id check. For a first contact by address (a server's retry_join)
 * before the peer's id is known; use a transport whose own id no other link uses, so the peer's
 * inbound connection for our real id is not replaced.
 */
export const ANY_PEER_PREFIX = '?any@';

/** The peer id for "whoever answers at `address`" (ANY_PEER_PREFIX). */
export function anyPeerAt(address: string): NodeId {
  return ANY_PEER_PREFIX + address;
}

/** What a request handler learns about its call. */
export interface RequestContext {
  /** The peer that sent the request (authenticated only by the handshake's cluster id). */
  readonly from: NodeId;
  /** Aborted when the requester cancels or times out, or the connection is lost: stop and return. */
  readonly signal: AbortSignal;
}

/**
 * Serves one method. Its return value (or resolved value) is the response; a throw (or
 * rejection) is sent as an error carrying the thrown HeraldError's `code` (else RPC_REMOTE) and
 * message, which the requester receives as RpcError(RPC_REMOTE) with `remoteCode`.
 */
export type RequestHandler = (body: unknown, ctx: RequestContext) => unknown;

/** The producer's end of a stream. */
export interface StreamSink {
  /** The subscriber. */
  readonly from: NodeId;
  /** Aborted when the subscriber cancels, the connection is lost, or the stream ended. */
  readonly signal: AbortSignal;
  /**
   * Sends one item. Resolves once it is queued on the connection; waits first while the
   * subscriber has no credit left (it is `window` items behind) or the connection's outbound
   * queue is over its bound — that wait is the backpressure that paces a producer. Await each
   * write. Rejects (RpcError) once the stream is over.
   */
  write(item: unknown): Promise<void>;
}

/**
 * Produces one stream topic. The stream lasts as long as the returned promise: resolving ends
 * it normally, rejecting ends it with the error (sent to the subscriber as for requests).
 * Watch `sink.signal` to stop early.
 */
export type StreamHandler = (params: unknown, sink: StreamSink) => Promise<void> | void;

/**
 * The subscriber's end: an async iterator of items in the producer's order. Iteration ends
 * when the producer finishes; it throws RpcError when the producer fails (RPC_REMOTE), the
 * topic is unknown (RPC_UNKNOWN_METHOD), the connection is lost (RPC_CONNECTION_LOST: resubscribe
 * from the last item seen), or the signal aborts (RPC_CANCELLED). `break`/`close()` cancel it.
 */
export interface RpcStream extends AsyncIterableIterator<unknown> {
  /** Stops the stream; the producer is told; iteration ends (no error). Idempotent. */
  close(): void;
}

export interface RequestOptions {
  /** Reject with RPC_TIMEOUT after this long (default: the transport's requestTimeoutMs). */
  readonly timeoutMs?: number;
  /** Abort rejects with RPC_CANCELLED and cancels the handler on the peer. */
  readonly signal?: AbortSignal;
}

export interface SubscribeOptions {
  /** Credit window in items (default: the transport's streamWindow). */
  readonly window?: number;
  /** Abort ends the stream with RPC_CANCELLED. */
  readonly signal?: AbortSignal;
}

/** A handler of one-way messages. Called synchronously as frames are decoded; keep it short. */
export type MessageHandler<M> = (from: NodeId, message: M) => void;

export interface Transport<M = unknown> {
  /** This node's id, sent in every handshake. */
  readonly localId: NodeId;
  /** The address peers dial to reach this node, once start() resolved (undefined when not listening). */
  readonly address: string | undefined;
  /**
   * Largest frame payload this node sends or accepts (rpc-config.ts). A connection uses the
   * smaller of its two ends' limits; size what must fit one message or item by this.
   */
  readonly maxFrameBytes: number;

  /** Starts listening (when a listen address was configured). Rejects HeraldError(LISTEN) when it cannot. */
  start(): Promise<void>;
  /** Keeps a connection to `id` at `address` (redialing with backoff). A new address for a known id redials. */
  setPeer(id: NodeId, address: string): void;
  /** Forgets `id`: closes its link; what waits on it rejects with RPC_CLOSED. */
  removePeer(id: NodeId): void;

  /**
   * Fire and forget (Raft messages). True when queued on an open connection; false when it was
   * dropped (no open connection to `to`, or its queue is over the bound) — counted in stats.
   * A true result does not promise delivery. Throws RpcError(RPC_ENCODE | RPC_FRAME_TOO_LARGE)
   * for a message that can never be sent.
   */
  send(to: NodeId, message: M): boolean;
  /** Registers a handler for one-way messages; returns a function that removes it. */
  onMessage(handler: MessageHandler<M>): () => void;

  /** Serves requests for `method` (replacing an earlier handler). */
  handle(method: string, handler: RequestHandler): void;
  /**
   * Sends a request and resolves with the peer's response. While the link to `to` is
   * reconnecting the request waits for it (within its timeout). Rejects with RpcError:
   * RPC_NO_ROUTE (unknown peer), RPC_BACKPRESSURE (queue over its bound or peer busy; not sent),
   * RPC_TIMEOUT, RPC_CANCELLED, RPC_CONNECTION_LOST (sent, then the connection died), RPC_REMOTE
   * (the handler failed), RPC_UNKNOWN_METHOD, RPC_CLOSED. Check `indeterminate`: when true the
   * peer may have executed it.
   */
  request(to: NodeId, method: string, body: unknown, opts?: RequestOptions): Promise<unknown>;

  /** Serves subscriptions to `topic` (replacing an earlier handler). */
  serveStream(topic: string, handler: StreamHandler): void;
  /** Subscribes to `topic` on `to` with `params` (e.g. `{ fromIndex }`); errors surface while iterating. */
  subscribe(to: NodeId, topic: string, params: unknown, opts?: SubscribeOptions): RpcStream;

  /** True when an open connection to `to` exists (outbound link or inbound). */
  isConnected(to: NodeId): boolean;
  /** Counters and gauges for metrics. */
  stats(): TransportStats;
  /** Stops listening, closes every connection (saying goodbye), rejects everything pending with RPC_CLOSED. */
  close(): Promise<void>;
}

export type { RpcError };
