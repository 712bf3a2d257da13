/**
 * Catalog rows and the commands that change them. Every row carries the log index that
 * created it and the one that last changed it (DESIGN.md principle 3). Indexes are uint64 in
 * Consul's API, so they are bigint here and never pass through a JS number.
 */

export type HealthStatus = 'passing' | 'warning' | 'critical';

/** Worst-first ordering used to aggregate statuses: critical beats warning beats passing. */
export const STATUS_RANK: Record<HealthStatus, number> = { passing: 0, warning: 1, critical: 2 };

export interface Indexed {
  createIndex: bigint;
  modifyIndex: bigint;
}

export interface NodeFields {
  /** Node name, unique in the datacenter, case preserved; lookups are case-insensitive. */
  node: string;
  /** Node ID (UUID), may be empty. */
  id: string;
  address: string;
  datacenter: string;
  taggedAddresses: Record<string, string>;
  meta: Record<string, string>;
}
export type NodeRow = NodeFields & Indexed;

export interface ServiceWeights {
  passing: number;
  warning: number;
}

export interface ServiceFields {
  /** Unique per node. Defaults to the service name. */
  id: string;
  /** The service name DNS answers for (`<service>.service.consul`). */
  service: string;
  tags: string[];
  /** Empty means "use the node address". */
  address: string;
  port: number;
  meta: Record<string, string>;
  weights: ServiceWeights;
  enableTagOverride: boolean;
  taggedAddresses: Record<string, { address: string; port: number }>;
}
export type ServiceRow = ServiceFields & Indexed & { node: string };

/** What a check is (kept for the HTTP API's `Definition` and for re-creating runners). */
export interface CheckDefinitionSummary {
  interval?: string;
  timeout?: string;
  http?: string;
  tcp?: string;
  ttl?: string;
  args?: string[];
  deregisterCriticalServiceAfter?: string;
}

export interface CheckFields {
  checkId: string;
  name: string;
  status: HealthStatus;
  notes: string;
  output: string;
  /** Empty for node-level checks. */
  serviceId: string;
  serviceName: string;
  serviceTags: string[];
  /** `script`, `http`, `tcp`, `ttl`, `serf`, `maintenance` or empty. */
  type: string;
  definition: CheckDefinitionSummary;
}
export type CheckRow = CheckFields & Indexed & { node: string };

/**
 * Commands of the core catalog. Plugins add their own command types through the plugin
 * interface; every command is a plain JSON-serialisable object with a `type`.
 */
export type CatalogCommand =
  | {
      type: 'catalog.register';
      node: NodeFields;
      /** Registered (or replaced) on that node, when present. */
      service?: ServiceFields;
      /** Registered (or replaced) on that node; a check with serviceId binds to that service. */
      checks?: CheckFields[];
    }
  | {
      type: 'catalog.deregister';
      node: string;
      /** Only this service (and its checks); with neither id the whole node goes. */
      serviceId?: string;
      /** Only this check. */
      checkId?: string;
    }
  | {
      /** A check result. Written at once on a status change; output-only changes are rate limited by the agent. */
      type: 'check.update';
      node: string;
      checkId: string;
      status: HealthStatus;
      output: string;
    };

/** A command as the log carries it: the core's or a plugin's. */
export interface Command {
  type: string;
  [field: string]: unknown;
}

/**
 * What one applied entry changed, published on the change feed in index order. Names are
 * lowercased service names and node names, so a consumer can drop exactly what they cover.
 */
export interface ChangeSet {
  index: bigint;
  /** Tables touched (`nodes`, `services`, `checks`, or a plugin's). */
  tables: Set<string>;
  /** Lowercased service names whose instances, health or fields may have changed. */
  services: Set<string>;
  /** Lowercased node names whose row, checks or services changed. */
  nodes: Set<string>;
}
