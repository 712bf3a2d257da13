/**
 * The bounded outbound queue of one connection. Frames go straight to the socket while it
 * accepts them; once `write()` returns false (its buffer is over the high-water mark) they wait
 * here, and nothing more is written until 'drain'. The bound counts every byte not yet taken by
 * the kernel: frames queued here plus the socket's own buffer (`writableLength`).
 *
 * Two classes of frame:
 * - bulk (one-way messages, requests, stream items): once the socket has pushed back, refused
 *   when they would take the pending bytes over `limit`; the caller drops the message or
 *   rejects the request.
 * - control (handshake, replies, credits, pings, cancels): accepted up to `hardLimit`, because
 *   dropping them would stall the peer; past that the peer is not reading at all and the
 *   caller closes the connection. So memory per connection stays under hardLimit + one frame
 *   + the socket's high-water mark.
 */
import type { Duplex } from 'node:stream';
import type { RpcCounters } from './rpc-stats.ts';

/** A frame waiting in the queue, and what sent it when that can be retried elsewhere. */
interface Queued<O> {
  readonly buf: Buffer;
  readonly owner: O | undefined;
}

export class OutboundQueue<O = unknown> {
  private frames: Queued<O>[] = [];
  private head = 0;
  private queued = 0;
  private blocked = false;
  private closed = false;
  /** Corked until the end of the current tick (see write). */
  private corked = false;

  /**
   * `onDrain` runs after the socket drained and the queue was flushed into it (room may now
   * exist for whoever waits on hasRoom).
   */
  constructor(
    private readonly pipe: Duplex,
    readonly limit: number,
    readonly hardLimit: number,
    private readonly counters: RpcCounters,
    private readonly onDrain: () => void,
  ) {
    pipe.on('drain', this.drained);
  }

  /** Bytes not yet taken by the kernel: queued here plus the socket's write buffer. */
  get pendingBytes(): number {
    return this.queued + this.pipe.writableLength;
  }

  /**
   * Whether a bulk frame of `size` bytes would be accepted now. While the socket accepts writes
   * (nothing queued here, its buffer under the high-water mark) any frame goes, so one frame
   * larger than the bound still goes out alone. Once it pushed back, the bound applies; and
   * because it pushed back, 'drain' is sure to follow when the peer reads, which is what wakes
   * a producer waiting for room (a room test that could turn true without a 'drain' would
   * leave it asleep).
   */
  hasRoom(size: number): boolean {
    return !this.blocked || this.pendingBytes + size <= this.limit;
  }

  /**
   * Queues a bulk frame. False (and nothing queued) when over the bound or closed. `owner` is
   * returned by takeUnsentOwners() if the frame never reached the socket.
   */
  offer(buf: Buffer, owner?: O): boolean {
    if (this.closed || !this.hasRoom(buf.length)) return false;
    this.push(buf, owner);
    return true;
  }

  /** Queues a control frame. False when closed or past hardLimit: the caller should close the connection. */
  force(buf: Buffer): boolean {
    if (this.closed || this.pendingBytes + buf.length > this.hardLimit) return false;
    this.push(buf, undefined);
    return true;
  }

  private push(buf: Buffer, owner: O | undefined): void {
    if (!this.blocked && this.head === this.frames.length) {
      this.write(buf);
      return;
    }
    this.frames.push({ buf, owner });
    this.queued += buf.length;
  }

  private write(buf: Buffer): void {
    this.counters.framesOut++;
    this.counters.bytesOut += buf.length;
    // Frames written in one tick (a Raft Ready's messages, replies settled together) leave in
    // one writev instead of one syscall each: cork now, uncork before the tick ends.
    if (!this.corked) {
      this.corked = true;
      this.pipe.cork();
      process.nextTick(this.uncork);
    }
    if (!this.pipe.write(buf)) this.blocked = true;
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.pipe.uncork();
  };

  private flush(): void {
    while (!this.blocked && this.head < this.frames.length) {
      const f = this.frames[this.head]!;
      this.frames[this.head++] = undefined as unknown as Queued<O>;
      this.queued -= f.buf.length;
      this.write(f.buf);
    }
    if (this.head === this.frames.length) {
      this.frames = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }

  private readonly drained = (): void => {
    if (this.closed) return;
    this.blocked = false;
    this.flush();
    this.onDrain();
  };

  /**
   * Closes the queue. With `flush`, everything queued is handed to the socket first (a
   * graceful close, the socket is ended after). Returns the owners of frames that were never
   * handed to the socket, in order.
   */
  close(flush: boolean): O[] {
    if (this.closed) return [];
    this.closed = true;
    this.pipe.off('drain', this.drained);
    const owners: O[] = [];
    for (let i = this.head; i < this.frames.length; i++) {
      const f = this.frames[i]!;
      if (flush) {
        this.counters.framesOut++;
        this.counters.bytesOut += f.buf.length;
        this.pipe.write(f.buf);
      } else if (f.owner !== undefined) {
        owners.push(f.owner);
      }
    }
    this.frames = [];
    this.head = 0;
    this.queued = 0;
    return owners;
  }
}
