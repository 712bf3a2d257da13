/**
 * The validated, normalised agent configuration. `config.ts` turns files and flags into this
 * once, before anything starts; every other module reads only this shape. Durations are
 * milliseconds (numbers), TTLs for DNS are whole seconds.
 */
import type { HealthStatus, ServiceWeights } from '../catalog/types.ts';

export type CheckKind = 'script' | 'http' | 'tcp' | 'ttl';

export interface CheckDefinition {
  /** Check ID; defaults to the name for node checks, `service:<id>[:n]` for service checks. */
  id: string;
  name: string;
  notes: string;
  /** The service this check belongs to; empty for a node-level check. */
  serviceId: string;
  kind: CheckKind;
  /** script: argv, run without a shell. */
  args?: string[];
  /** http: URL, method (default GET), headers (multi-valued), body, TLS verification. */
  http?: string;
  method?: string;
  header?: Record<string, string[]>;
  body?: string;
  tlsSkipVerify?: boolean;
  /** tcp: host:port. */
  tcp?: string;
  /** ttl: how long a pass/warn/fail stays valid, ms. */
  ttl?: number;
  /** Run interval, ms (script/http/tcp). */
  interval?: number;
  /** Per-run timeout, ms (script 30s; HTTP and TCP 10s, capped at the interval as Consul does). */
  timeout?: number;
  /** Initial status (Consul default: critical). */
  status: HealthStatus;
  successBeforePassing: number;
  failuresBeforeCritical: number;
  /** Deregister the service after it has been critical this long, ms. */
  deregisterCriticalServiceAfter?: number;
  /** Where it came from: local config files may run scripts; API-registered ones only if enabled. */
  source: 'file' | 'api';
}

export interface ServiceDefinition {
  id: string;
  name: string;
  tags: string[];
  address: string;
  port: number;
  meta: Record<string, string>;
  weights: ServiceWeights;
  enableTagOverride: boolean;
  taggedAddresses: Record<string, { address: string; port: number }>;
  checks: CheckDefinition[];
  source: 'file' | 'api';
}

export interface SoaConfig {
  refresh: number;
  retry: number;
  expire: number;
  minTtl: number;
}

export interface DnsConfig {
  /** Seconds. */
  nodeTtl: number;
  /** Service name (exact) or `prefix*` to seconds; `*` is the fallback. */
  serviceTtl: Record<string, number>;
  onlyPassing: boolean;
  /**
   * Set TC when an answer was trimmed. Herald's default is true (clients then retry over TCP);
   * false restores Consul's silent trimming.
   */
  enableTruncate: boolean;
  udpAnswerLimit: number;
  aRecordLimit: number;
  disableCompression: boolean;
  enableAdditionalNodeMetaTxt: boolean;
  soa: SoaConfig;
  /** ms */
  recursorTimeout: number;
  recursorStrategy: 'sequential' | 'random';
  allowStale: boolean;
  /** ms */
  maxStale: number;
  /** Herald: answer cache bound, bytes. */
  cacheMaxBytes: number;
  /** Herald: cached permutations per answer, so hits still rotate instances. */
  shuffleVariants: number;
  /** Herald: TCP idle timeout, ms, and connection cap. */
  tcpIdleTimeout: number;
  tcpMaxConnections: number;
}

export interface RuntimeConfig {
  dev: boolean;
  nodeName: string;
  nodeId: string;
  datacenter: string;
  bindAddr: string;
  clientAddr: string;
  /** `server` is the Raft RPC port (Consul's 8300; 0 picks a free one, for tests). */
  ports: { dns: number; http: number; server: number };
  /** Consul's `server`: this agent is a Raft voter holding the replicated state. */
  server: boolean;
  /** Consul's `bootstrap_expect`: a new cluster forms once this many servers see each other (0: join an existing one). */
  bootstrapExpect: number;
  /** Consul's `retry_join`: server RPC addresses (`host[:port]`, port 8300 when absent) to contact, retried with backoff. */
  retryJoin: string[];
  /**
   * Consul's `retry_max`: a client agent that has reached no server after this many rounds over
   * its retry_join addresses exits 1; 0 retries for ever, serving an empty catalog meanwhile.
   */
  retryMax: number;
  /** Consul's `advertise_addr`: the address other servers reach this one at (default: the bind address, or the first private IPv4). */
  advertiseAddr?: string;
  /** Lowercase, no trailing dot: `consul`. */
  domain: string;
  altDomain?: string;
  dataDir?: string;
  /**
   * Where the replicated log, snapshots and this agent's API registrations are kept: `rocksdb`
   * under `<dataDir>/raft` (survives restarts), or `memory` (nothing survives). Resolved by
   * loadConfig: `rocksdb` whenever a data dir is given outside -dev, unless set.
   */
  storageEngine: 'memory' | 'rocksdb';
  /** Snapshot the state and compact the log after this many entries (Consul's raft_snapshot_threshold). */
  raftSnapshotThreshold: number;
  /**
   * How often, in ms, to check whether raftSnapshotThreshold entries have piled up (Consul's
   * raft_snapshot_interval). 0 checks after every entry.
   */
  raftSnapshotInterval: number;
  /**
   * Herald-only (`client_failure_timeout`, read by servers): ms without a heartbeat after which
   * the leader marks a client agent's serfHealth critical (client-liveness.ts). Clients learn
   * their heartbeat interval (a fifth of it) from the servers.
   */
  clientFailureTimeout: number;
  zoneDir?: string;
  /** `ip:port` (port 53 added when absent), deduplicated, in order. */
  recursors: string[];
  dnsConfig: DnsConfig;
  nodeMeta: Record<string, string>;
  services: ServiceDefinition[];
  /** Checks defined at top level (`check`/`checks`); those with serviceId bind to that service. */
  checks: CheckDefinition[];
  enableScriptChecks: boolean;
  enableLocalScriptChecks: boolean;
  /** ms; output-only check changes are written at most this often. */
  checkUpdateInterval: number;
  /** Plugins this host runs, by name, and their options. */
  plugins: string[];
  pluginConfig: Record<string, Record<string, unknown>>;
  /** Consul's `limits.kv_max_value_size` / `limits.txn_max_req_len` (bytes) when a config sets them (the kv plugin reads them). */
  limits?: { kvMaxValueSize?: number; txnMaxReqLen?: number };
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /** The files this config was read from, in load order. */
  sources: string[];
}
