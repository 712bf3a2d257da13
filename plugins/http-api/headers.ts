/**
 * Query-metadata headers on catalog and health reads (consul-compat.md §0). The Go client
 * (Prometheus, consul-template) fails to parse a response whose X-Consul-LastContact is missing
 * or not an integer, and node-consul's watch errors on a missing or zero X-Consul-Index, so all
 * of them go on every such read, 404s included.
 */
import type { FastifyReply } from 'fastify';
import type { ReadAccess } from '../../src/plugin.ts';
import type { ReadOptions } from './read-options.ts';

/** Leader facts for the headers; a single-node agent is its own leader. */
export type LeaderFacts = ReturnType<ReadAccess['leaderInfo']>;
const SELF_LEADER: LeaderFacts = { knownLeader: true, lastContactMs: 0 };

/** X-Consul-KnownLeader and X-Consul-LastContact: a server's or client agent's (ReadAccess), else a single node's. */
export function setLeaderHeaders(reply: FastifyReply, reads: ReadAccess | undefined): void {
  const l = reads?.leaderInfo() ?? SELF_LEADER;
  reply.header('x-consul-knownleader', l.knownLeader ? 'true' : 'false');
  reply.header('x-consul-lastcontact', String(l.lastContactMs));
}

/**
 * Sets X-Consul-Index (never 0: a 0 is sent as 1, as Consul's setIndex does, so `?index=0`
 * clients cannot spin), X-Consul-KnownLeader and X-Consul-LastContact (a single node
 * is its own leader: `true`, `0`; a server or client agent reports what it knows of its
 * cluster's leader), X-Consul-Effective-Consistency, X-Consul-Default-ACL-Policy `allow` (sent
 * even with ACLs off, 1.9+), and for `?cached` reads X-Cache `MISS` with Age `0` (Herald reads
 * its live state, never a cache).
 */
export function setQueryMeta(reply: FastifyReply, index: bigint, read: ReadOptions, reads?: ReadAccess): void {
  reply.header('x-consul-index', index > 0n ? index.toString() : '1');
  setLeaderHeaders(reply, reads);
  reply.header('x-consul-effective-consistency', read.consistency);
  reply.header('x-consul-default-acl-policy', 'allow');
  if (read.cached) {
    reply.header('x-cache', 'MISS');
    reply.header('age', '0');
  }
}
