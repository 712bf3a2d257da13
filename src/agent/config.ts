/**
 * The agent's configuration: Consul-style JSON files and flags, turned into one validated
 * RuntimeConfig before anything starts (CONVENTIONS.md; spec consul-compat.md 1.1, 2.1-2.3, 2.5).
 *
 * Layers, later over earlier: defaults.ts, the `-dev` preset, each config file in load order, the
 * flags. Scalars override, lists (services, checks, recursors, plugins) append, maps (node_meta,
 * dns_config.service_ttl, plugin_config.<name>) merge key by key. Loading only reads files: it
 * starts nothing and writes nothing, so a reload can validate a new config and refuse it while
 * the old one keeps running.
 *
 * Every problem is collected (a file with a JSON syntax error contributes only that error) and
 * thrown as one ConfigError whose message has a line per problem: `file:line: key.path: what`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { CheckDefinition, DnsConfig, RuntimeConfig, ServiceDefinition, SoaConfig } from './config-types.ts';
import { ERR } from '../errors.ts';
import { DEV_PRESET, defaultConfig } from './defaults.ts';
import { MIN_CLIENT_FAILURE_TIMEOUT_MS } from './client-liveness.ts';
import { ConfigError, Fields, Issues, isPlainObject, joinKey, readDuration, type ReadMode, type Schema, type Unsupported } from './config-fields.ts';
import { JsonSyntaxError, parseJsonDocument } from './config-json.ts';
import { metaProblems, readCheckDefinition, readServiceDefinition } from './service-definition.ts';

export { ConfigError, formatIssue, type ConfigIssue } from './config-fields.ts';
export {
  serviceDefinitionFromJson,
  checkDefinitionFromJson,
  type DefinitionOptions,
} from './service-definition.ts';

// ---------------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------------

/** The agent's command-line flags, parsed but not yet validated against each other. */
export interface AgentFlags {
  dev: boolean;
  nodeName?: string;
  nodeId?: string;
  datacenter?: string;
  bindAddr?: string;
  clientAddr?: string;
  dnsPort?: number;
  httpPort?: number;
  domain?: string;
  altDomain?: string;
  /** -recursor, in order (repeatable). */
  recursors: string[];
  dataDir?: string;
  /** -storage-engine: memory or rocksdb. */
  storageEngine?: string;
  /**
   * -config-file and -config-dir in the order given (Consul keeps both in one list). Either kind
   * may name a file or a directory: what is on disk decides, as in Consul.
   */
  configPaths: { kind: 'file' | 'dir'; path: string }[];
  zoneDir?: string;
  /** -plugin, in order (repeatable). */
  plugins: string[];
  logLevel?: string;
  /** -node-meta key:value, in order (repeatable; a value-less `key` means an empty value). */
  nodeMeta: [string, string][];
  enableScriptChecks?: boolean;
  enableLocalScriptChecks?: boolean;
  /** -server. */
  server?: boolean;
  /** -bootstrap-expect N. */
  bootstrapExpect?: number;
  /** -retry-join, in order (repeatable). */
  retryJoin?: string[];
  /** -retry-max N. */
  retryMax?: number;
  /** -server-port. */
  serverPort?: number;
  /** -advertise. */
  advertiseAddr?: string;
}

type FlagType = 'bool' | 'string' | 'port' | 'int' | 'list' | 'meta' | 'config-file' | 'config-dir';

const FLAGS: Record<string, { type: FlagType; field?: keyof AgentFlags }> = {
  dev: { type: 'bool', field: 'dev' },
  node: { type: 'string', field: 'nodeName' },
  'node-id': { type: 'string', field: 'nodeId' },
  datacenter: { type: 'string', field: 'datacenter' },
  bind: { type: 'string', field: 'bindAddr' },
  client: { type: 'string', field: 'clientAddr' },
  'dns-port': { type: 'port', field: 'dnsPort' },
  'http-port': { type: 'port', field: 'httpPort' },
  domain: { type: 'string', field: 'domain' },
  'alt-domain': { type: 'string', field: 'altDomain' },
  recursor: { type: 'list', field: 'recursors' },
  'data-dir': { type: 'string', field: 'dataDir' },
  'storage-engine': { type: 'string', field: 'storageEngine' },
  'config-file': { type: 'config-file' },
  'config-dir': { type: 'config-dir' },
  'zone-dir': { type: 'string', field: 'zoneDir' },
  plugin: { type: 'list', field: 'plugins' },
  'log-level': { type: 'string', field: 'logLevel' },
  'node-meta': { type: 'meta' },
  'enable-script-checks': { type: 'bool', field: 'enableScriptChecks' },
  'enable-local-script-checks': { type: 'bool', field: 'enableLocalScriptChecks' },
  server: { type: 'bool', field: 'server' },
  'bootstrap-expect': { type: 'int', field: 'bootstrapExpect' },
  'retry-join': { type: 'list', field: 'retryJoin' },
  'retry-max': { type: 'int', field: 'retryMax' },
  'server-port': { type: 'port', field: 'serverPort' },
  advertise: { type: 'string', field: 'advertiseAddr' },
};

/** Go's strconv.ParseBool, which the flag package uses for `-flag=value`. */
const BOOLS: Record<string, boolean> = {
  '1': true, t: true, T: true, true: true, TRUE: true, True: true,
  '0': false, f: false, F: false, false: false, FALSE: false, False: false,
};

function flagError(message: string): ConfigError {
  return new ConfigError([{ code: ERR.FLAG_INVALID, path: '', message }]);
}

