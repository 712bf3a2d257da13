/**
 * The fastify server behind `/v1`: Consul's cross-cutting wire rules in one place
 * (consul-compat.md §0), then the route modules, then other plugins' route groups.
 *
 * Request path, top to bottom:
 * 1. onRequest: Go ServeMux path cleaning (`//`, `/./`, `..`, also percent-encoded) -> 301.
 * 2. Routing: unknown paths 404 with an empty body; a known path with another method 405 +
 *    `Allow`, OPTIONS 200 + `Allow` (method-routes.ts). `GET /` is `Consul Agent`.
 * 3. Body: any Content-Type is read as raw bytes up to the limit (413 beyond, before anything
 *    is buffered past it); routes decode JSON themselves (request-body.ts).
 * 4. Handler. Errors become plain-text bodies with the status they map to (http-error.ts).
 *
 * Fastify's logger stays off: request logging would sit on the hot path and could leak tokens
 * from query strings.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { ALL_METHODS } from './method-routes.ts';
import { WaiterRegistry } from './blocking.ts';
import { errorAnswer } from './http-error.ts';
import { redirectFor } from './path-clean.ts';
import { DEFAULT_MAX_BODY_BYTES } from './request-body.ts';
import type { HttpApiDeps, RouteContext } from './route-context.ts';
import { agentRoutes } from './routes/agent.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { healthRoutes } from './routes/health.ts';
import { statusRoutes } from './routes/status.ts';
import { operatorRoutes } from './routes/operator.ts';
import { snapshotRoutes } from './routes/snapshot.ts';
import { httpToolkit } from './toolkit.ts';
import { sendText } from './wire.ts';

export interface HttpApiOptions {
  /** Largest request body accepted, bytes (default DEFAULT_MAX_BODY_BYTES); larger is 413. */
  maxBodyBytes?: number;
}

/** A built server: inject() into `app` for in-process tests, or listen on a socket. */
export interface HttpApi {
  readonly app: FastifyInstance;
  readonly waiters: WaiterRegistry;
  /** Binds `host:port` (0 picks a free port); resolves with the bound address. */
  listen(host: string, port: number): Promise<AddressInfo>;
  /** The bound port, once listening. */
  readonly port: number | undefined;
  /** Answers every parked blocking query, stops following the change feed, closes the server. */
  close(): Promise<void>;
}

/**
 * Longest route parameter (a KV key) accepted. Over a socket Node's header limit (16 KiB by
 * default) bounds the URL first; this only keeps find-my-way from refusing long keys itself.
 */
export const MAX_PARAM_LENGTH = 1 << 20;

/** A syntactically plausible media type; anything else is read as octet-stream (Consul ignores it). */
const MEDIA_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+\s*(;.*)?$/;

/**
 * Builds the HTTP API on `deps` (a PluginContext works). Subscribes to the change feed at once
 * (for blocking queries) and mounts the route groups other plugins registered. Resolves once
 * fastify is ready to inject or listen.
 */
export async function buildHttpApi(deps: HttpApiDeps, opts: HttpApiOptions = {}): Promise<HttpApi> {
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = Fastify({
    logger: false,
    bodyLimit: maxBodyBytes,
    // Consul has no implicit HEAD: HEAD on a GET route is 405 like any other method.
    exposeHeadRoutes: false,
    // Idle keep-alive connections must not hold close() open.
    forceCloseConnections: 'idle',
    // Consul limits a path only by the HTTP header limits: a long KV key (the `*` of a prefix
    // route) must not 404 at find-my-way's default of 100 characters.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (err, _req, reply) => {
      // Undecodable URLs (`%zz`) and the like: Go's server answers 400 Bad Request.
      sendText(reply, 400, err.message);
    },
  });

  const waiters = new WaiterRegistry(deps.catalog);
  const unsubscribe = deps.core.onChange((change) => waiters.onChange(change));
  const ctx: RouteContext = { ...deps, waiters };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', (req, reply, done) => {
    const location = redirectFor(req.url);
    if (location === undefined) return done();
    reply.code(301).header('location', location).header('content-type', 'text/plain; charset=utf-8').send('Moved Permanently');
  });
  app.addHook('preParsing', (req, _reply, payload, done) => {
    const ct = req.headers['content-type'];
    if (ct !== undefined && !MEDIA_TYPE.test(ct)) req.headers['content-type'] = 'application/octet-stream';
    done(null, payload);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const len = req.headers['content-length'];
      const size = len && /^\d+$/.test(len) ? `(${len} bytes)` : '';
      // A route may set its own limit (KV values, transactions).
      const limit = req.routeOptions?.bodyLimit ?? maxBodyBytes;
      return sendText(reply, 413, `Request body${size} too large, max size: ${limit} bytes`);
    }
    if (err.code?.startsWith('FST_') && err.statusCode && err.statusCode < 500) return sendText(reply, err.statusCode, err.message);
    const answer = errorAnswer(err);
    if (answer.status >= 500) deps.log.warn(`${req.method} ${req.url}: ${answer.text}`);
    for (const [k, v] of Object.entries(answer.headers)) reply.header(k, v);
    return sendText(reply, answer.status, answer.text);
  });

  // Consul's index handler: `/` is the banner; every other unmatched path is an empty 404.
  app.route({
    method: ALL_METHODS as never,
    url: '/',
    handler: (_req, reply) => sendText(reply, 200, 'Consul Agent'),
  });
  app.setNotFoundHandler((_req, reply) => {
    reply.code(404).send();
  });

  agentRoutes(app, ctx);
  catalogRoutes(app, ctx);
  healthRoutes(app, ctx);
  statusRoutes(app, ctx);
  operatorRoutes(app, ctx);
  snapshotRoutes(app, ctx);

  const kit = httpToolkit(ctx);
  for (const group of deps.core.httpRouteGroups?.() ?? []) {
    await app.register(async (scope) => {
      await group.routes(scope, kit);
    });
  }
  await app.ready();

  let port: number | undefined;
  return {
    app,
    waiters,
    get port() {
      return port;
    },
    async listen(host: string, wanted: number): Promise<AddressInfo> {
      await app.listen({ host, port: wanted });
      const addr = app.server.address() as AddressInfo;
      port = addr.port;
      return addr;
    },
    async close(): Promise<void> {
      unsubscribe();
      waiters.releaseAll();
      await app.close();
    },
  };
}
