/**
 * Server-push streams (the change stream an agent subscribes to). Flow control is by credit,
 * counted in items: the subscriber grants `window` items in SUBSCRIBE and grants more
 * (STREAM_CREDIT) as its consumer takes them, so the producer never gets more than `window`
 * items ahead of the consumer, and a slow consumer pauses the producer without stopping the
 * shared connection (Raft messages keep flowing beside the stream). The producer also waits
 * while the connection's outbound queue is over its bound.
 *
 * StreamReceiver is the subscriber's end (an async iterator); StreamSinkImpl the producer's.
 */
import { ERR, RpcError } from './rpc-error.ts';
import type { CancelTarget, Submittable } from './pending-request.ts';
import type { RpcStream, StreamSink } from './transport.ts';

/** What a receiver needs from the connection it is bound to. */
export interface ReceiverLink {
  sendCredit(id: number, n: number): void;
  cancelStream(id: number): void;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

export class StreamReceiver implements RpcStream, Submittable {
  settled = false;
  private readonly items: unknown[] = [];
  private itemsHead = 0;
  private error: RpcError | undefined;
  private waiter: { resolve(r: IteratorResult<unknown>): void; reject(e: unknown): void } | undefined;
  private link: ReceiverLink | undefined;
  private detach: (() => void) | undefined;
  /** Items the producer may still send without more credit. */
  private outstanding: number;
  /** Items consumed since the last credit grant. */
  private consumed = 0;
  private readonly threshold: number;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly to: string,
    readonly topic: string,
    readonly frame: Buffer,
    readonly window: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.outstanding = window;
    // Granting in batches of half the window keeps credit frames rare while the producer
    // still has half a window of items to send while the credit travels.
    this.threshold = Math.max(1, Math.floor(window / 2));
    if (signal) {
      this.onAbort = () => this.finish(new RpcError(ERR.RPC_CANCELLED, `stream '${topic}' from ${to} was cancelled`), true);
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  setHolder(detach: (() => void) | undefined, sentOn: CancelTarget | undefined): void {
    this.detach = detach;
    this.link = sentOn as ReceiverLink | undefined;
  }

  /** A STREAM_DATA item arrived. False when it is beyond the credit granted (a protocol violation). */
  deliver(item: unknown): boolean {
    if (this.settled) return true;
    if (this.outstanding <= 0) return false;
    this.outstanding--;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      this.took();
      w.resolve({ done: false, value: item });
    } else {
      this.items.push(item);
    }
    return true;
  }

  /** Ends the stream: normally (no error), with the producer's error, or connection lost. */
  fail(err: RpcError): void {
    this.finish(err, false);
  }

  /** STREAM_END from the producer. */
  end(err: RpcError | undefined): void {
    this.finish(err, false);
  }

  /**
   * The stream is over. Buffered items are still delivered after a normal end; after an
   * error, the error is thrown once the buffered items are consumed. `cancelRemote` tells the
   * producer to stop (we are the side giving up).
   */
  private finish(err: RpcError | undefined, cancelRemote: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.error = err;
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    const link = this.link;
    const detach = this.detach;
    this.link = undefined;
    this.detach = undefined;
    if (cancelRemote) link?.cancelStream(this.id);
    detach?.();
    if (cancelRemote) {
      // A consumer that gave up does not want what is buffered.
      this.items.length = 0;
      this.itemsHead = 0;
    }
    const w = this.waiter;
    if (w && this.itemsHead >= this.items.length) {
      this.waiter = undefined;
      // The error is reported once; later next() calls report the end.
      this.error = undefined;
      if (err) w.reject(err);
      else w.resolve(DONE);
    }
  }

  private took(): void {
    if (this.settled || !this.link) return;
    this.consumed++;
    if (this.consumed >= this.threshold) {
      const n = this.consumed;
      this.consumed = 0;
      this.outstanding += n;
      this.link.sendCredit(this.id, n);
    }
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.itemsHead < this.items.length) {
      const value = this.items[this.itemsHead];
      this.items[this.itemsHead++] = undefined;
      if (this.itemsHead === this.items.length) {
        this.items.length = 0;
        this.itemsHead = 0;
      }
      this.took();
      return Promise.resolve({ done: false, value });
    }
    if (this.settled) {
      if (this.error) {
        const e = this.error;
        // Thrown once; later calls report the end.
        this.error = undefined;
        return Promise.reject(e);
      }
      return Promise.resolve(DONE);
    }
    if (this.waiter) return Promise.reject(new RpcError(ERR.RPC_PROTOCOL, 'next() called while a previous next() is pending'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<unknown>> {
    this.close();
    return Promise.resolve(DONE);
  }

  close(): void {
    this.finish(undefined, true);
    this.error = undefined;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** What a sink needs from the connection serving it. */
export interface SinkLink {
  /** Largest payload the peer accepts. */
  readonly maxPayload: number;
  hasRoom(size: number): boolean;
  /** Queues a STREAM_DATA frame (room was checked). */
  pushData(frame: Buffer): void;
  /** Sends STREAM_END (undefined: finished; else the error, with its code) and forgets the stream. */
  sendEnd(id: number, err: unknown): void;
  encodeData(id: number, item: unknown): Buffer;
}

export class StreamSinkImpl implements StreamSink {
  private readonly controller = new AbortController();
  private credit: number;
  private wake: (() => void) | undefined;
  private tail: Promise<void> = Promise.resolve();
  /** Set once the stream is over (ended by the producer, cancelled, or the connection is gone). */
  private over: RpcError | undefined;
  private ended = false;

  constructor(
    readonly id: number,
    readonly from: string,
    readonly topic: string,
    window: number,
    private readonly link: SinkLink,
  ) {
    this.credit = window;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  write(item: unknown): Promise<void> {
    // Writes are chained so items go out in call order even if a producer does not await.
    const p = this.tail.then(() => this.send(item));
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async send(item: unknown): Promise<void> {
    const frame = this.link.encodeData(this.id, item);
    for (;;) {
      if (this.over) throw this.over;
      if (this.credit > 0 && this.link.hasRoom(frame.length)) {
        this.credit--;
        this.link.pushData(frame);
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Wakes a write waiting for credit or room (called on credit, on drain, on abort). */
  poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  addCredit(n: number): void {
    this.credit += n;
    this.poke();
  }

  /** The subscriber cancelled or the connection went away: stop the producer, send nothing. */
  abort(err: RpcError): void {
    if (this.over) return;
    this.over = err;
    this.ended = true;
    this.controller.abort(err);
    this.poke();
  }

  /** The producer's handler settled: end the stream (with what it threw, if it failed). */
  finish(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.over = new RpcError(ERR.RPC_CLOSED, `stream '${this.topic}' has ended`);
    this.link.sendEnd(this.id, err);
    this.controller.abort(this.over);
    this.poke();
  }
}
