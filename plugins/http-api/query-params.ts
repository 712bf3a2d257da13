/**
 * Query parameters the way Consul reads them from Go's `url.Values` (consul-compat.md §0, §3):
 * presence flags (`?stale`, `?recurse`, `?cached`: present at all means on, whatever the
 * value), `Get` = the first value of a repeated key, Go's strconv.ParseBool for real booleans
 * (`?passing`, `?enable`), `?node-meta=k:v` (repeatable, all must match) and `?tag` (repeatable,
 * all must match, case-insensitive).
 */
import { badRequest } from './http-error.ts';

/** The parsed query string as fastify gives it: a repeated key is an array. */
export type Query = Record<string, string | string[] | undefined>;

/** True when `name` is present at all (`?stale`, `?stale=`, `?stale=false` all count). */
export function hasFlag(q: Query, name: string): boolean {
  return q[name] !== undefined;
}

/** Go's `Values.Get`: the first value, or undefined when absent. */
export function firstParam(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Every value of a repeatable parameter, in order. */
export function allParams(q: Query, name: string): string[] {
  const v = q[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool; undefined for anything it refuses. */
export function parseGoBool(s: string): boolean | undefined {
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  return undefined;
}

/**
 * Consul's getBoolQueryParam (health endpoint `?passing`): absent is false, present without a
 * value is true, otherwise strconv.ParseBool; an unparseable value is 400
 * `Invalid value for ?<name>`.
 */
export function boolParam(q: Query, name: string): boolean {
  const v = firstParam(q, name);
  if (v === undefined) return false;
  if (v === '') return true;
  const b = parseGoBool(v);
  if (b === undefined) throw badRequest(`Invalid value for ?${name}`);
  return b;
}

/**
 * `?node-meta=key:value` filters (Consul's parseMetaFilter: split at the first colon, a missing
 * value is ''; a repeated key keeps the last value). Empty when the parameter is absent.
 */
export function nodeMetaFilters(q: Query): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of allParams(q, 'node-meta')) {
    const i = raw.indexOf(':');
    if (i < 0) out.set(raw, '');
    else out.set(raw.slice(0, i), raw.slice(i + 1));
  }
  return out;
}

/** Consul's SatisfiesMetaFilters: every filter key present with exactly that value. */
export function matchesMeta(meta: Record<string, string>, filters: Map<string, string>): boolean {
  for (const [k, v] of filters) {
    if (!Object.hasOwn(meta, k) || meta[k] !== v) return false;
  }
  return true;
}

/** Lowercased `?tag` values (Consul compares service tags without regard to case). */
export function tagFilters(q: Query): string[] {
  return allParams(q, 'tag').map((t) => t.toLowerCase());
}

/** True when the instance has every wanted tag (`wanted` lowercased), case-insensitively. */
export function hasAllTags(tags: readonly string[], wanted: readonly string[]): boolean {
  for (const w of wanted) {
    let found = false;
    for (const t of tags) {
      if (t.toLowerCase() === w) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}
