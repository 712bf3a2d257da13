/**
 * One line per operation, for failure messages (a simulator prints its seed, then this).
 * Lines are sorted by call time and aligned in columns:
 *
 *     2.  client 1  [   20,    30]  put("x", "b")      => "b"
 *     X   client 2  [   40,    50]  get("x") -> "a"    <- cannot be placed
 */
import type { CheckResult, Model } from './linearizability.ts';
import { isIndeterminate, returnTime, type Operation } from './linearizability-history.ts';

/** The time column's text: a number as given, `?` for an indeterminate return. */
function time(t: number | undefined): string {
  return t === undefined || t === Infinity ? '?' : String(t);
}

/**
 * Formats `ops` one per line, sorted by call time (stable). `mark` gives each line a short
 * prefix and an optional suffix; without it lines have neither.
 */
export function formatOperations<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  mark?: (op: Operation<I, O>) => { prefix: string; suffix?: string },
): string {
  const sorted = [...ops].sort((a, b) => a.call - b.call || returnTime(a) - returnTime(b));
  const rows = sorted.map((op) => {
    const m = mark?.(op);
    return {
      prefix: m?.prefix ?? '',
      client: String(op.clientId),
      call: time(op.call),
      ret: time(op.return),
      text: model.describeOperation(op.input, op.output, isIndeterminate(op)),
      suffix: m?.suffix ?? '',
    };
  });
  const w = (f: (r: (typeof rows)[number]) => string) => rows.reduce((max, r) => Math.max(max, f(r).length), 0);
  const wp = w((r) => r.prefix);
  const wc = w((r) => r.client);
  const wt = Math.max(w((r) => r.call), w((r) => r.ret));
  const wx = w((r) => r.text);
  return rows
    .map((r) => {
      const head = wp > 0 ? `${r.prefix.padEnd(wp)}  ` : '';
      const line = `${head}client ${r.client.padEnd(wc)}  [${r.call.padStart(wt)}, ${r.ret.padStart(wt)}]  ${r.suffix ? r.text.padEnd(wx) : r.text}`;
      return r.suffix ? `${line}  ${r.suffix}` : line;
    })
    .join('\n');
}

/**
 * A check result as text. For a violation: a header naming the key and the longest
 * linearizable prefix, then the key's operations, where `N.` is the position in that prefix
 * (with the state after it), `X` an operation that could come next but fits nowhere, and `-`
 * any other unplaced operation.
 */
export function formatCheckResult<S, I, O>(model: Model<S, I, O>, result: CheckResult<I, O>): string {
  if (result.ok === true) return `linearizable (${result.partitions} partitions, ${result.steps} steps)`;
  if (result.ok === 'unknown') return `unknown: search budget (${result.reason}) ran out in partition ${JSON.stringify(result.key)} after ${result.steps} steps`;
  const position = new Map<Operation<I, O>, number>();
  result.linearized.forEach((l, k) => position.set(l.op, k));
  const blocked = new Set(result.blocked);
  const header =
    `not linearizable: partition ${JSON.stringify(result.key)} (${result.operations.length} ops); ` +
    `longest linearizable prefix: ${result.linearized.length} ops, leaving state ${result.stateAfter}; ` +
    `${result.blocked.length} op(s) could come next and none fits`;
  const body = formatOperations(model, result.operations, (op) => {
    const k = position.get(op);
    if (k !== undefined) return { prefix: `${k + 1}.`, suffix: `=> ${result.linearized[k]!.state}` };
    if (blocked.has(op)) return { prefix: 'X', suffix: '<- cannot be placed' };
    return { prefix: '-' };
  });
  return `${header}\n${body}`;
}
