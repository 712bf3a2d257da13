/**
 * Sequential KV models for the linearizability checker, partitioned by key (each key is an
 * independent register, so the checker searches one key's operations at a time).
 *
 * Two flavours, matching the two ways a Consul client can compare-and-set:
 * - `kvModel`: cas compares the current *value* (`expected: null` = the key must be absent).
 * - `versionedKvModel`: every write gives the key a new version (Consul's ModifyIndex, a Raft
 *   index, so versions only grow, across deletes too); `get` returns value and version;
 *   `cas(key, version, value)` succeeds iff the key's version is `version` (`0`: iff the key
 *   is absent), like `PUT /v1/kv/<key>?cas=<index>`.
 *
 * Values are strings (encode bytes as base64 before recording if needed).
 */
import { ERR, HeraldError } from '../../errors.ts';
import { checkOperations, type CheckOptions, type CheckResult, type Model } from './linearizability.ts';
import { isIndeterminate, type Operation } from './linearizability-history.ts';

/** Operations of the value-compare model. */
export type KvInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  /** Succeeds iff the current value is `expected` (`null`: the key is absent). */
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly op: 'delete'; readonly key: string };

/** `get` → the value or `null` (absent); `cas` → whether it swapped; put/delete → nothing. */
export type KvOutput = string | null | boolean;

export type KvOperation = Operation<KvInput, KvOutput>;

/** Operations of the versioned model. */
export type VersionedKvInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  /** Succeeds iff the key's current version is `expected`; `0` means "iff the key is absent". */
  | { readonly op: 'cas'; readonly key: string; readonly expected: number; readonly value: string }
  | { readonly op: 'delete'; readonly key: string };

/** What a versioned `get` returns for a present key. */
export interface VersionedValue {
  readonly value: string;
  readonly version: number;
}

/**
 * `get` → `VersionedValue` or `null`; `put` → the new version when the client learned it
 * (a simulator knows the Raft index; Consul's HTTP PUT only says `true`, so leave it absent);
 * `cas` → whether it swapped (its new version is unknown); `delete` → nothing.
 */
export type VersionedKvOutput = VersionedValue | null | number | boolean;

export type VersionedKvOperation = Operation<VersionedKvInput, VersionedKvOutput>;

const str = (s: string | null): string => (s === null ? 'null' : JSON.stringify(s));

/** State: the key's value, `null` when absent. */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output, indeterminate) {
    switch (input.op) {
      case 'get':
        return indeterminate || output === state ? [state] : [];
      case 'put':
        return [input.value];
      case 'delete':
        return [null];
      case 'cas': {
        const match = state === input.expected;
        if (indeterminate) return [match ? input.value : state];
        return output === match ? [match ? input.value : state] : [];
      }
    }
  },
  stateKey: (state) => (state === null ? '-' : `=${state}`),
  partitionKey: (input) => input.key,
  describeOperation(input, output, indeterminate) {
    const result = indeterminate ? ' -> ?' : '';
    switch (input.op) {
      case 'get':
        return `get(${str(input.key)})${indeterminate ? result : ` -> ${str(output as string | null)}`}`;
      case 'put':
        return `put(${str(input.key)}, ${str(input.value)})${result}`;
      case 'delete':
        return `delete(${str(input.key)})${result}`;
      case 'cas':
        return `cas(${str(input.key)}, ${str(input.expected)} -> ${str(input.value)})${indeterminate ? result : ` -> ${String(output)}`}`;
    }
  },
  describeState: (state) => (state === null ? 'absent' : str(state)),
};

/**
 * State of one key in the versioned model. `version` is `undefined` when no client saw it
 * (after a cas, or a put whose version was not returned); it is then known only to be above
 * `floor` and none of `excluded` (versions a failed cas proved it is not). Invariant: when
 * `version` is known, `floor === version` and `excluded` is empty, so "every new version is
 * above `floor`" is the monotonicity rule in both cases.
 */
export interface VersionedKvState {
  readonly value: string | null;
  readonly version: number | undefined;
  readonly floor: number;
  /** Ascending. */
  readonly excluded: readonly number[];
}

const NONE: readonly number[] = [];
const INITIAL: VersionedKvState = { value: null, version: undefined, floor: 0, excluded: NONE };

/** Whether an unseen version (above `floor`, not excluded) can be `v`. */
function couldBe(state: VersionedKvState, v: number): boolean {
  return v > state.floor && !state.excluded.includes(v);
}

/**
 * A version-comparing KV. Versions no client saw are tracked as bounds (`VersionedKvState`),
 * so the model stays deterministic: one next state per (state, operation, output).
 */
