/**
 * One RPC connection over a byte pipe (a TCP socket or an in-memory pipe): handshake, then
 * multiplexed one-way messages, requests and streams, with keepalive and a bounded outbound
 * queue. Symmetric once open: either side may send, request or subscribe.
 *
 * Failure contract: bad bytes from the peer (garbage, an oversize frame, an undecodable value,
 * a frame out of place) close the connection with a GOODBYE naming the reason — never an
 * exception out of here. When the connection ends, every request in flight rejects with
 * RPC_CONNECTION_LOST (indeterminate), every stream ends with it, handlers' signals abort;
 * requests and subscriptions whose frames never reached the socket are handed back (onClose's
 * `unsent`) so a reconnecting link can send them on its next connection.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.ts';
import { HeraldError } from '../errors.ts';
import { encodeFrame, FrameDecoder, frameTypeName, FrameType, NO_VALUE, readFrameId, FRAME_ID_BYTES } from './frame-codec.ts';
import { checkHello, checkWelcome, helloFor, parseHello, type LocalIdentity } from './handshake.ts';
import { OutboundQueue } from './outbound-queue.ts';
import type { PendingRequest, Submittable } from './pending-request.ts';
import { HANDSHAKE_MAX_FRAME_BYTES, type RpcTuning } from './rpc-config.ts';
import { asRpcError, ERR, RpcError } from './rpc-error.ts';
import type { RpcCounters } from './rpc-stats.ts';
import { StreamReceiver, StreamSinkImpl, type SinkLink } from './rpc-stream.ts';
import type { RequestHandler, StreamHandler } from './transport.ts';
import { decodeValue } from './value-codec.ts';

/** What a connection asks of the transport that owns it. */
export interface ConnectionHost {
  readonly counters: RpcCounters;
  readonly logger: Logger;
  /** Copy byte strings out of received frames (see value-codec DecodeOptions). */
  readonly copyBytes: boolean;
  /** A one-way message arrived (called synchronously while decoding). */
  deliverMessage(from: string, value: unknown): void;
  requestHandler(method: string): RequestHandler | undefined;
  streamHandler(topic: string): StreamHandler | undefined;
}

/** Lifecycle callbacks of one connection. */
export interface ConnectionEvents {
  /** The handshake completed; `conn.peerId` is set. */
  onOpen(conn: RpcConnection): void;
  /**
   * The connection is gone (called once, also when it never opened). `unsent`: requests and
   * subscriptions that never reached the socket, not yet failed; the callee sends or fails them.
   */
  onClose(conn: RpcConnection, err: RpcError, unsent: Submittable[]): void;
}

export interface ConnectionOptions extends LocalIdentity {
  readonly tuning: RpcTuning;
  /** Dialer: the node id we expect to answer. Undefined on the listening side. */
  readonly expectedPeer?: string;
}

type State = 'handshake' | 'open' | 'closed';

/** Sent in GOODBYE and REFUSE: why the sender is closing. */
interface CloseReason {
  readonly code: string;
  readonly reason: string;
}

function parseCloseReason(v: unknown): CloseReason {
  if (typeof v === 'object' && v !== null) {
    const r = v as Record<string, unknown>;
    return { code: typeof r.code === 'string' ? r.code : 'unknown', reason: typeof r.reason === 'string' ? r.reason : 'no reason given' };
  }
  return { code: 'unknown', reason: 'no reason given' };
}

function protocolError(msg: string): RpcError {
  return new RpcError(ERR.RPC_PROTOCOL, msg);
}

export class RpcConnection implements SinkLink {
  state: State = 'handshake';
  /** The peer's node id, once the handshake is done. */
  peerId: string | undefined;
  /** Negotiated protocol version, once open. */
  version = 0;
  /** Why it closed, once closed. */
  closeError: RpcError | undefined;

  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  private readonly queue: OutboundQueue<Submittable>;
  private outMax = HANDSHAKE_MAX_FRAME_BYTES;
  private readonly outRequests = new Map<number, PendingRequest>();
  private readonly inRequests = new Map<number, AbortController>();
  private readonly outStreams = new Map<number, StreamReceiver>();
  private readonly inStreams = new Map<number, StreamSinkImpl>();
  private lastReceived = performance.now();
  private handshakeTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private destroyTimer: NodeJS.Timeout | undefined;
  private pipeError: Error | undefined;
  /** Resolves when the pipe has closed. */
  readonly done: Promise<void>;

