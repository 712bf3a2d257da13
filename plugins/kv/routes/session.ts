/**
 * `/v1/session/*` (consul-compat.md §3.6; Consul's agent/session_endpoint.go and the
 * Session.Apply RPC): create, destroy, renew, info, node, list.
 *
 * The proposer (this route) does what Consul does before Raft: fills the defaults (this node,
 * `serfHealth`, 15 s lock delay, release), checks Behavior and TTL with Consul's 500 texts, and
 * picks the session ID; the apply checks the node and the checks (500 `Missing node
 * registration`, `Missing check '<id>' registration`, `Check '<id>' is in critical state`).
 * Renew resets the TTL timer only: it is not a log write.
 */
import { randomUUID } from 'node:crypto';
import { formatDuration, parseDuration, type AgentAccess, type HttpToolkit } from '../../../src/plugin.ts';
import { GoDecodeError, GoFields } from '../go-json.ts';
import type { KvRuntime } from '../kv-runtime.ts';
import type { SessionSpec } from '../kv-state.ts';
import { sessionJson, type SessionRow } from '../sessions.ts';
import { SESSIONS_WAITER } from '../wake-keys.ts';

/** Consul's structs.SessionTTLMax. */
export const SESSION_TTL_MAX_MS = 24 * 3_600_000;
/** Consul's lockDelayMinThreshold: a lock delay below 1000 (ns) is taken as seconds. */
const LOCK_DELAY_MIN_THRESHOLD = 1000;
const NS_PER_S = 1_000_000_000;

/** ns of a Go duration string; throws with Go's `time: ...` text. */
function durationNs(s: string): number {
  try {
    return Math.round(parseDuration(s) * 1e6);
  } catch (err) {
    throw new GoDecodeError(`time: ${(err as Error).message}`);
  }
}

/** Session.UnmarshalJSON's LockDelay: a Go duration string or a number of ns; under 1000 means seconds. */
function lockDelayNs(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  let ns = 0;
  if (typeof v === 'string') ns = durationNs(v);
  else if (typeof v === 'number') ns = Math.trunc(v);
  if (ns < LOCK_DELAY_MIN_THRESHOLD) ns *= NS_PER_S;
  return ns;
}

/** Reads a create body over Consul's defaults (SessionCreate + fixupEmptySessionChecks). */
export function sessionSpecFromBody(body: unknown, defaultNode: string): Omit<SessionSpec, 'id'> {
  const s: Omit<SessionSpec, 'id'> = {
    name: '',
    node: defaultNode,
    lockDelay: 15 * NS_PER_S,
    behavior: 'release',
    ttl: '',
    nodeChecks: ['serfHealth'],
    serviceChecks: null,
    checks: ['serfHealth'],
  };
  if (body !== undefined) {
    const f = new GoFields(body, 'structs.Session');
    s.name = f.string('Name') ?? s.name;
    s.node = f.string('Node') ?? s.node;
    const delay = lockDelayNs(f.raw('LockDelay'));
    if (delay !== undefined) s.lockDelay = delay;
    const behavior = f.string('Behavior');
    if (behavior !== undefined) s.behavior = behavior as SessionSpec['behavior'];
    s.ttl = f.string('TTL') ?? s.ttl;
    const checks = f.stringList('Checks', '[]types.CheckID');
    if (checks !== undefined) s.checks = checks;
    const nodeChecks = f.stringList('NodeChecks');
    if (nodeChecks !== undefined) s.nodeChecks = nodeChecks;
    const svc = f.objectList('ServiceChecks', 'structs.ServiceCheck');
    if (svc !== undefined) s.serviceChecks = svc === null ? null : svc.map((c) => ({ id: c.string('ID') ?? '', namespace: c.string('Namespace') ?? '' }));
  }
  // fixupEmptySessionChecks (Consul 1.7+): `Checks` is the legacy field; an empty one empties
  // NodeChecks too, the lone default is dropped in favour of NodeChecks, and an empty
  // NodeChecks drops the default Checks.
  if (s.checks === null || s.checks.length === 0) s.nodeChecks = [];
  else if (s.checks.length === 1 && s.checks[0] === 'serfHealth') s.checks = null;
  else if (s.nodeChecks === null || s.nodeChecks.length === 0) s.checks = null;
  return s;
}

