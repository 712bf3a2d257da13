/**
 * Row storage for the catalog: the nodes, services and checks tables, the secondary indexes
 * the state machine and the view read (per node, per lowercased service name, per bound
 * service), and the field normalisation and equality rules rows are written with.
 *
 * Rows are immutable once stored: a change replaces the row object, so a reader holding a
 * row keeps a consistent version and `a !== b` means "changed". Nothing here knows about
 * indexes' meaning or commands; the state machine decides what to write.
 */
import { ERR, HeraldError } from '../errors.ts';
import type {
  CheckDefinitionSummary,
  CheckFields,
  CheckRow,
  HealthStatus,
  NodeFields,
  NodeRow,
  ServiceFields,
  ServiceRow,
} from './types.ts';

/** One node with everything registered on it. Maps are owned by the tables: do not mutate. */
export interface NodeEntry {
  row: NodeRow;
  /** Service ID (case-sensitive, as in Consul) -> row. */
  readonly services: Map<string, ServiceRow>;
  /** Check ID -> row. */
  readonly checks: Map<string, CheckRow>;
  /** Bound service ID ('' for node-level checks) -> check ID -> row. */
  readonly checksByService: Map<string, Map<string, CheckRow>>;
}

/** The instances of one lowercased service name. */
interface ServiceNameEntry {
  /** Lowercased node name -> service ID -> row. */
  readonly byNode: Map<string, Map<string, ServiceRow>>;
  size: number;
  /** Tag -> number of instances carrying it, so a tag-set change is O(tags) to detect. */
  readonly tagCounts: Map<string, number>;
  /** Rows ordered by (lowercased node, id); rebuilt lazily after a change. */
  sorted: ServiceRow[] | undefined;
}

/** The catalog's three tables. Every mutator keeps the secondary indexes in step. */
export class CatalogTables {
  /** Lowercased node name -> entry. Read-only outside this class. */
  readonly nodes = new Map<string, NodeEntry>();
  private readonly names = new Map<string, ServiceNameEntry>();
  private sortedNodes: NodeRow[] | undefined;
  private checkTotal = 0;
  private serviceTotal = 0;

  /** Inserts or replaces the node row; creates the entry for a new node. */
  putNode(lnode: string, row: NodeRow): NodeEntry {
    let entry = this.nodes.get(lnode);
    if (entry) entry.row = row;
    else {
      entry = { row, services: new Map(), checks: new Map(), checksByService: new Map() };
      this.nodes.set(lnode, entry);
    }
    this.sortedNodes = undefined;
    return entry;
  }

  /**
   * Removes a node with its services and checks. Returns whether the set of service names or
   * a name's tag set changed (what `servicesListIndex` tracks).
   */
  removeNode(lnode: string): boolean {
    const entry = this.nodes.get(lnode);
    if (!entry) return false;
    let listChanged = false;
    for (const id of [...entry.services.keys()]) {
      if (this.removeService(lnode, id)) listChanged = true;
    }
    this.checkTotal -= entry.checks.size;
    this.nodes.delete(lnode);
    this.sortedNodes = undefined;
    return listChanged;
  }

  /**
   * Inserts or replaces a service row on an existing node (its checks are untouched).
   * Returns whether the set of service names or a name's tag set changed.
   */
  putService(lnode: string, row: ServiceRow): boolean {
    const entry = this.nodes.get(lnode)!;
    const old = entry.services.get(row.id);
    entry.services.set(row.id, row);
    if (old && old.service.toLowerCase() === row.service.toLowerCase()) return this.reindexService(lnode, old, row);
    let listChanged = false;
    if (old) listChanged = this.unindexService(lnode, old);
    else this.serviceTotal++;
    if (this.indexService(lnode, row)) listChanged = true;
    return listChanged;
  }

  /** Removes one service row (not its checks). Returns whether the name/tag list changed. */
  removeService(lnode: string, id: string): boolean {
    const entry = this.nodes.get(lnode);
    const old = entry?.services.get(id);
    if (!entry || !old) return false;
    entry.services.delete(id);
    this.serviceTotal--;
    return this.unindexService(lnode, old);
  }

