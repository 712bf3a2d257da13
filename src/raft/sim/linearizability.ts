/**
 * A linearizability checker: does some total order of a history's operations respect real
 * time (A before B whenever A returned before B was called) and explain every output by a
 * sequential model?
 *
 * The search is Wing & Gong's, with Lowe's improvements ("Testing for linearizability",
 * 2017): calls and returns sit in one time-ordered linked list; the search linearizes the
 * earliest pending call the model accepts, lifting it (and its return) out of the list, and
 * backtracks when it reaches a return whose operation is still pending (that operation would
 * have to come later than its own return). Every (set of linearized operations, model state)
 * pair reached is remembered, so a configuration is never explored twice. Before searching,
 * the history is split by `model.partitionKey` (Horn & Kroening's P-compositionality, as in
 * Porcupine): a history of independent objects is linearizable iff each object's sub-history
 * is, and the sub-histories are small.
 *
 * Indeterminate operations (no return) get a return at `Infinity`: they may be linearized at
 * any point after their call, and one that never took effect is the same as one linearized
 * after everything else, so "maybe never happened" needs no separate branch. The model must
 * accept them with any output.
 *
 * Searching is exponential in the worst case; a step and time budget turns that into
 * `{ ok: 'unknown' }` instead of a hang.
 */
import { assertWellFormed, returnTime, type Operation } from './linearizability-history.ts';

export type { Operation } from './linearizability-history.ts';

/**
 * A sequential specification. It must be deterministic given its arguments; nondeterminism of
 * the object (several states consistent with one observed output) is expressed by returning
 * several states.
 */
export interface Model<S, I, O> {
  /** The state before any operation. */
  init(): S;
  /**
   * The states the object can be in after `input` took effect in `state` and answered
   * `output`; empty when that answer is impossible from `state`. For an indeterminate
   * operation `output` is unknown (absent): return every state it could leave if it took
   * effect. Must not mutate `state`; returned arrays and states are kept, not copied.
   */
  step(state: S, input: I, output: O | undefined, indeterminate: boolean): readonly S[];
  /** A string equal for two states iff they are equal (the search memoizes on it). */
  stateKey(state: S): string;
  /**
   * The independent object an operation touches (e.g. its key). Operations with different
   * keys must commute and never observe each other. Absent: the history is one object.
   */
  partitionKey?(input: I): string;
  /** One line, e.g. `get("x") -> "a"`; `indeterminate` operations should show `?`. */
  describeOperation(input: I, output: O | undefined, indeterminate: boolean): string;
  describeState(state: S): string;
}

/** Search limits. The step count is deterministic; prefer it in seeded simulations. */
export interface CheckOptions {
  /** Search steps (candidate placements plus backtracks) over all partitions. Default 1,000,000. */
  readonly maxSteps?: number;
  /** Wall-clock limit for the whole check, in ms. Default: none. */
  readonly timeoutMs?: number;
  /** Clock for `timeoutMs` (ms). Default `performance.now`. */
  readonly now?: () => number;
}

/** Default `maxSteps`: about a second of search, and a bounded memo table. */
export const DEFAULT_MAX_STEPS = 1_000_000;

/** One operation of the longest linearizable prefix, with the model state right after it. */
export interface LinearizedStep<I, O> {
  readonly op: Operation<I, O>;
  readonly state: string;
}

/**
 * Why a partition is not linearizable: the longest prefix the search could linearize (one of
 * them if several are as long), and the operations that could have come next and all failed.
 */
export interface Violation<I, O> {
  readonly ok: false;
  /** The partition (`model.partitionKey`; `''` for an unpartitioned model). */
  readonly key: string;
  /** Every operation of that partition, sorted by call time. */
  readonly operations: readonly Operation<I, O>[];
  /** The longest linearizable prefix found, in linearization order. */
  readonly linearized: readonly LinearizedStep<I, O>[];
  /** `describeState` after that prefix (the initial state when it is empty). */
  readonly stateAfter: string;
  /**
   * The operations not in the prefix that real time allows next (called no later than every
   * unplaced operation's return): none of them can be placed there.
   */
  readonly blocked: readonly Operation<I, O>[];
  /** Every operation not in the prefix, by call time. */
  readonly unplaced: readonly Operation<I, O>[];
  readonly steps: number;
}

/**
 * `ok: true`: every partition is linearizable. `ok: false`: the first partition (by key
 * order) proven not to be. `ok: 'unknown'`: the budget ran out in partition `key` before any
 * violation was found (partitions after it were not checked).
 */
