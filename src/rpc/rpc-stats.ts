/**
 * Counters of an RPC transport, for metrics. Counters only grow; gauges (connections, queued
 * bytes, peer states) are read when stats() is called.
 */

/** Monotonic counters, shared by every connection of one transport. */
export interface RpcCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** One-way messages refused by send(): no open connection to the peer, or its queue over the bound. */
  messagesDropped: number;
  /** Of messagesDropped, those refused because the peer's queue was over its bound. */
  messagesDroppedBackpressure: number;
  /** Requests and subscriptions refused with RPC_BACKPRESSURE (our queue full, or the peer busy). */
  requestsRejectedBackpressure: number;
  /** A peer link opened again after having been open before. */
  reconnects: number;
  /** Dials that failed before a handshake (refused, unreachable, timed out). */
  dialFailures: number;
  /** Handshakes refused, by us or by the peer. */
  handshakesRefused: number;
  /** Connections closed because the peer broke the protocol (garbage, oversize frame, bad value). */
  protocolErrors: number;
}

/** Counters all at zero. */
export function newCounters(): RpcCounters {
  return {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    messagesDropped: 0,
    messagesDroppedBackpressure: 0,
    requestsRejectedBackpressure: 0,
    reconnects: 0,
    dialFailures: 0,
    handshakesRefused: 0,
    protocolErrors: 0,
  };
}

/** State of a configured peer link. */
export type PeerState = 'connecting' | 'open' | 'backoff' | 'closed';

/** One configured peer, as stats() sees it. */
export interface PeerStats {
  readonly address: string;
  readonly state: PeerState;
  /** Bytes queued for the peer and not yet taken by the kernel. */
  readonly queuedBytes: number;
  /** Why the last connection attempt or connection ended (undefined until one has). */
  readonly lastError: string | undefined;
}

/** Everything stats() reports. */
export interface TransportStats extends RpcCounters {
  /** Connections open now (handshake done), inbound and outbound. */
  readonly connections: number;
  /** Bytes queued on all connections and not yet taken by the kernel. */
  readonly queuedBytes: number;
  /** Configured peers by node id. */
  readonly peers: Readonly<Record<string, PeerStats>>;
}