  constructor(
    readonly pipe: Duplex,
    readonly role: 'dialer' | 'listener',
    /** The remote end, for logs. */
    readonly remote: string,
    private readonly opts: ConnectionOptions,
    private readonly host: ConnectionHost,
    private readonly events: ConnectionEvents,
  ) {
    const t = opts.tuning;
    // Replies and control frames may exceed the bulk bound (see OutboundQueue), up to this.
    this.queue = new OutboundQueue<Submittable>(pipe, t.queueBytes, 2 * t.queueBytes + t.maxFrameBytes, host.counters, () => this.drained());
    this.done = new Promise((resolve) => pipe.once('close', () => resolve()));
    pipe.on('data', this.onData);
    pipe.on('error', (err: Error) => {
      this.pipeError = err;
    });
    pipe.on('close', () => {
      if (this.destroyTimer) clearTimeout(this.destroyTimer);
      const why = this.pipeError ? this.pipeError.message : 'closed by peer';
      this.shutdown(new RpcError(ERR.RPC_CONNECTION_LOST, this.lostMessage(why)), 'abrupt');
    });
    this.handshakeTimer = setTimeout(() => {
      this.shutdown(new RpcError(ERR.RPC_PROTOCOL, `handshake with ${this.remote} did not complete in ${t.handshakeTimeoutMs} ms`), 'abrupt');
    }, t.handshakeTimeoutMs);
    this.handshakeTimer.unref?.();
    if (role === 'dialer') this.control(FrameType.HELLO, undefined, helloFor(opts));
  }

  /** Largest payload the peer accepts (SinkLink). */
  get maxPayload(): number {
    return this.outMax;
  }

  /** Bytes queued and not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.state === 'closed' ? 0 : this.queue.pendingBytes;
  }

  private lostMessage(why: string): string {
    return `connection to ${this.peerId ?? this.remote} lost (${why})`;
  }

  // ---- sending ----------------------------------------------------------------------------

  /** Encodes a frame for this connection (RpcError RPC_ENCODE / RPC_FRAME_TOO_LARGE). */
  encode(type: number, id: number | undefined, value: unknown): Buffer {
    return encodeFrame(type, id, value, this.outMax);
  }

  /** The payload of `frame` must fit the peer's limit (frames are encoded before the peer is known). */
  private fits(frame: Buffer): RpcError | undefined {
    const payload = frame.length - 5;
    if (payload <= this.outMax) return undefined;
    return new RpcError(ERR.RPC_FRAME_TOO_LARGE, `${frameTypeName(frame[4]!)} frame of ${payload} bytes is over ${this.peerId}'s ${this.outMax}-byte limit`);
  }

  /** Queues a control frame; a peer so far behind that even these do not fit is cut off. */
  private control(type: number, id: number | undefined, value: unknown): void {
    if (this.state === 'closed') return;
    let frame: Buffer;
    try {
      frame = encodeFrame(type, id, value, this.outMax);
    } catch (err) {
      this.host.logger.error(`cannot encode ${frameTypeName(type)} for ${this.peerId ?? this.remote}: ${(err as Error).message}`);
      return;
    }
    this.forceFrame(frame);
  }

  /** Queues a control/reply frame past the bulk bound; closes the connection past the hard one. */
  private forceFrame(frame: Buffer): void {
    if (this.queue.force(frame)) return;
    this.shutdown(
      new RpcError(ERR.RPC_CONNECTION_LOST, this.lostMessage(`peer is not reading: over ${this.queue.hardLimit} bytes queued`)),
      'abrupt',
    );
  }

  /** Queues a one-way MESSAGE frame. False: dropped (over the bound, not open). Throws RPC_FRAME_TOO_LARGE. */
  sendMessage(frame: Buffer): boolean {
    if (this.state !== 'open') return false;
    const tooLarge = this.fits(frame);
    if (tooLarge) throw tooLarge;
    return this.queue.offer(frame);
  }

