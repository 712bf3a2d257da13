/**
 * Every RPC knob, its default and why (memberlist's config.go style: one place, with reasons).
 */
import { ERR, HeraldError } from '../errors.ts';

/** Current wire protocol version (HELLO.version), and the oldest one this build still speaks. */
export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;

/** Limit on frames before the handshake completes: a HELLO is tiny, and garbage must not make us allocate. */
export const HANDSHAKE_MAX_FRAME_BYTES = 64 * 1024;

export interface RpcTuning {
  /**
   * Largest frame payload sent or accepted. 16 MiB: a Raft MsgApp batch (hashicorp/raft
   * MaxAppendEntries 64 × Consul's 512 KiB KV value limit is 32 MiB at worst, so the driver must
   * still size batches in bytes, as etcd's MaxSizePerMsg does) and snapshot chunks fit. The
   * two sides use the smaller of their limits (exchanged in the handshake).
   */
  readonly maxFrameBytes: number;
  /**
   * Per-peer outbound queue bound, in bytes not yet taken by the kernel (our queue plus the
   * socket's write buffer). 4 MiB holds many Raft batches, yet a stalled peer costs at most
   * this (plus one frame) before one-way messages drop and requests are refused. Replies and
   * control frames may go to twice this bound; beyond that the peer is not reading and the
   * connection is closed.
   */
  readonly queueBytes: number;
  /** A connection that has not completed the handshake in this time is closed. 5 s: several RTTs on any WAN. */
  readonly handshakeTimeoutMs: number;
  /** Timeout of a request when the caller gives none. 10 s, above Consul's 7 s RPC hold timeout. */
  readonly requestTimeoutMs: number;
  /** First reconnect delay ceiling. 50 ms: a restarted server is back within about one Raft heartbeat. */
  readonly backoffBaseMs: number;
  /** Reconnect delay ceiling. 2 s: a returning server rejoins well inside one election timeout budget (spec §5 G1). */
  readonly backoffMaxMs: number;
  /**
   * A PING is sent this often on an open connection, and one on which nothing has been
   * received for `keepaliveTimeoutMs` is closed as lost. TCP keepalive alone takes minutes to
   * notice a peer that vanished (power loss, partition); a change-stream subscriber must know
   * within seconds to resubscribe elsewhere.
   */
  readonly keepaliveIntervalMs: number;
  /** 3 intervals: two lost pings plus scheduling delay on a loaded 2-core box are tolerated. */
  readonly keepaliveTimeoutMs: number;
  /** Requests a connection serves at once; beyond this the peer gets an RPC_BACKPRESSURE error. */
  readonly maxInflightRequests: number;
  /** Streams a connection serves at once; beyond this a SUBSCRIBE is ended with RPC_BACKPRESSURE. */
  readonly maxStreams: number;
  /** Items a subscriber lets a producer send ahead of its consumption (credit window). 64: one round trip of credit covers a burst. */
  readonly streamWindow: number;
}

/** The defaults, with the reasons above. */
export function defaultRpcTuning(): RpcTuning {
  return {
    maxFrameBytes: 16 * 1024 * 1024,
    queueBytes: 4 * 1024 * 1024,
    handshakeTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    backoffBaseMs: 50,
    backoffMaxMs: 2_000,
    keepaliveIntervalMs: 2_000,
    keepaliveTimeoutMs: 6_000,
    maxInflightRequests: 1024,
    maxStreams: 1024,
    streamWindow: 64,
  };
}

/** Defaults overlaid with `overrides`, checked; throws HeraldError(CONFIG_INVALID) naming the knob. */
export function resolveRpcTuning(overrides: Partial<RpcTuning> = {}): RpcTuning {
  const t: RpcTuning = { ...defaultRpcTuning(), ...stripUndefined(overrides) };
  for (const [key, value] of Object.entries(t)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new HeraldError(ERR.CONFIG_INVALID, `rpc: ${key} must be a positive number (got ${String(value)})`);
    }
  }
  if (t.maxFrameBytes > 0xffffffff) {
    throw new HeraldError(ERR.CONFIG_INVALID, 'rpc: maxFrameBytes must fit in the u32 length field');
  }
  if (t.backoffMaxMs < t.backoffBaseMs) {
    throw new HeraldError(ERR.CONFIG_INVALID, 'rpc: backoffMaxMs must be at least backoffBaseMs');
  }
  if (t.keepaliveTimeoutMs <= t.keepaliveIntervalMs) {
    throw new HeraldError(ERR.CONFIG_INVALID, 'rpc: keepaliveTimeoutMs must be above keepaliveIntervalMs');
  }
  return t;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
