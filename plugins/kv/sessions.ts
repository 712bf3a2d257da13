/**
 * The sessions table (Consul's `sessions`, agent/consul/state/session.go): rows by ID, the
 * per-node index that catalog changes use to find the sessions to invalidate, the table index,
 * and the Session JSON of the API.
 */
import { sessionLookupKey } from './go-text.ts';

export type SessionBehavior = 'release' | 'delete';

export interface ServiceCheckRef {
  id: string;
  namespace: string;
}

/** A session as stored. `lockDelay` is in ns (as the API prints it); `ttl` is the string the client sent. */
export interface SessionRow {
  readonly id: string;
  readonly name: string;
  readonly node: string;
  readonly lockDelay: number;
  readonly behavior: SessionBehavior;
  readonly ttl: string;
  readonly nodeChecks: string[] | null;
  readonly serviceChecks: ServiceCheckRef[] | null;
  /** Legacy `Checks` (omitted from JSON when empty). */
  readonly checks: string[] | null;
  readonly createIndex: bigint;
  readonly modifyIndex: bigint;
}

/** Every check ID the session is bound to (Consul's Session.CheckIDs): legacy, node, then service checks. */
export function sessionCheckIds(s: Pick<SessionRow, 'checks' | 'nodeChecks' | 'serviceChecks'>): string[] {
  return [...(s.checks ?? []), ...(s.nodeChecks ?? []), ...(s.serviceChecks ?? []).map((c) => c.id)];
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const wire = (v: bigint): number | bigint => (v <= MAX_SAFE ? Number(v) : v);

/** The API's Session object, in Consul's field order. */
export function sessionJson(s: SessionRow): Record<string, unknown> {
  const o: Record<string, unknown> = {
    ID: s.id,
    Name: s.name,
    Node: s.node,
    LockDelay: s.lockDelay,
    Behavior: s.behavior,
    TTL: s.ttl,
    NodeChecks: s.nodeChecks,
    ServiceChecks: s.serviceChecks === null ? null : s.serviceChecks.map((c) => ({ ID: c.id, Namespace: c.namespace })),
  };
  if (s.checks && s.checks.length > 0) o.Checks = s.checks;
  o.CreateIndex = wire(s.createIndex);
  o.ModifyIndex = wire(s.modifyIndex);
  return o;
}

/** Looks a session ID up the way go-memdb's UUID index does; undefined when it cannot be parsed. */
export function tryLookupKey(id: string): string | undefined {
  try {
    return sessionLookupKey(id);
  } catch {
    return undefined;
  }
}

export class SessionTable {
  private readonly rows = new Map<string, SessionRow>();
  private readonly byNode = new Map<string, Set<string>>();
  /** Index of the last change to the table (0n if none). */
  index = 0n;

  get size(): number {
    return this.rows.size;
  }

  /** The session with this ID (any case, hyphens where go-memdb ignores them); throws Consul's index error for a malformed ID. */
  lookup(id: string): SessionRow | undefined {
    return this.rows.get(sessionLookupKey(id));
  }

  /** Like lookup, but undefined for a malformed ID. */
  find(id: string): SessionRow | undefined {
    const k = tryLookupKey(id);
    return k === undefined ? undefined : this.rows.get(k);
  }

  insert(row: SessionRow): void {
    const k = sessionLookupKey(row.id);
    this.rows.set(k, row);
    const ln = row.node.toLowerCase();
    let set = this.byNode.get(ln);
    if (!set) this.byNode.set(ln, (set = new Set()));
    set.add(k);
  }

  remove(row: SessionRow): void {
    const k = sessionLookupKey(row.id);
    this.rows.delete(k);
    const ln = row.node.toLowerCase();
    const set = this.byNode.get(ln);
    if (set?.delete(k) && set.size === 0) this.byNode.delete(ln);
  }

  /** Sessions ordered by ID. */
  all(): SessionRow[] {
    return [...this.rows.keys()].sort().map((k) => this.rows.get(k)!);
  }

  /** Sessions of a node (case-insensitive), ordered by ID. */
  ofNode(node: string): SessionRow[] {
    const set = this.byNode.get(node.toLowerCase());
    if (!set) return [];
    return [...set].sort().map((k) => this.rows.get(k)!);
  }

  clear(): void {
    this.rows.clear();
    this.byNode.clear();
    this.index = 0n;
  }
}
