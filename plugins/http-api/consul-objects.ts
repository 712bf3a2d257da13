/**
 * Catalog rows and agent definitions as Consul's JSON objects (consul-compat.md §3.11; field
 * names, capitalisation and order from agent/structs/structs.go and api/agent.go of Consul
 * 1.10). Lists are `[]`, never null; maps are `{}`; omitempty fields are left out when empty.
 *
 * Rows from the state machine are immutable (a change replaces the row object), so the object
 * built for a row is memoised on the row itself (WeakMap): a hot read like
 * `/v1/health/service/web` rebuilds nothing that did not change. The returned objects are
 * shared between responses: callers must not mutate them.
 */
import type {
  CheckDefinition,
  CheckRow,
  HealthStatus,
  NodeRow,
  ServiceDefinition,
  ServiceRow,
} from '../../src/plugin.ts';
import { formatDuration } from '../../src/plugin.ts';
import { wireUint, type WireUint } from './wire.ts';

type CheckDefinitionSummary = CheckRow['definition'];

export interface NodeJson {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  Meta: Record<string, string>;
  CreateIndex: WireUint;
  ModifyIndex: WireUint;
}

interface WeightsJson {
  Passing: number;
  Warning: number;
}

type TaggedJson = Record<string, { Address: string; Port: number }>;

export interface NodeServiceJson {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  TaggedAddresses?: TaggedJson;
  Meta: Record<string, string>;
  Port: number;
  Weights: WeightsJson;
  EnableTagOverride: boolean;
  Proxy: { MeshGateway: Record<string, never>; Expose: Record<string, never> };
  Connect: Record<string, never>;
  CreateIndex: WireUint;
  ModifyIndex: WireUint;
}

export interface HealthCheckJson {
  Node: string;
  CheckID: string;
  Name: string;
  Status: HealthStatus;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  Type: string;
  ExposedPort: number;
  Definition: Record<string, unknown>;
  CreateIndex: WireUint;
  ModifyIndex: WireUint;
}

export interface HealthEntryJson {
  Node: NodeJson;
  Service: NodeServiceJson;
  Checks: HealthCheckJson[];
}

const nodeMemo = new WeakMap<NodeRow, NodeJson>();
const nodeServiceMemo = new WeakMap<ServiceRow, NodeServiceJson>();
const serviceNodeMemo = new WeakMap<ServiceRow, { node: NodeRow | undefined; json: Record<string, unknown> }>();
const checkMemo = new WeakMap<CheckRow, HealthCheckJson>();

function taggedJson(t: Record<string, { address: string; port: number }>): TaggedJson | undefined {
  const keys = Object.keys(t);
  if (keys.length === 0) return undefined;
  const out: TaggedJson = {};
  for (const k of keys) out[k] = { Address: t[k]!.address, Port: t[k]!.port };
  return out;
}

/** Consul's structs.Node. */
export function nodeJson(row: NodeRow): NodeJson {
  let j = nodeMemo.get(row);
  if (!j) {
    j = {
      ID: row.id,
      Node: row.node,
      Address: row.address,
      Datacenter: row.datacenter,
      TaggedAddresses: row.taggedAddresses ?? {},
      Meta: row.meta ?? {},
      CreateIndex: wireUint(row.createIndex),
      ModifyIndex: wireUint(row.modifyIndex),
    };
    nodeMemo.set(row, j);
  }
  return j;
}

const EMPTY_PROXY = Object.freeze({ MeshGateway: Object.freeze({}), Expose: Object.freeze({}) }) as NodeServiceJson['Proxy'];
const EMPTY_CONNECT = Object.freeze({}) as Record<string, never>;

/** Consul's structs.NodeService (inside /catalog/node, /catalog/node-services, /health/service). */
export function nodeServiceJson(row: ServiceRow): NodeServiceJson {
  let j = nodeServiceMemo.get(row);
  if (!j) {
    const tagged = taggedJson(row.taggedAddresses);
    j = {
      ID: row.id,
      Service: row.service,
      Tags: row.tags ?? [],
      Address: row.address,
      ...(tagged ? { TaggedAddresses: tagged } : {}),
      Meta: row.meta ?? {},
      Port: row.port,
      Weights: { Passing: row.weights.passing, Warning: row.weights.warning },
      EnableTagOverride: row.enableTagOverride,
      Proxy: EMPTY_PROXY,
      Connect: EMPTY_CONNECT,
      CreateIndex: wireUint(row.createIndex),
      ModifyIndex: wireUint(row.modifyIndex),
    };
    nodeServiceMemo.set(row, j);
  }
  return j;
}

/**
 * Consul's structs.ServiceNode (/catalog/service): the node's fields flattened in, then the
 * service's with a `Service` prefix. Indexes are the service row's. The node row may change
 * without the service row changing, so the memo is checked against the node too.
 */
