/**
 * One Consul-style service or check object -> Herald's normalised ServiceDefinition /
 * CheckDefinition (spec 2.2, 2.3). Used for config files and for `/v1/agent/service/register`
 * and `/v1/agent/check/register` bodies alike, so nothing here knows about files: an optional
 * path prefix names where the object sits, and problems come back as a ConfigError whose issues
 * carry Consul's wording (`Missing service name`).
 */
import type { CheckDefinition, CheckKind, ServiceDefinition } from './config-types.ts';
import type { HealthStatus, ServiceWeights } from '../catalog/types.ts';
import { CHECK_DEFAULTS, META_LIMITS, defaultCheckTimeout, defaultWeights } from './defaults.ts';
import { Fields, Issues, isEmptyValue, isPlainObject, joinKey, type ReadMode, type Schema, type Unsupported } from './config-fields.ts';
import { isIP } from 'node:net';

const SERVICE_SCHEMA: Schema = {
  id: [],
  name: [],
  tags: [],
  address: [],
  port: [],
  meta: [],
  weights: [],
  enable_tag_override: [],
  tagged_addresses: [],
  check: [],
  checks: [],
  // Consul: the ACL token for this registration. Accepted and not kept: ServiceDefinition has no
  // token field; the ACL plugin reads tokens from the request, not from stored definitions.
  token: [],
};

const SERVICE_UNSUPPORTED: Unsupported = {
  kind: 'service kinds (Connect proxies, gateways) are not supported by Herald',
  proxy: 'Connect proxies are not supported by Herald',
  connect: 'Connect (service mesh) is not supported by Herald',
  socket_path: 'unix socket services are not supported by Herald',
  locality: 'locality is not supported by Herald',
};

const CHECK_SCHEMA: Schema = {
  id: ['check_id'],
  name: [],
  notes: [],
  service_id: [],
  status: [],
  interval: [],
  timeout: [],
  ttl: [],
  deregister_critical_service_after: [],
  success_before_passing: [],
  failures_before_critical: [],
  // The Go client sends Args as `ScriptArgs`; python-consul and files use `args`.
  args: ['script_args'],
  script: [],
  http: [],
  method: [],
  header: [],
  body: [],
  tls_skip_verify: [],
  tcp: [],
  // Accepted and not kept: Herald's runners cap output at Consul's default 4096 bytes.
  output_max_size: [],
  // See SERVICE_SCHEMA.token.
  token: [],
};

/** Check types Consul has and Herald does not run: refused when set, in files and API bodies. */
const CHECK_UNSUPPORTED: Unsupported = {
  grpc: 'gRPC checks are not supported by Herald (use an HTTP or TCP check)',
  grpc_use_tls: 'gRPC checks are not supported by Herald (use an HTTP or TCP check)',
  docker_container_id: 'Docker checks are not supported by Herald (use a script check)',
  shell: 'Docker checks are not supported by Herald (use a script check)',
  alias_service: 'alias checks are not supported by Herald',
  alias_node: 'alias checks are not supported by Herald',
  h2ping: 'H2PING checks are not supported by Herald (use an HTTP check)',
  h2ping_use_tls: 'H2PING checks are not supported by Herald (use an HTTP check)',
  udp: 'UDP checks are not supported by Herald',
  os_service: 'OS service checks are not supported by Herald (use a script check)',
  tls_server_name: 'TLSServerName is not supported by Herald yet',
};

const WEIGHTS_SCHEMA: Schema = { passing: [], warning: [] };
const TAGGED_ADDRESS_SCHEMA: Schema = { address: [], port: [] };

/** Consul's agent/dns.go InvalidDnsRe: names outside this set cannot be looked up over DNS. */
const DNS_SAFE = /^[A-Za-z0-9-]+$/;
const META_KEY = /^[a-zA-Z0-9_-]+$/;
const STATUSES: readonly HealthStatus[] = ['passing', 'warning', 'critical'];
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Options shared by the two public readers. */
export interface DefinitionOptions {
  /** Path prefix for messages (`services[2]`); '' (the default) for an API body. */
  path?: string;
  /** Receives Consul's warnings (interval raised to 1s, name not DNS-safe ...). */
  warn?: (message: string) => void;
  /** Collect issues here instead of throwing (config.ts gathers a whole load's problems). */
  issues?: Issues;
  /** checkDefinitionFromJson with a serviceId: the service's name, for the default check name. */
  serviceName?: string;
}

