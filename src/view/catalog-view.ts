/**
 * The local, health-filtered read model the DNS front end answers from (DESIGN: "local view
 * on every agent"). It keeps, per lowercased service name, the instance list in stable order
 * with each instance's aggregated status, plus address indexes for PTR, and updates only what
 * a ChangeSet names — so a DNS miss costs a Map lookup and (with a tag) one filter.
 *
 * Health rules (consul-compat.md §1.5): an instance is hidden when any of its checks — node
 * level (`serfHealth`, `_node_maintenance`, user node checks) or its own (including
 * `_service_maintenance:<id>`) — is critical; warning instances stay unless onlyPassing.
 *
 * Node lookups and PTR lookups do not filter on health, as in Consul: agent/dns.go answers
 * `<node>.node` from Catalog.NodeServices and PTR from Catalog.ListNodes / Catalog.ServiceNodes,
 * none of which look at checks (a failed node keeps its A record, consul-compat.md §8). NS
 * answers do filter: Consul builds them with the same health-filtered lookup as services.
 */
import type { StateMachine } from '../catalog/state-machine.ts';
import { STATUS_RANK, type CheckRow, type HealthStatus, type NodeRow, type ServiceRow } from '../catalog/types.ts';

/** One instance of a service with everything a DNS answer needs. Shared: do not mutate. */
export interface ServiceInstance {
  node: NodeRow;
  service: ServiceRow;
  /** Node-level checks (by check ID), then the service's own (by check ID), as Consul's CheckServiceNode lists them. */
  checks: CheckRow[];
  /** Worst status of `checks`; `passing` when there are none. */
  status: HealthStatus;
}

/**
 * The reads the view needs from a catalog replica. The StateMachine provides them; a remote
 * change stream will later feed a replica that does too.
 */
export type CatalogSource = Pick<
  StateMachine,
  'onChange' | 'nodes' | 'getNode' | 'serviceNames' | 'serviceRows' | 'serviceRowsOnNode' | 'checksForService'
>;

/** Dependency key for an answer built from a service's instances (lowercased name). */
export const svcDep = (lname: string): string => `svc:${lname}`;
/** Dependency key for an answer built from a node row (lowercased name). */
export const nodeDep = (lnode: string): string => `node:${lnode}`;
/** Dependency key for reverse (PTR) answers. */
export const ADDR_DEP = 'addr';

interface Instance {
  readonly inst: ServiceInstance;
  readonly lnode: string;
  /** `<lnode>\0<id>`: orders like (node, id) and is unique per instance. */
  readonly key: string;
  /** Lowercased tags, built on the first tag-filtered lookup. */
  ltags?: Set<string>;
}

interface Entry {
  /** Ordered by key; updated in place, never handed out. */
  readonly all: Instance[];
  /** Not critical; built on the first read after a change (a bulk load pays nothing per write). */
  healthy?: ServiceInstance[];
  /** Passing only; built like `healthy`. */
  passing?: ServiceInstance[];
}

const EMPTY: ServiceInstance[] = [];
Object.freeze(EMPTY);

/** Above this many touched nodes a service is rebuilt from its full row list (restore, mass changes). */
const INCREMENTAL_MAX_NODES = 16;

/**
 * The canonical text of an IP address, or undefined when `s` is not one: dotted quad for
 * IPv4, RFC 5952 (lowercase, longest zero run compressed) for IPv6. Both the index and the
 * lookups go through this, so `::1` finds `0:0:0:0:0:0:0:1`.
 */
