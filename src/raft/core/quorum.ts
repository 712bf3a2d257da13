/**
 * Majority arithmetic over one voter set (single-server changes never need joint consensus,
 * dissertation §4.1, so there is only ever one set).
 */
import type { NodeId } from './types.ts';

/** Votes needed to win among `n` voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The highest index held by a majority of `voters` (the quorum-th largest match); 0n when
 * there are no voters. A voter without a value counts as 0.
 */
export function quorumIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => bigint | undefined): bigint {
  if (voters.length === 0) return 0n;
  const m = voters.map((v) => matchOf(v) ?? 0n).sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  return m[majority(voters.length) - 1]!;
}

/** Same as quorumIndex, for numbers (ticks): the time by which a majority had heard from us. */
export function quorumTick(voters: readonly NodeId[], tickOf: (id: NodeId) => number): number {
  if (voters.length === 0) return Number.NEGATIVE_INFINITY;
  const t = voters.map(tickOf).sort((a, b) => b - a);
  return t[majority(voters.length) - 1]!;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Tallies `votes` (id -> granted) among `voters`; votes from non-voters do not count. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const q = majority(voters.length);
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const g = votes.get(v);
    if (g === true) granted++;
    else if (g === false) rejected++;
  }
  if (granted >= q) return 'won';
  if (rejected > voters.length - q) return 'lost';
  return 'pending';
}