function modeFor(source: 'file' | 'api'): ReadMode {
  // Consul refuses unknown keys in config files; its HTTP API (Go's encoding/json) ignores them,
  // and real clients send fields Herald has no use for (Namespace, Partition, SocketPath ...).
  return { source, unknownKeys: source === 'file' ? 'error' : 'ignore' };
}

/**
 * Problems with a metadata map by Consul's rules (structs.ValidateMetadata): at most 64 pairs,
 * keys `[A-Za-z0-9_-]{1,128}` not starting with `consul-`, values up to 512 characters.
 * `what` is `Node` or `Service`. Returns [key, message] pairs (key '' for the count rule).
 */
export function metaProblems(meta: Record<string, string>, what: 'Node' | 'Service'): [string, string][] {
  const out: [string, string][] = [];
  const keys = Object.keys(meta);
  if (keys.length > META_LIMITS.maxPairs) {
    out.push(['', `${what} metadata cannot contain more than ${META_LIMITS.maxPairs} key/value pairs`]);
  }
  for (const k of keys) {
    const v = meta[k]!;
    let why: string | undefined;
    if (k === '') why = 'Key cannot be blank';
    else if (!META_KEY.test(k)) why = 'Key contains invalid characters';
    else if (k.length > META_LIMITS.maxKeyLength) why = `Key is too long (limit: ${META_LIMITS.maxKeyLength} characters)`;
    else if (k.startsWith(META_LIMITS.reservedPrefix))
      why = `Key prefix '${META_LIMITS.reservedPrefix}' is reserved for internal use`;
    else if (v.length > META_LIMITS.maxValueLength)
      why = `Value is too long (limit: ${META_LIMITS.maxValueLength} characters)`;
    if (why) out.push([k, `Couldn't load metadata pair ('${k}', '${v}'): ${why}`]);
  }
  return out;
}

/** Where an embedded check sits in its service, for its default ID and name. */
interface Embedding {
  serviceId: string;
  serviceName: string;
  index: number;
  count: number;
}

