/**
 * `/v1/agent/*` (consul-compat.md §3.1): the local agent. Never forwarded, no X-Consul-Index
 * (except the content hash of `agent/service/<id>`). Writes go through AgentAccess, so they
 * take the same path (local state -> log -> catalog) as config-file definitions.
 *
 * Decisions (old vs new Consul):
 * - Unknown or non-TTL check on `check/pass|warn|fail|update`: (new) 404
 *   `Unknown check ID "x". Ensure that the check ID is passed, not the check name.` Old Consul
 *   answered 500 `CheckID "x" does not have associated TTL`; a 404 tells clients the ID is
 *   wrong rather than that the agent broke. Newer Consul looks TTL checks up in a map of TTL
 *   checks only, so a non-TTL ID is "unknown" there too.
 * - `service/deregister/<id>` and `check/deregister/<id>` of an unknown ID: (new) 404
 *   `Unknown service ID "x". Ensure that the service ID is passed, not the service name.` /
 *   the check equivalent. Old Consul answered 200.
 * - Bad definitions and refused registrations (script checks disabled, unknown ServiceID) are
 *   400 with the agent's message; Consul answers some of those 500.
 * - `leave` answers 200 first, then leaves (the agent stops this server while leaving).
 * - check pass/warn/fail and service/check deregister also answer GET, as Consul < 1.0 did,
 *   because Debian's python3-consul (0.7) still sends GET there; browser-made GETs are refused
 *   (method-routes.ts legacyGet).
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import process from 'node:process';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  CONSUL_COMPAT_VERSION,
  ERR,
  HeraldError,
  VERSION,
  checkDefinitionFromJson,
  formatDuration,
  serviceDefinitionFromJson,
  type HealthStatus,
  type RuntimeConfig,
} from '../../../src/plugin.ts';
import { WAIT_KEY, waitTimeoutMs } from '../blocking.ts';
import { BodyFields } from '../body-fields.ts';
import { agentCheckJson, agentServiceJson, healthCheckJson } from '../consul-objects.ts';
import { requestFilter } from '../filter-cache.ts';
import { badRequest, notFound } from '../http-error.ts';
import { legacyGet, methodRoutes, type RouteHandler } from '../method-routes.ts';
import { collectMetrics, metricsJson, metricsPrometheus, PROMETHEUS_CONTENT_TYPE } from '../metrics.ts';
import { firstParam, hasFlag, parseGoBool, type Query } from '../query-params.ts';
import { decodeJsonBody } from '../request-body.ts';
import { queryOf, restOf, wantsPretty, type RouteContext } from '../route-context.ts';
import { serverAddress, SERVER_RPC_PORT } from './status.ts';
import { sendEmpty, sendJson } from '../wire.ts';

/** Serf LAN / WAN ports a Consul member advertises. */
const SERF_LAN_PORT = 8301;
const SERF_WAN_PORT = 8302;

/** Consul's agent/self `Member` (a serf member): this node, alive, with a server's tags. */
export function memberJson(ctx: RouteContext, wan = false): Record<string, unknown> {
  const cfg = ctx.agent.config();
  const node = ctx.agent.node();
  return {
    Name: wan ? `${node.node}.${cfg.datacenter}` : node.node,
    Addr: node.address,
    Port: wan ? SERF_WAN_PORT : SERF_LAN_PORT,
    Tags: {
      role: 'consul',
      dc: cfg.datacenter,
      segment: '',
      build: `${CONSUL_COMPAT_VERSION}:herald-${VERSION}`,
      port: String(SERVER_RPC_PORT),
      id: node.id,
      bootstrap: '1',
      vsn: '2',
      vsn_min: '2',
      vsn_max: '3',
      raft_vsn: '3',
    },
    // 1 = alive (serf.MemberStatus).
    Status: 1,
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4,
  };
}

