/**
 * The one error type the RPC layer rejects and throws with. Callers branch on `code` (ERR.RPC_*)
 * and on `indeterminate`: a request whose bytes may have reached the peer (connection lost or
 * timeout after sending) may or may not have taken effect, like Jepsen's `info` outcome, and
 * must not be reported as failed.
 */
import { ERR, HeraldError, type ErrorCode } from '../errors.ts';

export class RpcError extends HeraldError {
  /** True when the request may have been executed by the peer (sent, then no answer). */
  readonly indeterminate: boolean;
  /** For ERR.RPC_REMOTE: the code the peer's handler failed with (e.g. ERR.KV_REFUSED), if any. */
  readonly remoteCode: string | undefined;

  constructor(code: ErrorCode, message: string, opts: { indeterminate?: boolean; remoteCode?: string; cause?: unknown } = {}) {
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RpcError';
    this.indeterminate = opts.indeterminate ?? false;
    this.remoteCode = opts.remoteCode;
  }
}

/** `err` as an RpcError with `code` (kept as is when it already is one). */
export function asRpcError(err: unknown, code: ErrorCode): RpcError {
  if (err instanceof RpcError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RpcError(code, message, { cause: err });
}

export { ERR };