  /** Inserts or replaces a check row on an existing node, moving it between bindings. */
  putCheck(lnode: string, row: CheckRow): void {
    const entry = this.nodes.get(lnode)!;
    const old = entry.checks.get(row.checkId);
    if (old) this.unbindCheck(entry, old);
    else this.checkTotal++;
    entry.checks.set(row.checkId, row);
    let bound = entry.checksByService.get(row.serviceId);
    if (!bound) entry.checksByService.set(row.serviceId, (bound = new Map()));
    bound.set(row.checkId, row);
  }

  /** Removes one check row; returns it, or undefined when there was none. */
  removeCheck(lnode: string, checkId: string): CheckRow | undefined {
    const entry = this.nodes.get(lnode);
    const old = entry?.checks.get(checkId);
    if (!entry || !old) return undefined;
    entry.checks.delete(checkId);
    this.unbindCheck(entry, old);
    this.checkTotal--;
    return old;
  }

  /** Whether any instance carries this lowercased service name. */
  hasServiceName(lname: string): boolean {
    return this.names.has(lname);
  }

  /** Lowercased service names with at least one instance, in insertion order. */
  serviceNameKeys(): IterableIterator<string> {
    return this.names.keys();
  }

  /** Sorted, de-duplicated union of the tags of a name's instances ([] when unknown). */
  serviceTags(lname: string): string[] {
    const entry = this.names.get(lname);
    return entry ? [...entry.tagCounts.keys()].sort(compareStrings) : [];
  }

  /** A name's instances ordered by (lowercased node, id). Shared array: do not mutate. */
  serviceRows(lname: string): readonly ServiceRow[] {
    const entry = this.names.get(lname);
    if (!entry) return EMPTY;
    if (!entry.sorted) {
      const rows: ServiceRow[] = [];
      for (const lnode of [...entry.byNode.keys()].sort(compareStrings)) {
        const ids = entry.byNode.get(lnode)!;
        for (const id of [...ids.keys()].sort(compareStrings)) rows.push(ids.get(id)!);
      }
      entry.sorted = rows;
    }
    return entry.sorted;
  }

  /** A name's instances on one node, ordered by id. Fresh array. */
  serviceRowsOnNode(lname: string, lnode: string): ServiceRow[] {
    const ids = this.names.get(lname)?.byNode.get(lnode);
    if (!ids) return [];
    if (ids.size === 1) return [ids.values().next().value!];
    return [...ids.keys()].sort(compareStrings).map((id) => ids.get(id)!);
  }

  /** Node rows ordered by lowercased name. Shared array: do not mutate. */
  nodeRows(): readonly NodeRow[] {
    if (!this.sortedNodes) {
      this.sortedNodes = [...this.nodes.keys()].sort(compareStrings).map((k) => this.nodes.get(k)!.row);
    }
    return this.sortedNodes;
  }

  /** Row counts, for sizing and tests. */
  counts(): { nodes: number; services: number; checks: number } {
    return { nodes: this.nodes.size, services: this.serviceTotal, checks: this.checkTotal };
  }

  private indexService(lnode: string, row: ServiceRow): boolean {
    const lname = row.service.toLowerCase();
    let entry = this.names.get(lname);
    let listChanged = false;
    if (!entry) {
      entry = { byNode: new Map(), size: 0, tagCounts: new Map(), sorted: undefined };
      this.names.set(lname, entry);
      listChanged = true;
    }
    let ids = entry.byNode.get(lnode);
    if (!ids) entry.byNode.set(lnode, (ids = new Map()));
    ids.set(row.id, row);
    entry.size++;
    entry.sorted = undefined;
    for (const tag of new Set(row.tags)) {
      const n = entry.tagCounts.get(tag) ?? 0;
      entry.tagCounts.set(tag, n + 1);
      if (n === 0) listChanged = true;
    }
    return listChanged;
  }

