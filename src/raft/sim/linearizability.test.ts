/**
 * Hand-written histories whose verdict is known, for both KV models, the event form, the
 * budget, and the failure printout. Randomized and brute-force cross-checks live in
 * linearizability-random.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ERR } from '../../errors.ts';
import { checkOperations, type Model } from './linearizability.ts';
import { formatCheckResult, formatOperations } from './linearizability-format.ts';
import { operationsFromEvents, type HistoryEvent } from './linearizability-history.ts';
import {
  checkKvHistory,
  checkVersionedKvHistory,
  kvModel,
  type KvInput,
  type KvOperation,
  type KvOutput,
  type VersionedKvOperation,
} from './linearizability-kv.ts';

type Span = [call: number, ret?: number];
const at = ([call, ret]: Span, client: number | string) => (ret === undefined ? { clientId: client, call } : { clientId: client, call, return: ret });

// Value model builders: `span` is [call, return]; a missing return means indeterminate.
const get = (key: string, out: string | null, span: Span, c: number | string = 0): KvOperation => ({ ...at(span, c), input: { op: 'get', key }, output: out });
const put = (key: string, value: string, span: Span, c: number | string = 0): KvOperation => ({ ...at(span, c), input: { op: 'put', key, value } });
const del = (key: string, span: Span, c: number | string = 0): KvOperation => ({ ...at(span, c), input: { op: 'delete', key } });
const cas = (key: string, expected: string | null, value: string, ok: boolean | undefined, span: Span, c: number | string = 0): KvOperation => ({
  ...at(span, c),
  input: { op: 'cas', key, expected, value },
  ...(ok === undefined ? {} : { output: ok }),
});

// Versioned model builders.
const vget = (key: string, out: [string, number] | null, span: Span, c = 0): VersionedKvOperation => ({
  ...at(span, c),
  input: { op: 'get', key },
  output: out === null ? null : { value: out[0], version: out[1] },
});
const vput = (key: string, value: string, version: number | undefined, span: Span, c = 0): VersionedKvOperation => ({
  ...at(span, c),
  input: { op: 'put', key, value },
  ...(version === undefined ? {} : { output: version }),
});
const vcas = (key: string, expected: number, value: string, ok: boolean | undefined, span: Span, c = 0): VersionedKvOperation => ({
  ...at(span, c),
  input: { op: 'cas', key, expected, value },
  ...(ok === undefined ? {} : { output: ok }),
});

describe('value-compare KV model', () => {
  it('accepts a sequential history and rejects the same history with one wrong read', () => {
    const h = [
      put('x', 'a', [0, 1]),
      get('x', 'a', [2, 3]),
      cas('x', 'a', 'b', true, [4, 5]),
      cas('x', 'a', 'c', false, [6, 7]),
      get('x', 'b', [8, 9]),
      del('x', [10, 11]),
      get('x', null, [12, 13]),
      cas('x', null, 'd', true, [14, 15]),
      get('x', 'd', [16, 17]),
    ];
    expect(checkKvHistory(h)).toMatchObject({ ok: true, partitions: 1 });
    const wrong = h.map((op, i) => (i === 6 ? get('x', 'b', [12, 13]) : op));
    expect(checkKvHistory(wrong)).toMatchObject({ ok: false, key: 'x' });
  });

  it('lets reads that overlap two concurrent writes see either order', () => {
    const writes = [put('x', 'a', [0, 10], 1), put('x', 'b', [0, 10], 2)];
    for (const v of ['a', 'b']) expect(checkKvHistory([...writes, get('x', v, [20, 30], 3)]).ok).toBe(true);
    // Reads during the writes may flip between values (b, then a), and the final state is the last.
    const flipping = [...writes, get('x', 'b', [2, 4], 3), get('x', 'a', [5, 7], 3), get('x', 'a', [20, 30], 4)];
    expect(checkKvHistory(flipping).ok).toBe(true);
    // ...but once both writes are done the value is fixed: two later reads cannot disagree.
    expect(checkKvHistory([...writes, get('x', 'a', [20, 30], 3), get('x', 'b', [40, 50], 4)]).ok).toBe(false);
    // Nor can reads go back and forth when only two writes happened: b, a, b needs a third write.
    expect(checkKvHistory([...writes, get('x', 'b', [1, 2], 3), get('x', 'a', [3, 4], 3), get('x', 'b', [5, 6], 3)]).ok).toBe(false);
  });

  it('treats equal call and return times as overlapping', () => {
    // The read is called at the instant the write returns: it may still come first.
    expect(checkKvHistory([put('x', 'a', [0, 10]), get('x', null, [10, 12])]).ok).toBe(true);
    expect(checkKvHistory([put('x', 'a', [0, 10]), get('x', null, [11, 12])]).ok).toBe(false);
  });

  it('rejects a stale read after a completed write and explains it', () => {
    const h = [put('x', 'a', [0, 10], 1), put('x', 'b', [20, 30], 1), get('x', 'a', [40, 50], 2)];
    const r = checkKvHistory(h);
    expect(r.ok).toBe(false);
    if (r.ok !== false) return;
    expect(r.key).toBe('x');
    expect(r.linearized.map((l) => l.op)).toEqual([h[0], h[1]]);
    expect(r.linearized.map((l) => l.state)).toEqual(['"a"', '"b"']);
    expect(r.stateAfter).toBe('"b"');
    expect(r.blocked).toEqual([h[2]]);
    expect(r.unplaced).toEqual([h[2]]);
    expect(formatCheckResult(kvModel, r)).toBe(
      [
        'not linearizable: partition "x" (3 ops); longest linearizable prefix: 2 ops, leaving state "b"; 1 op(s) could come next and none fits',
        '1.  client 1  [ 0, 10]  put("x", "a")    => "a"',
        '2.  client 1  [20, 30]  put("x", "b")    => "b"',
        'X   client 2  [40, 50]  get("x") -> "a"  <- cannot be placed',
      ].join('\n'),
    );
  });

  it('rejects a read of a value never written', () => {
    const r = checkKvHistory([put('x', 'a', [0, 10], 1), get('x', 'zzz', [5, 15], 2), put('x', 'b', [20, 30], 1)]);
    expect(r).toMatchObject({ ok: false, key: 'x' });
    if (r.ok !== false) return;
    expect(r.blocked.map((op) => op.output)).toContain('zzz');
  });

  it('rejects a lost update: two cas from the same value both succeed', () => {
    const base = [put('x', '0', [0, 1]), get('x', '0', [2, 3], 1), get('x', '0', [2, 3], 2)];
    const lost = [...base, cas('x', '0', '1', true, [4, 6], 1), cas('x', '0', '2', true, [5, 7], 2)];
    expect(checkKvHistory(lost).ok).toBe(false);
    const refused = [...base, cas('x', '0', '1', true, [4, 6], 1), cas('x', '0', '2', false, [5, 7], 2), get('x', '1', [8, 9])];
    expect(checkKvHistory(refused).ok).toBe(true);
  });

  it('accepts an indeterminate write that took effect late, or never', () => {
    const h = [put('x', 'a', [0, 10], 1), put('x', 'b', [20], 2), get('x', 'a', [30, 40], 3)];
    expect(checkKvHistory([...h, get('x', 'b', [50, 60], 3), get('x', 'b', [70, 80], 3)]).ok).toBe(true);
    expect(checkKvHistory([...h, get('x', 'a', [50, 60], 3)]).ok).toBe(true);
    // `return: Infinity` means the same as no return.
    expect(checkKvHistory([put('x', 'a', [0, 10], 1), { ...put('x', 'b', [20], 2), return: Infinity }, get('x', 'b', [90, 99])]).ok).toBe(true);
    // An indeterminate cas may have swapped, late.
    expect(checkKvHistory([put('x', 'a', [0, 1]), cas('x', 'a', 'b', undefined, [2]), get('x', 'a', [3, 4]), get('x', 'b', [5, 6])]).ok).toBe(true);
  });

  it('rejects an indeterminate write that would have to take effect before its call', () => {
    expect(checkKvHistory([get('x', 'b', [0, 10], 1), put('x', 'b', [20], 2)]).ok).toBe(false);
    // Once it took effect it stays: a later read cannot go back to the old value.
    expect(checkKvHistory([put('x', 'a', [0, 1]), put('x', 'b', [2]), get('x', 'b', [3, 4]), get('x', 'a', [5, 6])]).ok).toBe(false);
  });

  it('checks keys independently and names the failing key', () => {
    // As one register this would be wrong (x's read sees "1" after y's write of "2").
    const h = [put('x', '1', [0, 1]), put('y', '2', [2, 3]), get('x', '1', [4, 5]), get('y', '2', [6, 7])];
    expect(checkKvHistory(h)).toMatchObject({ ok: true, partitions: 2 });
    const oneRegister: Model<string | null, KvInput, KvOutput> = { ...kvModel, partitionKey: undefined };
    expect(checkOperations(oneRegister, h).ok).toBe(false);
    // A stale read on y alone: x stays linearizable, y is reported.
    const r = checkKvHistory([...h, put('y', '3', [8, 9]), get('y', '2', [10, 11]), get('x', '1', [12, 13])]);
    expect(r).toMatchObject({ ok: false, key: 'y' });
  });

  it('finds a linearization that needs backtracking past a tempting early choice', () => {
    // Both writes overlap everything early; the search must order b before a, though a is called first.
    const h = [put('x', 'a', [0, 100], 1), put('x', 'b', [1, 100], 2), get('x', 'b', [2, 3], 3), get('x', 'a', [4, 5], 3)];
    expect(checkKvHistory(h).ok).toBe(true);
  });

  it('returns unknown when the step budget runs out, and decides with the default budget', () => {
    // 12 concurrent writes and a read of a value none wrote: every order of the writes is tried.
    const h: KvOperation[] = [];
    for (let i = 0; i < 12; i++) h.push(put('x', `v${i}`, [0, 100], i));
    h.push(get('x', 'never', [200, 210], 99));
    expect(checkKvHistory(h, { maxSteps: 1_000 })).toMatchObject({ ok: 'unknown', key: 'x', reason: 'steps' });
    const full = checkKvHistory(h);
    expect(full.ok).toBe(false);
    expect(full.steps).toBeGreaterThan(1_000);
  });

  it('returns unknown when the time budget runs out (injected clock)', () => {
    const h: KvOperation[] = [];
    for (let i = 0; i < 12; i++) h.push(put('x', `v${i}`, [0, 100], i));
    h.push(get('x', 'never', [200, 210], 99));
    let t = 0;
    const r = checkKvHistory(h, { timeoutMs: 5, now: () => (t += 1) });
    expect(r).toMatchObject({ ok: 'unknown', reason: 'time' });
    expect(r.steps).toBeLessThan(10_000);
  });

  it('refuses malformed histories with a stable code', () => {
    expect(() => checkKvHistory([put('x', 'a', [10, 5])])).toThrow(expect.objectContaining({ code: ERR.LINEARIZABILITY_HISTORY_INVALID }));
    expect(() => checkKvHistory([{ ...put('x', 'a', [0, 1]), call: Number.NaN }])).toThrow(/call time/);
    expect(() => checkKvHistory([{ clientId: 0, call: 0, return: 1, input: { op: 'get', key: 'x' }, output: true }])).toThrow(/get cannot answer true/);
    expect(() => checkKvHistory([cas('x', 'a', 'b', undefined, [0, 1])])).toThrow(/cas cannot answer/);
  });
});

describe('versioned KV model (cas on ModifyIndex)', () => {
  it('accepts puts that return growing versions and cas against the version read', () => {
    const h = [
      vput('k', 'a', 5, [0, 1]),
      vget('k', ['a', 5], [2, 3]),
      vcas('k', 5, 'b', true, [4, 5]),
      vcas('k', 5, 'c', false, [6, 7]),
      vget('k', ['b', 9], [8, 9]),
      vcas('k', 9, 'c', true, [10, 11]),
      vget('k', ['c', 12], [12, 13]),
    ];
    expect(checkVersionedKvHistory(h).ok).toBe(true);
  });

  it('rejects a version going backwards, a wrong version, or a cas against a stale version', () => {
    expect(checkVersionedKvHistory([vput('k', 'a', 5, [0, 1]), vput('k', 'b', 3, [2, 3])]).ok).toBe(false);
    expect(checkVersionedKvHistory([vput('k', 'a', 5, [0, 1]), vget('k', ['a', 6], [2, 3])]).ok).toBe(false);
    // The cas's new version is unseen but must exceed the one it matched.
    expect(checkVersionedKvHistory([vput('k', 'a', 5, [0, 1]), vcas('k', 5, 'b', true, [2, 3]), vget('k', ['b', 5], [4, 5])]).ok).toBe(false);
    // Lost update: two cas against version 5 both succeed.
    expect(
      checkVersionedKvHistory([vput('k', 'a', 5, [0, 1]), vcas('k', 5, 'b', true, [2, 4], 1), vcas('k', 5, 'c', true, [3, 5], 2)]).ok,
    ).toBe(false);
  });

  it('implements cas 0 as create-only', () => {
    expect(checkVersionedKvHistory([vcas('k', 0, 'a', true, [0, 1]), vcas('k', 0, 'b', false, [2, 3]), vget('k', ['a', 4], [4, 5])]).ok).toBe(true);
    expect(checkVersionedKvHistory([vcas('k', 0, 'a', true, [0, 1]), vcas('k', 0, 'b', true, [2, 3])]).ok).toBe(false);
    expect(checkVersionedKvHistory([vcas('k', 0, 'a', false, [0, 1])]).ok).toBe(false);
  });

  it('reasons about versions no client saw (Consul PUT answers only true)', () => {
    // put's version unseen; a cas against 7 may have matched it.
    expect(checkVersionedKvHistory([vput('k', 'a', undefined, [0, 1]), vcas('k', 7, 'b', true, [2, 3]), vget('k', ['b', 9], [4, 5])]).ok).toBe(true);
    // ...then the new version must be above 7.
    expect(checkVersionedKvHistory([vput('k', 'a', undefined, [0, 1]), vcas('k', 7, 'b', true, [2, 3]), vget('k', ['b', 6], [4, 5])]).ok).toBe(false);
    // A failed cas against 7 proves the version is not 7, so a read cannot then show 7.
    expect(checkVersionedKvHistory([vput('k', 'a', undefined, [0, 1]), vcas('k', 7, 'b', false, [2, 3]), vget('k', ['a', 7], [4, 5])]).ok).toBe(false);
    expect(checkVersionedKvHistory([vput('k', 'a', undefined, [0, 1]), vcas('k', 7, 'b', false, [2, 3]), vget('k', ['a', 8], [4, 5])]).ok).toBe(true);
    // An indeterminate cas on an unseen version: swapped or not, both are possible.
    const pre = [vput('k', 'a', undefined, [0, 1]), vcas('k', 7, 'b', undefined, [2])];
    expect(checkVersionedKvHistory([...pre, vget('k', ['b', 9], [4, 5])]).ok).toBe(true);
    expect(checkVersionedKvHistory([...pre, vget('k', ['a', 3], [4, 5])]).ok).toBe(true);
    expect(checkVersionedKvHistory([...pre, vget('k', ['b', 6], [4, 5])]).ok).toBe(false);
  });

  it('keeps versions growing across a delete', () => {
    expect(checkVersionedKvHistory([vput('k', 'a', 5, [0, 1]), { clientId: 0, call: 2, return: 3, input: { op: 'delete', key: 'k' } }, vget('k', null, [4, 5]), vput('k', 'b', 4, [6, 7])]).ok).toBe(
      false,
    );
  });
});

describe('event-list form', () => {
  it('converts call/return events (position as time) and checks them like operations', () => {
    const events: HistoryEvent<KvInput, KvOutput>[] = [
      { kind: 'call', id: 1, clientId: 1, input: { op: 'put', key: 'x', value: 'a' } },
      { kind: 'call', id: 2, clientId: 2, input: { op: 'get', key: 'x' } },
      { kind: 'return', id: 1 },
      { kind: 'return', id: 2, output: 'a' },
      { kind: 'call', id: 3, clientId: 1, input: { op: 'put', key: 'x', value: 'b' } },
      { kind: 'call', id: 4, clientId: 3, input: { op: 'put', key: 'x', value: 'c' } },
      { kind: 'call', id: 5, clientId: 4, input: { op: 'put', key: 'x', value: 'd' } },
      { kind: 'info', id: 3 },
      { kind: 'fail', id: 5 },
      { kind: 'call', id: 6, clientId: 2, input: { op: 'get', key: 'x' } },
      { kind: 'return', id: 6, output: 'b' },
    ];
    const ops = operationsFromEvents(events);
    expect(ops).toEqual([
      { clientId: 1, call: 0, return: 2, input: { op: 'put', key: 'x', value: 'a' } },
      { clientId: 2, call: 1, return: 3, input: { op: 'get', key: 'x' }, output: 'a' },
      { clientId: 1, call: 4, input: { op: 'put', key: 'x', value: 'b' } },
      { clientId: 3, call: 5, input: { op: 'put', key: 'x', value: 'c' } },
      { clientId: 2, call: 9, return: 10, input: { op: 'get', key: 'x' }, output: 'b' },
    ]);
    expect(checkKvHistory(ops).ok).toBe(true);
    // The failed put of "d" is gone: reading it is a violation.
    const sawD = operationsFromEvents([...events, { kind: 'call', id: 7, clientId: 2, input: { op: 'get', key: 'x' } }, { kind: 'return', id: 7, output: 'd' }]);
    expect(checkKvHistory(sawD).ok).toBe(false);
  });

  it('uses explicit times when every event has one, and refuses inconsistent event lists', () => {
    const ops = operationsFromEvents<KvInput, KvOutput>([
      { kind: 'call', id: 'a', clientId: 1, input: { op: 'get', key: 'x' }, time: 100 },
      { kind: 'return', id: 'a', output: null, time: 150 },
    ]);
    expect(ops).toEqual([{ clientId: 1, call: 100, return: 150, input: { op: 'get', key: 'x' }, output: null }]);
    const code = expect.objectContaining({ code: ERR.LINEARIZABILITY_HISTORY_INVALID });
    const call = { kind: 'call', id: 1, clientId: 1, input: { op: 'get', key: 'x' } } as const;
    expect(() => operationsFromEvents([call, call])).toThrow(code);
    expect(() => operationsFromEvents([{ kind: 'return', id: 9, output: null }])).toThrow(/never called/);
    expect(() => operationsFromEvents([call, { kind: 'return', id: 1, output: null }, { kind: 'info', id: 1 }])).toThrow(/completes twice/);
    expect(() => operationsFromEvents([{ ...call, time: 5 }, { kind: 'return', id: 1, output: null }])).toThrow(/every event/);
    expect(() => operationsFromEvents([{ ...call, time: 5 }, { kind: 'return', id: 1, output: null, time: 4 }])).toThrow(/goes back/);
  });
});

describe('generic models', () => {
  // A coin: `flip` lands on either side (two next states), `read` sees the side up.
  type CoinInput = { op: 'flip' } | { op: 'read' };
  const coin: Model<number, CoinInput, number> = {
    init: () => 0,
    step: (state, input, output, indeterminate) => (input.op === 'flip' ? [0, 1] : indeterminate || output === state ? [state] : []),
    stateKey: String,
    describeOperation: (input, output) => (input.op === 'flip' ? 'flip()' : `read() -> ${output}`),
    describeState: String,
  };
  const flip = (call: number, ret: number) => ({ clientId: 0, call, return: ret, input: { op: 'flip' } as const });
  const read = (side: number, call: number, ret: number) => ({ clientId: 1, call, return: ret, input: { op: 'read' } as const, output: side });

  it('backtracks into the other next states of a nondeterministic step', () => {
    // The first next state (0) fails at the second read; only the second (1) explains it.
    expect(checkOperations(coin, [flip(0, 1), read(1, 2, 3), read(1, 4, 5)]).ok).toBe(true);
    expect(checkOperations(coin, [flip(0, 1), read(1, 2, 3), read(0, 4, 5)]).ok).toBe(false);
    expect(checkOperations(coin, [flip(0, 1), read(0, 2, 3), flip(4, 5), read(1, 6, 7)])).toMatchObject({ ok: true, partitions: 1 });
  });

  it('treats an unpartitioned model as one object under the key ""', () => {
    expect(checkOperations(coin, [read(1, 0, 1)])).toMatchObject({ ok: false, key: '', stateAfter: '0', linearized: [] });
    expect(checkOperations(coin, [])).toMatchObject({ ok: true, partitions: 0 });
  });
});

describe('formatOperations', () => {
  it('prints one aligned line per operation, by call time, with ? for an unknown return', () => {
    const text = formatOperations(kvModel, [get('key', null, [120, 130], 'c2'), put('key', 'v', [5]), cas('key', 'v', 'w', true, [7, 9], 1)]);
    expect(text.split('\n')).toEqual([
      'client 0   [  5,   ?]  put("key", "v") -> ?',
      'client 1   [  7,   9]  cas("key", "v" -> "w") -> true',
      'client c2  [120, 130]  get("key") -> null',
    ]);
  });
});