export function canonicalIp(s: string): string | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    const parts = s.split('.').map(Number);
    return parts.every((p) => p <= 255) ? parts.join('.') : undefined;
  }
  if (!s.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(s)) return undefined;
  try {
    // The WHATWG URL host serialiser is RFC 5952's canonical form (longest zero run, lowercase).
    const host = new URL(`http://[${s}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}

function worst(checks: readonly CheckRow[]): HealthStatus {
  let status: HealthStatus = 'passing';
  for (const c of checks) {
    if (STATUS_RANK[c.status] > STATUS_RANK[status]) {
      status = c.status;
      if (status === 'critical') break;
    }
  }
  return status;
}

function minKey(keys: Iterable<string>): string | undefined {
  let min: string | undefined;
  for (const k of keys) if (min === undefined || k < min) min = k;
  return min;
}

/** The health-filtered catalog view. Subscribes to the source's change feed on construction. */
export class CatalogView {
  private readonly services = new Map<string, Entry>();
  private readonly nodeRows = new Map<string, NodeRow>();
  /** Canonical IP -> lowercased nodes with that address. */
  private readonly nodesByIp = new Map<string, Set<string>>();
  /** Canonical IP -> instance key -> service row whose own Address is that IP. */
  private readonly servicesByIp = new Map<string, Map<string, ServiceRow>>();
  /** Instance key -> its entry in servicesByIp. */
  private readonly serviceIpOf = new Map<string, { ip: string; row: ServiceRow }>();
  private readonly listeners = new Set<(deps: string[]) => void>();
  private readonly unsubscribe: () => void;

  constructor(private readonly src: CatalogSource) {
    for (const row of src.nodes()) this.setNode(row.node.toLowerCase(), undefined, row);
    for (const name of src.serviceNames().keys()) {
      const lname = name.toLowerCase();
      const added = this.rebuild(lname, undefined, new Map()).added;
      for (const rec of added) this.indexServiceAddress(rec);
    }
    this.unsubscribe = src.onChange((c) => this.apply(c.services, c.nodes));
  }

  /** Stops following the change feed. */
  close(): void {
    this.unsubscribe();
  }

  /**
   * Instances of a service by lowercased name, minus any with a critical check (node or
   * service level), minus warning ones when onlyPassing; `tag` (case-insensitive, '' = none)
   * keeps only instances carrying it. Ordered by node then service ID. Without a tag the array
   * is precomputed and shared: do not mutate.
   */
  healthyInstances(name: string, opts: { tag?: string; onlyPassing: boolean }): ServiceInstance[] {
    const e = this.services.get(name.toLowerCase());
    if (!e) return EMPTY;
    if (!opts.tag) {
      if (opts.onlyPassing) return (e.passing ??= e.all.filter((r) => r.inst.status === 'passing').map((r) => r.inst));
      return (e.healthy ??= e.all.filter((r) => r.inst.status !== 'critical').map((r) => r.inst));
    }
    const ltag = opts.tag.toLowerCase();
    const out: ServiceInstance[] = [];
    for (const rec of e.all) {
      const s = rec.inst.status;
      if (s === 'critical' || (opts.onlyPassing && s !== 'passing')) continue;
      rec.ltags ??= new Set(rec.inst.service.tags.map((t) => t.toLowerCase()));
      if (rec.ltags.has(ltag)) out.push(rec.inst);
    }
    return out;
  }

  /** Every instance of a service, any health, ordered by node then ID (fresh array). */
  instances(name: string): ServiceInstance[] {
    const e = this.services.get(name.toLowerCase());
    return e ? e.all.map((r) => r.inst) : [];
  }

  /** Whether the service has any instance at all (any health). */
  hasService(name: string): boolean {
    return this.services.has(name.toLowerCase());
  }

  /**
   * The node row by case-insensitive name, whatever its health: Consul answers node lookups
   * for failed nodes too (agent/dns.go handleNodeQuery reads Catalog.NodeServices, no checks).
   */
  node(name: string): NodeRow | undefined {
    return this.nodeRows.get(name.toLowerCase());
  }

  /** For PTR: the node whose address is `ip` (any textual form), first by lowercased name. Any health. */
  nodeByAddress(ip: string): NodeRow | undefined {
    const c = canonicalIp(ip);
    const set = c === undefined ? undefined : this.nodesByIp.get(c);
    if (!set) return undefined;
    return this.nodeRows.get(minKey(set)!);
  }

  /**
   * For PTR when no node matched: the service instance whose own Address (not the node's) is
   * `ip`, first by node then ID, any health (Consul's Catalog.ServiceNodes by ServiceAddress).
   */
  serviceByAddress(ip: string): ServiceRow | undefined {
    const c = canonicalIp(ip);
    const m = c === undefined ? undefined : this.servicesByIp.get(c);
    if (!m) return undefined;
    return m.get(minKey(m.keys())!);
  }

  /** Health-filtered instances of service `consul` (the servers), for NS and SOA answers. */
  consulServers(opts: { onlyPassing: boolean } = { onlyPassing: false }): ServiceInstance[] {
    return this.healthyInstances('consul', opts);
  }

  /**
   * Fired synchronously, inside the apply that caused it, with the DNS cache dependency keys
   * a change affects: `svc:<name>` when a service's instance list, an instance's service row,
   * node row or aggregated status changed (not for check output alone); `node:<name>` when a
   * node row was added, changed or removed; `addr` when a PTR answer could differ (an IP
   * address of a node or of a service's own Address, or the name it maps to, changed).
   * Names are lowercased. The array is shared between listeners: do not mutate. Returns the
   * unsubscribe function.
   */
  onInvalidate(listener: (deps: string[]) => void): () => void {
    const fn = (deps: string[]) => listener(deps);
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  // ---- updating --------------------------------------------------------------------------

  private apply(services: ReadonlySet<string>, nodes: ReadonlySet<string>): void {
    const deps: string[] = [];
    let addr = false;
    for (const lnode of nodes) {
      const old = this.nodeRows.get(lnode);
      const cur = this.src.getNode(lnode);
      if (old === cur) continue;
      deps.push(nodeDep(lnode));
      if (this.setNode(lnode, old, cur)) addr = true;
    }

    // Rebuild every named service first, then move the address index: a renamed instance
    // leaves one name and joins another in the same change.
    const nodeChecks = new Map<string, CheckRow[]>();
    const removed: Instance[] = [];
    const added: Instance[] = [];
    for (const lname of services) {
      const r = this.rebuild(lname, nodes, nodeChecks);
      if (r.visible) deps.push(svcDep(lname));
      for (const x of r.removed) removed.push(x);
      for (const x of r.added) added.push(x);
    }
    const before = new Map<string, string>();
    for (const rec of removed) {
      const sig = this.unindexServiceAddress(rec);
      if (sig !== undefined) before.set(rec.key, sig);
    }
    for (const rec of added) {
      const sig = this.indexServiceAddress(rec);
      if (sig !== before.get(rec.key)) addr = true;
      before.delete(rec.key);
    }
    if (before.size > 0) addr = true;
    if (addr) deps.push(ADDR_DEP);
    if (deps.length > 0) this.emit(deps);
  }

  private emit(deps: string[]): void {
    let first: { err: unknown } | undefined;
    for (const fn of [...this.listeners]) {
      try {
        fn(deps);
      } catch (err) {
        first ??= { err };
      }
    }
    // Every listener ran; the first failure goes to the state machine's listener-error hook.
    if (first) throw first.err;
  }

  /**
   * Recomputes one service's instances: only those on `touched` nodes when that set is small
   * (an instance depends on nothing outside its node), else all of them. Returns the records
   * that left and joined, and whether anything a DNS answer shows changed.
   *
   * The incremental path replaces each touched node's run of records in place (a node's keys
   * are contiguous), so registering the n-th instance of a big service costs a binary search
   * and a pointer move, not a rebuild of n records.
   */
  private rebuild(
    lname: string,
    touched: ReadonlySet<string> | undefined,
    nodeChecks: Map<string, CheckRow[]>,
  ): { removed: Instance[]; added: Instance[]; visible: boolean } {
    const entry = this.services.get(lname);
    const removed: Instance[] = [];
    const added: Instance[] = [];
    let all: Instance[];
    if (touched && touched.size <= INCREMENTAL_MAX_NODES) {
      all = entry ? entry.all : [];
      for (const lnode of touched) {
        const lo = lowerBound(all, `${lnode}\0`);
        let hi = lo;
        while (hi < all.length && all[hi].lnode === lnode) removed.push(all[hi++]);
        const fresh: Instance[] = [];
        for (const row of this.src.serviceRowsOnNode(lname, lnode)) {
          const rec = this.build(lnode, row, nodeChecks);
          if (rec) fresh.push(rec);
        }
        if (hi > lo || fresh.length > 0) all.splice(lo, hi - lo, ...fresh);
        for (const rec of fresh) added.push(rec);
      }
    } else {
      if (entry) removed.push(...entry.all);
      for (const row of this.src.serviceRows(lname)) {
        const rec = this.build(row.node.toLowerCase(), row, nodeChecks);
        if (rec) added.push(rec);
      }
      all = added;
    }
    if (all.length === 0) this.services.delete(lname);
    else if (entry && entry.all === all) {
      entry.healthy = undefined;
      entry.passing = undefined;
    } else this.services.set(lname, { all });
    return { removed, added, visible: !sameInstances(removed, added) };
  }

  private build(lnode: string, row: ServiceRow, nodeChecks: Map<string, CheckRow[]>): Instance | undefined {
    const node = this.nodeRows.get(lnode);
    if (!node) return undefined;
    let nc = nodeChecks.get(lnode);
    if (!nc) nodeChecks.set(lnode, (nc = this.src.checksForService(lnode, '')));
    const sc = this.src.checksForService(lnode, row.id);
    // Instances without checks of their own share the node's check array (read-only anyway).
    const checks = sc.length === 0 ? nc : nc.concat(sc);
    return { inst: { node, service: row, checks, status: worst(checks) }, lnode, key: `${lnode}\0${row.id}` };
  }

  /** Updates the node map and its address index; returns whether a PTR answer could change. */
  private setNode(lnode: string, old: NodeRow | undefined, cur: NodeRow | undefined): boolean {
    const oldIp = old && canonicalIp(old.address);
    const curIp = cur && canonicalIp(cur.address);
    if (oldIp !== undefined) {
      const set = this.nodesByIp.get(oldIp)!;
      set.delete(lnode);
      if (set.size === 0) this.nodesByIp.delete(oldIp);
    }
    if (cur) this.nodeRows.set(lnode, cur);
    else this.nodeRows.delete(lnode);
    if (curIp !== undefined) {
      let set = this.nodesByIp.get(curIp);
      if (!set) this.nodesByIp.set(curIp, (set = new Set()));
      set.add(lnode);
    }
    return oldIp !== curIp || (curIp !== undefined && old?.node !== cur?.node);
  }

  /** Indexes a record's own service address; returns its PTR signature (IP + name) or undefined. */
  private indexServiceAddress(rec: Instance): string | undefined {
    const row = rec.inst.service;
    const ip = canonicalIp(row.address);
    if (ip === undefined) return undefined;
    let m = this.servicesByIp.get(ip);
    if (!m) this.servicesByIp.set(ip, (m = new Map()));
    m.set(rec.key, row);
    this.serviceIpOf.set(rec.key, { ip, row });
    return `${ip}\0${row.service}`;
  }

  /** Drops a record's address entry (only if it is still this record's); returns its signature. */
  private unindexServiceAddress(rec: Instance): string | undefined {
    const cur = this.serviceIpOf.get(rec.key);
    if (!cur || cur.row !== rec.inst.service) return undefined;
    this.serviceIpOf.delete(rec.key);
    const m = this.servicesByIp.get(cur.ip)!;
    m.delete(rec.key);
    if (m.size === 0) this.servicesByIp.delete(cur.ip);
    return `${cur.ip}\0${cur.row.service}`;
  }
}

/** First position in a key-ordered list whose key is >= `key`. */
function lowerBound(list: Instance[], key: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether two key-ordered lists show the same thing to DNS: same rows, same status. */
function sameInstances(a: Instance[], b: Instance[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i].inst;
    const y = b[i].inst;
    if (a[i].key !== b[i].key || x.service !== y.service || x.node !== y.node || x.status !== y.status) return false;
  }
  return true;
}
