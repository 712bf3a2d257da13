/**
 * The kv plugin's options, `plugin_config.kv` in the config files, with Consul's defaults:
 *
 * - `kv_max_value_size` (bytes, default 524288): largest KV value; a larger PUT is 413 (Consul's
 *   `limits.kv_max_value_size`, which is also read when the core config carries it).
 * - `txn_max_req_len` (bytes, default 524288): largest `/v1/txn` body (Consul's
 *   `limits.txn_max_req_len`); the effective limit is the larger of the two, as in Consul.
 * - `session_ttl_min` (Go duration, default `10s`): shortest session TTL accepted.
 * - `tombstone_ttl` (Go duration, default `15m`): how long deleted keys' tombstones are kept.
 *
 * Unknown keys are refused, so a typo stops start-up instead of being ignored.
 */
import { ERR, HeraldError, parseDuration, type RuntimeConfig } from '../../src/plugin.ts';
import { TOMBSTONE_TTL_MS } from './tombstone-gc.ts';

/** Consul's default for both limits (raft's suggested entry size). */
export const DEFAULT_MAX_BYTES = 512 * 1024;
/** Consul's `session_ttl_min` default. */
export const DEFAULT_SESSION_TTL_MIN_MS = 10_000;

export interface KvOptions {
  kvMaxValueSize: number;
  txnMaxReqLen: number;
  sessionTtlMinMs: number;
  tombstoneTtlMs: number;
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new HeraldError(ERR.CONFIG_INVALID, `${name}: must be a positive integer, not ${JSON.stringify(v)}`);
  }
  return v;
}

function duration(v: unknown, name: string): number {
  if (typeof v !== 'string') throw new HeraldError(ERR.CONFIG_INVALID, `${name}: must be a duration string like "10s", not ${JSON.stringify(v)}`);
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch (err) {
    throw new HeraldError(ERR.CONFIG_INVALID, `${name}: ${(err as Error).message}`);
  }
  if (!(ms > 0)) throw new HeraldError(ERR.CONFIG_INVALID, `${name}: must be positive, not ${JSON.stringify(v)}`);
  return ms;
}

/**
 * Reads `plugin_config.kv` over the core config's Consul `limits` (when the core has them).
 * Throws HeraldError CONFIG_INVALID naming the bad key.
 */
export function kvOptions(options: Record<string, unknown>, config?: RuntimeConfig): KvOptions {
  const limits = config?.limits;
  const out: KvOptions = {
    kvMaxValueSize: limits?.kvMaxValueSize ?? DEFAULT_MAX_BYTES,
    txnMaxReqLen: limits?.txnMaxReqLen ?? DEFAULT_MAX_BYTES,
    sessionTtlMinMs: DEFAULT_SESSION_TTL_MIN_MS,
    tombstoneTtlMs: TOMBSTONE_TTL_MS,
  };
  for (const [k, v] of Object.entries(options)) {
    const name = `plugin_config.kv.${k}`;
    switch (k) {
      case 'kv_max_value_size':
        out.kvMaxValueSize = positiveInt(v, name);
        break;
      case 'txn_max_req_len':
        out.txnMaxReqLen = positiveInt(v, name);
        break;
      case 'session_ttl_min':
        out.sessionTtlMinMs = duration(v, name);
        break;
      case 'tombstone_ttl':
        out.tombstoneTtlMs = duration(v, name);
        break;
      default:
        throw new HeraldError(ERR.CONFIG_INVALID, `plugin_config.kv: unknown option ${JSON.stringify(k)}`);
    }
  }
  return out;
}
