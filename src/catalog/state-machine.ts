/**
 * The catalog state machine (DESIGN principles 2-3): applies committed commands in log order
 * to the nodes/services/checks tables, dispatches plugin commands to their StateExtension,
 * keeps the per-table, per-service and per-node indexes that blocking queries read, and
 * publishes a ChangeSet for every entry that changed something.
 *
 * Deterministic: no clock, no randomness, no I/O. Same commands at the same indexes give the
 * same state and byte-identical snapshot JSON on every replica.
 *
 * Every apply is atomic: the command is checked completely against the current state before
 * the first mutation, so a refused command leaves nothing behind.
 */
import { ERR, HeraldError } from '../errors.ts';
import type { StateExtension } from '../plugin.ts';
import { decodeCatalogState, encodeCatalogState, type CatalogIndexes } from './snapshot.ts';
import {
  CatalogTables,
  checkRow,
  compareStrings,
  isHealthStatus,
  nodeRow,
  normalizeCheckFields,
  normalizeNodeFields,
  normalizeServiceFields,
  requireName,
  sameCheck,
  sameNode,
  sameService,
  serviceRow,
  tagsEqual,
  type NodeEntry,
} from './tables.ts';
import type {
  ChangeSet,
  CheckFields,
  CheckRow,
  Command,
  HealthStatus,
  NodeFields,
  NodeRow,
  ServiceFields,
  ServiceRow,
} from './types.ts';

/** Core table names, as they appear in ChangeSet.tables and tableIndex(). */
export const TABLE = { nodes: 'nodes', services: 'services', checks: 'checks' } as const;

/** Command types the core applies itself; extensions may not claim them or their prefixes. */
export const CORE_COMMANDS = ['catalog.register', 'catalog.deregister', 'check.update'] as const;
const CORE_PREFIXES = new Set(['catalog', 'check']);

/** What `checksByState` accepts: a status or `any` (consul-compat.md §3.3). */
export type CheckStateFilter = HealthStatus | 'any';

export interface StateMachineOptions {
  /**
   * Receives an exception thrown by a change listener. The entry is applied by then and the
   * remaining listeners still run. Default: rethrow on a microtask, so a listener bug
   * surfaces loudly instead of silently leaving a stale DNS cache.
   */
  onListenerError?: (err: unknown) => void;
}

type Plan =
  | { kind: 'register'; node: NodeFields; service?: ServiceFields; checks: CheckFields[] }
  | { kind: 'deregister'; node: string; serviceId: string; checkId: string }
  | { kind: 'update'; node: string; checkId: string; status: HealthStatus; output: string }
  | { kind: 'extension'; ext: StateExtension };

