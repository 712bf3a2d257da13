/**
 * Randomized checks of the checker against histories whose verdict is known by construction,
 * and against an independent brute-force checker (every order consistent with real time,
 * every choice of which indeterminate operations took effect, every version an unseen write
 * could have received) on small histories. Seeds are fixed; a failure prints the seed and
 * the history.
 */
import { describe, expect, it } from 'vitest';
import type { CheckResult } from './linearizability.ts';
import { formatCheckResult, formatOperations } from './linearizability-format.ts';
import { isIndeterminate, returnTime } from './linearizability-history.ts';
import {
  checkKvHistory,
  checkVersionedKvHistory,
  kvModel,
  versionedKvModel,
  type KvInput,
  type KvOperation,
  type VersionedKvInput,
  type VersionedKvOperation,
  type VersionedValue,
} from './linearizability-kv.ts';
import { seededRandom as rngFrom } from '../../seeded-random.ts';

type Flavour = 'value' | 'versioned';
type AnyOp = KvOperation | VersionedKvOperation;

const int = (rng: () => number, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: () => number, xs: readonly T[]): T => xs[int(rng, xs.length)]!;

const VALUES = ['a', 'b', 'c'] as const;

interface GenOptions {
  readonly n: number;
  readonly keys: readonly string[];
  /** Half-width of an operation's interval around its linearization point (points are 10 apart). */
  readonly spread: number;
  /** Probability that an operation is recorded without a return. */
  readonly pIndeterminate: number;
}

/**
 * A random sequential execution, stretched: operation i takes effect at time 10(i+1) and its
 * [call, return] is widened around that point, so the history is linearizable by construction.
 * Half of the indeterminate operations never take effect.
 */
function generate(rng: () => number, flavour: Flavour, o: GenOptions): AnyOp[] {
  const cur = new Map<string, { value: string; version: number }>();
  let index = 0;
  const bump = () => (index += 1 + int(rng, 3));
  const ops: AnyOp[] = [];
  for (let i = 0; i < o.n; i++) {
    const t = 10 * (i + 1);
    const key = pick(rng, o.keys);
    const c = cur.get(key);
    const indeterminate = rng() < o.pIndeterminate;
    const effect = !indeterminate || rng() < 0.5;
    const r = rng();
    let input: KvInput | VersionedKvInput;
    let output: unknown;
    if (r < 0.4) {
      input = { op: 'get', key };
      output = flavour === 'value' ? (c?.value ?? null) : c === undefined ? null : { value: c.value, version: c.version };
    } else if (r < 0.7) {
      const value = pick(rng, VALUES);
      input = { op: 'put', key, value };
      if (effect) cur.set(key, { value, version: bump() });
      output = flavour === 'versioned' && rng() < 0.5 ? index : undefined;
    } else if (r < 0.9) {
      const value = pick(rng, VALUES);
      let ok: boolean;
      if (flavour === 'value') {
        const expected = rng() < 0.6 ? (c?.value ?? null) : pick(rng, [...VALUES, null]);
        ok = (c?.value ?? null) === expected;
        input = { op: 'cas', key, expected, value };
      } else {
        const expected = rng() < 0.6 ? (c?.version ?? 0) : pick(rng, [0, Math.max(0, index - int(rng, 4))]);
        ok = expected === 0 ? c === undefined : c?.version === expected;
        input = { op: 'cas', key, expected, value };
      }
      if (ok && effect) cur.set(key, { value, version: bump() });
      output = ok;
    } else {
      input = { op: 'delete', key };
      if (effect) {
        cur.delete(key);
        bump();
      }
    }
    const call = t - int(rng, o.spread + 1);
    const ret = t + int(rng, o.spread + 1);
    const op: { clientId: number; call: number; return?: number; input: typeof input; output?: unknown } = { clientId: int(rng, 5), call, input };
    if (!indeterminate) {
      op.return = ret;
      if (output !== undefined) op.output = output;
    }
    ops.push(op as AnyOp);
  }
  return ops;
}

/** Every version a history mentions (put outputs, read versions, cas expectations). */
function mentionedVersions(ops: readonly AnyOp[]): number[] {
  const vs = new Set<number>();
  for (const op of ops as VersionedKvOperation[]) {
    if (op.input.op === 'cas' && op.input.expected !== 0) vs.add(op.input.expected);
    if (op.input.op === 'put' && typeof op.output === 'number') vs.add(op.output);
    if (op.input.op === 'get' && op.output !== null && typeof op.output === 'object') vs.add(op.output.version);
  }
  return [...vs].sort((a, b) => a - b);
}

