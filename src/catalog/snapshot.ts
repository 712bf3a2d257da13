/**
 * The state machine's snapshot format: a plain JSON-able object, indexes as decimal strings
 * (they are uint64, consul-compat.md §0, and JSON numbers would round them), rows in a
 * canonical order so two replicas in the same state produce byte-identical JSON.
 *
 * Decoding checks every row as strictly as a command (a snapshot may come from disk or the
 * network) and builds a complete new state before anything is swapped in.
 */
import { ERR, HeraldError } from '../errors.ts';
import {
  CatalogTables,
  checkRow,
  compareStrings,
  nodeRow,
  normalizeCheckFields,
  normalizeNodeFields,
  normalizeServiceFields,
  requireName,
  serviceRow,
} from './tables.ts';
import type { CheckRow, NodeRow, ServiceRow } from './types.ts';

/** Identifies the format; bump `version` on any incompatible change. */
export const SNAPSHOT_FORMAT = 'herald-catalog';
export const SNAPSHOT_VERSION = 1;

/** The blocking-query indexes (DESIGN principle 3) kept beside the rows. */
export interface CatalogIndexes {
  /** Table name (core or plugin) -> index of its last change. */
  tables: Map<string, bigint>;
  /** Live lowercased service name -> index of the last change to its instances or their health. */
  services: Map<string, bigint>;
  /** Live lowercased node name -> index of the last change to its row, services or checks. */
  nodes: Map<string, bigint>;
  /** Index at which a service name last lost its final instance. */
  serviceExtinction: bigint;
  /** Index at which a node was last deleted. */
  nodeExtinction: bigint;
  /** Index of the last change to the set of service names or a name's tag set. */
  servicesList: bigint;
  /** Index of the last node row insert, change or delete. */
  nodesList: bigint;
}

/** Everything the core state machine holds, apart from extensions. */
export interface CatalogState {
  lastIndex: bigint;
  tables: CatalogTables;
  indexes: CatalogIndexes;
}

type Encoded<T> = { [K in keyof T]: T[K] extends bigint ? string : T[K] };

/** The JSON shape of a snapshot. */
export interface CatalogSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  lastIndex: string;
  indexes: {
    tables: Record<string, string>;
    services: Record<string, string>;
    nodes: Record<string, string>;
    serviceExtinction: string;
    nodeExtinction: string;
    servicesList: string;
    nodesList: string;
  };
  nodes: Encoded<NodeRow>[];
  services: Encoded<ServiceRow>[];
  checks: Encoded<CheckRow>[];
  /** Extension (plugin prefix) -> its own snapshot. */
  extensions: Record<string, unknown>;
}

function encodeMap(m: Map<string, bigint>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...m.keys()].sort(compareStrings)) out[k] = m.get(k)!.toString();
  return out;
}

function encodeRow<T extends { createIndex: bigint; modifyIndex: bigint }>(row: T): Encoded<T> {
  return { ...row, createIndex: row.createIndex.toString(), modifyIndex: row.modifyIndex.toString() } as Encoded<T>;
}

/** Encodes the state; rows ordered by (lowercased node, id). */
export function encodeCatalogState(state: CatalogState, extensions: Record<string, unknown>): CatalogSnapshot {
  const { tables, indexes } = state;
  const nodes: Encoded<NodeRow>[] = [];
  const services: Encoded<ServiceRow>[] = [];
  const checks: Encoded<CheckRow>[] = [];
  for (const lnode of [...tables.nodes.keys()].sort(compareStrings)) {
    const entry = tables.nodes.get(lnode)!;
    nodes.push(encodeRow(entry.row));
    for (const id of [...entry.services.keys()].sort(compareStrings)) services.push(encodeRow(entry.services.get(id)!));
    for (const id of [...entry.checks.keys()].sort(compareStrings)) checks.push(encodeRow(entry.checks.get(id)!));
  }
  const ext: Record<string, unknown> = {};
  for (const k of Object.keys(extensions).sort(compareStrings)) ext[k] = extensions[k];
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    lastIndex: state.lastIndex.toString(),
    indexes: {
      tables: encodeMap(indexes.tables),
      services: encodeMap(indexes.services),
      nodes: encodeMap(indexes.nodes),
      serviceExtinction: indexes.serviceExtinction.toString(),
      nodeExtinction: indexes.nodeExtinction.toString(),
      servicesList: indexes.servicesList.toString(),
      nodesList: indexes.nodesList.toString(),
    },
    nodes,
    services,
    checks,
    extensions: ext,
  };
}

function bad(what: string, cause?: unknown): never {
  throw new HeraldError(ERR.SNAPSHOT_INVALID, `snapshot: ${what}`, cause === undefined ? undefined : { cause });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decodeIndex(v: unknown, field: string): bigint {
  if (typeof v !== 'string' || !/^(0|[1-9][0-9]*)$/.test(v)) bad(`${field} must be a decimal string`);
  const n = BigInt(v);
  if (n >= 1n << 64n) bad(`${field} exceeds uint64`);
  return n;
}

function decodeIndexMap(v: unknown, field: string): Map<string, bigint> {
  if (!isObject(v)) bad(`${field} must be an object`);
  const m = new Map<string, bigint>();
  for (const [k, x] of Object.entries(v)) m.set(k, decodeIndex(x, `${field}.${k}`));
  return m;
}

function decodeArray(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) bad(`${field} must be an array`);
  return v;
}

