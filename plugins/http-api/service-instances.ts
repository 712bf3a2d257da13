/**
 * The instances a service read returns after Consul's request-side filters: `?tag` (repeatable,
 * all must match, case-insensitive, as the state store's serviceTagFilter) and `?node-meta`
 * (repeatable, all must match). Shared by /catalog/service and /health/service.
 */
import type { NodeRow, ServiceRow } from '../../src/plugin.ts';
import { hasAllTags, matchesMeta, nodeMetaFilters, tagFilters, type Query } from './query-params.ts';
import type { RouteContext } from './route-context.ts';

/** One instance with its node row (undefined only if the catalog is inconsistent). */
export interface Instance {
  row: ServiceRow;
  node: NodeRow | undefined;
}

/** Instances of `name` (case-insensitive) in catalog order (node, then ID), filtered by `q`. */
export function selectInstances(ctx: Pick<RouteContext, 'catalog'>, name: string, q: Query): Instance[] {
  const tags = tagFilters(q);
  const meta = nodeMetaFilters(q);
  const out: Instance[] = [];
  for (const row of ctx.catalog.serviceRows(name)) {
    if (tags.length > 0 && !hasAllTags(row.tags, tags)) continue;
    const node = ctx.catalog.getNode(row.node);
    if (meta.size > 0 && (!node || !matchesMeta(node.meta, meta))) continue;
    out.push({ row, node });
  }
  return out;
}