/** The running configuration under Consul's DebugConfig names. Plugin options are left out: they may hold secrets. */
function debugConfig(cfg: RuntimeConfig): Record<string, unknown> {
  return {
    BindAddr: cfg.bindAddr,
    ClientAddrs: [cfg.clientAddr],
    Datacenter: cfg.datacenter,
    PrimaryDatacenter: cfg.datacenter,
    DataDir: cfg.dataDir ?? '',
    DevMode: cfg.dev,
    DNSDomain: cfg.domain,
    DNSAltDomain: cfg.altDomain ?? '',
    DNSPort: cfg.ports.dns,
    HTTPPort: cfg.ports.http,
    DNSRecursors: cfg.recursors,
    DNSAllowStale: cfg.dnsConfig.allowStale,
    DNSOnlyPassing: cfg.dnsConfig.onlyPassing,
    DNSEnableTruncate: cfg.dnsConfig.enableTruncate,
    DNSUDPAnswerLimit: cfg.dnsConfig.udpAnswerLimit,
    DNSARecordLimit: cfg.dnsConfig.aRecordLimit,
    DNSNodeTTL: formatDuration(cfg.dnsConfig.nodeTtl * 1000),
    EnableScriptChecks: cfg.enableScriptChecks,
    EnableLocalScriptChecks: cfg.enableLocalScriptChecks,
    CheckUpdateInterval: formatDuration(cfg.checkUpdateInterval),
    NodeName: cfg.nodeName,
    NodeID: cfg.nodeId,
    NodeMeta: cfg.nodeMeta,
    LogLevel: cfg.logLevel.toUpperCase(),
    ServerMode: true,
    Plugins: cfg.plugins,
    Services: cfg.services.map((s) => s.id),
    Checks: cfg.checks.map((c) => c.id),
  };
}

function selfJson(ctx: RouteContext): Record<string, unknown> {
  const cfg = ctx.agent.config();
  const node = ctx.agent.node();
  const checks = ctx.agent.checks();
  const stats = ctx.agent.dnsStats() as unknown as Record<string, number>;
  const dns: Record<string, string> = {};
  for (const k of Object.keys(stats)) dns[k] = String(stats[k]);
  return {
    Config: {
      Datacenter: cfg.datacenter,
      PrimaryDatacenter: cfg.datacenter,
      NodeName: node.node,
      NodeID: node.id,
      Revision: '',
      Server: true,
      Version: CONSUL_COMPAT_VERSION,
    },
    DebugConfig: debugConfig(cfg),
    // A fresh Vivaldi coordinate (Consul's NewCoordinate: 8 dimensions, error 1.5, height 1e-5).
    Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 },
    Member: memberJson(ctx),
    Stats: {
      agent: {
        check_monitors: String(checks.filter((c) => c.definition.kind !== 'ttl').length),
        check_ttls: String(checks.filter((c) => c.definition.kind === 'ttl').length),
        checks: String(checks.length),
        services: String(ctx.agent.services().length),
      },
      build: { prerelease: '', revision: '', version: CONSUL_COMPAT_VERSION, herald_version: VERSION },
      consul: {
        server: 'true',
        leader: 'true',
        leader_addr: serverAddress(node.address),
        bootstrap: 'true',
        known_datacenters: '1',
      },
      runtime: {
        arch: process.arch,
        os: process.platform,
        version: process.version,
        cpu_count: String(os.cpus().length),
        uptime_seconds: String(Math.floor((Date.now() - ctx.agent.startedAt) / 1000)),
      },
      dns,
    },
    Meta: node.meta,
  };
}

/** Consul's `GET /v1/agent/host` shape (gopsutil names), from what Node's os module knows. */
function hostJson(): Record<string, unknown> {
  const total = os.totalmem();
  const free = os.freemem();
  return {
    Memory: { total, available: free, used: total - free, usedPercent: total > 0 ? ((total - free) / total) * 100 : 0, free },
    CPU: os.cpus().map((c, i) => ({ cpu: i, modelName: c.model, mhz: c.speed, cores: 1 })),
    Host: {
      hostname: os.hostname(),
      uptime: Math.floor(os.uptime()),
      bootTime: Math.floor(Date.now() / 1000 - os.uptime()),
      os: process.platform,
      platform: os.type(),
      kernelVersion: os.release(),
      kernelArch: os.machine(),
    },
    Disk: {},
    CollectionTime: Date.now() * 1e6,
    Errors: null,
  };
}

/** The content hash Consul returns with a single service (any stable digest of its JSON). */
export function contentHash(json: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(json)).digest('hex').slice(0, 16);
}

/** `?enable=` as Consul's maintenance handlers read it. */
function enableParam(q: Query): boolean {
  const raw = firstParam(q, 'enable');
  if (raw === undefined) throw badRequest('Missing value for enable');
  const v = parseGoBool(raw);
  if (v === undefined) throw badRequest(`Invalid value for enable: ${JSON.stringify(raw)}`);
  return v;
}