export const versionedKvModel: Model<VersionedKvState, VersionedKvInput, VersionedKvOutput> = {
  init: () => INITIAL,
  step(state, input, output, indeterminate) {
    switch (input.op) {
      case 'get': {
        if (indeterminate) return [state];
        if (output === null) return state.value === null ? [state] : [];
        const seen = output as VersionedValue;
        if (seen.value !== state.value) return [];
        if (state.version !== undefined) return seen.version === state.version ? [state] : [];
        // The first read of an unseen version pins it down.
        return couldBe(state, seen.version) ? [{ value: state.value, version: seen.version, floor: seen.version, excluded: NONE }] : [];
      }
      case 'put': {
        if (indeterminate || typeof output !== 'number') return [{ value: input.value, version: undefined, floor: state.floor, excluded: NONE }];
        return output > state.floor ? [{ value: input.value, version: output, floor: output, excluded: NONE }] : [];
      }
      case 'delete':
        return [{ value: null, version: undefined, floor: state.floor, excluded: NONE }];
      case 'cas': {
        const e = input.expected;
        const present = state.value !== null;
        const unseen = present && state.version === undefined;
        const canSwap = e === 0 ? !present : present && (unseen ? couldBe(state, e) : state.version === e);
        const canFail = e === 0 ? present : !present || unseen || state.version !== e;
        // After a swap the version is new and unseen, above the one it matched.
        const swapped: VersionedKvState = { value: input.value, version: undefined, floor: Math.max(state.floor, e), excluded: NONE };
        // A failure against an unseen version proves it is not `e`.
        const failed: VersionedKvState =
          e !== 0 && unseen && couldBe(state, e) ? { ...state, excluded: [...state.excluded, e].sort((a, b) => a - b) } : state;
        // Indeterminate and able to swap here: swapping is the only branch worth taking, since
        // failing changes nothing, the same as being linearized after everything else.
        if (indeterminate) return [canSwap ? swapped : failed];
        if (output === true) return canSwap ? [swapped] : [];
        return canFail ? [failed] : [];
      }
    }
  },
  stateKey: (s) => `${s.floor} ${s.version ?? '?'} ${s.excluded.join(',')} ${s.value === null ? '-' : `=${s.value}`}`,
  partitionKey: (input) => input.key,
  describeOperation(input, output, indeterminate) {
    const k = str(input.key);
    switch (input.op) {
      case 'get': {
        if (indeterminate) return `get(${k}) -> ?`;
        const v = output as VersionedValue | null;
        return `get(${k}) -> ${v === null ? 'null' : `${str(v.value)}@${v.version}`}`;
      }
      case 'put':
        return `put(${k}, ${str(input.value)})${indeterminate ? ' -> ?' : typeof output === 'number' ? ` -> @${output}` : ''}`;
      case 'delete':
        return `delete(${k})${indeterminate ? ' -> ?' : ''}`;
      case 'cas':
        return `cas(${k}, @${input.expected} -> ${str(input.value)}) -> ${indeterminate ? '?' : String(output)}`;
    }
  },
  describeState: (s) =>
    s.value === null
      ? `absent (versions > ${s.floor})`
      : `${str(s.value)}@${s.version ?? `>${s.floor}${s.excluded.length > 0 ? ` not ${s.excluded.join(',')}` : ''}`}`,
};

function invalid(message: string): never {
  throw new HeraldError(ERR.LINEARIZABILITY_HISTORY_INVALID, message);
}

const OPS = new Set(['get', 'put', 'cas', 'delete']);

/**
 * Checks outputs against their operation and drops indeterminate gets (they change nothing and
 * constrain nothing; keeping them only slows the search).
 */
function prepare<I extends { op: string; key: string }, O>(history: readonly Operation<I, O>[], outputOk: (input: I, output: O | undefined) => boolean): Operation<I, O>[] {
  const kept: Operation<I, O>[] = [];
  for (let i = 0; i < history.length; i++) {
    const op = history[i]!;
    if (typeof op.input !== 'object' || op.input === null) invalid(`operation ${i}: no input`);
    if (!OPS.has(op.input.op)) invalid(`operation ${i}: unknown op ${JSON.stringify(op.input.op)}`);
    if (typeof op.input.key !== 'string') invalid(`operation ${i}: key is not a string`);
    if (isIndeterminate(op)) {
      if (op.input.op !== 'get') kept.push(op);
      continue;
    }
    if (!outputOk(op.input, op.output)) invalid(`operation ${i}: ${op.input.op} cannot answer ${JSON.stringify(op.output)}`);
    kept.push(op);
  }
  return kept;
}

/**
 * Checks a value-compare KV history (`kvModel`), key by key. Throws
 * `HERALD_ERR_LINEARIZABILITY_HISTORY_INVALID` on bad times or an output of the wrong type
 * (a completed get must answer a string or `null`, a completed cas a boolean).
 */
export function checkKvHistory(history: readonly KvOperation[], options?: CheckOptions): CheckResult<KvInput, KvOutput> {
  const ops = prepare(history, (input, output) => {
    if (input.op === 'get') return output === null || typeof output === 'string';
    if (input.op === 'cas') return typeof output === 'boolean';
    return true;
  });
  return checkOperations(kvModel, ops, options);
}

/**
 * Checks a versioned KV history (`versionedKvModel`), key by key. Throws
 * `HERALD_ERR_LINEARIZABILITY_HISTORY_INVALID` on bad times or an output of the wrong type.
 */
export function checkVersionedKvHistory(history: readonly VersionedKvOperation[], options?: CheckOptions): CheckResult<VersionedKvInput, VersionedKvOutput> {
  const ops = prepare(history, (input, output) => {
    if (input.op === 'get') {
      if (output === null) return true;
      const v = output as VersionedValue | undefined;
      return typeof v === 'object' && typeof v.value === 'string' && typeof v.version === 'number';
    }
    if (input.op === 'put') return output === undefined || typeof output === 'number';
    if (input.op === 'cas') return typeof output === 'boolean';
    return true;
  });
  return checkOperations(versionedKvModel, ops, options);
}