/** Runs a row normaliser, turning its COMMAND_INVALID into SNAPSHOT_INVALID. */
function rowFields<T>(fn: () => T, field: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof HeraldError) bad(`${field}: ${err.message}`, err);
    throw err;
  }
}

/**
 * Decodes and checks a snapshot into a new state. Throws HeraldError SNAPSHOT_INVALID
 * (naming the offending field) and builds nothing shared with the caller on failure.
 */
export function decodeCatalogState(data: unknown): { state: CatalogState; extensions: Record<string, unknown> } {
  if (!isObject(data)) bad('must be an object');
  if (data.format !== SNAPSHOT_FORMAT) bad(`format must be ${JSON.stringify(SNAPSHOT_FORMAT)}`);
  if (data.version !== SNAPSHOT_VERSION) bad(`version ${JSON.stringify(data.version)} is not supported`);
  const lastIndex = decodeIndex(data.lastIndex, 'lastIndex');
  const ix = data.indexes;
  if (!isObject(ix)) bad('indexes must be an object');
  const indexes: CatalogIndexes = {
    tables: decodeIndexMap(ix.tables, 'indexes.tables'),
    services: decodeIndexMap(ix.services, 'indexes.services'),
    nodes: decodeIndexMap(ix.nodes, 'indexes.nodes'),
    serviceExtinction: decodeIndex(ix.serviceExtinction, 'indexes.serviceExtinction'),
    nodeExtinction: decodeIndex(ix.nodeExtinction, 'indexes.nodeExtinction'),
    servicesList: decodeIndex(ix.servicesList, 'indexes.servicesList'),
    nodesList: decodeIndex(ix.nodesList, 'indexes.nodesList'),
  };

  const tables = new CatalogTables();
  decodeArray(data.nodes, 'nodes').forEach((raw, i) => {
    const field = `nodes[${i}]`;
    const f = rowFields(() => normalizeNodeFields(raw, field), field);
    const r = raw as Record<string, unknown>;
    const lnode = f.node.toLowerCase();
    if (tables.nodes.has(lnode)) bad(`${field}: duplicate node ${JSON.stringify(f.node)}`);
    tables.putNode(lnode, nodeRow(f, decodeIndex(r.createIndex, `${field}.createIndex`), decodeIndex(r.modifyIndex, `${field}.modifyIndex`)));
  });
  decodeArray(data.services, 'services').forEach((raw, i) => {
    const field = `services[${i}]`;
    const f = rowFields(() => normalizeServiceFields(raw, field), field);
    const r = raw as Record<string, unknown>;
    const node = rowFields(() => requireName(r.node, `${field}.node`), field);
    const entry = tables.nodes.get(node.toLowerCase());
    if (!entry) bad(`${field}: node ${JSON.stringify(node)} is not in the snapshot`);
    if (entry.services.has(f.id)) bad(`${field}: duplicate service ${JSON.stringify(f.id)}`);
    tables.putService(node.toLowerCase(), serviceRow(node, f, decodeIndex(r.createIndex, `${field}.createIndex`), decodeIndex(r.modifyIndex, `${field}.modifyIndex`)));
  });
  decodeArray(data.checks, 'checks').forEach((raw, i) => {
    const field = `checks[${i}]`;
    const f = rowFields(() => normalizeCheckFields(raw, field), field);
    const r = raw as Record<string, unknown>;
    const node = rowFields(() => requireName(r.node, `${field}.node`), field);
    const entry = tables.nodes.get(node.toLowerCase());
    if (!entry) bad(`${field}: node ${JSON.stringify(node)} is not in the snapshot`);
    if (entry.checks.has(f.checkId)) bad(`${field}: duplicate check ${JSON.stringify(f.checkId)}`);
    if (f.serviceId !== '' && !entry.services.has(f.serviceId)) bad(`${field}: service ${JSON.stringify(f.serviceId)} is not on node ${JSON.stringify(node)}`);
    tables.putCheck(node.toLowerCase(), checkRow(node, f, decodeIndex(r.createIndex, `${field}.createIndex`), decodeIndex(r.modifyIndex, `${field}.modifyIndex`)));
  });

  // Every live name needs an index; a hand-made snapshot without one gets lastIndex, which can
  // only wake a watcher early, never make it miss a change.
  for (const lname of tables.serviceNameKeys()) if (!indexes.services.has(lname)) indexes.services.set(lname, lastIndex);
  for (const [lname] of indexes.services) if (!tables.hasServiceName(lname)) indexes.services.delete(lname);
  for (const lnode of tables.nodes.keys()) if (!indexes.nodes.has(lnode)) indexes.nodes.set(lnode, lastIndex);
  for (const [lnode] of indexes.nodes) if (!tables.nodes.has(lnode)) indexes.nodes.delete(lnode);

  const extensions = data.extensions === undefined ? {} : data.extensions;
  if (!isObject(extensions)) bad('extensions must be an object');
  return { state: { lastIndex, tables, indexes }, extensions };
}