/**
 * Parses agent flags the way Go's flag package does: `-x`, `--x`, `-x=v` and `-x v`; boolean
 * flags take a value only as `-x=false`; a repeated scalar flag keeps its last value; repeatable
 * flags (-recursor, -config-file, -config-dir, -plugin, -node-meta) keep every value in order.
 * Throws ConfigError (FLAG_INVALID) for an unknown flag (`flag provided but not defined: -x`),
 * a missing or malformed value, or a positional argument. Values are checked by loadConfig.
 */
export function parseAgentFlags(argv: string[]): AgentFlags {
  const out: AgentFlags = { dev: false, recursors: [], configPaths: [], plugins: [], nodeMeta: [], retryJoin: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      if (i + 1 < argv.length) throw flagError(`unexpected argument ${JSON.stringify(argv[i + 1])}: the agent takes only flags`);
      break;
    }
    if (arg.length < 2 || arg[0] !== '-') {
      throw flagError(`unexpected argument ${JSON.stringify(arg)}: the agent takes only flags`);
    }
    const body = arg[1] === '-' ? arg.slice(2) : arg.slice(1);
    if (body === '' || body[0] === '-' || body[0] === '=') throw flagError(`bad flag syntax: ${arg}`);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined;
    if (!spec) throw flagError(`flag provided but not defined: -${name}`);

    if (spec.type === 'bool') {
      let v = true;
      if (eq >= 0) {
        const text = body.slice(eq + 1);
        if (!Object.hasOwn(BOOLS, text)) throw flagError(`invalid boolean value ${JSON.stringify(text)} for -${name}: parse error`);
        v = BOOLS[text]!;
      }
      (out as unknown as Record<string, unknown>)[spec.field!] = v;
      continue;
    }
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      // Like Go, the next argument is the value even when it starts with a dash.
      if (i + 1 >= argv.length) throw flagError(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    switch (spec.type) {
      case 'string':
        (out as unknown as Record<string, unknown>)[spec.field!] = value;
        break;
      case 'port': {
        const n = /^-?\d{1,6}$/.test(value) ? Number(value) : NaN;
        if (!(n >= -1 && n <= 65535)) {
          throw flagError(`invalid value ${JSON.stringify(value)} for flag -${name}: must be a port number, or -1 to disable`);
        }
        (out as unknown as Record<string, unknown>)[spec.field!] = n;
        break;
      }
      case 'int': {
        const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
        if (!Number.isInteger(n)) throw flagError(`invalid value ${JSON.stringify(value)} for flag -${name}: must be a non-negative integer`);
        (out as unknown as Record<string, unknown>)[spec.field!] = n;
        break;
      }
      case 'list':
        ((out as unknown as Record<string, string[]>)[spec.field!] ??= []).push(value);
        break;
      case 'meta': {
        // Consul's ParseMetaPair: split at the first colon; no colon means an empty value.
        const colon = value.indexOf(':');
        out.nodeMeta.push(colon < 0 ? [value, ''] : [value.slice(0, colon), value.slice(colon + 1)]);
        break;
      }
      case 'config-file':
      case 'config-dir':
        out.configPaths.push({ kind: spec.type === 'config-file' ? 'file' : 'dir', path: value });
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One layer: what a file (or the flags) sets
// ---------------------------------------------------------------------------------------------

interface Placed<T> {
  def: T;
  path: string;
  file?: string;
  line?: number;
  /** Embedded checks' paths and lines (services only), in `def.checks` order. */
  checkPlaces?: { path: string; line?: number }[];
}

type ScalarKey =
  | 'nodeName'
  | 'nodeId'
  | 'datacenter'
  | 'bindAddr'
  | 'clientAddr'
  | 'domain'
  | 'altDomain'
  | 'dataDir'
  | 'storageEngine'
  | 'raftSnapshotThreshold'
  | 'raftSnapshotInterval'
  | 'clientFailureTimeout'
  | 'zoneDir'
  | 'logLevel'
  | 'enableScriptChecks'
  | 'enableLocalScriptChecks'
  | 'checkUpdateInterval'
  | 'server'
  | 'bootstrapExpect'
  | 'retryMax'
  | 'advertiseAddr';

interface Layer {
  scalars: Partial<Pick<RuntimeConfig, ScalarKey>>;
  ports: Partial<RuntimeConfig['ports']>;
  limits: NonNullable<RuntimeConfig['limits']>;
  dns: Partial<Omit<DnsConfig, 'soa' | 'serviceTtl'>>;
  soa: Partial<SoaConfig>;
  serviceTtl: Record<string, number>;
  recursors: string[];
  nodeMeta: Record<string, string>;
  plugins: string[];
  retryJoin: string[];
  pluginConfig: Record<string, Record<string, unknown>>;
  services: Placed<ServiceDefinition>[];
  checks: Placed<CheckDefinition>[];
}

function emptyLayer(): Layer {
  return {
    scalars: {},
    ports: {},
    limits: {},
    dns: {},
    soa: {},
    serviceTtl: {},
    recursors: [],
    nodeMeta: {},
    plugins: [],
    retryJoin: [],
    pluginConfig: {},
    services: [],
    checks: [],
  };
}

const CONSUL_ONLY = 'is a Consul setting that Herald does not support';

const TOP_SCHEMA: Schema = {
  service: [],
  services: [],
  check: [],
  checks: [],
  dns_config: [],
  recursors: [],
  ports: [],
  domain: [],
  alt_domain: [],
  node_name: [],
  node_id: [],
  node_meta: [],
  datacenter: [],
  bind_addr: [],
  client_addr: [],
  data_dir: [],
  storage_engine: [],
  raft_snapshot_threshold: [],
  raft_snapshot_interval: [],
  client_failure_timeout: [],
  zone_dir: [],
  log_level: [],
  enable_script_checks: [],
  enable_local_script_checks: [],
  check_update_interval: [],
  plugins: [],
  plugin_config: [],
  limits: [],
  server: [],
  bootstrap_expect: [],
  retry_join: [],
  retry_max: [],
  advertise_addr: [],
};

/** Consul keys people carry over; set to a non-empty value they get a clearer refusal than "unknown". */
const TOP_UNSUPPORTED: Unsupported = Object.fromEntries(
  [
    'bootstrap', 'retry_join_wan', 'start_join', 'start_join_wan',
    'retry_interval', 'rejoin_after_leave', 'advertise_addr_wan', 'addresses',
    'serf_lan', 'serf_wan', 'encrypt', 'encrypt_verify_incoming', 'encrypt_verify_outgoing', 'ui', 'ui_config',
    'ui_dir', 'acl', 'acl_datacenter', 'acl_default_policy', 'acl_down_policy', 'acl_token', 'acl_master_token',
    'primary_datacenter', 'ca_file', 'ca_path', 'cert_file', 'key_file', 'verify_incoming', 'verify_outgoing',
    'verify_server_hostname', 'tls', 'auto_encrypt', 'auto_config', 'connect', 'telemetry', 'watches',
    'performance', 'leave_on_terminate', 'skip_leave_on_interrupt', 'reconnect_timeout', 'session_ttl_min',
    'disable_remote_exec', 'disable_update_check', 'enable_debug', 'enable_syslog', 'log_file', 'log_json',
    'pid_file', 'raft_protocol', 'translate_wan_addrs', 'segment', 'discard_check_output', 'http_config',
    'config_entries', 'default_query_time', 'max_query_time', 'discovery_max_stale', 'license_path',
  ].map((k) => [k, CONSUL_ONLY]),
);

const PORTS_SCHEMA: Schema = { dns: [], http: [], server: [] };
/** Consul's `limits` keys Herald reads (the kv plugin's value and transaction sizes). */
const LIMITS_SCHEMA: Schema = { kv_max_value_size: [], txn_max_req_len: [] };
const LIMITS_UNSUPPORTED: Unsupported = Object.fromEntries(
  ['http_max_conns_per_client', 'https_handshake_timeout', 'rpc_handshake_timeout', 'rpc_max_burst', 'rpc_max_conns_per_client', 'rpc_rate', 'request_limits'].map(
    (k) => [k, 'is a Consul limit that Herald does not enforce'],
  ),
);
const PORTS_UNSUPPORTED: Unsupported = Object.fromEntries(
  ['https', 'grpc', 'grpc_tls', 'serf_lan', 'serf_wan', 'sidecar_min_port', 'sidecar_max_port',
    'expose_min_port', 'expose_max_port'].map((k) => [k, `is a Consul port that Herald does not use`]),
);

const DNS_SCHEMA: Schema = {
  node_ttl: [],
  service_ttl: [],
  only_passing: [],
  enable_truncate: [],
  udp_answer_limit: [],
  a_record_limit: [],
  disable_compression: [],
  enable_additional_node_meta_txt: [],
  soa: [],
  recursor_timeout: [],
  recursor_strategy: [],
  allow_stale: [],
  max_stale: [],
  cache_max_bytes: [],
  shuffle_variants: [],
  tcp_idle_timeout: [],
  tcp_max_connections: [],
};
const DNS_UNSUPPORTED: Unsupported = {
  use_cache: "is not supported: Herald always caches answers (see dns_config.cache_max_bytes)",
  cache_max_age: "is not supported: Herald's answer cache is invalidated by changes, not by age",
  prefer_namespace: CONSUL_ONLY,
};
const SOA_SCHEMA: Schema = { refresh: [], retry: [], expire: [], min_ttl: [] };

const UINT32 = 2 ** 32 - 1;
const INT32 = 2 ** 31 - 1;
const PLUGIN_NAME = /^[a-z0-9][a-z0-9-]*$/;
const DATACENTER = /^[a-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DNS_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
const LOG_LEVELS: Record<string, RuntimeConfig['logLevel']> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  err: 'error',
  error: 'error',
};

// Value normalisers shared by files and flags. Each returns undefined after recording an issue.

/** Lowercase, one trailing dot dropped: `Consul.` -> `consul` (RFC 4343: names compare case-insensitively). */
function normDomain(v: string, issues: Issues, path: string): string | undefined {
  const d = v.toLowerCase().replace(/\.$/, '');
  if (d === '' || d.length > 253 || !d.split('.').every((l) => DNS_LABEL.test(l))) {
    issues.add(path, `domain must be a DNS name such as "consul.", not ${JSON.stringify(v)}`);
    return undefined;
  }
  return d;
}

function normDatacenter(v: string, issues: Issues, path: string): string | undefined {
  const dc = v.toLowerCase();
  if (!DATACENTER.test(dc)) {
    // Consul's wording (agent/config/builder.go).
    issues.add(path, `datacenter cannot be ${JSON.stringify(v)}. Please use only [a-z0-9-_]`);
    return undefined;
  }
  return dc;
}

function normNodeId(v: string, issues: Issues, path: string): string | undefined {
  const id = v.toLowerCase();
  if (id !== '' && !UUID.test(id)) {
    issues.add(path, `node_id must be a UUID such as "adf4238a-882b-9ddc-4a9d-5b6758e4159e", not ${JSON.stringify(v)}`);
    return undefined;
  }
  return id;
}

function normAddr(v: string, issues: Issues, path: string): string | undefined {
  if (v.includes('{{')) {
    issues.add(path, 'go-sockaddr templates are not supported by Herald; give an IP address');
    return undefined;
  }
  if (/\s/.test(v.trim())) {
    issues.add(path, 'only one address is supported; give a single IP address');
    return undefined;
  }
  const a = v.trim();
  if (isIP(a) === 0) {
    issues.add(path, `must be an IP address, not ${JSON.stringify(v)}`);
    return undefined;
  }
  return a;
}

function normLogLevel(v: string, issues: Issues, path: string): RuntimeConfig['logLevel'] | undefined {
  const level = LOG_LEVELS[v.toLowerCase()];
  if (!level || !Object.hasOwn(LOG_LEVELS, v.toLowerCase())) {
    issues.add(path, `log level must be one of trace, debug, info, warn, error, not ${JSON.stringify(v)}`);
    return undefined;
  }
  return level;
}

function nonEmpty(v: string, issues: Issues, path: string, what: string): string | undefined {
  if (v.trim() === '') {
    issues.add(path, `${what} cannot be empty`);
    return undefined;
  }
  return v;
}

/** IPv6 in its canonical short form, so `0:0::1` and `::1` deduplicate. */
function canonicalV6(ip: string): string {
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip; // zone IDs (fe80::1%eth0) are not URL hosts; keep as written
  }
}

/**
 * A recursor as `ip:port`: port 53 when none is given (RFC 1035 section 4.2), IPv6 in brackets.
 * IP literals only: a host name would need a DNS lookup just to load the config.
 */
function normRecursor(v: string, issues: Issues, path: string): string | undefined {
  const s = v.trim();
  let ip: string | undefined;
  let port = '53';
  let m: RegExpExecArray | null;
  if (isIP(s) !== 0) ip = s;
  else if ((m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)) && isIP(m[1]!) === 6) {
    ip = m[1]!;
    port = m[2] ?? '53';
  } else if ((m = /^([^:[\]]+):(\d+)$/.exec(s)) && isIP(m[1]!) === 4) {
    ip = m[1]!;
    port = m[2]!;
  }
  const p = Number(port);
  if (ip === undefined || !(p >= 1 && p <= 65535)) {
    issues.add(path, `recursor must be an IP address with an optional port (1.2.3.4, 1.2.3.4:5353, [::1]:53), not ${JSON.stringify(v)}`);
    return undefined;
  }
  return isIP(ip) === 6 ? `[${canonicalV6(ip)}]:${p}` : `${ip}:${p}`;
}

function normStorageEngine(v: string, issues: Issues, path: string): RuntimeConfig['storageEngine'] | undefined {
  if (v === 'memory' || v === 'rocksdb') return v;
  issues.add(path, `storage engine must be "memory" or "rocksdb", not ${JSON.stringify(v)}`);
  return undefined;
}

function checkPluginName(name: string, issues: Issues, path: string): boolean {
  if (!PLUGIN_NAME.test(name)) {
    issues.add(path, `plugin name ${JSON.stringify(name)} must be lowercase letters, digits and dashes`);
    return false;
  }
  return true;
}

/** Reads a config file's top-level object into a layer, recording problems in `issues`. */
function readFileLayer(value: unknown, issues: Issues, file: string, warn: (m: string) => void): Layer {
  const layer = emptyLayer();
  const mode: ReadMode = { source: 'file', unknownKeys: 'error' };
  if (!isPlainObject(value)) {
    issues.add('', 'a config file must hold one JSON object');
    return layer;
  }
  const f = Fields.read(value, '', TOP_SCHEMA, issues, mode, TOP_UNSUPPORTED)!;
  const s = layer.scalars;
  const str = <T extends string>(key: string, norm: (v: string, issues: Issues, path: string) => T | undefined) => {
    const v = f.string(key);
    return v === undefined ? undefined : norm(v, issues, f.pathOf(key));
  };
  s.nodeName = str('node_name', (v, i, p) => nonEmpty(v, i, p, 'node_name'));
  s.nodeId = str('node_id', normNodeId);
  s.datacenter = str('datacenter', normDatacenter);
  s.bindAddr = str('bind_addr', normAddr);
  s.clientAddr = str('client_addr', normAddr);
  s.domain = str('domain', normDomain);
  s.altDomain = str('alt_domain', normDomain);
  s.dataDir = str('data_dir', (v, i, p) => nonEmpty(v, i, p, 'data_dir'));
  s.storageEngine = str('storage_engine', normStorageEngine);
  s.raftSnapshotThreshold = f.int('raft_snapshot_threshold', 1, INT32);
  s.raftSnapshotInterval = f.duration('raft_snapshot_interval');
  s.clientFailureTimeout = f.duration('client_failure_timeout', { min: MIN_CLIENT_FAILURE_TIMEOUT_MS });
  s.zoneDir = str('zone_dir', (v, i, p) => nonEmpty(v, i, p, 'zone_dir'));
  s.logLevel = str('log_level', normLogLevel);
  s.enableScriptChecks = f.bool('enable_script_checks');
  s.enableLocalScriptChecks = f.bool('enable_local_script_checks');
  s.checkUpdateInterval = f.duration('check_update_interval');
  s.server = f.bool('server');
  s.bootstrapExpect = f.int('bootstrap_expect', 0, 1000);
  s.retryMax = f.int('retry_max', 0, INT32);
  s.advertiseAddr = str('advertise_addr', normAddr);
  (f.stringList('retry_join') ?? []).forEach((a, i) => {
    const n = normJoinAddr(a, issues, `${f.pathOf('retry_join')}[${i}]`);
    if (n) layer.retryJoin.push(n);
  });

  const ports = f.object('ports', PORTS_SCHEMA, PORTS_UNSUPPORTED);
  if (ports) {
    layer.ports.dns = ports.int('dns', -1, 65535);
    layer.ports.http = ports.int('http', -1, 65535);
    layer.ports.server = ports.int('server', 0, 65535);
  }
  const limits = f.object('limits', LIMITS_SCHEMA, LIMITS_UNSUPPORTED);
  if (limits) {
    layer.limits.kvMaxValueSize = limits.int('kv_max_value_size', 1, INT32);
    layer.limits.txnMaxReqLen = limits.int('txn_max_req_len', 1, INT32);
  }

  const recursors = f.stringList('recursors') ?? [];
  recursors.forEach((r, i) => {
    const n = normRecursor(r, issues, `${f.pathOf('recursors')}[${i}]`);
    if (n) layer.recursors.push(n);
  });

  const meta = f.stringMap('node_meta');
  if (meta) {
    for (const [k, message] of metaProblems(meta, 'Node')) {
      issues.add(k ? joinKey(f.pathOf('node_meta'), k) : f.pathOf('node_meta'), message);
    }
    Object.assign(layer.nodeMeta, meta);
  }

  const plugins = f.stringList('plugins') ?? [];
  plugins.forEach((p, i) => {
    if (checkPluginName(p, issues, `${f.pathOf('plugins')}[${i}]`)) layer.plugins.push(p);
  });
  const pc = f.raw('plugin_config');
  if (pc !== undefined) {
    const pcPath = f.pathOf('plugin_config');
    if (!isPlainObject(pc)) issues.add(pcPath, 'must be an object keyed by plugin name');
    else {
      for (const [name, opts] of Object.entries(pc)) {
        const p = joinKey(pcPath, name);
        if (!checkPluginName(name, issues, p)) continue;
        if (!isPlainObject(opts)) {
          issues.add(p, 'plugin options must be an object');
          continue;
        }
        Object.defineProperty(layer.pluginConfig, name, { value: opts, enumerable: true, writable: true, configurable: true });
      }
    }
  }

  const dns = f.object('dns_config', DNS_SCHEMA, DNS_UNSUPPORTED);
  if (dns) readDnsConfig(dns, layer, issues);

  for (const { value: sv, path } of [...f.objectList('service'), ...f.objectList('services')]) {
    const checkPaths: string[] = [];
    const def = readServiceDefinition(sv, path, issues, 'file', warn, checkPaths);
    if (!def) continue;
    const checkPlaces = checkPaths.map((p) => ({ path: p, line: issues.where(p).line }));
    layer.services.push({ def, path, file, line: issues.where(path).line, checkPlaces });
  }
  for (const { value: cv, path } of [...f.objectList('check'), ...f.objectList('checks')]) {
    const def = readCheckDefinition(cv, path, issues, 'file', warn);
    if (def) layer.checks.push({ def, path, file, line: issues.where(path).line });
  }
  return layer;
}

/** Seconds from a duration (Consul truncates: uint32(d / time.Second)). */
const toSeconds = (ms: number) => Math.floor(ms / 1000);

function readDnsConfig(dns: Fields, layer: Layer, issues: Issues): void {
  const d = layer.dns;
  const ttl = dns.duration('node_ttl');
  if (ttl !== undefined) d.nodeTtl = toSeconds(ttl);
  d.onlyPassing = dns.bool('only_passing');
  d.enableTruncate = dns.bool('enable_truncate');
  d.udpAnswerLimit = dns.int('udp_answer_limit', 0, INT32);
  d.aRecordLimit = dns.int('a_record_limit', 0, INT32);
  d.disableCompression = dns.bool('disable_compression');
  d.enableAdditionalNodeMetaTxt = dns.bool('enable_additional_node_meta_txt');
  d.recursorTimeout = dns.duration('recursor_timeout', { min: Number.MIN_VALUE });
  const strategy = dns.string('recursor_strategy');
  if (strategy !== undefined) {
    if (strategy === 'sequential' || strategy === 'random') d.recursorStrategy = strategy;
    else issues.add(dns.pathOf('recursor_strategy'), `must be "sequential" or "random", not ${JSON.stringify(strategy)}`);
  }
  d.allowStale = dns.bool('allow_stale');
  d.maxStale = dns.duration('max_stale');
  d.cacheMaxBytes = dns.int('cache_max_bytes', 1, Number.MAX_SAFE_INTEGER);
  // Bounded: each variant is a full copy of the answer in the cache.
  d.shuffleVariants = dns.int('shuffle_variants', 1, 64);
  d.tcpIdleTimeout = dns.duration('tcp_idle_timeout', { min: Number.MIN_VALUE });
  d.tcpMaxConnections = dns.int('tcp_max_connections', 1, 1_000_000);

  const soa = dns.object('soa', SOA_SCHEMA);
  if (soa) {
    layer.soa.refresh = soa.int('refresh', 0, UINT32);
    layer.soa.retry = soa.int('retry', 0, UINT32);
    layer.soa.expire = soa.int('expire', 0, UINT32);
    layer.soa.minTtl = soa.int('min_ttl', 0, UINT32);
  }

  const st = dns.raw('service_ttl');
  if (st !== undefined) {
    const stPath = dns.pathOf('service_ttl');
    if (!isPlainObject(st)) issues.add(stPath, 'must be an object of service name (or prefix*) to duration');
    else {
      // Keys are stored lowercased: DNS names match without regard to case (RFC 4343). They are
      // data (service names), so no alias matching applies to them.
      const seen = new Map<string, string>();
      for (const [key, v] of Object.entries(st)) {
        const p = joinKey(stPath, key);
        const lower = key.toLowerCase();
        if (key.indexOf('*') >= 0 && key.indexOf('*') !== key.length - 1) {
          issues.add(p, 'a service_ttl key is a service name, a prefix ending in *, or *');
          continue;
        }
        if (seen.has(lower)) {
          issues.add(p, `${JSON.stringify(key)} and ${JSON.stringify(seen.get(lower))} name the same services (keys match without regard to case)`);
          continue;
        }
        seen.set(lower, key);
        const ms = readDuration(v, p, issues, 'file');
        if (ms !== undefined) {
          Object.defineProperty(layer.serviceTtl, lower, { value: toSeconds(ms), enumerable: true, writable: true, configurable: true });
        }
      }
    }
  }
}

/** The flags as a layer; their problems are FLAG_INVALID and name the flag. */
function flagsLayer(flags: AgentFlags, issues: Issues): Layer {
  const layer = emptyLayer();
  const s = layer.scalars;
  const opt = <T>(v: string | undefined, flag: string, norm: (v: string, i: Issues, p: string) => T | undefined) =>
    v === undefined ? undefined : norm(v, issues, flag);
  s.nodeName = opt(flags.nodeName, '-node', (v, i, p) => nonEmpty(v, i, p, 'node name'));
  s.nodeId = opt(flags.nodeId, '-node-id', normNodeId);
  s.datacenter = opt(flags.datacenter, '-datacenter', normDatacenter);
  s.bindAddr = opt(flags.bindAddr, '-bind', normAddr);
  s.clientAddr = opt(flags.clientAddr, '-client', normAddr);
  s.domain = opt(flags.domain, '-domain', normDomain);
  s.altDomain = opt(flags.altDomain, '-alt-domain', normDomain);
  s.dataDir = opt(flags.dataDir, '-data-dir', (v, i, p) => nonEmpty(v, i, p, 'data dir'));
  s.storageEngine = opt(flags.storageEngine, '-storage-engine', normStorageEngine);
  s.zoneDir = opt(flags.zoneDir, '-zone-dir', (v, i, p) => nonEmpty(v, i, p, 'zone dir'));
  s.logLevel = opt(flags.logLevel, '-log-level', normLogLevel);
  s.enableScriptChecks = flags.enableScriptChecks;
  s.enableLocalScriptChecks = flags.enableLocalScriptChecks;
  layer.ports.dns = checkedPort(flags.dnsPort, '-dns-port', issues);
  layer.ports.http = checkedPort(flags.httpPort, '-http-port', issues);
  layer.ports.server = flags.serverPort === -1 ? (issues.add('-server-port', 'the server port cannot be disabled'), undefined) : checkedPort(flags.serverPort, '-server-port', issues);
  s.server = flags.server;
  s.bootstrapExpect = flags.bootstrapExpect;
  s.retryMax = flags.retryMax;
  s.advertiseAddr = opt(flags.advertiseAddr, '-advertise', normAddr);
  for (const a of flags.retryJoin ?? []) {
    const n = normJoinAddr(a, issues, '-retry-join');
    if (n) layer.retryJoin.push(n);
  }
  for (const r of flags.recursors) {
    const n = normRecursor(r, issues, '-recursor');
    if (n) layer.recursors.push(n);
  }
  for (const p of flags.plugins) if (checkPluginName(p, issues, '-plugin')) layer.plugins.push(p);
  const meta: Record<string, string> = {};
  for (const [k, v] of flags.nodeMeta) Object.defineProperty(meta, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [, message] of metaProblems(meta, 'Node')) issues.add('-node-meta', message);
  Object.assign(layer.nodeMeta, meta);
  return layer;
}

/** A port from an AgentFlags object built in code (parseAgentFlags already checks its own). */
function checkedPort(v: number | undefined, flag: string, issues: Issues): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < -1 || v > 65535) {
    issues.add(flag, `must be a port number, or -1 to disable, not ${v}`);
    return undefined;
  }
  return v;
}