  /**
   * Sends a request or subscription on this connection. False when the queue is over its
   * bound (the caller rejects with RPC_BACKPRESSURE); failures of the item itself (too large)
   * settle it here and return true.
   */
  submit(item: Submittable): boolean {
    if (this.state !== 'open') return false;
    const tooLarge = this.fits(item.frame);
    if (tooLarge) {
      item.fail(tooLarge);
      return true;
    }
    if (!this.queue.offer(item.frame, item)) return false;
    if (item instanceof StreamReceiver) {
      this.outStreams.set(item.id, item);
      item.setHolder(() => this.outStreams.delete(item.id), this);
    } else {
      const req = item as PendingRequest;
      this.outRequests.set(req.id, req);
      req.setHolder(() => this.outRequests.delete(req.id), this);
    }
    return true;
  }

  /** CancelTarget: the requester gave up on request `id`. */
  cancelRequest(id: number): void {
    this.control(FrameType.CANCEL, id, NO_VALUE);
  }

  /** ReceiverLink: grant `n` more items on stream `id`. */
  sendCredit(id: number, n: number): void {
    this.control(FrameType.STREAM_CREDIT, id, n);
  }

  /** ReceiverLink: the subscriber gave up on stream `id`. */
  cancelStream(id: number): void {
    this.control(FrameType.STREAM_CANCEL, id, NO_VALUE);
  }

  // ---- SinkLink (producer side of streams) ------------------------------------------------

  hasRoom(size: number): boolean {
    return this.state === 'open' && this.queue.hasRoom(size);
  }

  pushData(frame: Buffer): void {
    if (!this.queue.offer(frame)) this.forceFrame(frame);
  }

  encodeData(id: number, item: unknown): Buffer {
    return this.encode(FrameType.STREAM_DATA, id, item);
  }

  sendEnd(id: number, err: unknown): void {
    this.inStreams.delete(id);
    this.control(FrameType.STREAM_END, id, err ? errorBody(err) : null);
  }

  private drained(): void {
    for (const sink of this.inStreams.values()) sink.poke();
  }

