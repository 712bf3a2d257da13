/**
 * Where connections come from: the one thing TCP and the in-memory twin do differently.
 * Everything above (framing, handshake, queues, requests, streams, reconnects) runs unchanged
 * over either, so the in-memory twin behaves as TCP does — drops, backpressure, connection
 * loss — only without ports and kernel buffers.
 */
import type { Duplex } from 'node:stream';

/** The node asking (the in-memory network uses it for partitions; TCP ignores it). */
export interface NetworkEndpoint {
  readonly localId: string;
}

export interface NetworkListener {
  /** The address peers dial (for TCP, `host:port` with the real port when 0 was asked). */
  readonly address: string;
  /** Stops accepting; connections already accepted are not touched. */
  close(): Promise<void>;
}

export interface RpcNetwork {
  /**
   * Accepts connections at `address`, handing each to `onConnection` with a description of
   * the remote end (for logs). Rejects HeraldError(LISTEN) when the address cannot be used.
   */
  listen(address: string, local: NetworkEndpoint, onConnection: (pipe: Duplex, remote: string) => void): Promise<NetworkListener>;
  /** A connected pipe to `address`; rejects (any error) when it cannot connect within `timeoutMs`. */
  dial(address: string, local: NetworkEndpoint, timeoutMs: number): Promise<Duplex>;
}
