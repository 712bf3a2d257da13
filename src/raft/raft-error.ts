/**
 * The error the Raft driver rejects with. Callers branch on `code` (ERR.RAFT_*) and on
 * `indeterminate`, like RpcError: when true the command may still be applied (Jepsen's `info`
 * outcome: leadership lost with the entry in flight, a timeout), so it must not be reported as
 * failed; when false nothing was or will be applied and a retry is safe.
 */
import { ERR, HeraldError, type ErrorCode } from '../errors.ts';

/** The leader as far as this server knows. */
export interface LeaderHint {
  readonly id: string;
  /** Its RPC address, when this server knows it. */
  readonly address?: string;
}

export class RaftError extends HeraldError {
  readonly indeterminate: boolean;
  /** For RAFT_NOT_LEADER: the leader to ask instead, when one is known. */
  readonly leader: LeaderHint | undefined;

  constructor(code: ErrorCode, message: string, opts: { indeterminate?: boolean; leader?: LeaderHint; cause?: unknown } = {}) {
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RaftError';
    this.indeterminate = opts.indeterminate ?? false;
    this.leader = opts.leader;
  }
}

/** RAFT_NOT_LEADER naming the leader when known (Consul's "No cluster leader" when not). */
export function notLeader(self: string, leader: LeaderHint | undefined): RaftError {
  const msg = leader
    ? `raft: ${self} is not the leader; the leader is ${leader.id}${leader.address ? ` at ${leader.address}` : ''}`
    : `raft: ${self} is not the leader and no cluster leader is known`;
  return new RaftError(ERR.RAFT_NOT_LEADER, msg, leader ? { leader } : {});
}

/** An outcome-unknown rejection for a proposal. */
export function indeterminate(why: string, cause?: unknown): RaftError {
  return new RaftError(ERR.RAFT_PROPOSAL_INDETERMINATE, `raft: ${why}; the command may or may not be applied`, {
    indeterminate: true,
    ...(cause === undefined ? {} : { cause }),
  });
}
