/**
 * Framing on an RPC byte stream. A frame is
 *
 *   u32 BE payload length | u8 frame type | payload
 *
 * where the length counts the payload only (the type byte is not included), so an empty
 * payload is legal (PING). Frame types that belong to a request or stream start their payload
 * with a u32 BE id; the rest of the payload is one value in value-codec's format.
 *
 * The decoder takes bytes in whatever pieces TCP delivers them and hands out each frame's
 * payload as a view of the received chunk when the frame lies inside one chunk (the common
 * case: no copy), and as one exactly-sized buffer, filled as pieces arrive, when it spans
 * several. A frame whose declared length is over the limit is refused from its header alone,
 * before anything is allocated for it.
 */
import { ERR, RpcError } from './rpc-error.ts';
import { encodedSize, writeValue } from './value-codec.ts';

/** Bytes before the payload: the u32 length and the type byte. */
export const FRAME_HEADER_BYTES = 5;
/** Bytes of the u32 id at the start of an id-carrying payload. */
export const FRAME_ID_BYTES = 4;

/**
 * Frame types. The handshake ones are only valid before the connection is open; the rest only
 * after. Each direction-specific type has its own id space: a REQUEST's id names a request of
 * the sender, a RESPONSE's id one of the receiver, so two peers may use the same ids at once.
 */
export const FrameType = {
  /** Dialer → listener, first frame: {node, cluster, version, minVersion, maxFrame}. */
  HELLO: 0x01,
  /** Listener → dialer: the handshake is accepted; same fields as HELLO. */
  WELCOME: 0x02,
  /** Listener → dialer: the handshake is refused: {code, reason}; the listener then closes. */
  REFUSE: 0x03,
  /** Either way: the sender is closing the connection: {code, reason}. */
  GOODBYE: 0x04,
  /** Keepalive probe (empty payload); answered with PONG. */
  PING: 0x05,
  PONG: 0x06,
  /** One-way message: value. */
  MESSAGE: 0x10,
  /** id, [method, body]. */
  REQUEST: 0x20,
  /** id (the request's), result. */
  RESPONSE: 0x21,
  /** id (the request's), {code, message}. */
  ERROR: 0x22,
  /** id (the request's): the requester gave up (timeout, abort); the handler's signal aborts. */
  CANCEL: 0x23,
  /** Subscriber → producer: id, [topic, params, window]. */
  SUBSCRIBE: 0x30,
  /** Producer → subscriber: id, item. */
  STREAM_DATA: 0x31,
  /** Producer → subscriber: id, null (finished) or {code, message} (failed). */
  STREAM_END: 0x32,
  /** Subscriber → producer: id, n (the subscriber consumed n more items; the producer may send n more). */
  STREAM_CREDIT: 0x33,
  /** Subscriber → producer: id (the subscriber is done; the producer's signal aborts). */
  STREAM_CANCEL: 0x34,
} as const;

export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

const NAMES = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));

/** The frame type's name for logs ('0x7f' for an unknown one). */
export function frameTypeName(type: number): string {
  return NAMES.get(type) ?? `0x${type.toString(16)}`;
}

/** Marks "no value" in encodeFrame (an empty payload, or id only). */
export const NO_VALUE: unique symbol = Symbol('no value');

/**
 * One frame as a single buffer, ready to write. `id` is written when given; `value` (encoded
 * with value-codec) when not NO_VALUE. Throws RpcError(RPC_ENCODE) for a value the codec cannot
 * carry and RpcError(RPC_FRAME_TOO_LARGE) when the payload would exceed `maxPayload`.
 * The buffer is freshly allocated and not retained: the caller owns it.
 */
