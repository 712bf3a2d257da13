/**
 * The replicated log's seam, and its single-node implementation (DESIGN: "single node:
 * applied in process"). Callers propose commands through `ReplicatedLog` and never learn
 * whether one process or a Raft cluster commits them, so clustering changes no caller.
 */
import type { StateMachine } from '../catalog/state-machine.ts';
import type { Command } from '../catalog/types.ts';

/** A log that commits commands in one order and applies them to the state machine. */
export interface ReplicatedLog {
  /** Append, commit and apply; resolves once applied with the entry's index and the state machine's result.
   *  Rejects (and applies nothing) when the state machine refuses the command. */
  propose(command: Command): Promise<{ index: bigint; result?: unknown }>;
  /** Index of the last entry this log appended. */
  readonly lastIndex: bigint;
}

/**
 * A log of one. `propose` applies synchronously, before it returns its (settled) promise, so
 * the change feed — and the DNS answer-cache invalidation hanging off it — has run before the
 * event loop reads another packet (DESIGN principle 1). A refused command consumes no index.
 */
export class LocalLog implements ReplicatedLog {
  private last: bigint;

  /**
   * `startIndex`: the first entry gets `startIndex + 1` (use the last index of a restored log or
   * snapshot). The log never goes below the state machine's own lastIndex.
   */
  constructor(
    private readonly sm: StateMachine,
    opts: { startIndex?: bigint } = {},
  ) {
    const start = opts.startIndex ?? 0n;
    this.last = start > sm.lastIndex ? start : sm.lastIndex;
  }

  get lastIndex(): bigint {
    return this.last;
  }

  propose(command: Command): Promise<{ index: bigint; result?: unknown }> {
    // The state machine's index can pass ours if someone applied to it directly; it can fall
    // behind after a restore, and the log then carries on from its own end, as Raft does.
    const index = (this.last > this.sm.lastIndex ? this.last : this.sm.lastIndex) + 1n;
    const before = this.last;
    // Claim the index before applying: a change listener may propose from inside this apply
    // and must get the next one.
    this.last = index;
    let out: { result?: unknown };
    try {
      // apply() checks the whole command before its first mutation and throws before any
      // listener runs, so nothing can have claimed a later index when we give this one back.
      out = this.sm.apply(index, command);
    } catch (err) {
      this.last = before;
      return Promise.reject(err);
    }
    return Promise.resolve(out.result === undefined ? { index } : { index, result: out.result });
  }
}
