/**
 * What route modules get: the core access the plugin was given, the blocking-query registry,
 * and the few per-request decisions every route shares (pretty printing, the blocking read).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AgentAccess, CatalogReader, CoreAccess, Logger } from '../../src/plugin.ts';
import { blockUntilChanged, parseBlockingParams, type WaiterRegistry } from './blocking.ts';
import { setQueryMeta } from './headers.ts';
import { checkDatacenter, parseReadOptions, type ReadOptions } from './read-options.ts';
import { hasFlag, type Query } from './query-params.ts';
import { sendJson } from './wire.ts';

/** The plugin-context subset the HTTP API needs (a PluginContext satisfies it). */
export interface HttpApiDeps {
  readonly catalog: CatalogReader;
  readonly agent: AgentAccess;
  readonly core: Pick<CoreAccess, 'propose' | 'onChange' | 'httpRouteGroups' | 'snapshot' | 'restore' | 'cluster' | 'reads'>;
  readonly log: Logger;
}

export interface RouteContext extends HttpApiDeps {
  readonly waiters: WaiterRegistry;
}

/** The request's query as fastify parsed it. */
export function queryOf(req: FastifyRequest): Query {
  return req.query as Query;
}

/** The `*` part of a prefix route, percent-decoded (an empty ID is the caller's to refuse). */
export function restOf(req: FastifyRequest): string {
  return (req.params as { '*'?: string })['*'] ?? '';
}

/** `?pretty` (presence), or dev mode, as Consul's marshalJSON decides. */
export function wantsPretty(ctx: RouteContext, req: FastifyRequest): boolean {
  return hasFlag(queryOf(req), 'pretty') || ctx.agent.config().dev;
}

/**
 * What a read waits for before it reads the local state (ReadAccess.readPoint,
 * src/agent/read-point.ts): on a follower server or a client agent, the leader's applied index
 * (default) or a quorum-confirmed ReadIndex (`?consistent`, on the leader too); without a
 * leader that is Consul's 500 `No cluster leader`. `?stale` reads, the leader's default reads
 * and a single node's answer from the local state at once (their headers say how fresh it is).
 */
export function readPoint(ctx: HttpApiDeps, opts: ReadOptions): Promise<void> | undefined {
  // Undefined (nothing to await) on a single node, for ?stale and for the leader's default
  // reads: the common read path stays synchronous up to the send.
  const reads = ctx.core.reads?.();
  if (!reads) return undefined;
  // ?max_stale: local state older than asked is re-asked of the leader, as Consul does; the
  // X-Consul-Effective-Consistency header then says `leader`.
  if (opts.consistency === 'stale' && opts.maxStaleMs !== undefined && reads.leaderInfo().lastContactMs > opts.maxStaleMs) opts.consistency = 'leader';
  return reads.readPoint(opts.consistency);
}

/** A catalog/health read: one watched resource, its index, and the body built after any wait. */
export interface BlockingRead {
  /** Registry key of the resource (WAIT_KEY.*). */
  key: string;
  /** Its current index (the X-Consul-Index the answer carries). */
  index: () => bigint;
  /** Builds the response value; runs once, after the wait. */
  body: () => unknown;
  /** Endpoint supports `?cached` (catalog/service, health/service). */
  cacheable?: boolean;
  /** Answer status (404 reads still carry the index headers). */
  status?: number;
}

/**
 * Runs a catalog/health read the Consul way: validate `?dc`, consistency flags, `?index`/`?wait`
 * before anything else (so a bad parameter is a 400 with nothing computed), wait for the read
 * point (readPoint), block if asked, then build the body and send it with the query-metadata
 * headers.
 */
export async function blockingRead(ctx: RouteContext, req: FastifyRequest, reply: FastifyReply, read: BlockingRead): Promise<FastifyReply> {
  const q = queryOf(req);
  checkDatacenter(q, ctx.agent.config().datacenter);
  const opts: ReadOptions = parseReadOptions(q, read.cacheable);
  const params = parseBlockingParams(q);
  // The read point once, before the first answer; a blocking query then waits on the local
  // state, which only moves forward from there (an RPC per wake-up would buy nothing more).
  // It also fails fast: `No cluster leader` now, not after the whole ?wait.
  const point = readPoint(ctx, opts);
  if (point) await point;
  if (params.index !== 0n) await blockUntilChanged(ctx.waiters, params, read.key, read.index, reply.raw);
  // Index and body are taken in one synchronous step: no write can land between them.
  const index = read.index();
  const body = read.body();
  setQueryMeta(reply, index, opts, ctx.core.reads?.());
  if (read.status) reply.code(read.status);
  return sendJson(reply, body, wantsPretty(ctx, req));
}
