/**
 * Routes with Consul's method rules (agent/http.go `wrap`): every path answers every method;
 * the ones it serves go to their handlers, `OPTIONS` gets 200 with `Allow: OPTIONS,<methods>`
 * and an empty body, anything else gets 405 with the same `Allow` and the body
 * `method <M> not allowed`. Served methods are registered as their own fastify routes, so the
 * hot GETs pay nothing for this.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { sendText } from './wire.ts';

/** The methods fastify routes (HEAD included: Consul has no implicit HEAD, so it gets 405). */
export const ALL_METHODS: readonly HTTPMethods[] = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'];

export type ServedMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';
export type RouteHandler = (req: FastifyRequest, reply: FastifyReply) => unknown;

/** A handler with route options: a body limit (413 beyond it) and a check run before the body is read. */
export interface RouteSpec {
  handler: RouteHandler;
  bodyLimit?: number;
  onRequest?: (req: FastifyRequest) => void | Promise<void>;
}

/** Registers `url` with one handler per served method, plus OPTIONS/405 for the rest. */
export function methodRoutes(app: FastifyInstance, url: string, handlers: Partial<Record<ServedMethod, RouteHandler | RouteSpec>>): void {
  const served = Object.keys(handlers) as ServedMethod[];
  const allow = ['OPTIONS', ...served].join(',');
  for (const m of served) {
    const h = handlers[m]!;
    if (typeof h === 'function') {
      app.route({ method: m, url, handler: h });
      continue;
    }
    const check = h.onRequest;
    app.route({
      method: m,
      url,
      handler: h.handler,
      ...(h.bodyLimit === undefined ? {} : { bodyLimit: h.bodyLimit }),
      ...(check ? { onRequest: async (req: FastifyRequest) => check(req) } : {}),
    });
  }
  const others = ALL_METHODS.filter((m) => !(served as string[]).includes(m));
  app.route({
    method: others as HTTPMethods[],
    url,
    handler(req, reply) {
      reply.header('allow', allow);
      if (req.method === 'OPTIONS') return reply.code(200).send();
      return sendText(reply, 405, `method ${req.method} not allowed`);
    },
  });
}

/** Requests a browser made (fetch metadata, or an Origin): never allowed to write through GET. */
function fromBrowser(req: FastifyRequest): boolean {
  const h = req.headers;
  return h['sec-fetch-mode'] !== undefined || h['sec-fetch-site'] !== undefined || h.origin !== undefined;
}

/**
 * A write endpoint also served on GET, for clients written against Consul < 1.0: Debian's
 * python3-consul (python-consul 0.7) still sends agent check pass/warn/fail and service/check
 * deregister as GET. Consul 1.0 made those PUT-only so a web page cannot trigger them with an
 * `<img>` tag against a local agent; Herald keeps that protection by refusing the GET (405) when
 * it carries browser fetch metadata (`Sec-Fetch-*`) or an `Origin`.
 */
export function legacyGet(handler: RouteHandler, allow: string): RouteHandler {
  return (req, reply) => {
    if (fromBrowser(req)) {
      reply.header('allow', allow);
      return sendText(reply, 405, `method ${req.method} not allowed`);
    }
    return handler(req, reply);
  };
}
