/**
 * Requests a follower forwards to the leader over the transport (Consul forwards writes to the
 * leader the same way): the method names, their bodies, and how a remote failure becomes the
 * local error the caller would have got on the leader itself.
 */
import { ERR, HeraldError, type ErrorCode } from '../errors.ts';
import { RpcError } from '../rpc/rpc-error.ts';
import type { Applied } from './proposal-tracker.ts';
import { indeterminate, RaftError } from './raft-error.ts';

/** RPC methods a driver serves for its followers. */
export const RAFT_METHOD = {
  /** body `{ data: Buffer }` -> `{ index: bigint, result?: unknown }` once applied on the leader. */
  propose: 'raft.propose',
  /** body `{ id, address }` -> null once the server is a voter. */
  addServer: 'raft.addServer',
  /** body `{ id }` -> null once the server is removed. */
  removeServer: 'raft.removeServer',
} as const;

const KNOWN_CODES = new Set<string>(Object.values(ERR));

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function readProposeBody(body: unknown): Buffer {
  if (!isObj(body) || !Buffer.isBuffer(body.data)) throw new HeraldError(ERR.COMMAND_INVALID, 'raft.propose: body.data must be bytes');
  return body.data;
}

export function readServerBody(body: unknown, needAddress: boolean): { id: string; address: string } {
  if (!isObj(body) || typeof body.id !== 'string' || body.id === '') throw new HeraldError(ERR.COMMAND_INVALID, 'raft: body.id must be a non-empty string');
  if (needAddress && (typeof body.address !== 'string' || body.address === '')) {
    throw new HeraldError(ERR.COMMAND_INVALID, 'raft: body.address must be a non-empty string');
  }
  return { id: body.id, address: typeof body.address === 'string' ? body.address : '' };
}

/** The leader's answer to a forwarded proposal. */
export function readApplied(v: unknown): Applied {
  if (!isObj(v) || typeof v.index !== 'bigint') throw indeterminate('the leader answered a forwarded proposal with no index');
  return 'result' in v && v.result !== undefined ? { index: v.index, result: v.result } : { index: v.index };
}

/**
 * The error to give the caller for a failed forwarded request: the leader's own error, by code
 * (RaftError for RAFT_* codes, keeping `indeterminate`), when its handler failed; an
 * indeterminate error when the request may have run (connection lost, timeout after sending);
 * the RpcError itself when it was never sent.
 */
export function fromRemote(err: unknown, leader: string): unknown {
  if (!(err instanceof RpcError)) return err;
  if (err.code === ERR.RPC_REMOTE && err.remoteCode && KNOWN_CODES.has(err.remoteCode)) {
    const code = err.remoteCode as ErrorCode;
    const message = err.message.replace(/^raft\.\w+ failed: /, '');
    if (code.startsWith('HERALD_ERR_RAFT_')) {
      return new RaftError(code, message, { indeterminate: code === ERR.RAFT_PROPOSAL_INDETERMINATE, cause: err });
    }
    return new HeraldError(code, message, { cause: err });
  }
  if (err.indeterminate) return indeterminate(`forwarded to leader ${leader}, then ${err.message}`, err);
  return err;
}