  /**
   * Replaces an instance under the same name in place. Removing then re-adding would empty a
   * one-instance name for a moment and report a list change that did not happen.
   */
  private reindexService(lnode: string, old: ServiceRow, row: ServiceRow): boolean {
    const entry = this.names.get(row.service.toLowerCase())!;
    entry.byNode.get(lnode)!.set(row.id, row);
    entry.sorted = undefined;
    const before = new Set(old.tags);
    const after = new Set(row.tags);
    // A case-only rename changes the key /catalog/services shows.
    let listChanged = old.service !== row.service;
    for (const tag of before) {
      if (after.has(tag)) continue;
      const n = entry.tagCounts.get(tag)!;
      if (n === 1) {
        entry.tagCounts.delete(tag);
        listChanged = true;
      } else entry.tagCounts.set(tag, n - 1);
    }
    for (const tag of after) {
      if (before.has(tag)) continue;
      const n = entry.tagCounts.get(tag) ?? 0;
      entry.tagCounts.set(tag, n + 1);
      if (n === 0) listChanged = true;
    }
    return listChanged;
  }

  private unindexService(lnode: string, row: ServiceRow): boolean {
    const lname = row.service.toLowerCase();
    const entry = this.names.get(lname)!;
    const ids = entry.byNode.get(lnode)!;
    ids.delete(row.id);
    if (ids.size === 0) entry.byNode.delete(lnode);
    entry.size--;
    entry.sorted = undefined;
    if (entry.size === 0) {
      this.names.delete(lname);
      return true;
    }
    let listChanged = false;
    for (const tag of new Set(row.tags)) {
      const n = entry.tagCounts.get(tag)!;
      if (n === 1) {
        entry.tagCounts.delete(tag);
        listChanged = true;
      } else entry.tagCounts.set(tag, n - 1);
    }
    return listChanged;
  }

  private unbindCheck(entry: NodeEntry, row: CheckRow): void {
    const bound = entry.checksByService.get(row.serviceId);
    if (!bound) return;
    bound.delete(row.checkId);
    if (bound.size === 0) entry.checksByService.delete(row.serviceId);
  }
}

const EMPTY: readonly ServiceRow[] = Object.freeze([]);

/**
 * Code-unit string order. Never `localeCompare`: replicas with different locales must order
 * rows (and so snapshots) identically.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Field normalisation: commands arrive as JSON from the log, so every field is type-checked
// and copied (the stored row never shares objects with the command). The message names the
// field, per DESIGN principle 8.

const STATUSES: ReadonlySet<string> = new Set<HealthStatus>(['passing', 'warning', 'critical']);

/** Whether `s` is one of the three check states. */
export function isHealthStatus(s: unknown): s is HealthStatus {
  return typeof s === 'string' && STATUSES.has(s);
}

