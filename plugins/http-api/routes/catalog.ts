/**
 * `/v1/catalog/*` (consul-compat.md §3.2): reads straight from the replicated catalog, writes
 * as `catalog.register` / `catalog.deregister` commands through the log.
 *
 * Decisions:
 * - Invalid register/deregister bodies (no Node, no Address, bad node ID, a service ID without
 *   a name, a wildcard service address, an unknown check status) are 400 with Consul's message.
 *   Consul returns these from its RPC layer as 500; a 400 says "your request" to every client
 *   and they all treat any non-2xx as failure.
 * - A register naming another datacenter (body `Datacenter` or `?dc`) is 500
 *   `No path to datacenter`, as a Consul agent without that WAN route answers.
 * - `SkipNodeUpdate` on an existing node keeps the stored node row; on a new node it needs an
 *   Address like any other registration.
 * - `Service.Kind` other than "" is refused (Herald has no mesh); other unknown keys are
 *   ignored as Go's decoder ignores them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatDuration, type CheckFields, type NodeFields, type ServiceFields } from '../../../src/plugin.ts';
import { WAIT_KEY } from '../blocking.ts';
import { BodyFields } from '../body-fields.ts';
import { nodeJson, nodeServiceJson, serviceNodeJson } from '../consul-objects.ts';
import { requestFilter } from '../filter-cache.ts';
import { badRequest, noPathToDatacenter } from '../http-error.ts';
import { methodRoutes } from '../method-routes.ts';
import { matchesMeta, nodeMetaFilters, type Query } from '../query-params.ts';
import { checkDatacenter } from '../read-options.ts';
import { decodeJsonBody } from '../request-body.ts';
import { blockingRead, queryOf, restOf, wantsPretty, type RouteContext } from '../route-context.ts';
import { selectInstances } from '../service-instances.ts';
import { sendJson } from '../wire.ts';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const STATUSES = new Set(['passing', 'warning', 'critical']);
/** Addresses that mean "any", refused as a service address (Consul's ipaddr.IsAny). */
const ANY_ADDRESSES = new Set(['0.0.0.0', '::', '[::]']);

function readDatacenter(b: BodyFields, q: Query, localDc: string): void {
  checkDatacenter(q, localDc);
  const dc = b.string('Datacenter');
  if (dc && dc.toLowerCase() !== localDc.toLowerCase()) throw noPathToDatacenter();
}

function readService(s: BodyFields): ServiceFields {
  const kind = s.string('Kind');
  if (kind) throw badRequest(`Service.Kind ${JSON.stringify(kind)}: service kinds (Connect proxies, gateways) are not supported by Herald`);
  const name = s.string('Service') ?? '';
  const id = s.string('ID') || name;
  if (name === '') throw badRequest(id ? 'Must provide service name with ID' : 'Must provide service name');
  const address = s.string('Address') ?? '';
  if (ANY_ADDRESSES.has(address)) throw badRequest('Invalid service address');
  const w = s.object('Weights');
  const tagged: ServiceFields['taggedAddresses'] = {};
  for (const [k, t] of s.objectMap('TaggedAddresses') ?? []) {
    tagged[k] = { address: t.string('Address') ?? '', port: t.int('Port', 0, 65535) ?? 0 };
  }
  return {
    id,
    service: name,
    tags: s.stringList('Tags') ?? [],
    address,
    port: s.int('Port', 0, 65535) ?? 0,
    meta: s.stringMap('Meta') ?? {},
    weights: { passing: w?.int('Passing', 0, 65535) ?? 1, warning: w?.int('Warning', 0, 65535) ?? 1 },
    enableTagOverride: s.bool('EnableTagOverride') ?? false,
    taggedAddresses: tagged,
  };
}