  // ---- receiving --------------------------------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === 'closed') return;
    this.host.counters.bytesIn += chunk.length;
    this.lastReceived = performance.now();
    try {
      this.decoder.push(chunk, this.onFrame);
    } catch (err) {
      this.protocolFailure(err);
    }
  };

  private readonly onFrame = (type: number, payload: Buffer): void => {
    if (this.state === 'closed') return;
    this.host.counters.framesIn++;
    if (this.state === 'handshake') this.handshakeFrame(type, payload);
    else this.openFrame(type, payload);
  };

  private protocolFailure(err: unknown): void {
    if (this.state === 'closed') return;
    const e = asRpcError(err, ERR.RPC_PROTOCOL);
    this.host.counters.protocolErrors++;
    this.host.logger.warn(`closing connection with ${this.peerId ?? this.remote}: ${e.message}`);
    this.shutdown(e, 'goodbye');
  }

  private value(payload: Buffer, offset: number): unknown {
    return decodeValue(payload, offset, { copyBytes: this.host.copyBytes });
  }

  private handshakeFrame(type: number, payload: Buffer): void {
    if (this.role === 'listener') {
      if (type !== FrameType.HELLO) throw protocolError(`expected HELLO, got ${frameTypeName(type)}`);
      const hello = parseHello(this.value(payload, 0));
      if (typeof hello === 'string') throw protocolError(hello);
      const check = checkHello(this.opts, hello);
      if (!check.ok) {
        this.host.counters.handshakesRefused++;
        this.host.logger.warn(`refused connection from ${this.remote} (node '${hello.node}', cluster '${hello.cluster}'): ${check.reason}`);
        this.control(FrameType.REFUSE, undefined, { code: ERR.RPC_HANDSHAKE_REFUSED, reason: check.reason });
        this.shutdown(new RpcError(ERR.RPC_HANDSHAKE_REFUSED, check.reason), 'graceful');
        return;
      }
      this.peerId = hello.node;
      this.control(FrameType.WELCOME, undefined, helloFor(this.opts));
      this.open(check.version, hello.maxFrame);
      return;
    }
    switch (type) {
      case FrameType.WELCOME: {
        const welcome = parseHello(this.value(payload, 0));
        if (typeof welcome === 'string') throw protocolError(welcome);
        const check = checkWelcome(this.opts, this.opts.expectedPeer ?? welcome.node, welcome);
        if (!check.ok) {
          // The link that dialed logs this (once per distinct reason, not per retry).
          this.host.counters.handshakesRefused++;
          this.shutdown(new RpcError(ERR.RPC_HANDSHAKE_REFUSED, `${this.remote}: ${check.reason}`), 'goodbye');
          return;
        }
        this.peerId = welcome.node;
        this.open(check.version, welcome.maxFrame);
        return;
      }
      case FrameType.REFUSE: {
        const r = parseCloseReason(this.value(payload, 0));
        this.host.counters.handshakesRefused++;
        this.shutdown(new RpcError(ERR.RPC_HANDSHAKE_REFUSED, `${this.remote} refused the handshake: ${r.reason}`), 'abrupt');
        return;
      }
      case FrameType.GOODBYE:
        this.peerSaidGoodbye(payload);
        return;
      default:
        throw protocolError(`expected WELCOME, got ${frameTypeName(type)}`);
    }
  }

  /**
   * The peer is closing. A plain shutdown is routine; anything else (it refused our WELCOME,
   * found our frames malformed or too large) is logged here, since only the peer could see it.
   */
  private peerSaidGoodbye(payload: Buffer): void {
    const r = parseCloseReason(this.value(payload, 0));
    if (r.code !== ERR.RPC_CLOSED && r.code !== ERR.RPC_CONNECTION_LOST) {
      this.host.logger.warn(`${this.peerId ?? this.remote} closed the connection (${r.code}): ${r.reason}`);
    }
    this.shutdown(new RpcError(ERR.RPC_CONNECTION_LOST, this.lostMessage(`peer closed: ${r.reason}`)), 'abrupt');
  }

  private open(version: number, peerMaxFrame: number): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.state = 'open';
    this.version = version;
    const t = this.opts.tuning;
    this.decoder.maxPayload = t.maxFrameBytes;
    this.outMax = Math.min(t.maxFrameBytes, peerMaxFrame);
    this.lastReceived = performance.now();
    this.keepaliveTimer = setInterval(() => this.keepalive(), t.keepaliveIntervalMs);
    this.keepaliveTimer.unref?.();
    this.events.onOpen(this);
  }

  private keepalive(): void {
    const silent = performance.now() - this.lastReceived;
    if (silent > this.opts.tuning.keepaliveTimeoutMs) {
      this.shutdown(new RpcError(ERR.RPC_CONNECTION_LOST, this.lostMessage(`nothing received for ${Math.round(silent)} ms`)), 'goodbye');
      return;
    }
    this.control(FrameType.PING, undefined, NO_VALUE);
  }

  private openFrame(type: number, payload: Buffer): void {
    switch (type) {
      case FrameType.MESSAGE: {
        const msg = this.value(payload, 0);
        try {
          this.host.deliverMessage(this.peerId!, msg);
        } catch (err) {
          this.host.logger.error(`message handler failed on a message from ${this.peerId}: ${(err as Error).message}`);
        }
        return;
      }
      case FrameType.REQUEST: {
        const id = readFrameId(type, payload);
        const v = this.value(payload, FRAME_ID_BYTES);
        if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string') throw protocolError('REQUEST is not [method, body]');
        this.serveRequest(id, v[0], v[1]);
        return;
      }
      case FrameType.RESPONSE: {
        const id = readFrameId(type, payload);
        const v = this.value(payload, FRAME_ID_BYTES);
        // An unknown id is a response that arrived after its request timed out.
        this.outRequests.get(id)?.resolve(v);
        return;
      }
      case FrameType.ERROR: {
        const id = readFrameId(type, payload);
        const body = parseErrorBody(this.value(payload, FRAME_ID_BYTES));
        const req = this.outRequests.get(id);
        if (req) req.fail(remoteError(body, `request '${req.method}' to ${this.peerId}`));
        return;
      }
      case FrameType.CANCEL: {
        const id = readFrameId(type, payload);
        const ac = this.inRequests.get(id);
        if (ac) {
          this.inRequests.delete(id);
          ac.abort(new RpcError(ERR.RPC_CANCELLED, `request cancelled by ${this.peerId}`));
        }
        return;
      }
      case FrameType.SUBSCRIBE: {
        const id = readFrameId(type, payload);
        const v = this.value(payload, FRAME_ID_BYTES);
        if (!Array.isArray(v) || v.length !== 3 || typeof v[0] !== 'string' || !isPositiveInt(v[2])) {
          throw protocolError('SUBSCRIBE is not [topic, params, window]');
        }
        this.serveStream(id, v[0], v[1], v[2]);
        return;
      }
      case FrameType.STREAM_DATA: {
        const id = readFrameId(type, payload);
        const recv = this.outStreams.get(id);
        if (!recv) return; // data in flight when we cancelled
        const item = this.value(payload, FRAME_ID_BYTES);
        if (!recv.deliver(item)) {
          recv.fail(protocolError(`${this.peerId} sent more items on stream '${recv.topic}' than credit allowed`));
          this.cancelStream(id);
        }
        return;
      }
      case FrameType.STREAM_END: {
        const id = readFrameId(type, payload);
        const v = this.value(payload, FRAME_ID_BYTES);
        const recv = this.outStreams.get(id);
        if (!recv) return;
        recv.end(v === null ? undefined : remoteError(parseErrorBody(v), `stream '${recv.topic}' from ${this.peerId}`));
        return;
      }
      case FrameType.STREAM_CREDIT: {
        const id = readFrameId(type, payload);
        const n = this.value(payload, FRAME_ID_BYTES);
        if (!isPositiveInt(n)) throw protocolError('STREAM_CREDIT is not a positive integer');
        this.inStreams.get(id)?.addCredit(n);
        return;
      }
      case FrameType.STREAM_CANCEL: {
        const id = readFrameId(type, payload);
        const sink = this.inStreams.get(id);
        if (sink) {
          this.inStreams.delete(id);
          sink.abort(new RpcError(ERR.RPC_CANCELLED, `stream cancelled by ${this.peerId}`));
        }
        return;
      }
      case FrameType.PING:
        this.control(FrameType.PONG, undefined, NO_VALUE);
        return;
      case FrameType.PONG:
        return;
      case FrameType.GOODBYE:
        this.peerSaidGoodbye(payload);
        return;
      default:
        throw protocolError(`unexpected ${frameTypeName(type)} frame on an open connection`);
    }
  }

  private serveRequest(id: number, method: string, body: unknown): void {
    if (this.inRequests.has(id)) throw protocolError(`request id ${id} reused while in flight`);
    const t = this.opts.tuning;
    if (this.inRequests.size >= t.maxInflightRequests) {
      this.host.counters.requestsRejectedBackpressure++;
      this.control(FrameType.ERROR, id, { code: ERR.RPC_BACKPRESSURE, message: `${this.opts.nodeId} has ${t.maxInflightRequests} requests in flight from this peer` });
      return;
    }
    const handler = this.host.requestHandler(method);
    if (!handler) {
      this.control(FrameType.ERROR, id, { code: ERR.RPC_UNKNOWN_METHOD, message: `${this.opts.nodeId} has no handler for method '${method}'` });
      return;
    }
    const ac = new AbortController();
    this.inRequests.set(id, ac);
    const ctx = { from: this.peerId!, signal: ac.signal };
    void (async () => {
      let ok = true;
      let result: unknown;
      try {
        result = await handler(body, ctx);
      } catch (err) {
        ok = false;
        result = err;
      }
      // Cancelled, or the connection closed: nobody wants the answer.
      if (this.inRequests.get(id) !== ac) return;
      this.inRequests.delete(id);
      if (ok) {
        let frame: Buffer;
        try {
          frame = this.encode(FrameType.RESPONSE, id, result);
        } catch (err) {
          this.control(FrameType.ERROR, id, errorBody(err));
          return;
        }
        this.forceFrame(frame);
        return;
      }
      this.control(FrameType.ERROR, id, errorBody(result));
    })();
  }

  private serveStream(id: number, topic: string, params: unknown, window: number): void {
    if (this.inStreams.has(id)) throw protocolError(`stream id ${id} reused while open`);
    const t = this.opts.tuning;
    if (this.inStreams.size >= t.maxStreams) {
      this.host.counters.requestsRejectedBackpressure++;
      this.control(FrameType.STREAM_END, id, { code: ERR.RPC_BACKPRESSURE, message: `${this.opts.nodeId} serves ${t.maxStreams} streams to this peer already` });
      return;
    }
    const handler = this.host.streamHandler(topic);
    if (!handler) {
      this.control(FrameType.STREAM_END, id, { code: ERR.RPC_UNKNOWN_METHOD, message: `${this.opts.nodeId} has no stream topic '${topic}'` });
      return;
    }
    const sink = new StreamSinkImpl(id, this.peerId!, topic, window, this);
    this.inStreams.set(id, sink);
    void (async () => {
      try {
        await handler(params, sink);
        sink.finish(undefined);
      } catch (err) {
        sink.finish(err ?? new Error('stream handler failed'));
      }
    })();
  }

  // ---- closing ----------------------------------------------------------------------------

  /**
   * Closes the connection. `graceful`: what is queued is flushed, a GOODBYE with `err`'s message
   * follows, then the pipe is ended. Everything pending fails with `err` (marked indeterminate
   * for requests that were sent).
   */
  close(err: RpcError): void {
    this.shutdown(err, 'graceful');
  }

  /**
   * 'graceful': flush queue, GOODBYE, end. 'goodbye': drop the queue, GOODBYE, end (we are
   * closing because of the peer; it may log why). 'abrupt': the pipe is gone or hopeless: destroy.
   */
  private shutdown(err: RpcError, how: 'graceful' | 'goodbye' | 'abrupt'): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeError = err;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.pipe.off('data', this.onData);
    const unsent = this.queue.close(how === 'graceful');
    if (how !== 'abrupt' && !this.pipe.destroyed && this.pipe.writable) {
      try {
        this.pipe.write(encodeFrame(FrameType.GOODBYE, undefined, { code: err.code, reason: err.message }, HANDSHAKE_MAX_FRAME_BYTES));
      } catch {
        // A message too long for a GOODBYE is not worth failing the close for.
      }
      this.pipe.end();
      // A peer that never reads would keep the socket half-closed forever.
      this.destroyTimer = setTimeout(() => this.pipe.destroy(), 2_000);
      this.destroyTimer.unref?.();
    } else {
      this.pipe.destroy();
    }
    const unsentSet = new Set<Submittable>(unsent);
    for (const item of unsent) item.setHolder(undefined, undefined);
    for (const recv of [...this.outStreams.values()]) {
      if (!unsentSet.has(recv)) recv.fail(err);
    }
    // Requests exist only on open connections, and every one that reached the socket may have run.
    for (const req of [...this.outRequests.values()]) {
      if (!unsentSet.has(req)) req.fail(inFlightError(err));
    }
    this.outRequests.clear();
    this.outStreams.clear();
    for (const ac of this.inRequests.values()) ac.abort(err);
    this.inRequests.clear();
    for (const sink of this.inStreams.values()) sink.abort(err);
    this.inStreams.clear();
    this.events.onClose(this, err, unsent);
  }
}

