/**
 * `/v1/operator/raft/*` (consul-compat.md §3.10): the Raft configuration, removing a peer, and
 * moving leadership. On a single-node agent the configuration is this node alone (its own
 * leader and only voter) and there is nothing to remove or transfer to.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERR, type RaftServer } from '../../../src/plugin.ts';
import { HttpError, badRequest } from '../http-error.ts';
import { methodRoutes } from '../method-routes.ts';
import { firstParam } from '../query-params.ts';
import { queryOf, wantsPretty, type RouteContext } from '../route-context.ts';
import { sendJson, wireUint } from '../wire.ts';
import { serverAddress } from './status.ts';

/** Consul's RaftServer JSON (api/operator_raft.go). */
function raftServerJson(s: RaftServer) {
  return { ID: s.id, Node: s.node, Address: s.address, Leader: s.leader, ProtocolVersion: '3', Voter: s.voter, LastIndex: 0 };
}

function noCluster(what: string): HttpError {
  return new HttpError(500, ERR.HTTP_API_ERROR, `${what}: this agent is not a server in a Raft cluster`);
}

export function operatorRoutes(app: FastifyInstance, ctx: RouteContext): void {
  methodRoutes(app, '/v1/operator/raft/configuration', {
    GET: (req, reply) => {
      const cluster = ctx.core.cluster?.();
      if (!cluster) {
        const n = ctx.agent.node();
        const self = { id: n.id, node: n.node, address: serverAddress(n.address), leader: true, voter: true };
        return sendJson(reply, { Servers: [raftServerJson(self)], Index: 1 }, wantsPretty(ctx, req));
      }
      const c = cluster.configuration();
      return sendJson(reply, { Servers: c.servers.map(raftServerJson), Index: wireUint(c.index) }, wantsPretty(ctx, req));
    },
  });
  methodRoutes(app, '/v1/operator/raft/peer', {
    DELETE: async (req, reply) => {
      const q = queryOf(req);
      const id = firstParam(q, 'id') || undefined;
      const address = firstParam(q, 'address') || undefined;
      // Consul's wording (agent/operator_endpoint.go).
      if (id === undefined && address === undefined) throw badRequest('Must specify either ?id with the server\'s ID or ?address with IP:port of peer to remove');
      if (id !== undefined && address !== undefined) throw badRequest('Must specify only one of ?id or ?address');
      const cluster = ctx.core.cluster?.();
      if (!cluster) throw noCluster('remove peer');
      await cluster.removePeer(id !== undefined ? { id } : { address: address! });
      return sendJson(reply, null, false);
    },
  });
  const transfer = async (req: FastifyRequest, reply: FastifyReply) => {
    const cluster = ctx.core.cluster?.();
    if (!cluster) throw noCluster('transfer leadership');
    const id = firstParam(queryOf(req), 'id') || undefined;
    await cluster.transferLeader(id);
    return sendJson(reply, { Success: true }, wantsPretty(ctx, req));
  };
  methodRoutes(app, '/v1/operator/raft/transfer-leader', {
    POST: transfer,
    // Herald's CLI client sends PUT; Consul's API uses POST. Both move leadership.
    PUT: transfer,
  });
}
