/**
 * Single-server membership changes (dissertation §4.1): add or remove one voter at a time.
 *
 * A `conf` entry carries the change *and the full voter set after it*, so applying one never
 * depends on earlier configuration state: a server that joins with an empty log and replays
 * entries from index 1 (or from a snapshot) ends with the right voters, even though the
 * bootstrap membership lives in the initial snapshot rather than in the log.
 */
import { ERR, HeraldError } from '../../errors.ts';
import type { NodeId } from './types.ts';

/** A membership change as proposed. */
export interface ConfChange {
  readonly type: 'add' | 'remove';
  readonly node: NodeId;
}

/** A membership change as stored in a `conf` entry. */
export interface ConfChangeEntry extends ConfChange {
  /** The voters once this change is applied, sorted. */
  readonly voters: readonly NodeId[];
}

/** Sorted copy without duplicates, so configurations compare and print stably. */
export function sortVoters(ids: Iterable<NodeId>): NodeId[] {
  return [...new Set(ids)].sort(compareIds);
}

/** Orders ids numerically when both are decimal numbers ("2" < "10"), else as strings. */
export function compareIds(a: NodeId, b: NodeId): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb && a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The voters after `change`, or undefined when it would not change them or leave none. */
export function applyConfChange(voters: readonly NodeId[], change: ConfChange): NodeId[] | undefined {
  const has = voters.includes(change.node);
  if (change.type === 'add') return has ? undefined : sortVoters([...voters, change.node]);
  if (!has || voters.length === 1) return undefined;
  return voters.filter((v) => v !== change.node);
}

/** Encodes a `conf` entry's data (UTF-8 JSON; small and rare, so readability wins). */
export function encodeConfChange(cc: ConfChangeEntry): Buffer {
  return Buffer.from(JSON.stringify({ type: cc.type, node: cc.node, voters: cc.voters }), 'utf8');
}

/** Decodes a `conf` entry's data; throws RAFT_INVARIANT when it is not one. */
export function decodeConfChange(data: Uint8Array): ConfChangeEntry {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch (err) {
    throw new HeraldError(ERR.RAFT_INVARIANT, 'conf entry is not JSON', { cause: err });
  }
  const o = v as { type?: unknown; node?: unknown; voters?: unknown };
  if (
    (o.type !== 'add' && o.type !== 'remove') ||
    typeof o.node !== 'string' ||
    !Array.isArray(o.voters) ||
    !o.voters.every((x) => typeof x === 'string')
  ) {
    throw new HeraldError(ERR.RAFT_INVARIANT, `conf entry has the wrong shape: ${JSON.stringify(v)}`);
  }
  return { type: o.type, node: o.node, voters: sortVoters(o.voters as string[]) };
}