function invalid(field: string, what: string): never {
  throw new HeraldError(ERR.COMMAND_INVALID, `${field}: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A required, non-empty string. */
export function requireName(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') invalid(field, 'must be a non-empty string');
  return v;
}

function optString(v: unknown, field: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') invalid(field, 'must be a string');
  return v;
}

function optStringArray(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) invalid(field, 'must be an array of strings');
  return [...(v as string[])];
}

function optStringRecord(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) invalid(field, 'must be an object of strings');
  const out: Record<string, string> = {};
  // for-in + hasOwn: Object.entries would allocate a pair array per key on every command.
  for (const k in v) {
    if (!Object.hasOwn(v, k)) continue;
    const x = v[k];
    if (typeof x !== 'string') invalid(`${field}.${k}`, 'must be a string');
    out[k] = x;
  }
  return out;
}

function optPort(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) invalid(field, 'must be an integer 0-65535');
  return v;
}

function optWeight(v: unknown, field: string): number {
  if (v === undefined || v === null) return 1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) invalid(field, 'must be an integer 0-65535');
  return v;
}

function optBool(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') invalid(field, 'must be a boolean');
  return v;
}

/** Checked copy of node fields; `node` and `address` are required as in Consul's Catalog.Register. */
export function normalizeNodeFields(v: unknown, field: string): NodeFields {
  if (!isObject(v)) invalid(field, 'must be an object');
  const node = requireName(v.node, `${field}.node`);
  // NUL separates node and ID in the view's instance keys; no valid node name has one.
  if (node.includes('\0')) invalid(`${field}.node`, 'must not contain NUL');
  return {
    node,
    id: optString(v.id, `${field}.id`),
    address: requireName(v.address, `${field}.address`),
    datacenter: optString(v.datacenter, `${field}.datacenter`),
    taggedAddresses: optStringRecord(v.taggedAddresses, `${field}.taggedAddresses`),
    meta: optStringRecord(v.meta, `${field}.meta`),
  };
}

/** Checked copy of service fields; `id` defaults to the service name (Consul agent/structs). */
export function normalizeServiceFields(v: unknown, field: string): ServiceFields {
  if (!isObject(v)) invalid(field, 'must be an object');
  const service = requireName(v.service, `${field}.service`);
  const weights = v.weights;
  if (weights !== undefined && weights !== null && !isObject(weights)) invalid(`${field}.weights`, 'must be an object');
  const tagged: Record<string, { address: string; port: number }> = {};
  if (v.taggedAddresses !== undefined && v.taggedAddresses !== null) {
    if (!isObject(v.taggedAddresses)) invalid(`${field}.taggedAddresses`, 'must be an object');
    for (const [k, x] of Object.entries(v.taggedAddresses)) {
      if (!isObject(x)) invalid(`${field}.taggedAddresses.${k}`, 'must be an object');
      tagged[k] = {
        address: optString(x.address, `${field}.taggedAddresses.${k}.address`),
        port: optPort(x.port, `${field}.taggedAddresses.${k}.port`),
      };
    }
  }
  return {
    id: optString(v.id, `${field}.id`) || service,
    service,
    tags: optStringArray(v.tags, `${field}.tags`),
    address: optString(v.address, `${field}.address`),
    port: optPort(v.port, `${field}.port`),
    meta: optStringRecord(v.meta, `${field}.meta`),
    weights: {
      passing: optWeight(weights?.passing, `${field}.weights.passing`),
      warning: optWeight(weights?.warning, `${field}.weights.warning`),
    },
    enableTagOverride: optBool(v.enableTagOverride, `${field}.enableTagOverride`),
    taggedAddresses: tagged,
  };
}

const DEFINITION_STRINGS = ['interval', 'timeout', 'http', 'tcp', 'ttl', 'deregisterCriticalServiceAfter'] as const;

/**
 * Checked copy of check fields. An empty or missing status is stored as `critical`, as
 * Consul's catalog register does. `serviceName`/`serviceTags` are copied here but the state
 * machine overwrites them from the bound service.
 */
export function normalizeCheckFields(v: unknown, field: string): CheckFields {
  if (!isObject(v)) invalid(field, 'must be an object');
  const checkId = requireName(v.checkId, `${field}.checkId`);
  let status: unknown = v.status;
  if (status === undefined || status === null || status === '') status = 'critical';
  if (!isHealthStatus(status)) invalid(`${field}.status`, `must be passing, warning or critical, not ${JSON.stringify(status)}`);
  const def = v.definition;
  if (def !== undefined && def !== null && !isObject(def)) invalid(`${field}.definition`, 'must be an object');
  const definition: CheckDefinitionSummary = {};
  if (def) {
    for (const k of DEFINITION_STRINGS) {
      if (def[k] !== undefined && def[k] !== null) definition[k] = optString(def[k], `${field}.definition.${k}`);
    }
    if (def.args !== undefined && def.args !== null) definition.args = optStringArray(def.args, `${field}.definition.args`);
  }
  return {
    checkId,
    name: optString(v.name, `${field}.name`) || checkId,
    status,
    notes: optString(v.notes, `${field}.notes`),
    output: optString(v.output, `${field}.output`),
    serviceId: optString(v.serviceId, `${field}.serviceId`),
    serviceName: optString(v.serviceName, `${field}.serviceName`),
    serviceTags: optStringArray(v.serviceTags, `${field}.serviceTags`),
    type: optString(v.type, `${field}.type`),
    definition,
  };
}

// ---------------------------------------------------------------------------------------------
// Equality: a write whose fields equal the stored row's is skipped (no index bump), as
// Consul's state store does with IsSame, so watchers stay quiet on anti-entropy re-syncs.
// Tag order matters (it is visible in the API); map key order does not (Go maps are unordered).

function arraysEqual(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function recordsEqual(a: Record<string, string>, b: Record<string, string>): boolean {
  let na = 0;
  for (const k in a) {
    na++;
    if (!Object.hasOwn(b, k) || a[k] !== b[k]) return false;
  }
  let nb = 0;
  for (const _ in b) nb++;
  return na === nb;
}

/** Tag lists equal in order. */
export function tagsEqual(a: readonly string[], b: readonly string[]): boolean {
  return arraysEqual(a, b);
}

/** Whether storing `f` over `row` would change nothing. */
export function sameNode(row: NodeFields, f: NodeFields): boolean {
  return (
    row.node === f.node &&
    row.id === f.id &&
    row.address === f.address &&
    row.datacenter === f.datacenter &&
    recordsEqual(row.taggedAddresses, f.taggedAddresses) &&
    recordsEqual(row.meta, f.meta)
  );
}

/** Whether storing `f` over `row` would change nothing. */
export function sameService(row: ServiceFields, f: ServiceFields): boolean {
  if (
    row.id !== f.id ||
    row.service !== f.service ||
    !arraysEqual(row.tags, f.tags) ||
    row.address !== f.address ||
    row.port !== f.port ||
    row.weights.passing !== f.weights.passing ||
    row.weights.warning !== f.weights.warning ||
    row.enableTagOverride !== f.enableTagOverride ||
    !recordsEqual(row.meta, f.meta)
  ) {
    return false;
  }
  const ka = Object.keys(row.taggedAddresses);
  if (ka.length !== Object.keys(f.taggedAddresses).length) return false;
  for (const k of ka) {
    const x = row.taggedAddresses[k];
    const y = f.taggedAddresses[k];
    if (!y || x.address !== y.address || x.port !== y.port) return false;
  }
  return true;
}

/** Whether storing `f` over `row` would change nothing. */
export function sameCheck(row: CheckFields, f: CheckFields): boolean {
  if (
    row.checkId !== f.checkId ||
    row.name !== f.name ||
    row.status !== f.status ||
    row.notes !== f.notes ||
    row.output !== f.output ||
    row.serviceId !== f.serviceId ||
    row.serviceName !== f.serviceName ||
    row.type !== f.type ||
    !arraysEqual(row.serviceTags, f.serviceTags)
  ) {
    return false;
  }
  const a = row.definition;
  const b = f.definition;
  for (const k of DEFINITION_STRINGS) if (a[k] !== b[k]) return false;
  if ((a.args === undefined) !== (b.args === undefined)) return false;
  return a.args === undefined || arraysEqual(a.args, b.args!);
}

// Row builders fix the key order, so JSON of equal states is byte-identical across replicas.

/** A node row with fixed key order. */
export function nodeRow(f: NodeFields, createIndex: bigint, modifyIndex: bigint): NodeRow {
  return {
    node: f.node,
    id: f.id,
    address: f.address,
    datacenter: f.datacenter,
    taggedAddresses: f.taggedAddresses,
    meta: f.meta,
    createIndex,
    modifyIndex,
  };
}

/** A service row with fixed key order. */
export function serviceRow(node: string, f: ServiceFields, createIndex: bigint, modifyIndex: bigint): ServiceRow {
  return {
    node,
    id: f.id,
    service: f.service,
    tags: f.tags,
    address: f.address,
    port: f.port,
    meta: f.meta,
    weights: { passing: f.weights.passing, warning: f.weights.warning },
    enableTagOverride: f.enableTagOverride,
    taggedAddresses: f.taggedAddresses,
    createIndex,
    modifyIndex,
  };
}

/** A check row with fixed key order. */
export function checkRow(node: string, f: CheckFields, createIndex: bigint, modifyIndex: bigint): CheckRow {
  const definition: CheckDefinitionSummary = {};
  for (const k of DEFINITION_STRINGS) if (f.definition[k] !== undefined) definition[k] = f.definition[k];
  if (f.definition.args !== undefined) definition.args = f.definition.args;
  return {
    node,
    checkId: f.checkId,
    name: f.name,
    status: f.status,
    notes: f.notes,
    output: f.output,
    serviceId: f.serviceId,
    serviceName: f.serviceName,
    serviceTags: f.serviceTags,
    type: f.type,
    definition,
    createIndex,
    modifyIndex,
  };
}
