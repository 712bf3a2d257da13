/**
 * The agent's own services and checks: the source of truth the catalog is synced from
 * (anti-entropy, consul-compat.md §2.4). Every change becomes a catalog command proposed to
 * the log; the catalog is never edited directly. A full sync re-proposes everything the agent
 * owns and removes what it does not own on its own node; no-op writes do not bump indexes in
 * the state machine, so a periodic sync wakes no watcher.
 */
import type { CheckFields, HealthStatus, NodeFields, ServiceFields } from '../catalog/types.ts';
import type { ReplicatedLog } from '../raft/local-log.ts';
import type { StateMachine } from '../catalog/state-machine.ts';
import type { CheckDefinition, ServiceDefinition } from './config-types.ts';
import { formatDuration } from '../duration.ts';

/** Commands proposed between two returns to the event loop in bulk work. */
const BATCH = 256;

/**
 * Run `fn` over `items`, returning to the event loop every BATCH items. The single-node log
 * applies synchronously, so a bulk sync or reload of thousands of services would otherwise
 * hold the DNS socket unread for the whole loop.
 */
export async function forEachYielding<T>(items: Iterable<T>, fn: (item: T) => Promise<unknown>): Promise<void> {
  let n = 0;
  for (const item of items) {
    await fn(item);
    if (++n % BATCH === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The node check every agent registers for itself (spec §2.4). */
/** The service servers register for themselves (NS answers are built from it). */
export const SERVER_SERVICE_ID = 'consul';

export const SERF_HEALTH = 'serfHealth';

export class LocalState {
  private readonly services = new Map<string, ServiceDefinition>();
  /** Node-level checks (serviceId ''), and service checks registered on their own. */
  private readonly checks = new Map<string, CheckDefinition>();
  /** Maintenance checks (`_node_maintenance`, `_service_maintenance:<id>`): no runner, always critical. */
  private readonly maintenance = new Map<string, CheckFields>();
  /** The last status and output written for each check, so re-registering keeps live health. */
  private readonly lastWritten = new Map<string, { status: HealthStatus; output: string }>();

  constructor(
    private node: NodeFields,
    private readonly log: ReplicatedLog,
    private readonly sm: StateMachine,
  ) {}

  get nodeFields(): NodeFields {
    return this.node;
  }

  setNode(node: NodeFields): void {
    this.node = node;
  }

  serviceDefs(): ServiceDefinition[] {
    return [...this.services.values()];
  }

  service(id: string): ServiceDefinition | undefined {
    return this.services.get(id);
  }

  checkDefs(): CheckDefinition[] {
    const out = [...this.checks.values()];
    for (const s of this.services.values()) out.push(...s.checks);
    return out;
  }

  /** Checks registered on their own (not embedded in a service definition). */
  standaloneCheckDefs(): CheckDefinition[] {
    return [...this.checks.values()];
  }

  checkDef(id: string): CheckDefinition | undefined {
    return this.checkDefs().find((c) => c.id === id);
  }

  /** Register (or replace) a service with its embedded checks. */
  async addService(def: ServiceDefinition): Promise<void> {
    this.services.set(def.id, def);
    await this.log.propose({
      type: 'catalog.register',
      node: this.node,
      service: serviceFields(def),
      checks: def.checks.map((c) => this.checkFields(c, def)),
    });
  }

  async removeService(id: string): Promise<boolean> {
    const def = this.services.get(id);
    if (!def) return false;
    this.services.delete(id);
    for (const c of def.checks) this.lastWritten.delete(c.id);
    this.maintenance.delete(`_service_maintenance:${id}`);
    // Standalone checks bound to the service go with it, as the catalog drops them too.
    for (const [cid, c] of this.checks) {
      if (c.serviceId === id) {
        this.checks.delete(cid);
        this.lastWritten.delete(cid);
      }
    }
    await this.log.propose({ type: 'catalog.deregister', node: this.node.node, serviceId: id });
    return true;
  }

  /** Register a standalone check (node-level, or bound to an existing service by serviceId). */
  async addCheck(def: CheckDefinition): Promise<void> {
    this.checks.set(def.id, def);
    const svc = def.serviceId ? this.services.get(def.serviceId) : undefined;
    await this.log.propose({ type: 'catalog.register', node: this.node, checks: [this.checkFields(def, svc)] });
  }

  async removeCheck(id: string): Promise<boolean> {
    if (!this.checks.delete(id)) return false;
    this.lastWritten.delete(id);
    await this.log.propose({ type: 'catalog.deregister', node: this.node.node, checkId: id });
    return true;
  }

  /** Enter (fields) or leave (undefined) a maintenance mode; its check is owned like any other. */
  async setMaintenance(checkId: string, fields: CheckFields | undefined): Promise<void> {
    if (fields) {
      this.maintenance.set(checkId, fields);
      await this.log.propose({ type: 'catalog.register', node: this.node, checks: [fields] });
    } else if (this.maintenance.delete(checkId)) {
      await this.log.propose({ type: 'catalog.deregister', node: this.node.node, checkId });
    }
  }

  maintenanceChecks(): CheckFields[] {
    return [...this.maintenance.values()];
  }

  /** Record a check result in the catalog (the check manager decides when). */
  async updateCheck(checkId: string, status: HealthStatus, output: string): Promise<void> {
    this.lastWritten.set(checkId, { status, output });
    await this.log.propose({ type: 'check.update', node: this.node.node, checkId, status, output });
  }

  /** The node with its agent check (serfHealth), re-registered on every full sync. */
  async registerNode(extraChecks: CheckFields[] = []): Promise<void> {
    await this.log.propose({ type: 'catalog.register', node: this.node, checks: extraChecks });
  }

  /**
   * Anti-entropy: make the catalog's view of this node equal to the local state. Removes
   * services and checks on this node that the agent does not own, re-registers the rest.
   */
  async syncAll(nodeChecks: CheckFields[]): Promise<void> {
    await this.registerNode(nodeChecks);
    const ownedChecks = new Set([
      ...nodeChecks.map((c) => c.checkId),
      ...this.checkDefs().map((c) => c.id),
      ...this.maintenance.keys(),
    ]);
    // The `consul` service belongs to the server, not to local state: Consul's anti-entropy skips
    // it too (agent/local/state.go), or a dev agent's NS answers would vanish at the first sync.
    const stale = this.sm.nodeServices(this.node.node).filter((row) => !this.services.has(row.id) && row.id !== SERVER_SERVICE_ID);
    await forEachYielding(stale, (row) => this.log.propose({ type: 'catalog.deregister', node: this.node.node, serviceId: row.id }));
    const staleChecks = this.sm.nodeChecks(this.node.node).filter((row) => !ownedChecks.has(row.checkId));
    await forEachYielding(staleChecks, (row) => this.log.propose({ type: 'catalog.deregister', node: this.node.node, checkId: row.checkId }));
    // Snapshots: an API write during the sync must not change what this loop walks.
    await forEachYielding([...this.services.values()], (def) => this.addService(def));
    await forEachYielding([...this.checks.values()], (def) => this.addCheck(def));
    const maint = this.maintenanceChecks();
    if (maint.length) await this.log.propose({ type: 'catalog.register', node: this.node, checks: maint });
  }

  private checkFields(def: CheckDefinition, svc: ServiceDefinition | undefined): CheckFields {
    const last = this.lastWritten.get(def.id);
    return {
      checkId: def.id,
      name: def.name,
      status: last?.status ?? def.status,
      notes: def.notes,
      output: last?.output ?? '',
      serviceId: svc?.id ?? '',
      serviceName: svc?.name ?? '',
      serviceTags: svc?.tags ?? [],
      type: def.kind,
      definition: {
        interval: def.interval !== undefined ? formatDuration(def.interval) : undefined,
        timeout: def.timeout !== undefined ? formatDuration(def.timeout) : undefined,
        http: def.http,
        tcp: def.tcp,
        ttl: def.ttl !== undefined ? formatDuration(def.ttl) : undefined,
        args: def.args,
        deregisterCriticalServiceAfter:
          def.deregisterCriticalServiceAfter !== undefined ? formatDuration(def.deregisterCriticalServiceAfter) : undefined,
      },
    };
  }
}

export function serviceFields(def: ServiceDefinition): ServiceFields {
  return {
    id: def.id,
    service: def.name,
    tags: def.tags,
    address: def.address,
    port: def.port,
    meta: def.meta,
    weights: def.weights,
    enableTagOverride: def.enableTagOverride,
    taggedAddresses: def.taggedAddresses,
  };
}