/** `host:port` with a numeric port; IPv6 hosts in brackets. */
function isHostPort(s: string): boolean {
  const m = /^(\[[^\]]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(s);
  if (!m) return false;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return false;
  return !m[1]!.startsWith('[') || isIP(m[1]!.slice(1, -1)) === 6;
}

/** Reads one check; undefined when it has problems (recorded in `issues`). */
function readCheck(
  value: unknown,
  path: string,
  issues: Issues,
  mode: ReadMode,
  warn: (m: string) => void,
  embedding?: Embedding,
): CheckDefinition | undefined {
  const before = issues.count;
  const f = Fields.read(value, path, CHECK_SCHEMA, issues, mode, CHECK_UNSUPPORTED);
  if (!f) return undefined;

  let name = f.string('name');
  if (!name) {
    if (embedding) name = `Service '${embedding.serviceName}' check`;
    // A name of the wrong type has been reported already.
    else if (typeof f.raw('name') !== 'string' && f.has('name')) name = undefined;
    else issues.add(path, 'Missing check name');
  }
  // An embedded check belongs to its service whatever its own ServiceID says (as in Consul).
  const serviceId = embedding?.serviceId ?? f.string('service_id') ?? '';
  let id = f.string('id');
  if (!id) {
    if (embedding) {
      // Consul: service:<id>, or service:<id>:<n> (n from 1) when the service has several checks.
      id = `service:${embedding.serviceId}` + (embedding.count > 1 ? `:${embedding.index + 1}` : '');
    } else id = name ?? '';
  }
  const notes = f.string('notes') ?? '';

  let status: HealthStatus = CHECK_DEFAULTS.status;
  const statusRaw = f.string('status');
  if (statusRaw !== undefined && statusRaw !== '') {
    if ((STATUSES as string[]).includes(statusRaw)) status = statusRaw as HealthStatus;
    else issues.add(f.pathOf('status'), `Invalid check status: '${statusRaw}'`);
  }

  // The check's kind follows from which fields are set (Consul's CheckType.IsScript/IsHTTP/IsTCP).
  let args = f.stringList('args');
  if (args && args.length === 0) args = undefined;
  const script = f.string('script');
  if (script !== undefined && script !== '') {
    if (args) issues.add(f.pathOf('script'), 'Script and Args cannot both be specified');
    // Consul's deprecated `script` ran through a shell.
    else args = ['sh', '-c', script];
  }
  const http = f.string('http') || undefined;
  const tcp = f.string('tcp') || undefined;
  const kinds: CheckKind[] = [];
  if (args) kinds.push('script');
  if (http) kinds.push('http');
  if (tcp) kinds.push('tcp');
  if (kinds.length > 1) {
    // Consul would quietly run one of them; which one is not obvious from the file, so refuse.
    issues.add(path, `only one of Args/Script, HTTP or TCP can be specified (found ${kinds.join(', ')})`);
  }

  let interval = f.duration('interval', { min: -Infinity });
  const ttl = f.duration('ttl', { min: -Infinity });
  let timeout = f.duration('timeout');
  const intervalCheck = kinds.length > 0;
  // Consul's CheckType.Validate, in its order and words. A check of a type Herald does not run
  // has already been refused; its missing TTL would only be noise.
  if (f.unsupportedSeen) {
    // nothing more to say
  } else if ((interval ?? 0) > 0 && (ttl ?? 0) > 0) {
    issues.add(f.pathOf('ttl'), 'Interval and TTL cannot both be specified');
  } else if (intervalCheck && !((interval ?? 0) > 0)) {
    issues.add(f.has('interval') ? f.pathOf('interval') : path, 'Interval must be > 0 for Script, HTTP, or TCP checks');
  } else if (!intervalCheck && !((ttl ?? 0) > 0)) {
    issues.add(f.has('ttl') ? f.pathOf('ttl') : path, 'TTL must be > 0 for TTL checks');
  }

  const kind: CheckKind = kinds[0] ?? 'ttl';
  const label = id || name || path || 'check';
  if (kind !== 'ttl' && interval !== undefined && interval > 0 && interval < CHECK_DEFAULTS.minInterval) {
    warn(`check "${label}" has interval below minimum of 1s; using 1s`);
    interval = CHECK_DEFAULTS.minInterval;
  }

  let deregisterAfter = f.duration('deregister_critical_service_after');
  if (deregisterAfter === 0) deregisterAfter = undefined;
  if (deregisterAfter !== undefined && deregisterAfter < CHECK_DEFAULTS.minDeregisterCriticalServiceAfter) {
    warn(`check "${label}" has deregister interval below minimum of 1m; using 1m`);
    deregisterAfter = CHECK_DEFAULTS.minDeregisterCriticalServiceAfter;
  }
  const successBeforePassing = f.int('success_before_passing', 0, 2 ** 31 - 1) ?? 0;
  const failuresBeforeCritical = f.int('failures_before_critical', 0, 2 ** 31 - 1) ?? 0;
  f.int('output_max_size', 0, 2 ** 31 - 1);
  f.string('token');

  const def: CheckDefinition = {
    id,
    name: name ?? '',
    notes,
    serviceId,
    kind,
    status,
    successBeforePassing,
    failuresBeforeCritical,
    source: mode.source,
  };
  if (deregisterAfter !== undefined) def.deregisterCriticalServiceAfter = deregisterAfter;

  if (kind === 'ttl') {
    if (ttl !== undefined) def.ttl = ttl;
  } else {
    def.interval = interval;
    if (timeout === 0) timeout = undefined;
    if (kind === 'script') {
      def.args = args;
      def.timeout = timeout ?? defaultCheckTimeout('script');
    } else {
      // Consul's HTTP and TCP checks never wait longer than the interval for an answer.
      const t = timeout ?? defaultCheckTimeout(kind)!;
      def.timeout = interval !== undefined && interval > 0 ? Math.min(t, interval) : t;
    }
  }
  if (kind === 'http' && http) {
    let url: URL | undefined;
    try {
      url = new URL(http);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      issues.add(f.pathOf('http'), `HTTP must be an http:// or https:// URL, not ${JSON.stringify(http)}`);
    }
    def.http = http;
    const method = f.string('method');
    if (method !== undefined && method !== '' && !HTTP_TOKEN.test(method)) {
      issues.add(f.pathOf('method'), `invalid HTTP method ${JSON.stringify(method)}`);
    }
    def.method = method || CHECK_DEFAULTS.httpMethod;
    const header = readHeader(f);
    if (header) def.header = header;
    const body = f.string('body');
    if (body !== undefined && body !== '') def.body = body;
    def.tlsSkipVerify = f.bool('tls_skip_verify') ?? false;
  } else {
    // Fields of other kinds are type-checked (a wrong type is still a mistake) but not kept.
    f.string('method');
    f.string('body');
    f.bool('tls_skip_verify');
    readHeader(f);
  }
  if (kind === 'tcp' && tcp) {
    if (!isHostPort(tcp)) {
      issues.add(f.pathOf('tcp'), `TCP must be host:port (IPv6 in brackets), not ${JSON.stringify(tcp)}`);
    }
    def.tcp = tcp;
  }
  return issues.count === before ? def : undefined;
}

/** Consul's Header: a map of header name to a list of values. */
function readHeader(f: Fields): Record<string, string[]> | undefined {
  const v = f.raw('header');
  if (v === undefined) return undefined;
  const path = f.pathOf('header');
  if (typeof v !== 'object' || Array.isArray(v)) {
    f.issues.add(path, 'Header must be an object of header name to a list of values');
    return undefined;
  }
  const out: Record<string, string[]> = {};
  for (const [k, vals] of Object.entries(v as Record<string, unknown>)) {
    if (!Array.isArray(vals) || vals.some((x) => typeof x !== 'string')) {
      f.issues.add(joinKey(path, k), 'header values must be a list of strings');
      continue;
    }
    Object.defineProperty(out, k, { value: vals.slice(), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Reads one service; undefined when it has problems (recorded in `issues`). */
function readService(
  value: unknown,
  path: string,
  issues: Issues,
  mode: ReadMode,
  warn: (m: string) => void,
  checkPaths?: string[],
): ServiceDefinition | undefined {
  const before = issues.count;
  const f = Fields.read(value, path, SERVICE_SCHEMA, issues, mode, SERVICE_UNSUPPORTED);
  if (!f) return undefined;
  const name = f.string('name');
  if (!name && !(f.has('name') && typeof f.raw('name') !== 'string')) issues.add(path, 'Missing service name');
  const id = f.string('id') || name || '';
  if (name && !DNS_SAFE.test(name)) {
    warn(
      `Service name "${name}" will not be discoverable via DNS due to invalid characters. ` +
        'Valid characters include all alpha-numerics and dashes.',
    );
  }
  const tags = f.stringList('tags') ?? [];
  for (const tag of tags) {
    if (!DNS_SAFE.test(tag)) {
      warn(
        `Service tag "${tag}" will not be discoverable via DNS due to invalid characters. ` +
          'Valid characters include all alpha-numerics and dashes.',
      );
    }
  }
  const address = f.string('address') ?? '';
  const port = f.int('port', 0, 65535) ?? 0;
  const meta = f.stringMap('meta') ?? {};
  for (const [k, message] of metaProblems(meta, 'Service')) {
    issues.add(k ? joinKey(f.pathOf('meta'), k) : f.pathOf('meta'), message);
  }

  const weights: ServiceWeights = defaultWeights();
  const w = f.object('weights', WEIGHTS_SCHEMA);
  if (w) {
    weights.passing = w.int('passing', -(2 ** 31), 2 ** 31 - 1) ?? weights.passing;
    weights.warning = w.int('warning', -(2 ** 31), 2 ** 31 - 1) ?? weights.warning;
    // Consul's structs.ValidateWeights wording.
    if (weights.passing < 1) issues.add(w.pathOf('passing'), 'Passing must be greater than 0');
    if (weights.warning < 0) issues.add(w.pathOf('warning'), 'Warning must be greater or equal than 0');
  }
  const enableTagOverride = f.bool('enable_tag_override') ?? false;

  const taggedAddresses: ServiceDefinition['taggedAddresses'] = {};
  const ta = f.raw('tagged_addresses');
  if (ta !== undefined) {
    const taPath = f.pathOf('tagged_addresses');
    if (typeof ta !== 'object' || Array.isArray(ta)) {
      issues.add(taPath, 'must be an object of name to {"address", "port"}');
    } else {
      for (const [k, v] of Object.entries(ta as Record<string, unknown>)) {
        const tf = Fields.read(v, joinKey(taPath, k), TAGGED_ADDRESS_SCHEMA, issues, mode);
        if (!tf) continue;
        Object.defineProperty(taggedAddresses, k, {
          value: { address: tf.string('address') ?? '', port: tf.int('port', 0, 65535) ?? 0 },
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
  }
  f.string('token');

  // Consul's ServiceDefinition.CheckTypes(): `check` first, then `checks`, numbered together;
  // an empty check object (`"Check": {}`, every field at its zero value) is skipped.
  const checkValues = [...f.objectList('check'), ...f.objectList('checks')].filter(
    ({ value: cv }) => !(isPlainObject(cv) && Object.values(cv).every(isEmptyValue)),
  );
  const checks: CheckDefinition[] = [];
  checkValues.forEach(({ value: cv, path: cp }, index) => {
    const embedding: Embedding = { serviceId: id, serviceName: name ?? id, index, count: checkValues.length };
    const c = readCheck(cv, cp, issues, mode, warn, embedding);
    if (c) {
      checks.push(c);
      checkPaths?.push(cp);
    }
  });

  if (issues.count !== before) return undefined;
  return {
    id,
    name: name!,
    tags,
    address,
    port,
    meta,
    weights,
    enableTagOverride,
    taggedAddresses,
    checks,
    source: mode.source,
  };
}

/**
 * Internal form for config.ts: collects into `issues`, returns undefined on problems. When given,
 * `checkPaths` receives each embedded check's path, in `checks` order.
 */
export function readServiceDefinition(
  value: unknown,
  path: string,
  issues: Issues,
  source: 'file' | 'api',
  warn: (m: string) => void = () => {},
  checkPaths?: string[],
): ServiceDefinition | undefined {
  return readService(value, path, issues, modeFor(source), warn, checkPaths);
}

/** Internal form for config.ts: collects into `issues`, returns undefined on problems. */
export function readCheckDefinition(
  value: unknown,
  path: string,
  issues: Issues,
  source: 'file' | 'api',
  warn: (m: string) => void = () => {},
): CheckDefinition | undefined {
  return readCheck(value, path, issues, modeFor(source), warn);
}

/**
 * Normalises one Consul service object (file snippet or `/v1/agent/service/register` body):
 * keys matched without regard to case, snake_case and CamelCase aliases, ID defaults to Name,
 * Weights default {passing:1, warning:1}, embedded checks get Consul's default IDs and names.
 * With source 'api' unknown keys are ignored (as Consul's HTTP API does); with 'file' they are
 * refused. Throws ConfigError (CONFIG_INVALID) listing every problem; a single problem at the
 * top of the object reads exactly as Consul's 400 body (`Missing service name`).
 */
export function serviceDefinitionFromJson(
  obj: unknown,
  source: 'file' | 'api',
  opts: DefinitionOptions = {},
): ServiceDefinition {
  const issues = opts.issues ?? new Issues();
  const def = readService(obj, opts.path ?? '', issues, modeFor(source), opts.warn ?? (() => {}));
  if (!def) issues.throwIfAny();
  return def!;
}

/**
 * Normalises one Consul check object (`check`/`checks` entry or `/v1/agent/check/register`
 * body). With `serviceId` the check is embedded in that service: its ServiceID field is ignored,
 * ID defaults to `service:<serviceId>` and Name to `Service '<serviceName ?? serviceId>' check`.
 * Without it ServiceID is read from the object (whether that service exists is the caller's to
 * check), Name is required and ID defaults to Name. Kind follows the fields: Args/Script -> script, HTTP, TCP, else TTL.
 * Throws ConfigError (CONFIG_INVALID) with Consul's messages (`Missing check name`,
 * `Interval and TTL cannot both be specified`, ...).
 */
export function checkDefinitionFromJson(
  obj: unknown,
  source: 'file' | 'api',
  serviceId?: string,
  opts: DefinitionOptions = {},
): CheckDefinition {
  const issues = opts.issues ?? new Issues();
  const embedding: Embedding | undefined =
    serviceId === undefined ? undefined : { serviceId, serviceName: opts.serviceName ?? serviceId, index: 0, count: 1 };
  const def = readCheck(obj, opts.path ?? '', issues, modeFor(source), opts.warn ?? (() => {}), embedding);
  if (!def) issues.throwIfAny();
  return def!;
}

