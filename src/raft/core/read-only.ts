/**
 * ReadIndex bookkeeping on the leader (dissertation §6.4; etcd-io/raft read_only.go).
 *
 * A read request records the commit index at arrival, then the leader broadcasts a heartbeat
 * carrying the request's context. Once a majority acknowledges that heartbeat the leader knows
 * it was still the leader when the request arrived, so every request queued up to and
 * including that one is answered with its recorded index.
 */
import type { NodeId } from './types.ts';

/** Who asked: the leader itself (a local readIndex call) or a follower that forwarded it. */
export interface ReadRequest {
  readonly from: NodeId;
  readonly context: string;
}

interface Pending {
  readonly index: bigint;
  readonly req: ReadRequest;
  readonly acks: Set<NodeId>;
}

/** Read requests awaiting quorum confirmation, in arrival order. */
export class ReadOnlyQueue {
  private readonly pending = new Map<string, Pending>();
  private readonly queue: string[] = [];

  /** Queues a request at `index`; a context already queued is ignored (false). */
  add(index: bigint, req: ReadRequest): boolean {
    if (this.pending.has(req.context)) return false;
    this.pending.set(req.context, { index, req, acks: new Set() });
    this.queue.push(req.context);
    return true;
  }

  /** Records `from`'s ack of the heartbeat for `context`; returns the acks so far (undefined if unknown). */
  ack(from: NodeId, context: string): ReadonlySet<NodeId> | undefined {
    const p = this.pending.get(context);
    if (!p) return undefined;
    p.acks.add(from);
    return p.acks;
  }

  /** Removes and returns every request up to and including `context`. */
  release(context: string): { index: bigint; req: ReadRequest }[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const out = this.queue.splice(0, at + 1).map((c) => {
      const p = this.pending.get(c)!;
      this.pending.delete(c);
      return { index: p.index, req: p.req };
    });
    return out;
  }

  /** The newest queued context: heartbeats carry it so a lost round is retried by the next one. */
  last(): string | undefined {
    return this.queue[this.queue.length - 1];
  }

  get size(): number {
    return this.queue.length;
  }
}