export function encodeFrame(type: number, id: number | undefined, value: unknown, maxPayload: number): Buffer {
  const valueSize = value === NO_VALUE ? 0 : encodedSize(value);
  const payload = (id === undefined ? 0 : FRAME_ID_BYTES) + valueSize;
  if (payload > maxPayload) {
    throw new RpcError(
      ERR.RPC_FRAME_TOO_LARGE,
      `${frameTypeName(type)} frame of ${payload} bytes is over the ${maxPayload}-byte limit`,
    );
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload);
  out.writeUInt32BE(payload, 0);
  out[4] = type;
  let pos = FRAME_HEADER_BYTES;
  if (id !== undefined) {
    out.writeUInt32BE(id, pos);
    pos += FRAME_ID_BYTES;
  }
  if (value !== NO_VALUE) writeValue(out, pos, value);
  return out;
}

/** The u32 id at the start of an id-carrying payload; RpcError(RPC_PROTOCOL) if too short. */
export function readFrameId(type: number, payload: Buffer): number {
  if (payload.length < FRAME_ID_BYTES) {
    throw new RpcError(ERR.RPC_PROTOCOL, `${frameTypeName(type)} frame of ${payload.length} bytes has no id`);
  }
  return payload.readUInt32BE(0);
}

/** Receives each decoded frame. `payload` may be a view of the pushed chunk: use it before returning or copy it. */
export type FrameHandler = (type: number, payload: Buffer) => void;

/**
 * Incremental frame decoder for one connection. Not reusable after it throws: the stream is
 * out of sync, and the caller must close the connection.
 */
export class FrameDecoder {
  /** Largest payload accepted; may be raised after the handshake (see RpcConnection). */
  maxPayload: number;
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private body: Buffer | undefined;
  private bodyFill = 0;
  private type = 0;

  constructor(maxPayload: number) {
    this.maxPayload = maxPayload;
  }

  /** True when no partial frame is buffered (the stream is at a frame boundary). */
  get idle(): boolean {
    return this.headerFill === 0 && this.body === undefined;
  }

  /**
   * Feeds `chunk`; calls `onFrame` for every frame it completes, in order. Throws
   * RpcError(RPC_FRAME_TOO_LARGE) for a declared length over `maxPayload`. An exception thrown
   * by `onFrame` propagates and leaves the rest of the chunk unread.
   */
  push(chunk: Buffer, onFrame: FrameHandler): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.body !== undefined) {
        // Continue a frame that spans chunks.
        const n = Math.min(this.body.length - this.bodyFill, end - pos);
        chunk.copy(this.body, this.bodyFill, pos, pos + n);
        this.bodyFill += n;
        pos += n;
        if (this.bodyFill === this.body.length) {
          const body = this.body;
          this.body = undefined;
          this.bodyFill = 0;
          onFrame(this.type, body);
        }
        continue;
      }
      if (this.headerFill === 0 && end - pos >= FRAME_HEADER_BYTES) {
        // Fast path: the header is whole in this chunk.
        const len = chunk.readUInt32BE(pos);
        const type = chunk[pos + 4]!;
        this.check(len, type);
        const start = pos + FRAME_HEADER_BYTES;
        if (end - start >= len) {
          pos = start + len;
          onFrame(type, chunk.subarray(start, pos));
          continue;
        }
        this.startBody(len, type);
        pos = start;
        continue;
      }
      // The header itself is split across chunks.
      const n = Math.min(FRAME_HEADER_BYTES - this.headerFill, end - pos);
      chunk.copy(this.header, this.headerFill, pos, pos + n);
      this.headerFill += n;
      pos += n;
      if (this.headerFill === FRAME_HEADER_BYTES) {
        this.headerFill = 0;
        const len = this.header.readUInt32BE(0);
        const type = this.header[4]!;
        this.check(len, type);
        if (len === 0) {
          onFrame(type, EMPTY);
        } else {
          this.startBody(len, type);
        }
      }
    }
  }

  private check(len: number, type: number): void {
    if (len > this.maxPayload) {
      throw new RpcError(
        ERR.RPC_FRAME_TOO_LARGE,
        `received a ${frameTypeName(type)} frame of ${len} bytes; the limit is ${this.maxPayload}`,
      );
    }
  }

  private startBody(len: number, type: number): void {
    this.type = type;
    this.body = Buffer.allocUnsafe(len);
    this.bodyFill = 0;
  }
}

const EMPTY = Buffer.alloc(0);