function inFlightError(err: RpcError): RpcError {
  const msg = err.code === ERR.RPC_CONNECTION_LOST ? `${err.message}; the request may or may not have been executed` : err.message;
  return new RpcError(err.code, msg, { indeterminate: true, remoteCode: err.remoteCode, cause: err.cause });
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/** The {code, message} sent for a failed handler. */
function errorBody(err: unknown): { code: string; message: string } {
  if (err instanceof RpcError && err.code === ERR.RPC_REMOTE && err.remoteCode) return { code: err.remoteCode, message: err.message };
  if (err instanceof HeraldError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: ERR.RPC_REMOTE, message: err.message };
  return { code: ERR.RPC_REMOTE, message: String(err) };
}

function parseErrorBody(v: unknown): { code: string; message: string } {
  if (typeof v === 'object' && v !== null) {
    const r = v as Record<string, unknown>;
    return { code: typeof r.code === 'string' ? r.code : ERR.RPC_REMOTE, message: typeof r.message === 'string' ? r.message : 'no message' };
  }
  return { code: ERR.RPC_REMOTE, message: 'no message' };
}

/**
 * The error a requester sees. Transport-level refusals by the peer keep their code
 * (RPC_BACKPRESSURE: not executed; RPC_UNKNOWN_METHOD); handler failures become RPC_REMOTE with
 * the handler's code in `remoteCode`.
 */
function remoteError(body: { code: string; message: string }, what: string): RpcError {
  if (body.code === ERR.RPC_BACKPRESSURE || body.code === ERR.RPC_UNKNOWN_METHOD) {
    return new RpcError(body.code, `${what}: ${body.message}`, { remoteCode: body.code });
  }
  return new RpcError(ERR.RPC_REMOTE, `${what} failed: ${body.message}`, { remoteCode: body.code });
}