/** One random change that may or may not break linearizability. */
function mutate(rng: () => number, flavour: Flavour, ops: readonly AnyOp[]): AnyOp[] {
  const out = ops.slice();
  const i = int(rng, out.length);
  const op = out[i]!;
  const versions = [1, ...mentionedVersions(ops)];
  if (rng() < 0.65 && !isIndeterminate(op) && op.input.op !== 'delete' && (op.input.op !== 'put' || flavour === 'versioned')) {
    let output: unknown;
    if (op.input.op === 'get') {
      if (flavour === 'value') output = pick(rng, [...VALUES, null]);
      else output = rng() < 0.2 ? null : { value: pick(rng, VALUES), version: pick(rng, versions) + pick(rng, [0, 0, 1]) };
    } else if (op.input.op === 'cas') {
      output = !op.output;
    } else {
      output = rng() < 0.3 ? undefined : Math.max(1, pick(rng, versions) + pick(rng, [-1, 0, 1]));
    }
    const changed: { output?: unknown } = { ...op };
    if (output === undefined) delete changed.output;
    else changed.output = output;
    out[i] = changed as AnyOp;
  } else {
    // Move the interval: may create real-time orders the execution did not have.
    const span = returnTime(op) - op.call;
    const call = int(rng, 10 * (ops.length + 2));
    const ret = call + (Number.isFinite(span) ? int(rng, 25) : 0);
    out[i] = (isIndeterminate(op) ? { ...op, call } : { ...op, call, return: ret }) as AnyOp;
  }
  return out;
}

interface Cell {
  readonly value: string | null;
  readonly version: number;
  /** The largest version the key ever had: new versions must exceed it. */
  readonly max: number;
}
type World = Readonly<Record<string, Cell>>;
const EMPTY: Cell = { value: null, version: 0, max: 0 };

/**
 * The brute-force oracle, written from the definitions and not from the checker's model:
 * some subset of the indeterminate operations took effect, and some total order of those plus
 * all completed operations respects real time and reproduces every completed output on a
 * concrete KV. An unseen new version is any mentioned version above the key's max, or a fresh
 * one just above the max (fractional, so it equals no mentioned version).
 */
function bruteForce(flavour: Flavour, history: readonly AnyOp[]): boolean {
  const mentioned = mentionedVersions(history);
  const newVersions = (max: number) => [...mentioned.filter((v) => v > max), max + 1 / 1024];
  const apply = (w: World, op: AnyOp): World[] => {
    const key = op.input.key;
    const c = w[key] ?? EMPTY;
    const known = !isIndeterminate(op);
    const write = (value: string, versions: number[]) => versions.map((v) => ({ ...w, [key]: { value, version: v, max: v } }));
    switch (op.input.op) {
      case 'get': {
        if (!known) return [w];
        if (flavour === 'value') return op.output === c.value ? [w] : [];
        const seen = op.output as VersionedValue | null;
        if (seen === null) return c.value === null ? [w] : [];
        return c.value === seen.value && c.version === seen.version ? [w] : [];
      }
      case 'put': {
        if (flavour === 'versioned' && known && typeof op.output === 'number') return op.output > c.max ? write(op.input.value, [op.output]) : [];
        return write(op.input.value, newVersions(c.max));
      }
      case 'delete':
        return [{ ...w, [key]: { value: null, version: 0, max: c.max } }];
      case 'cas': {
        const e = op.input.expected;
        const swaps = flavour === 'value' ? c.value === e : e === 0 ? c.value === null : c.value !== null && c.version === e;
        if (known && op.output !== swaps) return [];
        return swaps ? write(op.input.value, newVersions(c.max)) : [w];
      }
    }
  };
  const orders = (remaining: readonly AnyOp[], w: World): boolean => {
    if (remaining.length === 0) return true;
    let minReturn = Infinity;
    for (const op of remaining) minReturn = Math.min(minReturn, returnTime(op));
    for (let i = 0; i < remaining.length; i++) {
      const op = remaining[i]!;
      if (op.call > minReturn) continue; // some remaining op returned before this one was called
      const rest = remaining.filter((_, j) => j !== i);
      for (const next of apply(w, op)) if (orders(rest, next)) return true;
    }
    return false;
  };
  const done = history.filter((op) => !isIndeterminate(op));
  const open = history.filter(isIndeterminate);
  for (let mask = 0; mask < 1 << open.length; mask++) {
    if (orders([...done, ...open.filter((_, j) => mask & (1 << j))], {})) return true;
  }
  return false;
}

function check(flavour: Flavour, ops: readonly AnyOp[], maxSteps?: number): CheckResult<unknown, unknown> {
  const options = maxSteps === undefined ? {} : { maxSteps };
  return flavour === 'value' ? checkKvHistory(ops as KvOperation[], options) : checkVersionedKvHistory(ops as VersionedKvOperation[], options);
}

function explain(flavour: Flavour, seed: number, ops: readonly AnyOp[], result: CheckResult<unknown, unknown>): string {
  const model = (flavour === 'value' ? kvModel : versionedKvModel) as unknown as Parameters<typeof formatOperations>[0];
  return `seed ${seed} (${flavour})\n${formatCheckResult(model, result as never)}\n--- history\n${formatOperations(model, ops as never)}`;
}

