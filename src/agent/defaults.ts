/**
 * Every configuration knob and its default, with the reason for each value. Consul's value
 * is the default unless a comment says why Herald differs (spec: consul-compat.md 1.1, 2.3, 2.5).
 * Nothing else in Herald hard-codes a default: `config.ts` starts from `defaultConfig()` and
 * lays the `-dev` preset, the files and the flags over it.
 */
import type { CheckKind, DnsConfig, RuntimeConfig } from './config-types.ts';
import type { HealthStatus, ServiceWeights } from '../catalog/types.ts';
import { DEFAULT_CLIENT_FAILURE_TIMEOUT_MS } from './client-liveness.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Fresh DNS defaults (a new object per call: callers may mutate it). */
export function defaultDnsConfig(): DnsConfig {
  return {
    // Consul: 0s. Node answers are not cached downstream, so a health change is seen at once.
    nodeTtl: 0,
    // Consul: {} so every service TTL is 0 for the same reason; users opt in per service.
    serviceTtl: {},
    // Consul: false. Warning instances still answer (only critical ones are dropped).
    onlyPassing: false,
    // Herald differs (Consul: false). Consul silently cuts UDP answers to udp_answer_limit with
    // no TC bit, so stub resolvers never retry over TCP and see only part of the pool
    // (hashicorp/consul #375, #788; spec section 10 item 1). Setting TC when an answer was trimmed
    // is what RFC 1035 section 4.2.1 / RFC 2181 section 9 intend; false restores Consul's
    // behaviour for clients that mishandle TC.
    enableTruncate: true,
    // Consul: 3. Applies to plain 512-byte UDP clients only; the DNS server uses
    // min(udp_answer_limit, 8) as Consul does (spec 1.7), so values above 8 behave as 8.
    udpAnswerLimit: 3,
    // Consul: 0 = unlimited (never applied to SRV).
    aRecordLimit: 0,
    // Consul: false. Name compression (RFC 1035 section 4.1.4) stays on.
    disableCompression: false,
    // Consul: true. Node-meta TXT records go into ADDITIONAL.
    enableAdditionalNodeMetaTxt: true,
    // Consul: refresh 3600, retry 600, expire 86400, min_ttl 0 (seconds, RFC 1035 section 3.3.13).
    // min_ttl 0 keeps negative answers uncached (RFC 2308 section 5) so a flap heals at once.
    soa: { refresh: 3600, retry: 600, expire: 86400, minTtl: 0 },
    // Consul: 2s per upstream.
    recursorTimeout: 2 * SECOND,
    // Consul: sequential (try recursors in the order given).
    recursorStrategy: 'sequential',
    // Consul: true. Reads are local (DESIGN.md principle 4).
    allowStale: true,
    // Consul: 87600h (10 years), i.e. never redo a lookup on the leader because of staleness.
    maxStale: 87600 * HOUR,
    // Herald-only: 64 MiB bounds the wire-answer cache by bytes (DESIGN.md principle 1). A cached
    // answer is a few hundred bytes, so this holds hundreds of thousands of names.
    cacheMaxBytes: 64 * 1024 * 1024,
    // Herald-only: 8 cached permutations per answer, so cache hits still rotate instances the way
    // Consul's per-query shuffle does, at 8x the bytes of one answer.
    shuffleVariants: 8,
    // Herald-only: close idle DNS/TCP connections after 10s (RFC 7766 section 6.2.3 suggests
    // timeouts "on the order of seconds"; 10s leaves room for pipelined clients).
    tcpIdleTimeout: 10 * SECOND,
    // Herald-only: at most 256 concurrent DNS/TCP connections, so a flood of idle TCP clients
    // cannot exhaust file descriptors (RFC 7766 section 6.2.2).
    tcpMaxConnections: 256,
  };
}

/**
 * Fresh defaults for everything (not `-dev`): what an agent runs with when no file or flag
 * says otherwise. `hostname` is the node name default (Consul uses the host name).
 */
