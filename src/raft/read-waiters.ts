/**
 * Linearizable reads waiting for their read index (ReadIndex, dissertation §6.4).
 *
 * Each request gets a context unique in the cluster (`<server id>:<incarnation>:<seq>`, since a
 * follower forwards it to the leader). The core releases a ReadState for it only once this
 * server has applied up to the read index, so answering it resolves a read of the local state
 * machine that is linearizable. The core drops pending reads silently when leadership changes
 * (core README); the driver rejects them then (`rejectAll`) rather than leave callers to time
 * out, and a timeout bounds the rest (a partitioned leader never gets its quorum).
 */
import { ERR } from '../errors.ts';
import { RaftError } from './raft-error.ts';

interface Waiter {
  readonly resolve: (index: bigint) => void;
  readonly reject: (e: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

export class ReadWaiters {
  private readonly waiting = new Map<string, Waiter>();
  private seq = 0;
  private readonly prefix: string;

  constructor(
    serverId: string,
    private readonly timeoutMs: number,
  ) {
    // Unique across restarts too: a late answer to a previous incarnation's read must not match.
    this.prefix = `${serverId}:${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}:`;
  }

  get size(): number {
    return this.waiting.size;
  }

  /** A fresh context and the promise of its read index. */
  next(): { context: string; done: Promise<bigint> } {
    const context = this.prefix + (++this.seq).toString(36);
    const done = new Promise<bigint>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.waiting.delete(context)) return;
        reject(new RaftError(ERR.RAFT_TIMEOUT, `raft: read index not confirmed by a quorum within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.waiting.set(context, { resolve, reject, timer });
    });
    return { context, done };
  }

  /** The core released read state (context, index); the state machine holds index by now. */
  answer(context: string, index: bigint): void {
    const w = this.waiting.get(context);
    if (!w) return;
    this.waiting.delete(context);
    clearTimeout(w.timer);
    w.resolve(index);
  }

  /** Rejects one request (the core refused it at once). */
  fail(context: string, err: unknown): void {
    const w = this.waiting.get(context);
    if (!w) return;
    this.waiting.delete(context);
    clearTimeout(w.timer);
    w.reject(err);
  }

  rejectAll(makeError: () => unknown): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) {
      clearTimeout(w.timer);
      w.reject(makeError());
    }
  }
}