export type CheckResult<I, O> =
  | { readonly ok: true; readonly partitions: number; readonly steps: number }
  | Violation<I, O>
  | { readonly ok: 'unknown'; readonly key: string; readonly reason: 'steps' | 'time'; readonly steps: number };

/** The linked-list node of a call or return event (Lowe's "entry"). */
interface Entry {
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

interface Frame<S> {
  readonly entry: Entry;
  readonly prev: S;
  readonly alts: readonly S[];
  readonly alt: number;
}

interface Budget {
  steps: number;
  readonly maxSteps: number;
  readonly deadline: number;
  readonly now: () => number;
}

type PartitionOutcome<S> =
  | { kind: 'ok' }
  | { kind: 'unknown'; reason: 'steps' | 'time' }
  | { kind: 'fail'; prefix: number[]; states: S[] };

/** A per-operation 32-bit hash; the set's hash is the XOR over its members (Zobrist). */
function opHash(i: number): number {
  let h = Math.imul(i + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const FULL = 0xffffffff;

/**
 * The set of linearized operations: a bitset with an incremental hash, and the window of
 * words that are neither all ones (below it) nor all zeros (above it). With operations sorted
 * by call time the linearized set is a prefix plus a few operations near its edge, so the
 * memo stores only the window: a few words per entry instead of n/32.
 */
class LinearizedSet {
  readonly bits: Uint32Array;
  hash = 0;
  /** Words below `low` are all ones. */
  private low = 0;
  /** Words from `end` on are all zeros; `end >= low`. */
  private end = 0;
  private readonly hashes: number[];

  constructor(n: number) {
    this.bits = new Uint32Array((n + 31) >>> 5);
    this.hashes = Array.from({ length: n }, (_, i) => opHash(i));
  }

  add(i: number): void {
    const w = i >>> 5;
    this.bits[w]! |= 1 << (i & 31);
    this.hash ^= this.hashes[i]!;
    if (w >= this.end) this.end = w + 1;
    while (this.low < this.bits.length && this.bits[this.low] === FULL) this.low++;
    if (this.end < this.low) this.end = this.low;
  }

  delete(i: number): void {
    const w = i >>> 5;
    this.bits[w]! &= ~(1 << (i & 31));
    this.hash ^= this.hashes[i]!;
    if (w < this.low) this.low = w;
    while (this.end > this.low && this.bits[this.end - 1] === 0) this.end--;
  }

  /** `[low, ...window words]`: equal snapshots iff equal sets (for one partition). */
  snapshot(): Uint32Array {
    const out = new Uint32Array(1 + this.end - this.low);
    out[0] = this.low;
    out.set(this.bits.subarray(this.low, this.end), 1);
    return out;
  }

  is(snapshot: Uint32Array): boolean {
    if (snapshot[0] !== this.low || snapshot.length !== 1 + this.end - this.low) return false;
    for (let k = 1; k < snapshot.length; k++) if (snapshot[k] !== this.bits[this.low + k - 1]) return false;
    return true;
  }
}

function buildList(ops: readonly Operation<unknown, unknown>[]): Entry {
  const entries: Entry[] = [];
  for (let i = 0; i < ops.length; i++) {
    const call: Entry = { op: i, isCall: true, time: ops[i]!.call, match: null, prev: null, next: null };
    const ret: Entry = { op: i, isCall: false, time: returnTime(ops[i]!), match: null, prev: null, next: null };
    call.match = ret;
    entries.push(call, ret);
  }
  // At equal times calls go first: equal times mean "overlapped", never "returned before".
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Entry = { op: -1, isCall: false, time: -Infinity, match: null, prev: null, next: null };
  let prev = head;
  for (const e of entries) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  return head;
}

/** Removes a call and its return from the list (the return is always after the call). */
function lift(e: Entry): void {
  e.prev!.next = e.next;
  e.next!.prev = e.prev;
  const m = e.match!;
  m.prev!.next = m.next;
  if (m.next !== null) m.next.prev = m.prev;
}

/** Undoes `lift(e)`: the exact reverse order, so the pointers `lift` left behind are right. */
function unlift(e: Entry): void {
  const m = e.match!;
  m.prev!.next = m;
  if (m.next !== null) m.next.prev = m;
  e.prev!.next = e;
  e.next!.prev = e;
}

/** Searches one partition; `ops` must be sorted by call time (see `LinearizedSet`). */
function searchPartition<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], budget: Budget): PartitionOutcome<S> {
  const indeterminate = ops.map((op) => returnTime(op) === Infinity);
  const linearized = new LinearizedSet(ops.length);
  const memo = new Map<string, Uint32Array[]>();
  const head = buildList(ops);
  let state = model.init();
  const stack: Frame<S>[] = [];
  let bestPrefix: number[] = [];
  let bestStates: S[] = [];

  /** Whether (linearized set, state with this key) was reached before; remembers it if not. */
  const seen = (stateKey: string): boolean => {
    const key = `${linearized.hash} ${stateKey}`;
    const bucket = memo.get(key);
    if (bucket === undefined) {
      memo.set(key, [linearized.snapshot()]);
      return false;
    }
    for (const b of bucket) if (linearized.is(b)) return true;
    bucket.push(linearized.snapshot());
    return false;
  };

  /** Linearizes `entry`'s operation into the first alternative from `from` not seen before. */
  const place = (entry: Entry, alts: readonly S[], from: number): boolean => {
    linearized.add(entry.op);
    for (let k = from; k < alts.length; k++) {
      const next = alts[k]!;
      if (seen(model.stateKey(next))) continue;
      stack.push({ entry, prev: state, alts, alt: k });
      state = next;
      lift(entry);
      return true;
    }
    linearized.delete(entry.op);
    return false;
  };

  let entry = head.next;
  while (entry !== null) {
    budget.steps++;
    if (budget.steps > budget.maxSteps) return { kind: 'unknown', reason: 'steps' };
    if ((budget.steps & 1023) === 0 && budget.now() > budget.deadline) return { kind: 'unknown', reason: 'time' };
    if (entry.isCall) {
      const op = ops[entry.op]!;
      const alts = model.step(state, op.input, op.output, indeterminate[entry.op]!);
      entry = place(entry, alts, 0) ? head.next : entry.next;
      continue;
    }
    // A return whose operation is still pending: nothing earlier fits here, so undo the
    // latest placement and try its next alternative, or the next candidate after it.
    if (stack.length > bestPrefix.length) {
      // Depth only grows between backtracks, so saving here captures the deepest prefix.
      bestPrefix = stack.map((f) => f.entry.op);
      bestStates = stack.map((f, k) => (k + 1 < stack.length ? stack[k + 1]!.prev : state));
    }
    const frame = stack.pop();
    if (frame === undefined) return { kind: 'fail', prefix: bestPrefix, states: bestStates };
    unlift(frame.entry);
    linearized.delete(frame.entry.op);
    state = frame.prev;
    entry = place(frame.entry, frame.alts, frame.alt + 1) ? head.next : frame.entry.next;
  }
  return { kind: 'ok' };
}

function byCall<I, O>(a: Operation<I, O>, b: Operation<I, O>): number {
  return a.call - b.call || returnTime(a) - returnTime(b);
}

function violation<S, I, O>(model: Model<S, I, O>, key: string, ops: Operation<I, O>[], prefix: number[], states: S[], steps: number): Violation<I, O> {
  const placed = new Set(prefix);
  const unplaced = ops.filter((_, i) => !placed.has(i));
  let minReturn = Infinity;
  for (const op of unplaced) minReturn = Math.min(minReturn, returnTime(op));
  return {
    ok: false,
    key,
    operations: ops,
    linearized: prefix.map((i, k) => ({ op: ops[i]!, state: model.describeState(states[k]!) })),
    stateAfter: model.describeState(states.length > 0 ? states[states.length - 1]! : model.init()),
    blocked: unplaced.filter((op) => op.call <= minReturn),
    unplaced,
    steps,
  };
}

/**
 * Checks `history` against `model`. Partitions are searched in ascending key order and the
 * first violation is returned. Throws `HERALD_ERR_LINEARIZABILITY_HISTORY_INVALID` on
 * unusable times. The history is not modified.
 */
export function checkOperations<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[], options: CheckOptions = {}): CheckResult<I, O> {
  assertWellFormed(history);
  const now = options.now ?? (() => performance.now());
  const budget: Budget = {
    steps: 0,
    maxSteps: options.maxSteps ?? DEFAULT_MAX_STEPS,
    deadline: options.timeoutMs === undefined ? Infinity : now() + options.timeoutMs,
    now,
  };
  const partitions = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    const key = model.partitionKey === undefined ? '' : model.partitionKey(op.input);
    let part = partitions.get(key);
    if (part === undefined) partitions.set(key, (part = []));
    part.push(op);
  }
  const keys = [...partitions.keys()].sort();
  for (const key of keys) {
    const ops = partitions.get(key)!.sort(byCall);
    const outcome = searchPartition(model, ops, budget);
    if (outcome.kind === 'unknown') return { ok: 'unknown', key, reason: outcome.reason, steps: budget.steps };
    if (outcome.kind === 'fail') return violation(model, key, ops, outcome.prefix, outcome.states, budget.steps);
  }
  return { ok: true, partitions: keys.length, steps: budget.steps };
}
