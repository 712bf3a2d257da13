/**
 * `/v1/status/*` (consul-compat.md §3.8). On a server, the Raft leader's and voters' server RPC
 * addresses (`""` while there is no leader); on a client agent, the same as its server last
 * reported them (Consul's client agents forward these calls to a server). A single-node Herald agent is its own Raft leader,
 * so the leader and the only peer are this node's server address, `<address>:8300` (Consul's
 * server RPC port). No ACLs and no blocking headers, as in Consul.
 */
import type { FastifyInstance } from 'fastify';
import { methodRoutes } from '../method-routes.ts';
import { wantsPretty, type RouteContext } from '../route-context.ts';
import { sendJson } from '../wire.ts';

/** Consul's server RPC port, which `status/leader` and `status/peers` report. */
export const SERVER_RPC_PORT = 8300;

/** `<host>:8300`, with IPv6 addresses bracketed as Go's net.JoinHostPort does. */
export function serverAddress(address: string): string {
  return address.includes(':') ? `[${address}]:${SERVER_RPC_PORT}` : `${address}:${SERVER_RPC_PORT}`;
}

export function statusRoutes(app: FastifyInstance, ctx: RouteContext): void {
  methodRoutes(app, '/v1/status/leader', {
    GET: (req, reply) => {
      const reads = ctx.core.reads?.();
      return sendJson(reply, reads ? reads.leaderAddress() : serverAddress(ctx.agent.node().address), wantsPretty(ctx, req));
    },
  });
  methodRoutes(app, '/v1/status/peers', {
    GET: (req, reply) => {
      const reads = ctx.core.reads?.();
      return sendJson(reply, reads ? reads.peers() : [serverAddress(ctx.agent.node().address)], wantsPretty(ctx, req));
    },
  });
}
