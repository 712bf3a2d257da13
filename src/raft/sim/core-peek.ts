/**
 * Read-only access to a RaftNode's protocol state for the invariant checks, which need the
 * whole log as the protocol sees it (durable part plus the unstable tail a write is still
 * persisting) and need it after every event, where `status()` would allocate a picture per
 * call. Test tooling only: production code uses the RaftNode API.
 *
 * `node['raft']` is TypeScript's sanctioned bracket access to a private member. Nothing here
 * writes to the core except `forgetVote`, the simulator's deliberately broken server.
 */
import type { RaftNode, Role } from '../core/index.ts';
import type { Raft } from '../core/raft.ts';

function raftOf(node: RaftNode): Raft {
  return node['raft'];
}

/** The few numbers the per-event checks read. */
export interface Peek {
  readonly role: Role;
  readonly term: bigint;
  readonly commit: bigint;
  readonly applied: bigint;
  readonly firstIndex: bigint;
  readonly lastIndex: bigint;
}

export function peek(node: RaftNode): Peek {
  const r = raftOf(node);
  return {
    role: r.role,
    term: r.term,
    commit: r.log.committed,
    applied: r.log.applied,
    firstIndex: r.log.firstIndex(),
    lastIndex: r.log.lastIndex(),
  };
}

export function roleOf(node: RaftNode): Role {
  return raftOf(node).role;
}

export function termOf(node: RaftNode): bigint {
  return raftOf(node).term;
}

/** Term of entry `index` in the node's log (durable or not), undefined when compacted or beyond it. */
export function logTerm(node: RaftNode, index: bigint): bigint | undefined {
  return raftOf(node).log.term(index);
}

/** Entries [lo, hi) of the node's log, or undefined when lo is compacted. */
export function logSlice(node: RaftNode, lo: bigint, hi: bigint) {
  return raftOf(node).log.slice(lo, hi);
}

/** The voters the node has in effect (its applied configuration). */
export function votersOf(node: RaftNode): readonly string[] {
  return raftOf(node).voters;
}

/**
 * SABOTAGE, for the simulator's self-test only: makes the node forget the vote it cast in
 * `term`, so it grants a second candidate of the same term.
 */
export function forgetVote(node: RaftNode, term: bigint): void {
  const r = raftOf(node);
  if (r.term === term && r.role === 'follower') r.vote = undefined;
}