function readCheck(c: BodyFields, node: string): CheckFields {
  const name = c.string('Name') ?? '';
  const checkId = c.string('CheckID') || name;
  if (checkId === '') throw badRequest(`${c.path}: Must provide check ID or name`);
  const checkNode = c.string('Node');
  if (checkNode && checkNode !== node) {
    throw badRequest(`Node '${checkNode}' for check '${checkId}' doesn't match register request node '${node}'`);
  }
  const status = c.string('Status') || 'critical';
  if (!STATUSES.has(status)) throw badRequest(`Invalid check status: '${status}'`);
  const d = c.object('Definition');
  const dur = (field: string): string | undefined => {
    const ms = d?.duration(field);
    return ms === undefined ? undefined : formatDuration(ms);
  };
  const args = d?.stringList('ScriptArgs') ?? d?.stringList('Args');
  return {
    checkId,
    name: name || checkId,
    status: status as CheckFields['status'],
    notes: c.string('Notes') ?? '',
    output: c.string('Output') ?? '',
    serviceId: c.string('ServiceID') ?? '',
    serviceName: '',
    serviceTags: [],
    type: c.string('Type') ?? '',
    definition: {
      ...(d?.string('HTTP') ? { http: d.string('HTTP') } : {}),
      ...(d?.string('TCP') ? { tcp: d.string('TCP') } : {}),
      ...(dur('Interval') ? { interval: dur('Interval') } : {}),
      ...(dur('Timeout') ? { timeout: dur('Timeout') } : {}),
      ...(dur('TTL') ? { ttl: dur('TTL') } : {}),
      ...(dur('DeregisterCriticalServiceAfter') ? { deregisterCriticalServiceAfter: dur('DeregisterCriticalServiceAfter') } : {}),
      ...(args && args.length > 0 ? { args } : {}),
    },
  };
}

/** Parses a `PUT /v1/catalog/register` body into the command it becomes. Throws 400/500 HttpErrors. */
export function registerCommand(ctx: RouteContext, body: unknown, q: Query): { type: 'catalog.register'; node: NodeFields; service?: ServiceFields; checks: CheckFields[] } {
  const b = BodyFields.of(body);
  const localDc = ctx.agent.config().datacenter;
  readDatacenter(b, q, localDc);
  const node = b.string('Node') ?? '';
  if (node === '') throw badRequest('Must provide node');
  const id = b.string('ID') ?? '';
  if (id !== '' && !UUID.test(id)) {
    throw badRequest(`Bad node ID: ${id.length !== 36 ? 'uuid string is wrong length' : 'uuid is improperly formatted'}`);
  }
  const existing = ctx.catalog.getNode(node);
  let nodeFields: NodeFields;
  if (b.bool('SkipNodeUpdate') && existing) {
    nodeFields = {
      node: existing.node,
      id: existing.id,
      address: existing.address,
      datacenter: existing.datacenter,
      taggedAddresses: existing.taggedAddresses,
      meta: existing.meta,
    };
  } else {
    const address = b.string('Address') ?? '';
    if (address === '') throw badRequest('Must provide address if SkipNodeUpdate is not set');
    nodeFields = {
      node,
      id,
      address,
      datacenter: localDc,
      taggedAddresses: b.stringMap('TaggedAddresses') ?? {},
      meta: b.stringMap('NodeMeta') ?? {},
    };
  }
  const s = b.object('Service');
  const service = s ? readService(s) : undefined;
  const checks: CheckFields[] = [];
  const one = b.object('Check');
  if (one) checks.push(readCheck(one, node));
  for (const c of b.objectList('Checks') ?? []) checks.push(readCheck(c, node));
  return { type: 'catalog.register', node: nodeFields, ...(service ? { service } : {}), checks };
}

/** Parses a `PUT /v1/catalog/deregister` body. */
export function deregisterCommand(ctx: RouteContext, body: unknown, q: Query): { type: 'catalog.deregister'; node: string; serviceId?: string; checkId?: string } {
  const b = BodyFields.of(body);
  readDatacenter(b, q, ctx.agent.config().datacenter);
  const node = b.string('Node') ?? '';
  if (node === '') throw badRequest('Must provide node');
  const serviceId = b.string('ServiceID') ?? '';
  const checkId = b.string('CheckID') ?? '';
  return { type: 'catalog.deregister', node, ...(serviceId ? { serviceId } : {}), ...(checkId ? { checkId } : {}) };
}

/** `/v1/catalog/services` body without node-meta, memoised per service-name map (it is replaced on change). */
const servicesMemo = new WeakMap<ReadonlyMap<string, string[]>, Record<string, string[]>>();

function servicesBody(ctx: RouteContext, meta: Map<string, string>): Record<string, string[]> {
  const names = ctx.catalog.serviceNames();
  if (meta.size === 0) {
    let body = servicesMemo.get(names);
    if (!body) {
      body = Object.fromEntries(names);
      servicesMemo.set(names, body);
    }
    return body;
  }
  const out: Record<string, string[]> = {};
  for (const name of names.keys()) {
    const tags = new Set<string>();
    let any = false;
    for (const row of ctx.catalog.serviceRows(name)) {
      const node = ctx.catalog.getNode(row.node);
      if (!node || !matchesMeta(node.meta, meta)) continue;
      any = true;
      for (const t of row.tags) tags.add(t);
    }
    if (any) out[name] = [...tags].sort();
  }
  return out;
}