/** Lays `layer` over `cfg`: defined scalars override, lists append, maps merge key by key. */
function applyLayer(cfg: RuntimeConfig, layer: Layer, services: Placed<ServiceDefinition>[], checks: Placed<CheckDefinition>[]): void {
  const assignDefined = <T extends object>(target: T, src: Partial<T>) => {
    for (const [k, v] of Object.entries(src)) if (v !== undefined) (target as Record<string, unknown>)[k] = v;
  };
  assignDefined(cfg, layer.scalars);
  assignDefined(cfg.ports, layer.ports);
  if (layer.limits.kvMaxValueSize !== undefined || layer.limits.txnMaxReqLen !== undefined) {
    cfg.limits = { ...cfg.limits };
    assignDefined(cfg.limits, layer.limits);
  }
  assignDefined(cfg.dnsConfig, layer.dns);
  assignDefined(cfg.dnsConfig.soa, layer.soa);
  for (const [k, v] of Object.entries(layer.serviceTtl)) {
    Object.defineProperty(cfg.dnsConfig.serviceTtl, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  cfg.recursors.push(...layer.recursors);
  for (const [k, v] of Object.entries(layer.nodeMeta)) {
    Object.defineProperty(cfg.nodeMeta, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  cfg.plugins.push(...layer.plugins);
  cfg.retryJoin.push(...layer.retryJoin);
  for (const [name, opts] of Object.entries(layer.pluginConfig)) {
    const merged = { ...(Object.hasOwn(cfg.pluginConfig, name) ? cfg.pluginConfig[name] : {}), ...opts };
    Object.defineProperty(cfg.pluginConfig, name, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  services.push(...layer.services);
  checks.push(...layer.checks);
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/** The files a -config-file/-config-dir argument stands for, in load order. */
function expandConfigPath(entry: { kind: 'file' | 'dir'; path: string }, issues: Issues): string[] {
  const readIssues = issues.scoped(entry.path, ERR.CONFIG_READ);
  let isDir: boolean;
  try {
    isDir = statSync(entry.path).isDirectory();
  } catch (e) {
    readIssues.add('', `cannot read config ${entry.kind === 'dir' ? 'directory' : 'file'}: ${errText(e)}`);
    return [];
  }
  if (!isDir) return [entry.path];
  let names: string[];
  try {
    names = readdirSync(entry.path);
  } catch (e) {
    readIssues.add('', `cannot read config directory: ${errText(e)}`);
    return [];
  }
  // Consul: only *.json and *.hcl directly in the directory, in lexical order; subdirectories
  // (even symlinked ones) are skipped. Sorting by UTF-16 code unit equals Go's byte order for
  // every name outside the astral planes.
  const files: string[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith('.json') && !name.endsWith('.hcl')) continue;
    const full = join(entry.path, name);
    try {
      if (statSync(full).isDirectory()) continue;
    } catch (e) {
      issues.scoped(full, ERR.CONFIG_READ).add('', `cannot read config file: ${errText(e)}`);
      continue;
    }
    files.push(full);
  }
  return files;
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message}` : String(err?.message ?? e);
}

/** Reads, parses and reads one file into a layer; undefined when it cannot be used. */
function loadFile(file: string, issues: Issues, warn: (m: string) => void): Layer | undefined {
  if (file.endsWith('.hcl')) {
    issues
      .scoped(file, ERR.CONFIG_PARSE)
      .add('', 'HCL config files are not supported yet; write this file as JSON (same keys)');
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    issues.scoped(file, ERR.CONFIG_READ).add('', `cannot read config file: ${errText(e)}`);
    return undefined;
  }
  let doc;
  try {
    doc = parseJsonDocument(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    // file:line:column first, where editors and terminals make it a link.
    issues.addAt({ file, line: e.line, column: e.column }, '', `invalid JSON: ${e.message}`, ERR.CONFIG_PARSE);
    return undefined;
  }
  return readFileLayer(doc.value, issues.scoped(file, ERR.CONFIG_INVALID, doc.locate), file, warn);
}

// ---------------------------------------------------------------------------------------------
// The whole load
// ---------------------------------------------------------------------------------------------

/** Options for loadConfig; none are needed in production. */
export interface LoadConfigOptions {
  /** Node name default (Consul's: the host name). Defaults to os.hostname(). */
  hostname?: string;
  /** Receives Consul's non-fatal warnings (interval raised to 1s, name not DNS-safe ...). */
  warn?: (message: string) => void;
}

/**
 * Builds the RuntimeConfig from flags (raw argv, or already parsed) and the config files they
 * name. Only reads files: no side effects, so a reload can validate and refuse a new config.
 * Throws ConfigError (a HeraldError: CONFIG_READ, CONFIG_PARSE, CONFIG_INVALID or FLAG_INVALID,
 * the first problem's code) listing every problem found as `file:line: key.path: message`.
 */
export function loadConfig(input: { flags: string[] } | AgentFlags, opts: LoadConfigOptions = {}): RuntimeConfig {
  const flags = 'flags' in input && Array.isArray(input.flags) ? parseAgentFlags(input.flags) : (input as AgentFlags);
  const warn = opts.warn ?? (() => {});
  const issues = new Issues();
  const cfg = defaultConfig(opts.hostname ?? osHostname());
  if (flags.dev) {
    cfg.dev = true;
    Object.assign(cfg, DEV_PRESET);
  }

  const services: Placed<ServiceDefinition>[] = [];
  const checks: Placed<CheckDefinition>[] = [];
  // Which layer set storage_engine, if any: unset, it follows the data dir (validateWhole).
  let engineFrom: string | undefined;
  for (const entry of flags.configPaths) {
    for (const file of expandConfigPath(entry, issues)) {
      const layer = loadFile(file, issues, warn);
      if (!file.endsWith('.hcl')) cfg.sources.push(file);
      if (layer?.scalars.storageEngine !== undefined) engineFrom = `${file}: storage_engine`;
      if (layer) applyLayer(cfg, layer, services, checks);
    }
  }
  const fromFlags = flagsLayer(flags, issues.scoped(undefined, ERR.FLAG_INVALID));
  if (fromFlags.scalars.storageEngine !== undefined) engineFrom = '-storage-engine';
  applyLayer(cfg, fromFlags, services, checks);
  resolveStorageEngine(cfg, engineFrom, issues);

  validateWhole(cfg, services, checks, issues);
  issues.throwIfAny();
  cfg.services = services.map((p) => p.def);
  cfg.checks = checks.map((p) => p.def);
  return cfg;
}

/**
 * DESIGN principle 6: `rocksdb` whenever a data dir is given outside -dev, `memory` otherwise;
 * an explicit `rocksdb` needs a data dir to live in (`engineFrom` names where it was set).
 */
function resolveStorageEngine(cfg: RuntimeConfig, engineFrom: string | undefined, issues: Issues): void {
  if (engineFrom === undefined) {
    cfg.storageEngine = cfg.dataDir && !cfg.dev ? 'rocksdb' : 'memory';
    return;
  }
  if (cfg.storageEngine === 'rocksdb' && !cfg.dataDir) {
    issues.add('', `${engineFrom}: "rocksdb" keeps its files in the data dir; set data_dir or -data-dir (or use "memory")`);
  }
}

/**
 * Server settings that span layers (consul-compat.md §2.5): bootstrap_expect and retry_join
 * mean something only on a server; a server keeps its Raft state in the data dir (the general
 * data_dir rule already requires one outside -dev).
 */
export function validateServer(cfg: RuntimeConfig, issues: Issues): void {
  cfg.retryJoin = [...new Set(cfg.retryJoin)];
  if (cfg.bootstrapExpect > 0 && !cfg.server) {
    issues.add('', `bootstrap_expect (-bootstrap-expect ${cfg.bootstrapExpect}) is only for servers; set server or -server`);
  }
  if (cfg.server && !cfg.dev && !cfg.dataDir) {
    issues.add('', 'server (-server) keeps the Raft log in the data dir: set data_dir or -data-dir (or run with -dev)');
  }
  if (cfg.server && cfg.bootstrapExpect === 0 && cfg.retryJoin.length === 0 && !cfg.dev) {
    issues.add('', 'a server needs bootstrap_expect (-bootstrap-expect N) to form a new cluster or retry_join (-retry-join) to join one');
  }
  if (cfg.server && cfg.ports.server > 0 && (cfg.ports.server === cfg.ports.http || cfg.ports.server === cfg.ports.dns)) {
    issues.add('', `ports.server ${cfg.ports.server} is already used by DNS or HTTP`);
  }
}

/** A retry_join address: `host[:port]`, the server port 8300 when absent (Consul's default). */
function normJoinAddr(v: string, issues: Issues, path: string): string | undefined {
  const a = v.trim();
  if (a.includes('{{') || a.startsWith('provider=')) {
    issues.add(path, 'templates and cloud auto-join are not supported; give host:port');
    return undefined;
  }
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(a) ?? /^([^:[\]\s]+)(?::(\d+))?$/.exec(a);
  const port = m?.[2] === undefined ? 8300 : Number(m[2]);
  if (!m || !(port > 0 && port <= 65535)) {
    issues.add(path, `must be host or host:port, not ${JSON.stringify(v)}`);
    return undefined;
  }
  return m[1]!.includes(':') ? `[${m[1]}]:${port}` : `${m[1]}:${port}`;
}

/** Rules that span layers: required values, uniqueness, references, script enablement. */
function validateWhole(
  cfg: RuntimeConfig,
  services: Placed<ServiceDefinition>[],
  checks: Placed<CheckDefinition>[],
  issues: Issues,
): void {
  if (!cfg.dev && !cfg.dataDir) {
    // Consul's wording, plus how to fix it. Herald needs a data dir only outside -dev, where
    // the Raft log and API-registered services must survive a restart.
    issues.add('', 'data_dir cannot be empty (set data_dir in a config file or -data-dir, or run with -dev)');
  }
  if (!cfg.nodeName) issues.add('', 'node_name cannot be empty (the host name is empty; set node_name or -node)');
  if (cfg.altDomain !== undefined && cfg.altDomain === cfg.domain) {
    issues.add('', `alt_domain cannot be the same as domain (${cfg.domain})`);
  }
  if (cfg.ports.dns > 0 && cfg.ports.dns === cfg.ports.http) {
    issues.add('', `ports.dns and ports.http cannot both be ${cfg.ports.dns}`);
  }
  validateServer(cfg, issues);

  // Lists append, so the same recursor or plugin may come from two places: keep the first.
  cfg.recursors = [...new Set(cfg.recursors)];
  cfg.plugins = [...new Set(cfg.plugins)];

  const at = (p: { file?: string; line?: number }) => (p.file ? `${p.file}${p.line ? `:${p.line}` : ''}` : 'the flags');
  const serviceById = new Map<string, Placed<ServiceDefinition>>();
  const checkById = new Map<string, { file?: string; line?: number }>();
  const scriptsAllowed = cfg.enableScriptChecks || cfg.enableLocalScriptChecks;
  const scriptsOff =
    "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or " +
    "'enable_local_script_checks' to true";

  const claimCheck = (def: CheckDefinition, place: { file?: string; line?: number }, path: string) => {
    const prev = checkById.get(def.id);
    if (prev) issues.addAt(place, path, `Check ID ${JSON.stringify(def.id)} is already defined (at ${at(prev)})`, ERR.CONFIG_INVALID);
    else checkById.set(def.id, place);
    if (def.kind === 'script' && !scriptsAllowed) issues.addAt(place, path, scriptsOff, ERR.CONFIG_INVALID);
  };

  for (const s of services) {
    const prev = serviceById.get(s.def.id);
    if (prev) {
      // Consul would let the later one replace the earlier; across files that is almost always a
      // copy-paste mistake, so Herald refuses it.
      issues.addAt(s, s.path, `Service ID ${JSON.stringify(s.def.id)} is already defined (at ${at(prev)})`, ERR.CONFIG_INVALID);
    } else serviceById.set(s.def.id, s);
    s.def.checks.forEach((c, i) => {
      const place = s.checkPlaces?.[i] ?? { path: s.path, line: s.line };
      claimCheck(c, { file: s.file, line: place.line }, place.path);
    });
  }
  for (const c of checks) {
    if (c.def.serviceId && !serviceById.has(c.def.serviceId)) {
      // Consul's AddCheck wording.
      issues.addAt(c, c.path, `ServiceID ${JSON.stringify(c.def.serviceId)} does not exist`, ERR.CONFIG_INVALID);
    }
    claimCheck(c.def, c, c.path);
  }
}
