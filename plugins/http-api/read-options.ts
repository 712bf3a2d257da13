/**
 * What a catalog/health read asks for besides its data (consul-compat.md §4): the consistency
 * mode (`?stale`, `?consistent`, `?leader`, `?max_stale`), `?cached`, and `?dc`. Herald answers
 * every read from the local state machine; the mode decides what it waits for first (the read
 * point, route-context.ts) and the headers reported; conflicting ones are refused as Consul does.
 */
import { parseDuration, type ReadMode } from '../../src/plugin.ts';
import { badRequest, noPathToDatacenter } from './http-error.ts';
import { firstParam, hasFlag, type Query } from './query-params.ts';

/** `X-Consul-Effective-Consistency` values (the core's ReadMode). */
export type Consistency = ReadMode;

export interface ReadOptions {
  consistency: Consistency;
  /** `?cached` on an endpoint that supports the agent cache: adds X-Cache/Age. */
  cached: boolean;
  /** `?max_stale=<dur>` (> 0): a stale read whose LastContact is older is re-asked of the leader (route-context readPoint). */
  maxStaleMs?: number;
}

/**
 * Consul's parseConsistency. Presence flags; `?max_stale=<dur>` > 0 implies stale (a bad
 * duration is 400 `Invalid max_stale value "<v>"`); stale with consistent, or cached with
 * consistent, is 400 with Consul's wording. `?cached` counts only where `cacheable`.
 */
export function parseReadOptions(q: Query, cacheable = false): ReadOptions {
  let stale = hasFlag(q, 'stale');
  const consistent = hasFlag(q, 'consistent');
  const cached = cacheable && hasFlag(q, 'cached');
  const maxStale = firstParam(q, 'max_stale');
  let maxStaleMs: number | undefined;
  if (maxStale !== undefined && maxStale !== '') {
    let ms: number;
    try {
      ms = parseDuration(maxStale);
    } catch {
      throw badRequest(`Invalid max_stale value ${JSON.stringify(maxStale)}`);
    }
    if (ms > 0) {
      stale = true;
      maxStaleMs = ms;
    }
  }
  if (stale && consistent) throw badRequest('Cannot specify ?stale with ?consistent, conflicting semantics.');
  if (cached && consistent) throw badRequest('Cannot specify ?cached with ?consistent, conflicting semantics.');
  const out: ReadOptions = { consistency: consistent ? 'consistent' : stale ? 'stale' : 'leader', cached };
  if (maxStaleMs !== undefined) out.maxStaleMs = maxStaleMs;
  return out;
}

/**
 * `?dc=`: empty or this agent's datacenter is local; any other name has no route from a
 * single-datacenter agent and is Consul's 500 `No path to datacenter`. Datacenter names are
 * lowercased by Consul's config, and compared so here.
 */
export function checkDatacenter(q: Query, localDc: string): void {
  const dc = firstParam(q, 'dc');
  if (dc !== undefined && dc !== '' && dc.toLowerCase() !== localDc.toLowerCase()) throw noPathToDatacenter();
}
