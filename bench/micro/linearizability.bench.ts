/**
 * Micro-benchmark of the KV linearizability checker (src/raft/sim/linearizability*.ts) on the
 * size the cluster simulator produces: 5,000 operations from 5 clients over 10 keys.
 * Run: `npx tsx bench/micro/linearizability.bench.ts`. Prints ms per check (median of 7
 * runs, min-max) and the search steps, with the machine and Node version.
 *
 * Histories: each client issues one operation at a time (1-20 time units long, 0-2 units
 * apart); each operation takes effect at a random instant inside its interval, and outputs
 * come from applying the operations in that order, so the history is linearizable.
 */
import os from 'node:os';
import { checkKvHistory, checkVersionedKvHistory, type KvInput, type KvOperation, type VersionedKvOperation } from '../../src/raft/sim/linearizability-kv.ts';
import type { CheckResult } from '../../src/raft/sim/linearizability.ts';
import { seededRandom as rngFrom } from '../../src/seeded-random.ts';

interface Planned {
  clientId: number;
  call: number;
  return: number;
  point: number;
  input: KvInput;
  indeterminate: boolean;
  effect: boolean;
}

/** Returns the value-model and versioned-model recordings of one execution. */
function execution(seed: number, n: number, clients: number, keys: number, pIndeterminate: number): { value: KvOperation[]; versioned: VersionedKvOperation[] } {
  const rng = rngFrom(seed);
  const free = new Array<number>(clients).fill(0);
  const planned: Planned[] = [];
  for (let i = 0; i < n; i++) {
    let c = 0;
    for (let j = 1; j < clients; j++) if (free[j]! < free[c]!) c = j;
    const call = free[c]! + Math.floor(rng() * 3);
    const ret = call + 1 + Math.floor(rng() * 20);
    free[c] = ret;
    const key = `k${Math.floor(rng() * keys)}`;
    const r = rng();
    const value = `v${Math.floor(rng() * 5)}`;
    const input: KvInput =
      r < 0.5 ? { op: 'get', key } : r < 0.8 ? { op: 'put', key, value } : r < 0.95 ? { op: 'cas', key, expected: null, value } : { op: 'delete', key };
    const indeterminate = rng() < pIndeterminate;
    planned.push({ clientId: c, call, return: ret, point: call + rng() * (ret - call), input, indeterminate, effect: !indeterminate || rng() < 0.5 });
  }
  // Apply in linearization order; cas expects whatever was there at a random earlier moment.
  const order = [...planned].sort((a, b) => a.point - b.point);
  const cur = new Map<string, { value: string; version: number }>();
  let index = 0;
  const outputs = new Map<Planned, { value: KvOperation['output']; versioned: VersionedKvOperation['output']; expected: number }>();
  for (const p of order) {
    const c = cur.get(p.input.key);
    if (p.input.op === 'get') {
      outputs.set(p, { value: c?.value ?? null, versioned: c === undefined ? null : { ...c }, expected: 0 });
    } else if (p.input.op === 'put') {
      if (p.effect) cur.set(p.input.key, { value: p.input.value, version: ++index });
      outputs.set(p, { value: undefined, versioned: index, expected: 0 });
    } else if (p.input.op === 'cas') {
      // Expect the current value half the time, so about half the cas succeed.
      const expected = rng() < 0.5 ? (c?.value ?? null) : `v${Math.floor(rng() * 5)}`;
      const ok = (c?.value ?? null) === expected;
      if (ok && p.effect) cur.set(p.input.key, { value: p.input.value, version: ++index });
      (p as { input: KvInput }).input = { ...p.input, expected };
      outputs.set(p, { value: ok, versioned: ok, expected: c?.version ?? 0 });
    } else {
      if (p.effect) cur.delete(p.input.key);
      outputs.set(p, { value: undefined, versioned: undefined, expected: 0 });
    }
  }
  const value: KvOperation[] = [];
  const versioned: VersionedKvOperation[] = [];
  for (const p of planned) {
    const o = outputs.get(p)!;
    const base = p.indeterminate ? { clientId: p.clientId, call: p.call } : { clientId: p.clientId, call: p.call, return: p.return };
    value.push(p.indeterminate || o.value === undefined ? { ...base, input: p.input } : { ...base, input: p.input, output: o.value });
    // The versioned recording: cas against the version (when the value matched), put answers its index.
    const vin = p.input.op === 'cas' ? { op: 'cas' as const, key: p.input.key, expected: o.versioned === true ? o.expected : o.expected + 1_000_000, value: p.input.value } : p.input;
    versioned.push(p.indeterminate || o.versioned === undefined ? { ...base, input: vin } : { ...base, input: vin, output: o.versioned });
  }
  return { value, versioned };
}

function bench(name: string, check: () => CheckResult<unknown, unknown>): void {
  let result = check(); // warm-up (JIT)
  for (let w = 0; w < 2; w++) result = check();
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    result = check();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const verdict = result.ok === true ? 'ok' : result.ok === false ? `violation in ${result.key}` : `unknown (${result.reason})`;
  console.log(`${name.padEnd(52)} ${times[3]!.toFixed(2).padStart(8)} ms  (${times[0]!.toFixed(2)}-${times[6]!.toFixed(2)})  ${result.steps} steps, ${verdict}`);
}

console.log(`node ${process.version} on ${os.cpus()[0]?.model ?? 'unknown cpu'} (${os.cpus().length} vCPU), ${os.platform()} ${os.release()}`);

const clean = execution(1, 5_000, 5, 10, 0);
const flaky = execution(2, 5_000, 5, 10, 0.05);
bench('5,000 ops, 5 clients, 10 keys, value model', () => checkKvHistory(clean.value));
bench('  same, versioned model', () => checkVersionedKvHistory(clean.versioned));
bench('5,000 ops, 5% indeterminate, value model', () => checkKvHistory(flaky.value));
bench('  same, versioned model', () => checkVersionedKvHistory(flaky.versioned));

// One read near the end sees a value nobody wrote: the failing key is searched exhaustively.
const broken = clean.value.slice();
const last = broken.map((op, i) => (op.input.op === 'get' ? i : -1)).filter((i) => i >= 0);
const victim = last[Math.floor(last.length * 0.9)]!;
broken[victim] = { ...broken[victim]!, output: 'never-written' };
bench(`5,000 ops, one bad read at 90% (key ${broken[victim]!.input.key}), value model`, () => checkKvHistory(broken));

// No partitioning to help: every operation on one key, 5 clients overlapping on it.
const hot = execution(3, 5_000, 5, 1, 0);
bench('5,000 ops, 5 clients, 1 key, value model', () => checkKvHistory(hot.value));
const hotBroken = hot.value.slice();
const hotReads = hotBroken.map((op, i) => (op.input.op === 'get' ? i : -1)).filter((i) => i >= 0);
const hotVictim = hotReads[Math.floor(hotReads.length * 0.9)]!;
hotBroken[hotVictim] = { ...hotBroken[hotVictim]!, output: 'never-written' };
bench('5,000 ops, 1 key, one bad read at 90%, value model', () => checkKvHistory(hotBroken));
