/**
 * Client histories for the linearizability checker: the operation form (one record per
 * operation with its call and return time) and the event form (call/return events in the
 * order they were observed), and the conversion from the second to the first.
 *
 * Real-time order: operation A precedes B iff `A.return < B.call`. Equal times mean the two
 * overlapped, so a recorder that cannot tell which came first should give them the same time.
 */
import { ERR, HeraldError } from '../../errors.ts';

/**
 * One client operation. `return` absent or `Infinity` marks it indeterminate (a timeout, a
 * crashed client, Jepsen's `:info`): it may never have taken effect, or taken effect at any
 * point after `call`; its `output` is ignored. Operations known to have had no effect (a
 * definite failure) must be left out of the history by the recorder.
 */
export interface Operation<I, O> {
  /** Who issued it; only printed, the checker does not require per-client sequencing. */
  readonly clientId: number | string;
  /** Invocation time (any monotonic unit). */
  readonly call: number;
  /** Completion time, `>= call`; absent or `Infinity` when indeterminate. */
  readonly return?: number;
  readonly input: I;
  /** What the operation answered; absent for operations that answer nothing (put, delete). */
  readonly output?: O;
}

/**
 * The event form (Porcupine's and Jepsen's shape). Each `call` opens operation `id`; it is
 * closed by `return` (completed, with its output), `info` (outcome unknown: indeterminate),
 * `fail` (known to have had no effect: dropped), or nothing (indeterminate as well).
 * Times are either carried by every event (`time`, non-decreasing in list order) or by none,
 * in which case an event's position in the list is its time.
 */
export type HistoryEvent<I, O> =
  | { readonly kind: 'call'; readonly id: number | string; readonly clientId: number | string; readonly input: I; readonly time?: number }
  | { readonly kind: 'return'; readonly id: number | string; readonly output?: O; readonly time?: number }
  | { readonly kind: 'info'; readonly id: number | string; readonly time?: number }
  | { readonly kind: 'fail'; readonly id: number | string; readonly time?: number };

/** True when the operation's outcome is unknown (no return, or return at `Infinity`). */
export function isIndeterminate(op: Operation<unknown, unknown>): boolean {
  return op.return === undefined || op.return === Infinity;
}

/** The return time the checker uses: `Infinity` for indeterminate operations. */
export function returnTime(op: Operation<unknown, unknown>): number {
  return op.return === undefined ? Infinity : op.return;
}

function invalid(message: string): never {
  throw new HeraldError(ERR.LINEARIZABILITY_HISTORY_INVALID, message);
}

/**
 * Throws `HERALD_ERR_LINEARIZABILITY_HISTORY_INVALID` naming the first operation whose times
 * are unusable (call not a finite number, return NaN or before its call).
 */
export function assertWellFormed(history: readonly Operation<unknown, unknown>[]): void {
  for (let i = 0; i < history.length; i++) {
    const op = history[i]!;
    if (typeof op.call !== 'number' || !Number.isFinite(op.call)) invalid(`operation ${i}: call time ${String(op.call)} is not a finite number`);
    if (op.return !== undefined) {
      if (typeof op.return !== 'number' || Number.isNaN(op.return)) invalid(`operation ${i}: return time ${String(op.return)} is not a number`);
      if (op.return < op.call) invalid(`operation ${i}: returns at ${op.return}, before its call at ${op.call}`);
    }
  }
}

/**
 * Converts the event form to operations, in the order of their `call` events. Throws
 * `HERALD_ERR_LINEARIZABILITY_HISTORY_INVALID` on a duplicate call id, a completion without a
 * call or completed twice, or times that are missing on some events only or go backwards.
 */
export function operationsFromEvents<I, O>(events: readonly HistoryEvent<I, O>[]): Operation<I, O>[] {
  const timed = events.length > 0 && events[0]!.time !== undefined;
  interface Open {
    clientId: number | string;
    input: I;
    call: number;
    done: boolean;
    dropped: boolean;
    return?: number;
    output?: O;
  }
  const byId = new Map<number | string, Open>();
  const order: Open[] = [];
  let last = -Infinity;
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    if ((ev.time !== undefined) !== timed) invalid(`event ${i}: either every event carries a time or none does`);
    const t = timed ? ev.time! : i;
    if (typeof t !== 'number' || !Number.isFinite(t)) invalid(`event ${i}: time ${String(t)} is not a finite number`);
    if (t < last) invalid(`event ${i}: time ${t} goes back from ${last}`);
    last = t;
    if (ev.kind === 'call') {
      if (byId.has(ev.id)) invalid(`event ${i}: operation id ${String(ev.id)} is called twice`);
      const open: Open = { clientId: ev.clientId, input: ev.input, call: t, done: false, dropped: false };
      byId.set(ev.id, open);
      order.push(open);
      continue;
    }
    const open = byId.get(ev.id);
    if (open === undefined) invalid(`event ${i}: ${ev.kind} for operation id ${String(ev.id)} that was never called`);
    if (open.done) invalid(`event ${i}: operation id ${String(ev.id)} completes twice`);
    open.done = true;
    if (ev.kind === 'return') {
      open.return = t;
      if ('output' in ev && ev.output !== undefined) open.output = ev.output;
    } else if (ev.kind === 'fail') {
      open.dropped = true;
    } // 'info': stays without a return, i.e. indeterminate
  }
  const ops: Operation<I, O>[] = [];
  for (const o of order) {
    if (o.dropped) continue;
    const op: { clientId: number | string; call: number; input: I; return?: number; output?: O } = { clientId: o.clientId, call: o.call, input: o.input };
    if (o.return !== undefined) op.return = o.return;
    if (o.output !== undefined) op.output = o.output;
    ops.push(op);
  }
  return ops;
}
