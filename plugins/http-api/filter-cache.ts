/**
 * Compiled `?filter=` expressions, reused across requests. Watchers (Prometheus, templates)
 * send the same expression on every poll; compiling once keeps the per-request cost to running
 * the predicate. Bounded: at most MAX_CACHED expressions, least recently used dropped first.
 */
import { compileFilter, type FilterPredicate } from './filter.ts';
import { firstParam, type Query } from './query-params.ts';

const MAX_CACHED = 256;
/** Longer expressions are compiled per request and not kept (they would crowd the cache). */
const MAX_CACHED_LENGTH = 4096;
const cache = new Map<string, FilterPredicate>();

/** The compiled predicate for `expr`. Throws FilterError (a 400) for a bad expression. */
export function cachedFilter(expr: string): FilterPredicate {
  const hit = cache.get(expr);
  if (hit) {
    cache.delete(expr);
    cache.set(expr, hit);
    return hit;
  }
  const fn = compileFilter(expr);
  if (expr.length <= MAX_CACHED_LENGTH) {
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
    cache.set(expr, fn);
  }
  return fn;
}

/** The request's `?filter` predicate, or undefined when it has none (or an empty one). */
export function requestFilter(q: Query): FilterPredicate | undefined {
  const expr = firstParam(q, 'filter');
  return expr ? cachedFilter(expr) : undefined;
}