/** What one apply changed; becomes the ChangeSet. Sets are created on first use, so a no-op allocates none. */
class Changes {
  tables: Set<string> | undefined;
  services: Set<string> | undefined;
  nodes: Set<string> | undefined;
  servicesList = false;
  nodesList = false;
  table(t: string): void {
    (this.tables ??= new Set()).add(t);
  }
  service(lname: string): void {
    (this.services ??= new Set()).add(lname);
  }
  node(lnode: string): void {
    (this.nodes ??= new Set()).add(lnode);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optId(v: unknown, field: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new HeraldError(ERR.COMMAND_INVALID, `${field}: must be a string`);
  return v;
}

function prefixOf(type: string): string {
  const dot = type.indexOf('.');
  return dot > 0 ? type.slice(0, dot) : '';
}

/** The catalog state machine. Not re-entrant from inside `apply` except through listeners (see onChange). */
export class StateMachine {
  private tables = new CatalogTables();
  private ix: CatalogIndexes = emptyIndexes();
  private applied = 0n;
  private readonly extensions = new Map<string, StateExtension>();
  /** Plugin prefix -> extension; the key its state has in snapshots. */
  private readonly extensionsByPrefix = new Map<string, StateExtension>();
  private readonly listeners = new Set<(c: ChangeSet) => void>();
  private readonly pending: ChangeSet[] = [];
  private emitting = false;
  private serviceNamesCache: Map<string, string[]> | undefined;
  private readonly onListenerError: (err: unknown) => void;

  constructor(opts: StateMachineOptions = {}) {
    this.onListenerError =
      opts.onListenerError ??
      ((err) =>
        queueMicrotask(() => {
          throw err;
        }));
  }

  // ---- extensions ------------------------------------------------------------------------

  /**
   * Adds a plugin's replicated state. Its command types must all share one `<plugin>.` prefix
   * that no other extension (and not the core: `catalog.`, `check.`) uses; the prefix keys its
   * state in snapshots. Throws HeraldError COMMAND_DUPLICATE or COMMAND_INVALID.
   */
  registerExtension(ext: StateExtension): void {
    if (!Array.isArray(ext.commands) || ext.commands.length === 0) {
      throw new HeraldError(ERR.COMMAND_INVALID, 'state extension: commands must be a non-empty array');
    }
    const prefix = prefixOf(String(ext.commands[0]));
    for (const type of ext.commands) {
      if (typeof type !== 'string' || prefixOf(type) === '' || prefixOf(type) !== prefix) {
        throw new HeraldError(ERR.COMMAND_INVALID, `state extension: command ${JSON.stringify(type)} must be "${prefix || '<plugin>'}.<name>"`);
      }
      if (this.extensions.has(type) || (CORE_COMMANDS as readonly string[]).includes(type)) {
        throw new HeraldError(ERR.COMMAND_DUPLICATE, `state extension: command ${JSON.stringify(type)} is already registered`);
      }
    }
    if (CORE_PREFIXES.has(prefix) || this.extensionsByPrefix.has(prefix)) {
      throw new HeraldError(ERR.COMMAND_DUPLICATE, `state extension: prefix ${JSON.stringify(prefix)} is already registered`);
    }
    if (new Set(ext.commands).size !== ext.commands.length) {
      throw new HeraldError(ERR.COMMAND_DUPLICATE, `state extension ${JSON.stringify(prefix)}: duplicate command types`);
    }
    this.extensionsByPrefix.set(prefix, ext);
    for (const type of ext.commands) this.extensions.set(type, ext);
  }

  // ---- applying --------------------------------------------------------------------------

  /** Index of the last applied entry (0n before any). Refused entries do not move it. */
  get lastIndex(): bigint {
    return this.applied;
  }

  /**
   * Checks a command against the current state without applying it: throws HeraldError
   * (COMMAND_UNKNOWN, COMMAND_INVALID, CHECK_UNKNOWN, SERVICE_UNKNOWN) when apply would refuse
   * it. Extension commands are only checked for a registered type; their extension's own
   * apply may still refuse them. A leader calls this before giving the command an index.
   */
  validate(command: Command): void {
    this.plan(command);
  }

  /**
   * Applies one committed entry. `index` must be greater than `lastIndex` (gaps are allowed:
   * the log may hold entries that were refused). Throws HeraldError and changes nothing when
   * the command is refused; otherwise sets lastIndex, and, if anything changed, publishes a
   * ChangeSet synchronously before returning. Core commands return no result.
   */
  apply(index: bigint, command: Command): { result?: unknown } {
    if (typeof index !== 'bigint' || index <= this.applied) {
      throw new HeraldError(ERR.INDEX_NOT_INCREASING, `apply: index ${String(index)} is not above the last applied index ${this.applied}`);
    }
    const plan = this.plan(command);
    const ch = new Changes();
    let result: unknown;
    switch (plan.kind) {
      case 'register':
        this.applyRegister(index, plan, ch);
        break;
      case 'deregister':
        this.applyDeregister(plan, ch);
        break;
      case 'update':
        this.applyUpdate(index, plan, ch);
        break;
      case 'extension': {
        // The extension is atomic on its own (plugin.ts contract); if it throws, nothing of
        // ours has changed yet.
        const out = plan.ext.apply(index, command);
        for (const t of out?.tables ?? []) ch.table(String(t));
        result = out?.result;
        break;
      }
    }
    if (plan.kind !== 'extension' && ch.nodes) this.notifyCatalogChange(index, ch, ch.nodes);
    this.applied = index;
    if (ch.tables) this.commit(index, ch, ch.tables);
    return result === undefined ? {} : { result };
  }

  /**
   * Lets extensions react to a core change inside the same apply (StateExtension
   * onCatalogChange), merging the tables they touched into this entry's ChangeSet. In
   * registration order; a hook that throws is reported like a listener error and the others
   * still run (the core change is already made, so the entry cannot be refused any more).
   */
  private notifyCatalogChange(index: bigint, ch: Changes, nodes: ReadonlySet<string>): void {
    for (const ext of this.extensionsByPrefix.values()) {
      if (!ext.onCatalogChange) continue;
      try {
        const out = ext.onCatalogChange(index, { nodes });
        for (const t of out?.tables ?? []) ch.table(String(t));
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** Parses and checks a command against the current state; throws, never mutates. */
  private plan(command: Command): Plan {
    if (!isObject(command) || typeof command.type !== 'string') {
      throw new HeraldError(ERR.COMMAND_INVALID, 'command: must be an object with a string type');
    }
    switch (command.type) {
      case 'catalog.register': {
        const node = normalizeNodeFields(command.node, 'node');
        const service = command.service === undefined || command.service === null ? undefined : normalizeServiceFields(command.service, 'service');
        const rawChecks = command.checks ?? [];
        if (!Array.isArray(rawChecks)) throw new HeraldError(ERR.COMMAND_INVALID, 'checks: must be an array');
        const checks = rawChecks.map((c, i) => normalizeCheckFields(c, `checks[${i}]`));
        const existing = this.tables.nodes.get(node.node.toLowerCase());
        for (const c of checks) {
          if (c.serviceId !== '' && c.serviceId !== service?.id && !existing?.services.has(c.serviceId)) {
            throw new HeraldError(ERR.SERVICE_UNKNOWN, `check ${JSON.stringify(c.checkId)}: service ${JSON.stringify(c.serviceId)} is not registered on node ${JSON.stringify(node.node)}`);
          }
        }
        return { kind: 'register', node, service, checks };
      }
      case 'catalog.deregister':
        return {
          kind: 'deregister',
          node: requireName(command.node, 'node'),
          serviceId: optId(command.serviceId, 'serviceId'),
          checkId: optId(command.checkId, 'checkId'),
        };
      case 'check.update': {
        const node = requireName(command.node, 'node');
        const checkId = requireName(command.checkId, 'checkId');
        if (!isHealthStatus(command.status)) {
          throw new HeraldError(ERR.COMMAND_INVALID, `status: must be passing, warning or critical, not ${JSON.stringify(command.status)}`);
        }
        const output = optId(command.output, 'output');
        if (!this.tables.nodes.get(node.toLowerCase())?.checks.has(checkId)) {
          throw new HeraldError(ERR.CHECK_UNKNOWN, `check ${JSON.stringify(checkId)} is not registered on node ${JSON.stringify(node)}`);
        }
        return { kind: 'update', node, checkId, status: command.status, output };
      }
      default: {
        const ext = this.extensions.get(command.type);
        if (!ext) throw new HeraldError(ERR.COMMAND_UNKNOWN, `unknown command type ${JSON.stringify(command.type)}`);
        return { kind: 'extension', ext };
      }
    }
  }

  private applyRegister(index: bigint, plan: Extract<Plan, { kind: 'register' }>, ch: Changes): void {
    const lnode = plan.node.node.toLowerCase();
    let entry = this.tables.nodes.get(lnode);
    if (!entry) {
      entry = this.tables.putNode(lnode, nodeRow(plan.node, index, index));
      this.touchNodeRow(lnode, ch);
    } else if (!sameNode(entry.row, plan.node)) {
      // Every instance on the node answers with the node's address: all of them may change.
      this.touchAllServices(entry, ch);
      this.tables.putNode(lnode, nodeRow(plan.node, entry.row.createIndex, index));
      this.touchNodeRow(lnode, ch);
    }
    if (plan.service) this.putService(index, entry, lnode, plan.service, ch);
    for (const c of plan.checks) this.putCheck(index, entry, lnode, c, ch);
  }

  private putService(index: bigint, entry: NodeEntry, lnode: string, f: ServiceFields, ch: Changes): void {
    const old = entry.services.get(f.id);
    if (old && sameService(old, f)) return;
    const row = serviceRow(entry.row.node, f, old ? old.createIndex : index, index);
    if (this.tables.putService(lnode, row)) ch.servicesList = true;
    ch.table(TABLE.services);
    ch.node(lnode);
    ch.service(row.service.toLowerCase());
    if (old) ch.service(old.service.toLowerCase());
    // Checks carry their service's name and tags (Consul fills them at check write); keep
    // them true when the service is renamed or retagged.
    if (old && (old.service !== row.service || !tagsEqual(old.tags, row.tags))) {
      const bound = entry.checksByService.get(row.id);
      if (bound) {
        for (const c of [...bound.values()]) {
          this.tables.putCheck(lnode, { ...c, serviceName: row.service, serviceTags: [...row.tags], modifyIndex: index });
        }
        ch.table(TABLE.checks);
      }
    }
  }

  private putCheck(index: bigint, entry: NodeEntry, lnode: string, f: CheckFields, ch: Changes): void {
    const svc = f.serviceId === '' ? undefined : entry.services.get(f.serviceId)!;
    const filled: CheckFields = { ...f, serviceName: svc ? svc.service : '', serviceTags: svc ? [...svc.tags] : [] };
    const old = entry.checks.get(f.checkId);
    if (old && sameCheck(old, filled)) return;
    if (old) this.touchCheckServices(entry, old, ch);
    const row = checkRow(entry.row.node, filled, old ? old.createIndex : index, index);
    this.tables.putCheck(lnode, row);
    this.touchCheckServices(entry, row, ch);
    ch.table(TABLE.checks);
    ch.node(lnode);
  }

  private applyDeregister(plan: Extract<Plan, { kind: 'deregister' }>, ch: Changes): void {
    const lnode = plan.node.toLowerCase();
    const entry = this.tables.nodes.get(lnode);
    // Deleting what is not there is a no-op, not an error (Consul's state store does the same,
    // so anti-entropy and `consul catalog deregister` can repeat safely).
    if (!entry) return;
    // Consul's FSM order: a service ID wins over a check ID; neither means the whole node.
    if (plan.serviceId !== '') {
      this.removeService(entry, lnode, plan.serviceId, ch);
    } else if (plan.checkId !== '') {
      const old = entry.checks.get(plan.checkId);
      if (!old) return;
      this.touchCheckServices(entry, old, ch);
      this.tables.removeCheck(lnode, plan.checkId);
      ch.table(TABLE.checks);
      ch.node(lnode);
    } else {
      this.touchAllServices(entry, ch);
      if (entry.services.size > 0) ch.table(TABLE.services);
      if (entry.checks.size > 0) ch.table(TABLE.checks);
      if (this.tables.removeNode(lnode)) ch.servicesList = true;
      this.touchNodeRow(lnode, ch);
    }
  }

  private removeService(entry: NodeEntry, lnode: string, id: string, ch: Changes): void {
    const svc = entry.services.get(id);
    if (!svc) return;
    const bound = entry.checksByService.get(id);
    if (bound) {
      for (const checkId of [...bound.keys()]) this.tables.removeCheck(lnode, checkId);
      ch.table(TABLE.checks);
    }
    if (this.tables.removeService(lnode, id)) ch.servicesList = true;
    ch.table(TABLE.services);
    ch.node(lnode);
    ch.service(svc.service.toLowerCase());
  }

  private applyUpdate(index: bigint, plan: Extract<Plan, { kind: 'update' }>, ch: Changes): void {
    const lnode = plan.node.toLowerCase();
    const entry = this.tables.nodes.get(lnode)!;
    const old = entry.checks.get(plan.checkId)!;
    if (old.status === plan.status && old.output === plan.output) return;
    this.tables.putCheck(lnode, { ...old, status: plan.status, output: plan.output, modifyIndex: index });
    this.touchCheckServices(entry, old, ch);
    ch.table(TABLE.checks);
    ch.node(lnode);
  }

  private touchNodeRow(lnode: string, ch: Changes): void {
    ch.table(TABLE.nodes);
    ch.node(lnode);
    ch.nodesList = true;
  }

  private touchAllServices(entry: NodeEntry, ch: Changes): void {
    for (const svc of entry.services.values()) ch.service(svc.service.toLowerCase());
  }

  /** The services whose health a check feeds: its own, or every one on the node for a node check. */
  private touchCheckServices(entry: NodeEntry, check: CheckRow | CheckFields, ch: Changes): void {
    if (check.serviceId === '') {
      this.touchAllServices(entry, ch);
      return;
    }
    const svc = entry.services.get(check.serviceId);
    if (svc) ch.service(svc.service.toLowerCase());
    if (check.serviceName !== '') ch.service(check.serviceName.toLowerCase());
  }

  /** Moves the indexes to `index` for what changed, then publishes the ChangeSet. */
  private commit(index: bigint, ch: Changes, tables: Set<string>): void {
    const ix = this.ix;
    const services = ch.services ?? new Set<string>();
    const nodes = ch.nodes ?? new Set<string>();
    for (const t of tables) ix.tables.set(t, index);
    for (const s of services) {
      if (this.tables.hasServiceName(s)) ix.services.set(s, index);
      else {
        // No per-name tombstone: one extinction index keeps memory bounded under name churn
        // (Consul does the same) while a deleted name's watchers still see an increase.
        ix.services.delete(s);
        ix.serviceExtinction = index;
      }
    }
    for (const n of nodes) {
      if (this.tables.nodes.has(n)) ix.nodes.set(n, index);
      else {
        ix.nodes.delete(n);
        ix.nodeExtinction = index;
      }
    }
    if (ch.servicesList) ix.servicesList = index;
    if (ch.nodesList) ix.nodesList = index;
    if (tables.has(TABLE.services)) this.serviceNamesCache = undefined;
    this.emit({ index, tables, services, nodes });
  }

  // ---- change feed -----------------------------------------------------------------------

  /**
   * Subscribes to the change feed. The listener runs synchronously inside the apply (or
   * restore) that changed something, once per such entry, in index order — even when a
   * listener itself proposes a command: that entry's ChangeSet is queued and delivered after
   * the current one has reached every listener. The ChangeSet is shared: do not mutate it.
   * Returns the unsubscribe function.
   */
  onChange(listener: (c: ChangeSet) => void): () => void {
    const fn = (c: ChangeSet) => listener(c);
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  private emit(c: ChangeSet): void {
    this.pending.push(c);
    if (this.emitting) return;
    this.emitting = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        for (const fn of [...this.listeners]) {
          try {
            fn(next);
          } catch (err) {
            this.onListenerError(err);
          }
        }
      }
    } finally {
      this.emitting = false;
    }
  }

  // ---- indexes (blocking queries; consul-compat.md §4) -----------------------------------

  /**
   * Highest index that changed anything about the service's instances or their health (node
   * row, node checks, service rows, service checks). For a name with no instances: the index
   * at which some service name last disappeared (0n if none ever did), so a deleted service's
   * watchers see an increase. Never decreases, except across restore().
   */
  serviceIndex(name: string): bigint {
    return this.ix.services.get(name.toLowerCase()) ?? this.ix.serviceExtinction;
  }

  /** Like serviceIndex, for a node: its row, its services and its checks. */
  nodeIndex(name: string): bigint {
    return this.ix.nodes.get(name.toLowerCase()) ?? this.ix.nodeExtinction;
  }

  /** Bumped only when the set of service names or some name's tag set changes (/catalog/services). */
  get servicesListIndex(): bigint {
    return this.ix.servicesList;
  }

  /** Bumped when a node row is inserted, changed or deleted (/catalog/nodes). */
  get nodesListIndex(): bigint {
    return this.ix.nodesList;
  }

  /** Bumped by any check change (/health/state). */
  get checksIndex(): bigint {
    return this.ix.tables.get(TABLE.checks) ?? 0n;
  }

  /** Index of the last change to a table (core or a plugin's); 0n if never changed. */
  tableIndex(table: string): bigint {
    return this.ix.tables.get(table) ?? 0n;
  }

  // ---- reads: rows and arrays are shared with the state machine; callers must not mutate ----

  /** All nodes ordered by lowercased name. Shared array. */
  nodes(): readonly NodeRow[] {
    return this.tables.nodeRows();
  }

  /** The node row, looked up case-insensitively. */
  getNode(name: string): NodeRow | undefined {
    return this.tables.nodes.get(name.toLowerCase())?.row;
  }

  /** Services on a node ordered by ID ([] for an unknown node). */
  nodeServices(node: string): ServiceRow[] {
    const entry = this.tables.nodes.get(node.toLowerCase());
    if (!entry) return [];
    return [...entry.services.keys()].sort(compareStrings).map((id) => entry.services.get(id)!);
  }

  /** All checks on a node, node-level and service-bound, ordered by check ID. */
  nodeChecks(node: string): CheckRow[] {
    const entry = this.tables.nodes.get(node.toLowerCase());
    if (!entry) return [];
    return [...entry.checks.keys()].sort(compareStrings).map((id) => entry.checks.get(id)!);
  }

  /**
   * Service name -> sorted union of its instances' tags, ordered by lowercased name. The key
   * is the name as the first instance (by node, then ID) spells it. Shared map.
   */
  serviceNames(): ReadonlyMap<string, string[]> {
    if (!this.serviceNamesCache) {
      const out = new Map<string, string[]>();
      for (const lname of [...this.tables.serviceNameKeys()].sort(compareStrings)) {
        out.set(this.tables.serviceRows(lname)[0].service, this.tables.serviceTags(lname));
      }
      this.serviceNamesCache = out;
    }
    return this.serviceNamesCache;
  }

  /** Every instance of a service (any health), by lowercased name, ordered by node then ID. Shared array. */
  serviceRows(name: string): readonly ServiceRow[] {
    return this.tables.serviceRows(name.toLowerCase());
  }

  /** Instances of a service on one node, ordered by ID. */
  serviceRowsOnNode(name: string, node: string): ServiceRow[] {
    return this.tables.serviceRowsOnNode(name.toLowerCase(), node.toLowerCase());
  }

  /** Checks bound to one service on a node, ordered by check ID; serviceId '' gives the node-level checks. */
  checksForService(node: string, serviceId: string): CheckRow[] {
    const bound = this.tables.nodes.get(node.toLowerCase())?.checksByService.get(serviceId);
    if (!bound) return [];
    // The view calls this per instance on every change; most services have one check.
    if (bound.size === 1) return [bound.values().next().value!];
    return [...bound.keys()].sort(compareStrings).map((id) => bound.get(id)!);
  }

  /** Checks in a state (or all for `any`), ordered by node then check ID. */
  checksByState(state: CheckStateFilter): CheckRow[] {
    const out: CheckRow[] = [];
    for (const node of this.tables.nodeRows()) {
      for (const c of this.nodeChecks(node.node)) if (state === 'any' || c.status === state) out.push(c);
    }
    return out;
  }

  /** Every check, ordered by node then check ID. */
  allChecks(): CheckRow[] {
    return this.checksByState('any');
  }

  /** Row counts. */
  counts(): { nodes: number; services: number; checks: number } {
    return this.tables.counts();
  }

  // ---- snapshots -------------------------------------------------------------------------

  /**
   * The whole state as a plain JSON-able object (bigints as decimal strings), extensions
   * included under their plugin prefix. Canonical: equal states give equal JSON.
   */
  snapshot(): unknown {
    const extensions: Record<string, unknown> = {};
    for (const [prefix, ext] of this.extensionsByPrefix) extensions[prefix] = ext.snapshot();
    return encodeCatalogState({ lastIndex: this.applied, tables: this.tables, indexes: this.ix }, extensions);
  }

  /**
   * Replaces all state with a snapshot's (indexes may move backwards, as in Consul), then
   * emits one ChangeSet naming every table, service and node that existed before or after, so
   * every watcher and cached answer is re-evaluated. A malformed snapshot, or one holding
   * state of a plugin not registered here, throws HeraldError SNAPSHOT_INVALID and changes
   * nothing. Registered extensions absent from the snapshot get `restore(undefined)`; an
   * extension that throws in restore leaves the machine partly restored (treat as fatal).
   */
  restore(data: unknown): void {
    const { state, extensions } = decodeCatalogState(data);
    for (const prefix of Object.keys(extensions)) {
      if (!this.extensionsByPrefix.has(prefix)) {
        throw new HeraldError(ERR.SNAPSHOT_INVALID, `snapshot: holds state of plugin ${JSON.stringify(prefix)}, which is not registered here`);
      }
    }
    for (const [prefix, ext] of this.extensionsByPrefix) ext.restore(extensions[prefix]);

    const tables = new Set<string>([TABLE.nodes, TABLE.services, TABLE.checks]);
    const services = new Set<string>();
    const nodes = new Set<string>();
    const collect = (t: CatalogTables, ix: CatalogIndexes) => {
      for (const k of ix.tables.keys()) tables.add(k);
      for (const k of t.serviceNameKeys()) services.add(k);
      for (const k of t.nodes.keys()) nodes.add(k);
    };
    collect(this.tables, this.ix);
    collect(state.tables, state.indexes);

    this.tables = state.tables;
    this.ix = state.indexes;
    this.applied = state.lastIndex;
    this.serviceNamesCache = undefined;
    this.emit({ index: state.lastIndex, tables, services, nodes });
  }
}

function emptyIndexes(): CatalogIndexes {
  return {
    tables: new Map(),
    services: new Map(),
    nodes: new Map(),
    serviceExtinction: 0n,
    nodeExtinction: 0n,
    servicesList: 0n,
    nodesList: 0n,
  };
}
