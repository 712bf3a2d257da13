/**
 * `/v1/snapshot` (consul-compat.md §3.10): GET streams the whole replicated state as a
 * gzipped tar archive with the query-metadata headers (X-Consul-Index = the index the snapshot
 * covers); PUT takes such an archive as the body and restores it, answering 200 with an empty
 * body. A damaged or foreign archive is 400 with the reason and changes nothing (Consul answers
 * 500 for everything; a client error is the truer status and every client treats both as
 * failure); a failed write while persisting the restored state is 500 with the storage error.
 *
 * Content-Type: Consul sets none and Go's server sniffs gzip as `application/x-gzip`, which is
 * what this sends.
 */
import type { FastifyInstance } from 'fastify';
import { ERR, HeraldError } from '../../../src/plugin.ts';
import { setQueryMeta } from '../headers.ts';
import { HttpError } from '../http-error.ts';
import { methodRoutes } from '../method-routes.ts';
import { checkDatacenter, parseReadOptions } from '../read-options.ts';
import { queryOf, readPoint, type RouteContext } from '../route-context.ts';
import { sendEmpty } from '../wire.ts';

/**
 * Largest archive PUT accepts. The request body is buffered whole before it is verified, so
 * this bounds memory; the HTTP API's general limit (512 KiB) is far too small for a catalog.
 */
export const MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024;

function unavailable(): HttpError {
  return new HttpError(500, ERR.HTTP_API_ERROR, 'snapshots are not available on this agent');
}

export function snapshotRoutes(app: FastifyInstance, ctx: RouteContext): void {
  methodRoutes(app, '/v1/snapshot', {
    GET: async (req, reply) => {
      const q = queryOf(req);
      checkDatacenter(q, ctx.agent.config().datacenter);
      const read = parseReadOptions(q);
      if (!ctx.core.snapshot) throw unavailable();
      // Consul's snapshot is a default-mode read (the leader's state unless ?stale).
      const point = readPoint(ctx, read);
      if (point) await point;
      const { archive, index } = await ctx.core.snapshot();
      setQueryMeta(reply, index, read, ctx.core.reads?.());
      return reply.code(200).header('content-type', 'application/x-gzip').send(archive);
    },
    PUT: {
      bodyLimit: MAX_SNAPSHOT_BYTES,
      handler: async (req, reply) => {
        checkDatacenter(queryOf(req), ctx.agent.config().datacenter);
        if (!ctx.core.restore) throw unavailable();
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        try {
          await ctx.core.restore(body);
        } catch (err) {
          if (err instanceof HeraldError && err.code === ERR.SNAPSHOT_INVALID) {
            throw new HttpError(400, ERR.SNAPSHOT_INVALID, err.message);
          }
          throw err;
        }
        return sendEmpty(reply);
      },
    },
  });
}
