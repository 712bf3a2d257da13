/**
 * The HttpToolkit (src/plugin.ts) the server hands every plugin route group: Consul's wire
 * rules — blocking reads on any waiter key, query-metadata headers, plain-text errors, JSON with
 * `?pretty`, exact uint64, method routing with 405 + Allow — so a plugin such as kv gets them
 * without importing http-api.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpBlockingRead, HttpRouteHandler, HttpRouteSpec, HttpToolkit } from '../../src/plugin.ts';
import { blockUntilChanged, parseBlockingParams } from './blocking.ts';
import { setLeaderHeaders, setQueryMeta } from './headers.ts';
import { HttpError, errorCodeFor } from './http-error.ts';
import { methodRoutes, type RouteSpec, type ServedMethod } from './method-routes.ts';
import { firstParam, hasFlag } from './query-params.ts';
import { checkDatacenter, parseReadOptions } from './read-options.ts';
import { decodeJsonBody } from './request-body.ts';
import { queryOf, readPoint, restOf, wantsPretty, type RouteContext } from './route-context.ts';
import { encodeJson, sendJson, sendText, wireUint } from './wire.ts';

const identity = (s: string): string => s;

/** Builds the toolkit over one server's context (its waiter registry and agent). */
export function httpToolkit(ctx: RouteContext): HttpToolkit {
  const pretty = (req: FastifyRequest) => wantsPretty(ctx, req);
  const checkReadParams = (req: FastifyRequest) => {
    const q = queryOf(req);
    checkDatacenter(q, ctx.agent.config().datacenter);
    parseReadOptions(q);
    parseBlockingParams(q);
  };
  return {
    async blockingRead(rq, rp, read: HttpBlockingRead) {
      const req = rq as FastifyRequest;
      const reply = rp as FastifyReply;
      const q = queryOf(req);
      checkDatacenter(q, ctx.agent.config().datacenter);
      const opts = parseReadOptions(q);
      const params = parseBlockingParams(q);
      // The read point once, before the first answer (route-context.ts); the wait is then local.
      const point = readPoint(ctx, opts);
      if (point) await point;
      if (params.index !== 0n) {
        const outcome = await blockUntilChanged(ctx.waiters, params, read.key, () => read.index(), reply.raw);
        if (outcome === 'closed') return reply;
      }
      // Index and answer in one synchronous step: no write can land between them.
      const index = read.index();
      const a = read.answer();
      setQueryMeta(reply, index, opts, ctx.core.reads?.());
      if (a.status !== undefined) reply.code(a.status);
      if (a.headers) for (const [k, v] of Object.entries(a.headers)) reply.header(k, v);
      if (a.jsonText !== undefined && !pretty(req)) {
        return reply.serializer(identity).header('content-type', 'application/json').send(a.jsonText);
      }
      if (a.json !== undefined || a.jsonText !== undefined) {
        return sendJson(reply, a.json !== undefined ? a.json : JSON.parse(a.jsonText!), pretty(req));
      }
      return reply.send(a.body);
    },
    checkReadParams: (req) => checkReadParams(req as FastifyRequest),
    checkDatacenter: (req) => checkDatacenter(queryOf(req as FastifyRequest), ctx.agent.config().datacenter),
    setLeaderHeaders: (rp) => setLeaderHeaders(rp as FastifyReply, ctx.core.reads?.()),
    pretty: (req) => pretty(req as FastifyRequest),
    wake: (keys) => ctx.waiters.notify(keys),
    wakeAll: () => ctx.waiters.notifyAll(),
    watched: (key) => ctx.waiters.watched(key),
    sendJson: (req, reply, value, status) => {
      const r = reply as FastifyReply;
      if (status !== undefined) r.code(status);
      return sendJson(r, value, pretty(req as FastifyRequest));
    },
    sendText: (reply, status, text) => sendText(reply as FastifyReply, status, text),
    error: (status, message, headers) => new HttpError(status, errorCodeFor(status), message, headers),
    wireUint,
    encodeJson: (value) => encodeJson(value),
    routes(server, url, handlers) {
      const out: Partial<Record<ServedMethod, RouteSpec>> = {};
      for (const [m, h] of Object.entries(handlers) as [ServedMethod, HttpRouteHandler | HttpRouteSpec][]) {
        out[m] =
          typeof h === 'function'
            ? { handler: h as RouteSpec['handler'] }
            : { handler: h.handler as RouteSpec['handler'], bodyLimit: h.bodyLimit, onRequest: h.onRequest };
      }
      methodRoutes(server as FastifyInstance, url, out);
    },
    rest: (req) => restOf(req as FastifyRequest),
    hasParam: (req, name) => hasFlag(queryOf(req as FastifyRequest), name),
    param: (req, name) => firstParam(queryOf(req as FastifyRequest), name),
    params(req) {
      const out: [string, string[]][] = [];
      for (const [k, v] of Object.entries(queryOf(req as FastifyRequest))) {
        if (v !== undefined) out.push([k, Array.isArray(v) ? v : [v]]);
      }
      return out;
    },
    body(req) {
      const b = (req as FastifyRequest).body;
      return Buffer.isBuffer(b) ? b : undefined;
    },
    jsonBody: (req, opts) => decodeJsonBody((req as FastifyRequest).body, opts),
    datacenter: () => ctx.agent.config().datacenter,
  };
}