export function serviceNodeJson(svc: ServiceRow, node: NodeRow | undefined): Record<string, unknown> {
  const hit = serviceNodeMemo.get(svc);
  if (hit && hit.node === node) return hit.json;
  const tagged = taggedJson(svc.taggedAddresses);
  const json: Record<string, unknown> = {
    ID: node?.id ?? '',
    Node: svc.node,
    Address: node?.address ?? '',
    Datacenter: node?.datacenter ?? '',
    TaggedAddresses: node?.taggedAddresses ?? {},
    NodeMeta: node?.meta ?? {},
    ServiceKind: '',
    ServiceID: svc.id,
    ServiceName: svc.service,
    ServiceTags: svc.tags ?? [],
    ServiceAddress: svc.address,
    ...(tagged ? { ServiceTaggedAddresses: tagged } : {}),
    ServiceWeights: { Passing: svc.weights.passing, Warning: svc.weights.warning },
    ServiceMeta: svc.meta ?? {},
    ServicePort: svc.port,
    ServiceEnableTagOverride: svc.enableTagOverride,
    ServiceProxy: EMPTY_PROXY,
    ServiceConnect: EMPTY_CONNECT,
    CreateIndex: wireUint(svc.createIndex),
    ModifyIndex: wireUint(svc.modifyIndex),
  };
  serviceNodeMemo.set(svc, { node, json });
  return json;
}

/** Consul's check Type: the agent's kinds as they are; serfHealth (and unknown) as "". */
function checkType(type: string): string {
  return type === 'serf' ? '' : type;
}

/**
 * Consul's HealthCheckDefinition as marshalled: only the fields that are set, durations as Go
 * strings. Herald keeps the fields a check definition summary has.
 */
export function checkDefinitionJson(d: CheckDefinitionSummary | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!d) return out;
  if (d.http) out.HTTP = d.http;
  if (d.tcp) out.TCP = d.tcp;
  if (d.interval) out.Interval = d.interval;
  if (d.timeout) out.Timeout = d.timeout;
  if (d.deregisterCriticalServiceAfter) out.DeregisterCriticalServiceAfter = d.deregisterCriticalServiceAfter;
  if (d.args && d.args.length > 0) out.ScriptArgs = d.args;
  if (d.ttl) out.TTL = d.ttl;
  return out;
}

/** Consul's structs.HealthCheck for a catalog row. */
export function healthCheckJson(row: CheckRow): HealthCheckJson {
  let j = checkMemo.get(row);
  if (!j) {
    j = {
      Node: row.node,
      CheckID: row.checkId,
      Name: row.name,
      Status: row.status,
      Notes: row.notes,
      Output: row.output,
      ServiceID: row.serviceId,
      ServiceName: row.serviceName,
      ServiceTags: row.serviceTags ?? [],
      Type: checkType(row.type),
      ExposedPort: 0,
      Definition: checkDefinitionJson(row.definition),
      CreateIndex: wireUint(row.createIndex),
      ModifyIndex: wireUint(row.modifyIndex),
    };
    checkMemo.set(row, j);
  }
  return j;
}

/** One `/v1/health/service` entry: node, service, node checks then service checks. */
export function healthEntryJson(node: NodeRow, svc: ServiceRow, checks: readonly CheckRow[]): HealthEntryJson {
  return { Node: nodeJson(node), Service: nodeServiceJson(svc), Checks: checks.map(healthCheckJson) };
}

/**
 * Consul's api.AgentService for a local service (`/v1/agent/services`): no indexes (the
 * agent's local state has none), Datacenter added, TaggedAddresses left out when empty.
 */
export function agentServiceJson(def: ServiceDefinition, datacenter: string): Record<string, unknown> {
  const tagged = taggedJson(def.taggedAddresses);
  return {
    ID: def.id,
    Service: def.name,
    Tags: def.tags ?? [],
    Meta: def.meta ?? {},
    Port: def.port,
    Address: def.address,
    ...(tagged ? { TaggedAddresses: tagged } : {}),
    Weights: { Passing: def.weights.passing, Warning: def.weights.warning },
    EnableTagOverride: def.enableTagOverride,
    Datacenter: datacenter,
  };
}

/** The definition summary of a local check, as the catalog row would carry it. */
export function localCheckDefinition(def: CheckDefinition): CheckDefinitionSummary {
  const dur = (ms: number | undefined) => (ms === undefined ? undefined : formatDuration(ms));
  return {
    http: def.http,
    tcp: def.tcp,
    interval: dur(def.interval),
    timeout: dur(def.timeout),
    ttl: dur(def.ttl),
    args: def.args,
    deregisterCriticalServiceAfter: dur(def.deregisterCriticalServiceAfter),
  };
}

/**
 * Consul's structs.HealthCheck for a local check (`/v1/agent/checks`): as the catalog's, with
 * the zero RaftIndex the agent's own copy has.
 */
export function agentCheckJson(
  node: string,
  def: CheckDefinition,
  status: HealthStatus,
  output: string,
  service: ServiceDefinition | undefined,
): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  if (def.http) {
    if (def.method) extra.Method = def.method;
    if (def.header && Object.keys(def.header).length > 0) extra.Header = def.header;
    if (def.body) extra.Body = def.body;
    if (def.tlsSkipVerify) extra.TLSSkipVerify = true;
  }
  return {
    Node: node,
    CheckID: def.id,
    Name: def.name,
    Status: status,
    Notes: def.notes,
    Output: output,
    ServiceID: def.serviceId,
    ServiceName: service?.name ?? '',
    ServiceTags: service?.tags ?? [],
    Type: def.kind,
    ExposedPort: 0,
    Definition: { ...checkDefinitionJson(localCheckDefinition(def)), ...extra },
    CreateIndex: 0,
    ModifyIndex: 0,
  };
}