describe.each(['value', 'versioned'] as const)('randomized, %s model', (flavour) => {
  it('accepts stretched sequential executions (linearizable by construction)', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const rng = rngFrom(seed);
      const ops = generate(rng, flavour, { n: 20 + int(rng, 180), keys: ['k0', 'k1', 'k2', 'k3'].slice(0, 1 + int(rng, 4)), spread: int(rng, 40), pIndeterminate: rng() * 0.15 });
      const r = check(flavour, ops);
      if (r.ok !== true) expect.fail(explain(flavour, seed, ops, r));
    }
  });

  it('rejects the same executions once one read sees a value never written', () => {
    let rejected = 0;
    for (let seed = 1001; seed <= 1100; seed++) {
      const rng = rngFrom(seed);
      const ops = generate(rng, flavour, { n: 20 + int(rng, 180), keys: ['k0', 'k1', 'k2'].slice(0, 1 + int(rng, 3)), spread: int(rng, 40), pIndeterminate: rng() * 0.15 });
      const reads = ops.map((op, i) => (op.input.op === 'get' && !isIndeterminate(op) ? i : -1)).filter((i) => i >= 0);
      if (reads.length === 0) continue;
      const i = pick(rng, reads);
      const bogus = flavour === 'value' ? 'never-written' : { value: 'never-written', version: 1 };
      const mutated = ops.map((op, j) => (j === i ? ({ ...op, output: bogus } as AnyOp) : op));
      const r = check(flavour, mutated);
      if (r.ok !== false) expect.fail(explain(flavour, seed, mutated, r));
      expect(r.key).toBe(ops[i]!.input.key);
      expect(r.unplaced).toContain(mutated[i]);
      rejected++;
    }
    expect(rejected).toBeGreaterThan(90);
  });

  it('rejects a small execution once one read sees a value the brute force proves impossible', () => {
    let rejected = 0;
    for (let seed = 2001; seed <= 2150; seed++) {
      const rng = rngFrom(seed);
      const ops = generate(rng, flavour, { n: 3 + int(rng, 5), keys: ['k0', 'k1'].slice(0, 1 + int(rng, 2)), spread: int(rng, 25), pIndeterminate: 0.15 });
      expect(bruteForce(flavour, ops), `seed ${seed}: the generator made a non-linearizable history`).toBe(true);
      const reads = ops.map((op, i) => (op.input.op === 'get' && !isIndeterminate(op) ? i : -1)).filter((i) => i >= 0);
      if (reads.length === 0) continue;
      const i = pick(rng, reads);
      const read = ops[i]!;
      const versions = [1, ...mentionedVersions(ops)];
      const candidates: unknown[] =
        flavour === 'value' ? [...VALUES, null] : [null, ...VALUES.flatMap((value) => versions.map((version) => ({ value, version })))];
      for (const output of candidates) {
        if (JSON.stringify(output) === JSON.stringify(read.output)) continue;
        const mutated = ops.map((op, j) => (j === i ? ({ ...op, output } as AnyOp) : op));
        if (bruteForce(flavour, mutated)) continue; // some linearization allows this value
        const r = check(flavour, mutated);
        if (r.ok !== false) expect.fail(explain(flavour, seed, mutated, r));
        rejected++;
        break;
      }
    }
    expect(rejected).toBeGreaterThan(40);
  });

  it('agrees with the brute-force checker on hundreds of small random histories', () => {
    let yes = 0;
    let no = 0;
    for (let seed = 3001; seed <= 3800; seed++) {
      const rng = rngFrom(seed);
      let ops = generate(rng, flavour, { n: 2 + int(rng, 6), keys: ['k0', 'k1'].slice(0, 1 + int(rng, 2)), spread: int(rng, 30), pIndeterminate: 0.2 });
      for (let m = rng() < 0.25 ? 0 : 1 + int(rng, 3); m > 0; m--) ops = mutate(rng, flavour, ops);
      const expected = bruteForce(flavour, ops);
      const r = check(flavour, ops);
      if (r.ok !== expected) expect.fail(`brute force says ${expected}\n${explain(flavour, seed, ops, r)}`);
      if (expected) yes++;
      else no++;
    }
    // Both verdicts must be well represented, or the agreement proves little.
    expect(yes).toBeGreaterThan(200);
    expect(no).toBeGreaterThan(200);
  });
});

it('checks a 5,000-op, 5-client, 10-key history well inside the default budget', () => {
  const rng = rngFrom(42);
  const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
  const ops = generate(rng, 'value', { n: 5_000, keys, spread: 25, pIndeterminate: 0.02 });
  const r = checkKvHistory(ops as KvOperation[]);
  expect(r).toMatchObject({ ok: true, partitions: 10 });
  expect(r.steps).toBeLessThan(200_000);
});
