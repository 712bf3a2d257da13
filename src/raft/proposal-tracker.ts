/**
 * Proposals waiting to be applied, keyed by the (index, term) the core gave them.
 *
 * An (index, term) pair names one entry (log matching, Raft §5.3). So when the entry at a
 * waiting index is applied, its term decides: the same term is our entry (resolve with the
 * state machine's result, or reject with its refusal); another term means ours was replaced
 * and can never commit (RAFT_PROPOSAL_DROPPED, safe to retry). Everything that leaves the
 * outcome unknown rejects as indeterminate: losing leadership with the entry in flight
 * (hashicorp/raft's ErrLeadershipLost; the new leader may still commit it), a snapshot from the
 * leader covering the index (the entry is in it or not; we cannot tell), the timeout, stopping.
 */
import { ERR } from '../errors.ts';
import { indeterminate, RaftError } from './raft-error.ts';

/** What a proposal resolves with: its index and what the state machine's apply returned. */
export interface Applied {
  readonly index: bigint;
  readonly result?: unknown;
}

interface Waiter {
  readonly term: bigint;
  readonly resolve: (v: Applied) => void;
  readonly reject: (e: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

/** The outcome of applying one entry: the state machine's result or its refusal. */
export type ApplyOutcome = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: unknown };

export class ProposalTracker {
  private readonly waiting = new Map<bigint, Waiter>();

  constructor(private readonly timeoutMs: number) {}

  get size(): number {
    return this.waiting.size;
  }

  /** Waits for entry (index, term). Must be called before that entry can be applied (synchronously after propose). */
  track(index: bigint, term: bigint): Promise<Applied> {
    return new Promise<Applied>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiting.get(index)?.timer !== timer) return;
        this.waiting.delete(index);
        reject(indeterminate(`entry ${index} was not applied within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      // A leftover waiter at this index (an earlier term's) can no longer be ours.
      this.settleReplaced(index, term);
      this.waiting.set(index, { term, resolve, reject, timer });
    });
  }

  /** Entry (index, term) was applied with `outcome` (undefined for entries the state machine does not see). */
  applied(index: bigint, term: bigint, outcome: ApplyOutcome | undefined): void {
    const w = this.waiting.get(index);
    if (!w) return;
    this.waiting.delete(index);
    clearTimeout(w.timer);
    if (w.term !== term) {
      w.reject(new RaftError(ERR.RAFT_PROPOSAL_DROPPED, `raft: entry ${index} of term ${w.term} was replaced by one of term ${term}; it was not applied`));
    } else if (!outcome || outcome.ok) {
      const result = outcome?.result;
      w.resolve(result === undefined ? { index } : { index, result });
    } else {
      w.reject(outcome.error);
    }
  }

  /** A snapshot up to `index` replaced the state: proposals at or below it have an unknown outcome. */
  coveredBySnapshot(index: bigint): void {
    for (const [i, w] of this.waiting) {
      if (i > index) continue;
      this.waiting.delete(i);
      clearTimeout(w.timer);
      w.reject(indeterminate(`a snapshot from the leader up to ${index} replaced entry ${i}`));
    }
  }

  /** Rejects every waiter (leadership lost, stopping) with an indeterminate error. */
  rejectAll(why: string): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) {
      clearTimeout(w.timer);
      w.reject(indeterminate(why));
    }
  }

  private settleReplaced(index: bigint, term: bigint): void {
    const old = this.waiting.get(index);
    if (old && old.term !== term) this.applied(index, term, undefined);
  }
}