export function defaultConfig(hostname: string): RuntimeConfig {
  return {
    dev: false,
    // Consul: the host name.
    nodeName: hostname,
    // Consul generates a UUID and keeps it in data_dir; config leaves it empty for the agent to
    // fill, because loading config must not write anything.
    nodeId: '',
    // Consul: dc1.
    datacenter: 'dc1',
    // Consul: 0.0.0.0 for gossip/RPC, so peers on other hosts can reach this one.
    bindAddr: '0.0.0.0',
    // Consul: 127.0.0.1. HTTP and DNS are local-only unless told otherwise (DESIGN.md principle 7).
    clientAddr: '127.0.0.1',
    // -1 disables a listener.
    // Consul: DNS 8600 (UDP and TCP), HTTP 8500, server RPC/Raft 8300 (TCP).
    ports: { dns: 8600, http: 8500, server: 8300 },
    // Consul: client agents unless told otherwise; a server needs a data dir (or -dev).
    server: false,
    // Consul: 0 (no automatic bootstrap; the usual production value is 3 or 5).
    bootstrapExpect: 0,
    retryJoin: [],
    // Consul: 0, retry for ever. A round is one try of every known server, paced by the client
    // link's backoff (50 ms doubling to 2 s), not by Consul's retry_interval (30 s, unsupported).
    retryMax: 0,
    advertiseAddr: undefined,
    // Consul: "consul." (stored without the trailing dot).
    domain: 'consul',
    altDomain: undefined,
    // Consul: required outside -dev (checked in config.ts, not defaulted).
    dataDir: undefined,
    // Herald-only (DESIGN principle 6): a placeholder that config.ts resolves once every layer is
    // in: rocksdb whenever a data dir is given outside -dev (a restart then loses nothing that was
    // acknowledged), memory otherwise, unless storage_engine / -storage-engine says.
    storageEngine: 'memory',
    // Consul: 16384 entries between snapshots. Restart replays at most this many entries after
    // the snapshot; each snapshot serialises the whole state once.
    raftSnapshotThreshold: 16384,
    // Consul: 30s. A snapshot serialises the whole state on the JS thread; under a write burst
    // the threshold alone would stall every write (and DNS) once per 16384 entries, so at most
    // one snapshot per interval.
    raftSnapshotInterval: 30_000,
    // Herald-only: what Consul users see from serf on a small LAN before a crashed member is
    // failed (about 5-7 s); the formula and the derived heartbeat are in client-liveness.ts.
    clientFailureTimeout: DEFAULT_CLIENT_FAILURE_TIMEOUT_MS,
    // Herald-only: no static zones unless a directory is given.
    zoneDir: undefined,
    // Consul: none; names outside the domain(s) then get REFUSED (spec 1.8) rather than leaking upstream.
    recursors: [],
    dnsConfig: defaultDnsConfig(),
    nodeMeta: {},
    services: [],
    checks: [],
    // Consul: both off; scripts from the API would be remote code execution (DESIGN.md principle 7).
    enableScriptChecks: false,
    enableLocalScriptChecks: false,
    // Consul: 5m. Output-only check changes are written at most this often (hashicorp/consul #2754).
    checkUpdateInterval: 5 * MINUTE,
    // Herald-only: which plugins run is the host's config; none unless named.
    plugins: [],
    pluginConfig: {},
    // Consul: info.
    logLevel: 'info',
    sources: [],
  };
}

/**
 * What `-dev` changes on top of `defaultConfig()`. Consul's dev mode also logs at DEBUG; Herald
 * keeps info so the quick start is readable (`-log-level debug` is one flag away).
 */
export const DEV_PRESET = {
  // Consul dev binds gossip/RPC to loopback: a dev agent is never reachable from other hosts.
  bindAddr: '127.0.0.1',
  // So the shipped example's script check (`src/agent/examples/db.json`) runs in the quick start.
  // Local files only: scripts from the HTTP API stay refused.
  enableLocalScriptChecks: true,
  logLevel: 'info',
} as const satisfies Partial<RuntimeConfig>;

/** Check defaults (spec 2.3), in ms where they are durations. */
export const CHECK_DEFAULTS = {
  /** Consul: a new check starts critical until it has proven otherwise. */
  status: 'critical' as HealthStatus,
  /** Consul's script timeout: 30s, not capped by the interval. */
  scriptTimeout: 30 * SECOND,
  /** Consul's HTTP and TCP timeout: 10s, and never longer than the interval. */
  httpTimeout: 10 * SECOND,
  tcpTimeout: 10 * SECOND,
  /** Consul raises shorter intervals to 1s (with a warning), so a typo cannot spin a runner. */
  minInterval: SECOND,
  /** Consul's minimum for DeregisterCriticalServiceAfter (its reaper runs every 30s). */
  minDeregisterCriticalServiceAfter: MINUTE,
  /** HTTP method when none is given. */
  httpMethod: 'GET',
} as const;

/** Timeout default for a check kind (ms); TTL checks have none. */
export function defaultCheckTimeout(kind: CheckKind): number | undefined {
  if (kind === 'script') return CHECK_DEFAULTS.scriptTimeout;
  if (kind === 'http') return CHECK_DEFAULTS.httpTimeout;
  if (kind === 'tcp') return CHECK_DEFAULTS.tcpTimeout;
  return undefined;
}

/** Consul: `{"Passing":1,"Warning":1}`; a field left out keeps its 1. Fresh object per call. */
export function defaultWeights(): ServiceWeights {
  return { passing: 1, warning: 1 };
}

/** Consul's limits on node and service metadata (structs.validateMetaPair). */
export const META_LIMITS = {
  maxPairs: 64,
  maxKeyLength: 128,
  maxValueLength: 512,
  reservedPrefix: 'consul-',
} as const;

/** Consul caps udp_answer_limit at 8 whatever the config says (agent/dns.go maxUDPAnswerLimit). */
export const MAX_UDP_ANSWER_LIMIT = 8;