export function catalogRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const write = async (req: FastifyRequest, reply: FastifyReply, build: typeof registerCommand | typeof deregisterCommand) => {
    const command = build(ctx, decodeJsonBody(req.body), queryOf(req));
    await ctx.core.propose(command);
    return sendJson(reply, true, wantsPretty(ctx, req));
  };
  methodRoutes(app, '/v1/catalog/register', { PUT: (req, reply) => write(req, reply, registerCommand) });
  methodRoutes(app, '/v1/catalog/deregister', { PUT: (req, reply) => write(req, reply, deregisterCommand) });

  methodRoutes(app, '/v1/catalog/datacenters', {
    GET: (req, reply) => sendJson(reply, [ctx.agent.config().datacenter], wantsPretty(ctx, req)),
  });

  methodRoutes(app, '/v1/catalog/nodes', {
    GET: (req, reply) => {
      const q = queryOf(req);
      const meta = nodeMetaFilters(q);
      const filter = requestFilter(q);
      return blockingRead(ctx, req, reply, {
        key: WAIT_KEY.nodeList,
        index: () => ctx.catalog.nodesListIndex,
        body: () => {
          const out = [];
          for (const n of ctx.catalog.nodes()) {
            if (meta.size > 0 && !matchesMeta(n.meta, meta)) continue;
            const j = nodeJson(n);
            if (!filter || filter(j)) out.push(j);
          }
          return out;
        },
      });
    },
  });

  methodRoutes(app, '/v1/catalog/services', {
    GET: (req, reply) =>
      blockingRead(ctx, req, reply, {
        key: WAIT_KEY.serviceList,
        index: () => ctx.catalog.servicesListIndex,
        body: () => servicesBody(ctx, nodeMetaFilters(queryOf(req))),
      }),
  });

  methodRoutes(app, '/v1/catalog/service/*', {
    GET: (req, reply) => {
      const name = restOf(req);
      if (name === '') throw badRequest('Missing service name');
      const q = queryOf(req);
      const filter = requestFilter(q);
      return blockingRead(ctx, req, reply, {
        key: WAIT_KEY.service(name),
        index: () => ctx.catalog.serviceIndex(name),
        cacheable: true,
        body: () => {
          const out = [];
          for (const { row, node } of selectInstances(ctx, name, q)) {
            const j = serviceNodeJson(row, node);
            if (!filter || filter(j)) out.push(j);
          }
          return out;
        },
      });
    },
  });

  methodRoutes(app, '/v1/catalog/node/*', {
    GET: (req, reply) => {
      const name = restOf(req);
      if (name === '') throw badRequest('Missing node name');
      const filter = requestFilter(queryOf(req));
      return blockingRead(ctx, req, reply, {
        key: WAIT_KEY.node(name),
        index: () => ctx.catalog.nodeIndex(name),
        body: () => {
          const node = ctx.catalog.getNode(name);
          // Consul: an unknown node is 200 with the body `null` (the one non-list exception).
          if (!node) return null;
          const services: Record<string, unknown> = {};
          for (const s of ctx.catalog.nodeServices(node.node)) {
            const j = nodeServiceJson(s);
            if (!filter || filter(j)) services[s.id] = j;
          }
          return { Node: nodeJson(node), Services: services };
        },
      });
    },
  });

  methodRoutes(app, '/v1/catalog/node-services/*', {
    GET: (req, reply) => {
      const name = restOf(req);
      if (name === '') throw badRequest('Missing node name');
      const filter = requestFilter(queryOf(req));
      return blockingRead(ctx, req, reply, {
        key: WAIT_KEY.node(name),
        index: () => ctx.catalog.nodeIndex(name),
        body: () => {
          const node = ctx.catalog.getNode(name);
          const services = [];
          for (const s of node ? ctx.catalog.nodeServices(node.node) : []) {
            const j = nodeServiceJson(s);
            if (!filter || filter(j)) services.push(j);
          }
          return { Node: node ? nodeJson(node) : null, Services: services };
        },
      });
    },
  });
}
