/**
 * A request from its creation to its answer. It may wait for a connection (the peer link is
 * reconnecting), then be handed to one; a request whose frame never reached a socket before its
 * connection died can be handed to the next connection, since the peer cannot have seen it.
 * Whatever holds it (a link's waiting list, a connection's in-flight map) registers a `detach`
 * so that settling — answer, timeout, abort, failure — removes it from there exactly once.
 */
import { ERR, RpcError } from './rpc-error.ts';

/** Something that waits to be sent on a connection: a request or a subscription. */
export interface Submittable {
  /** The frame to send; encoded once, so a retry on a new connection sends the same bytes. */
  readonly frame: Buffer;
  /** Settled (answered, failed, cancelled): drop it wherever it is found. */
  readonly settled: boolean;
  /** Registers how to remove it from its current holder; called again with undefined when it leaves. */
  setHolder(detach: (() => void) | undefined, sentOn: CancelTarget | undefined): void;
  /** Fails it (connection lost, no route, backpressure, transport closed). */
  fail(err: RpcError): void;
}

/** How a request that was sent is cancelled on the peer (a CANCEL frame). */
export interface CancelTarget {
  cancelRequest(id: number): void;
}

export class PendingRequest implements Submittable {
  settled = false;
  private detach: (() => void) | undefined;
  private sentOn: CancelTarget | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly to: string,
    readonly method: string,
    readonly frame: Buffer,
    timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly done: { resolve(v: unknown): void; reject(e: RpcError): void },
  ) {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const sent = this.sentOn !== undefined;
      this.cancel(
        new RpcError(
          ERR.RPC_TIMEOUT,
          `request '${method}' to ${to} timed out after ${timeoutMs} ms` +
            (sent ? '; it may or may not have been executed' : ' before it could be sent'),
          { indeterminate: sent },
        ),
      );
    }, timeoutMs);
    this.timer.unref?.();
    if (signal) {
      this.onAbort = () => {
        const sent = this.sentOn !== undefined;
        this.cancel(new RpcError(ERR.RPC_CANCELLED, `request '${method}' to ${to} was cancelled`, { indeterminate: sent }));
      };
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** True once handed to a connection (its outcome is unknown if that connection dies). */
  get sent(): boolean {
    return this.sentOn !== undefined;
  }

  setHolder(detach: (() => void) | undefined, sentOn: CancelTarget | undefined): void {
    this.detach = detach;
    this.sentOn = sentOn;
  }

  resolve(value: unknown): void {
    if (this.settle()) this.done.resolve(value);
  }

  fail(err: RpcError): void {
    if (this.settle()) this.done.reject(err);
  }

  /** Gives up on the request; a peer that has it gets a CANCEL so its handler can stop. */
  private cancel(err: RpcError): void {
    const target = this.sentOn;
    if (!this.settle()) return;
    target?.cancelRequest(this.id);
    this.done.reject(err);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    const detach = this.detach;
    this.detach = undefined;
    this.sentOn = undefined;
    detach?.();
    return true;
  }
}