function unknownCheck(id: string): HeraldError {
  return notFound(`Unknown check ID ${JSON.stringify(id)}. Ensure that the check ID is passed, not the check name.`);
}

export function agentRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { agent } = ctx;
  const pretty = (req: FastifyRequest) => wantsPretty(ctx, req);

  methodRoutes(app, '/v1/agent/self', { GET: (req, reply) => sendJson(reply, selfJson(ctx), pretty(req)) });
  methodRoutes(app, '/v1/agent/members', {
    GET: (req, reply) => sendJson(reply, [memberJson(ctx, hasFlag(queryOf(req), 'wan'))], pretty(req)),
  });
  methodRoutes(app, '/v1/agent/host', { GET: (req, reply) => sendJson(reply, hostJson(), pretty(req)) });
  methodRoutes(app, '/v1/agent/version', {
    GET: (req, reply) =>
      sendJson(
        reply,
        { SKU: 'oss', BuildDate: '', HumanVersion: `${CONSUL_COMPAT_VERSION} (Herald ${VERSION})`, FIPS: '', Revision: '', Version: CONSUL_COMPAT_VERSION },
        pretty(req),
      ),
  });
  methodRoutes(app, '/v1/agent/metrics', {
    GET: (req, reply) => {
      const m = collectMetrics(ctx.catalog, agent, ctx.waiters.size);
      if (firstParam(queryOf(req), 'format') === 'prometheus') {
        return reply.header('content-type', PROMETHEUS_CONTENT_TYPE).send(metricsPrometheus(m));
      }
      return sendJson(reply, metricsJson(m), pretty(req));
    },
  });

  // ---- services --------------------------------------------------------------------------

  methodRoutes(app, '/v1/agent/services', {
    GET: (req, reply) => {
      const filter = requestFilter(queryOf(req));
      const dc = agent.config().datacenter;
      const out: Record<string, unknown> = {};
      for (const def of agent.services()) {
        const j = agentServiceJson(def, dc);
        if (!filter || filter(j)) out[def.id] = j;
      }
      return sendJson(reply, out, pretty(req));
    },
  });

  /** The local service as `agent/service/<id>` returns it, with its hash; undefined when unknown. */
  const serviceWithHash = (id: string) => {
    const def = agent.services().find((s) => s.id === id);
    if (!def) return undefined;
    const json = agentServiceJson(def, agent.config().datacenter);
    return { def, json: { ...json, ContentHash: contentHash(json) } };
  };

  methodRoutes(app, '/v1/agent/service/*', {
    GET: async (req, reply) => {
      const id = restOf(req);
      const q = queryOf(req);
      // Hash blocking (consul-compat §4): park while the service still hashes to ?hash.
      const hash = firstParam(q, 'hash');
      const timeoutMs = waitTimeoutMs(q);
      let current = serviceWithHash(id);
      if (!current) throw notFound(`unknown service ID: ${id}`);
      if (hash && current.json.ContentHash === hash) {
        await ctx.waiters.wait(
          WAIT_KEY.service(current.def.name),
          () => serviceWithHash(id)?.json.ContentHash !== hash,
          timeoutMs,
          reply.raw,
        );
        current = serviceWithHash(id);
        if (!current) throw notFound(`unknown service ID: ${id}`);
      }
      reply.header('x-consul-contenthash', current.json.ContentHash);
      return sendJson(reply, current.json, pretty(req));
    },
  });

  methodRoutes(app, '/v1/agent/service/register', {
    PUT: async (req, reply) => {
      const def = serviceDefinitionFromJson(decodeJsonBody(req.body), 'api');
      await agent.registerService(def, { replaceExistingChecks: hasFlag(queryOf(req), 'replace-existing-checks') });
      return sendEmpty(reply);
    },
  });

  /** PUT, plus GET for python-consul 0.7 (see legacyGet). */
  const putOrLegacyGet = (handler: RouteHandler) => ({ PUT: handler, GET: legacyGet(handler, 'OPTIONS,PUT') });

  methodRoutes(
    app,
    '/v1/agent/service/deregister/*',
    putOrLegacyGet(async (req, reply) => {
      const id = restOf(req);
      if (id === '') throw badRequest('Missing service ID');
      if (!(await agent.deregisterService(id))) {
        throw notFound(`Unknown service ID ${JSON.stringify(id)}. Ensure that the service ID is passed, not the service name.`);
      }
      return sendEmpty(reply);
    }),
  );

  methodRoutes(app, '/v1/agent/service/maintenance/*', {
    PUT: async (req, reply) => {
      const id = restOf(req);
      const q = queryOf(req);
      const enable = enableParam(q);
      if (id === '') throw badRequest('Missing service ID');
      if (!(await agent.setServiceMaintenance(id, enable, firstParam(q, 'reason') ?? ''))) {
        throw notFound(`No service registered with ID ${JSON.stringify(id)}`);
      }
      return sendEmpty(reply);
    },
  });

  methodRoutes(app, '/v1/agent/maintenance', {
    PUT: async (req, reply) => {
      const q = queryOf(req);
      await agent.setNodeMaintenance(enableParam(q), firstParam(q, 'reason') ?? '');
      return sendEmpty(reply);
    },
  });

  // ---- checks ----------------------------------------------------------------------------

  methodRoutes(app, '/v1/agent/checks', {
    GET: (req, reply) => {
      const filter = requestFilter(queryOf(req));
      const node = agent.node().node;
      const services = new Map(agent.services().map((s) => [s.id, s]));
      const out: Record<string, unknown> = {};
      for (const c of agent.checks()) {
        const j = agentCheckJson(node, c.definition, c.status, c.output, services.get(c.definition.serviceId));
        if (!filter || filter(j)) out[c.definition.id] = j;
      }
      // Maintenance checks are the agent's too (Consul lists them here), kept only in the catalog.
      for (const row of ctx.catalog.nodeChecks(node)) {
        if (row.type !== 'maintenance' || Object.hasOwn(out, row.checkId)) continue;
        const j = { ...healthCheckJson(row), CreateIndex: 0, ModifyIndex: 0 };
        if (!filter || filter(j)) out[row.checkId] = j;
      }
      return sendJson(reply, out, pretty(req));
    },
  });

  methodRoutes(app, '/v1/agent/check/register', {
    PUT: async (req, reply) => {
      const def = checkDefinitionFromJson(decodeJsonBody(req.body), 'api');
      await agent.registerCheck(def);
      return sendEmpty(reply);
    },
  });

  methodRoutes(
    app,
    '/v1/agent/check/deregister/*',
    putOrLegacyGet(async (req, reply) => {
      const id = restOf(req);
      if (id === '') throw badRequest('Missing check ID');
      if (!(await agent.deregisterCheck(id))) throw unknownCheck(id);
      return sendEmpty(reply);
    }),
  );

  const ttl = (req: FastifyRequest, reply: FastifyReply, status: HealthStatus, output: string) => {
    const id = restOf(req);
    try {
      agent.ttlUpdate(id, status, output);
    } catch (err) {
      if (err instanceof HeraldError && (err.code === ERR.CHECK_UNKNOWN || err.code === ERR.CHECK_NOT_TTL)) throw unknownCheck(id);
      throw err;
    }
    return sendEmpty(reply);
  };
  for (const [verb, status] of [
    ['pass', 'passing'],
    ['warn', 'warning'],
    ['fail', 'critical'],
  ] as const) {
    methodRoutes(
      app,
      `/v1/agent/check/${verb}/*`,
      putOrLegacyGet((req, reply) => ttl(req, reply, status, firstParam(queryOf(req), 'note') ?? '')),
    );
  }
  methodRoutes(app, '/v1/agent/check/update/*', {
    PUT: (req, reply) => {
      const b = BodyFields.of(decodeJsonBody(req.body));
      const status = b.string('Status') ?? '';
      if (status !== 'passing' && status !== 'warning' && status !== 'critical') throw badRequest(`Invalid check status: '${status}'`);
      return ttl(req, reply, status, b.string('Output') ?? '');
    },
  });

  // ---- lifecycle -------------------------------------------------------------------------

  methodRoutes(app, '/v1/agent/reload', {
    PUT: async (_req, reply) => {
      await agent.reload();
      return sendEmpty(reply);
    },
  });

  methodRoutes(app, '/v1/agent/leave', {
    PUT: (_req, reply) => {
      // Answer first: leaving stops this very server, which waits for requests in flight.
      reply.raw.once('finish', () => {
        agent.leave().catch((err: unknown) => ctx.log.error(`leave failed: ${(err as Error).message}`));
      });
      return sendEmpty(reply);
    },
  });
}
