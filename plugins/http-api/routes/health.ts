/**
 * `/v1/health/*` (consul-compat.md §3.3). Every read blocks on the index of the one resource
 * it reads: per service for `service` and `checks`, per node for `node`, the checks table for
 * `state`, so a flap of service A never wakes watchers of service B (complaints #1244, #3890).
 *
 * Decisions:
 * - `?passing` follows Consul 1.10's getBoolQueryParam: present without a value is true,
 *   otherwise strconv.ParseBool, so `?passing=false` returns every instance and
 *   `?passing=yes` is 400 `Invalid value for ?passing`. (Older Consul treated any presence
 *   as true; no client sends `passing=false` meaning "only passing".)
 * - Entries keep the catalog's order (node, then service ID); Consul's passing filter swaps
 *   dropped entries to the end, an order no client can rely on.
 * - `state/<s>` with anything but any/passing/warning/critical is 400
 *   `Invalid check state: '<s>'` (Consul's store would return an empty list).
 */
import type { FastifyInstance } from 'fastify';
import type { CheckRow } from '../../../src/plugin.ts';
import { WAIT_KEY } from '../blocking.ts';
import { healthCheckJson, healthEntryJson } from '../consul-objects.ts';
import { requestFilter } from '../filter-cache.ts';
import { badRequest } from '../http-error.ts';
import { methodRoutes } from '../method-routes.ts';
import { boolParam, matchesMeta, nodeMetaFilters } from '../query-params.ts';
import { blockingRead, queryOf, restOf, type RouteContext } from '../route-context.ts';
import { selectInstances } from '../service-instances.ts';

const STATES = new Set(['any', 'passing', 'warning', 'critical']);

function allPassing(checks: readonly CheckRow[]): boolean {
  for (const c of checks) if (c.status !== 'passing') return false;
  return true;
}

export function healthRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { catalog } = ctx;

  methodRoutes(app, '/v1/health/node/*', {
    GET: (req, reply) => {
      const name = restOf(req);
      if (name === '') throw badRequest('Missing node name');
      const filter = requestFilter(queryOf(req));
      return blockingRead(ctx, req, reply, {
        key: WAIT_KEY.node(name),
        index: () => catalog.nodeIndex(name),
        body: () => {
          const out = [];
          for (const c of catalog.nodeChecks(name)) {
            const j = healthCheckJson(c);
            if (!filter || filter(j)) out.push(j);
          }
          return out;
        },
      });
    },
  });

  methodRoutes(app, '/v1/health/checks/*', {
    GET: (req, reply) => {
      const name = restOf(req);
      if (name === '') throw badRequest('Missing service name');
      const q = queryOf(req);
      const filter = requestFilter(q);
      const meta = nodeMetaFilters(q);
      return blockingRead(ctx, req, reply, {
        key: WAIT_KEY.service(name),
        index: () => catalog.serviceIndex(name),
        body: () => {
          const out = [];
          for (const row of catalog.serviceRows(name)) {
            if (meta.size > 0) {
              const node = catalog.getNode(row.node);
              if (!node || !matchesMeta(node.meta, meta)) continue;
            }
            for (const c of catalog.checksForService(row.node, row.id)) {
              const j = healthCheckJson(c);
              if (!filter || filter(j)) out.push(j);
            }
          }
          return out;
        },
      });
    },
  });

  methodRoutes(app, '/v1/health/service/*', {
    GET: (req, reply) => {
      const name = restOf(req);
      if (name === '') throw badRequest('Missing service name');
      const q = queryOf(req);
      const filter = requestFilter(q);
      const passing = boolParam(q, 'passing');
      return blockingRead(ctx, req, reply, {
        key: WAIT_KEY.service(name),
        index: () => catalog.serviceIndex(name),
        cacheable: true,
        body: () => {
          const out = [];
          for (const { row, node } of selectInstances(ctx, name, q)) {
            if (!node) continue;
            // Node checks first, then the service's own (Consul's parseCheckServiceNodes order).
            const nodeChecks = catalog.checksForService(node.node, '');
            const serviceChecks = catalog.checksForService(node.node, row.id);
            const checks = nodeChecks.length === 0 ? serviceChecks : serviceChecks.length === 0 ? nodeChecks : nodeChecks.concat(serviceChecks);
            if (passing && !allPassing(checks)) continue;
            const entry = healthEntryJson(node, row, checks);
            if (!filter || filter(entry)) out.push(entry);
          }
          return out;
        },
      });
    },
  });

  methodRoutes(app, '/v1/health/state/*', {
    GET: (req, reply) => {
      const state = restOf(req);
      if (state === '') throw badRequest('Missing check state');
      if (!STATES.has(state)) throw badRequest(`Invalid check state: '${state}'`);
      const q = queryOf(req);
      const filter = requestFilter(q);
      const meta = nodeMetaFilters(q);
      return blockingRead(ctx, req, reply, {
        key: WAIT_KEY.checks,
        index: () => catalog.checksIndex,
        body: () => {
          const out = [];
          for (const c of catalog.checksByState(state as 'any')) {
            if (meta.size > 0) {
              const node = catalog.getNode(c.node);
              if (!node || !matchesMeta(node.meta, meta)) continue;
            }
            const j = healthCheckJson(c);
            if (!filter || filter(j)) out.push(j);
          }
          return out;
        },
      });
    },
  });
}