export function sessionRoutes(server: unknown, kit: HttpToolkit, rt: KvRuntime, agent: AgentAccess): void {
  const sessions = rt.state.sessions;
  const minMs = () => rt.options.sessionTtlMinMs;

  /** Consul's Session.Apply checks before Raft (500 with its text). */
  const checkSpec = (s: Omit<SessionSpec, 'id'>) => {
    if (s.node === '') throw kit.error(500, 'Must provide Node');
    if ((s.behavior as string) === '') s.behavior = 'release';
    if (s.behavior !== 'release' && s.behavior !== 'delete') throw kit.error(500, `Invalid Behavior setting '${s.behavior}'`);
    if (s.ttl !== '') {
      let ns: number;
      try {
        ns = durationNs(s.ttl);
      } catch (err) {
        throw kit.error(500, `Session TTL '${s.ttl}' invalid: ${(err as Error).message}`);
      }
      if (ns !== 0 && (ns < minMs() * 1e6 || ns > SESSION_TTL_MAX_MS * 1e6)) {
        throw kit.error(500, `Invalid Session TTL '${ns}', must be between [${formatDuration(minMs())}=${formatDuration(SESSION_TTL_MAX_MS)}]`);
      }
    }
  };

  /** Looks a session up by the ID in the path: 500 `failed session lookup: ...` for a malformed ID. */
  const lookup = (id: string): SessionRow | undefined => {
    try {
      return sessions.lookup(id);
    } catch (err) {
      throw kit.error(500, `failed session lookup: ${(err as Error).message}`);
    }
  };

  const idOf = (req: unknown): string => {
    const id = kit.rest(req);
    if (id === '') throw kit.error(400, 'Missing session');
    return id;
  };

  kit.routes(server, '/v1/session/create', {
    PUT: async (req, reply) => {
      kit.checkDatacenter(req);
      const raw = kit.body(req);
      let spec: Omit<SessionSpec, 'id'>;
      try {
        spec = sessionSpecFromBody(raw && raw.length > 0 ? kit.jsonBody(req) : undefined, agent.node().node);
      } catch (err) {
        if (err instanceof GoDecodeError) throw kit.error(400, `Request decode failed: ${err.message}`);
        throw err;
      }
      checkSpec(spec);
      let id = randomUUID();
      while (sessions.find(id)) id = randomUUID();
      await rt.propose({ type: 'kv.session-create', session: { id, ...spec }, now: rt.now() });
      return kit.sendJson(req, reply, { ID: id });
    },
  });

  kit.routes(server, '/v1/session/destroy/*', {
    PUT: async (req, reply) => {
      kit.checkDatacenter(req);
      const id = idOf(req);
      await rt.propose({ type: 'kv.session-destroy', id, now: rt.now() });
      return kit.sendJson(req, reply, true);
    },
  });

  kit.routes(server, '/v1/session/renew/*', {
    PUT: (req, reply) => {
      kit.checkReadParams(req);
      const id = idOf(req);
      const s = lookup(id);
      if (!s) throw kit.error(404, `Session id '${id}' not found`);
      rt.renew(s);
      return kit.sendJson(req, reply, [sessionJson(s)]);
    },
  });

  kit.routes(server, '/v1/session/info/*', {
    GET: (req, reply) => {
      kit.checkReadParams(req);
      const id = idOf(req);
      lookup(id);
      return kit.blockingRead(req, reply, {
        key: SESSIONS_WAITER,
        index: () => sessions.index,
        answer: () => {
          const s = sessions.find(id);
          return { json: s ? [sessionJson(s)] : [] };
        },
      });
    },
  });

  kit.routes(server, '/v1/session/node/*', {
    GET: (req, reply) => {
      kit.checkReadParams(req);
      const node = kit.rest(req);
      if (node === '') throw kit.error(400, 'Missing node name');
      return kit.blockingRead(req, reply, {
        key: SESSIONS_WAITER,
        index: () => sessions.index,
        answer: () => ({ json: sessions.ofNode(node).map(sessionJson) }),
      });
    },
  });

  kit.routes(server, '/v1/session/list', {
    GET: (req, reply) =>
      kit.blockingRead(req, reply, {
        key: SESSIONS_WAITER,
        index: () => sessions.index,
        answer: () => ({ json: sessions.all().map(sessionJson) }),
      }),
  });
}
