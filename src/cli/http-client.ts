/**
 * The client side of the agent's Consul-compatible HTTP API, for the `herald` commands: where
 * the agent is (`-http-addr`, HERALD_HTTP_ADDR, CONSUL_HTTP_ADDR, default 127.0.0.1:8500), which
 * token to send (`-token`, HERALD_HTTP_TOKEN, CONSUL_HTTP_TOKEN, as `X-Consul-Token`), and one
 * request function over Node's global fetch with a deadline. Failures are HeraldErrors whose
 * messages read like the Go client's (`Unexpected response code: 404 (body)`) or name the
 * socket error (`connect ECONNREFUSED 127.0.0.1:8500`).
 */
import { ERR, HeraldError } from '../errors.ts';
import type { Flag, FlagSet } from './flag-set.ts';
import type { CliIo } from './output.ts';

/** Where Consul's CLI looks when neither the flag nor an environment variable says. */
export const DEFAULT_HTTP_ADDR = '127.0.0.1:8500';

/**
 * Per-request deadline. The commands here make only non-blocking calls that a healthy agent
 * answers in milliseconds; a hung agent should fail the command, not hang the shell or script.
 */
export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * `[http://|https://]host[:port]` -> the base URL. A bare address is plain HTTP, as in Consul's
 * api.NewClient. Throws HeraldError (CLI_HTTP_ADDR_INVALID) for another scheme, a path, or an
 * address that is not a host.
 */
export function parseHttpAddr(addr: string): URL {
  const invalid = (why: string): HeraldError =>
    new HeraldError(ERR.CLI_HTTP_ADDR_INVALID, `invalid HTTP address ${JSON.stringify(addr)}: ${why}`);
  const text = addr.trim();
  if (text === '') throw invalid('empty');
  let withScheme = text;
  const sep = text.indexOf('://');
  if (sep >= 0) {
    const scheme = text.slice(0, sep).toLowerCase();
    if (scheme === 'unix') throw invalid('unix sockets are not supported; give host:port');
    if (scheme !== 'http' && scheme !== 'https') throw invalid(`Unknown protocol scheme: ${text.slice(0, sep)}`);
  } else withScheme = `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid('not host:port');
  }
  if (url.hostname === '') throw invalid('no host');
  if (url.username || url.password) throw invalid('credentials in the address are not supported; use -token');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw invalid('give only scheme, host and port');
  return url;
}

/** The connection settings a command runs with, after flags and environment. */
export interface HttpSettings {
  baseUrl: URL;
  /** Empty: send no token (the agent's default token applies). */
  token: string;
  /** `?dc=` on every request when not empty (`-datacenter`). */
  datacenter: string;
  /** `?stale` on reads (`-stale`). */
  stale: boolean;
}

function firstSet(...values: (string | undefined)[]): string | undefined {
  // Go's os.Getenv cannot tell unset from empty, and Consul treats both as unset.
  return values.find((v) => v !== undefined && v !== '');
}

/**
 * Flag first, then HERALD_*, then CONSUL_* (so a shell set up for Consul works unchanged), then
 * the default. An empty variable counts as unset. Throws CLI_HTTP_ADDR_INVALID.
 */
export function resolveHttpSettings(
  flags: { addr?: string; token?: string; datacenter?: string; stale?: boolean },
  env: Record<string, string | undefined>,
): HttpSettings {
  const addr = flags.addr !== undefined ? flags.addr : firstSet(env.HERALD_HTTP_ADDR, env.CONSUL_HTTP_ADDR) ?? DEFAULT_HTTP_ADDR;
  const token = flags.token !== undefined ? flags.token : firstSet(env.HERALD_HTTP_TOKEN, env.CONSUL_HTTP_TOKEN) ?? '';
  return { baseUrl: parseHttpAddr(addr), token, datacenter: flags.datacenter ?? '', stale: flags.stale ?? false };
}

/** The HTTP flags every client command takes, as registered on its FlagSet. */
export interface HttpFlags {
  addr: Flag<string>;
  token: Flag<string>;
  datacenter?: Flag<string>;
  stale?: Flag<boolean>;
}

/**
 * Registers `-http-addr` and `-token` (and, with `server`, `-datacenter` and `-stale`, which only
 * catalog reads use) under "HTTP API Options", as Consul's HTTPFlags do.
 */
export function addHttpFlags(fs: FlagSet, opts: { server?: boolean } = {}): HttpFlags {
  const group = 'http' as const;
  const out: HttpFlags = {
    addr: fs.string(
      'http-addr',
      'The address and port of the agent HTTP API: host:port or http(s)://host:port. Also HERALD_HTTP_ADDR or CONSUL_HTTP_ADDR. The default is 127.0.0.1:8500.',
      { example: 'address', group },
    ),
    token: fs.string(
      'token',
      'ACL token to send as X-Consul-Token. Also HERALD_HTTP_TOKEN or CONSUL_HTTP_TOKEN. Without one, the agent uses its default token.',
      { group },
    ),
  };
  if (opts.server) {
    out.datacenter = fs.string('datacenter', 'Name of the datacenter to query. Defaults to the datacenter of the queried agent.', { group });
    out.stale = fs.bool('stale', 'Permit any server (not only the leader) to answer, for lower latency at the cost of possibly stale data.', { group });
  }
  return out;
}

/** An AgentClient configured from parsed HTTP flags and the environment. Throws CLI_HTTP_ADDR_INVALID. */
export function clientFromFlags(flags: HttpFlags, env: Record<string, string | undefined>): AgentClient {
  const settings = resolveHttpSettings(
    {
      addr: flags.addr.set ? flags.addr.value : undefined,
      token: flags.token.set ? flags.token.value : undefined,
      datacenter: flags.datacenter?.value,
      stale: flags.stale?.value,
    },
    env,
  );
  return new AgentClient(settings);
}

/** A 2xx answer, its body read as text. */
export interface AgentResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body as bytes, for `binary` requests (then `text` is '' on a 2xx). */
  bytes?: Buffer;
}

/** A failed request; `status` and `body` are set when the agent answered with a non-2xx status. */
export class AgentRequestError extends HeraldError {
  readonly status?: number;
  readonly body?: string;
  constructor(
    code: typeof ERR.CLI_AGENT_UNREACHABLE | typeof ERR.CLI_AGENT_STATUS | typeof ERR.CLI_AGENT_RESPONSE,
    message: string,
    opts: { status?: number; body?: string; cause?: unknown } = {},
  ) {
    super(code, message, { cause: opts.cause });
    this.name = 'AgentRequestError';
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.body !== undefined) this.body = opts.body;
  }
}

/** The socket-level reason under fetch's generic `fetch failed` (undici puts it in `cause`). */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  if (cause instanceof AggregateError && cause.errors.length > 0) {
    // Happy eyeballs tried several addresses (localhost -> ::1 and 127.0.0.1): name each.
    return [...new Set(cause.errors.map((e) => (e as Error).message))].join('; ');
  }
  if (cause instanceof Error && cause.message) return cause.message;
  return (err as Error)?.message ?? String(err);
}

/** A query parameter; a value of `null` is sent bare (`?stale`), as Consul's presence flags are. */
export type QueryParam = [name: string, value: string | null];

/** Options of one `AgentClient.request`. */
export interface RequestOptions {
  query?: readonly QueryParam[];
  /** Sent as JSON (Content-Type: application/json). */
  body?: unknown;
  /** Sent byte for byte with no Content-Type (KV values); wins over `body`. */
  rawBody?: string | Uint8Array;
  /** Non-2xx statuses to resolve with instead of rejecting (KV reads: 404 is "no such key"). */
  accept?: readonly number[];
  /** This request's deadline; a blocking query needs its wait plus the server's jitter. */
  timeoutMs?: number;
  /** Aborts the request (a parked blocking query the caller no longer needs). */
  signal?: AbortSignal;
  /** Read a 2xx body as bytes into `bytes` (a snapshot archive), not as text. */
  binary?: boolean;
}

/** One agent's HTTP API. Stateless apart from its settings; safe to share. */
export class AgentClient {
  constructor(
    readonly settings: HttpSettings,
    private readonly timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ) {}

  /** The full URL of `path` (which starts with `/v1/`) with `query`, `dc` and (on GET) `stale`. */
  url(method: string, path: string, query: readonly QueryParam[] = []): string {
    const params: QueryParam[] = [...query];
    if (this.settings.datacenter) params.push(['dc', this.settings.datacenter]);
    if (method === 'GET' && this.settings.stale) params.push(['stale', null]);
    const base = this.settings.baseUrl.origin;
    const qs = params
      .map(([k, v]) => (v === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`))
      .join('&');
    return `${base}${path}${qs ? '?' + qs : ''}`;
  }

  /**
   * Sends one request and resolves with a 2xx answer (or one of `opts.accept`). `body`, when
   * given, is sent as JSON; `rawBody` is sent as is (a KV value). Rejects with
   * AgentRequestError: CLI_AGENT_UNREACHABLE (no connection, or no answer within the deadline)
   * or CLI_AGENT_STATUS (`Unexpected response code: <status> (<body>)`, the Go client's wording,
   * body trimmed).
   */
  async request(method: 'GET' | 'PUT' | 'DELETE', path: string, opts: RequestOptions = {}): Promise<AgentResponse> {
    const url = this.url(method, path, opts.query);
    const headers: Record<string, string> = {};
    if (this.settings.token) headers['X-Consul-Token'] = this.settings.token;
    let payload: string | Uint8Array<ArrayBuffer> | undefined;
    if (opts.rawBody !== undefined) payload = typeof opts.rawBody === 'string' ? opts.rawBody : new Uint8Array(opts.rawBody);
    else if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    let res: Response;
    let text: string;
    let bytes: Buffer | undefined;
    try {
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
      res = await fetch(url, { method, headers, body: payload, signal, redirect: 'follow' });
      if (opts.binary) {
        // Binary bodies (snapshot archives) as bytes; error bodies are still text.
        bytes = Buffer.from(await res.arrayBuffer());
        text = res.ok ? '' : bytes.toString('utf8');
      } else text = await res.text();
    } catch (err) {
      if (opts.signal?.aborted) throw new AgentRequestError(ERR.CLI_AGENT_UNREACHABLE, `${method} ${path} aborted`, { cause: err });
      if ((err as Error)?.name === 'TimeoutError') {
        throw new AgentRequestError(ERR.CLI_AGENT_UNREACHABLE, `no answer from ${this.settings.baseUrl.origin} within ${timeoutMs / 1000}s (${method} ${path})`, { cause: err });
      }
      throw new AgentRequestError(ERR.CLI_AGENT_UNREACHABLE, networkReason(err), { cause: err });
    }
    if (opts.accept?.includes(res.status)) return { status: res.status, headers: res.headers, text };
    if (res.status < 200 || res.status > 299) {
      const body = text.trim();
      throw new AgentRequestError(ERR.CLI_AGENT_STATUS, `Unexpected response code: ${res.status} (${body})`, { status: res.status, body });
    }
    return bytes ? { status: res.status, headers: res.headers, text, bytes } : { status: res.status, headers: res.headers, text };
  }

  /** GET and parse the JSON body. Rejects as `request` does, or CLI_AGENT_RESPONSE for a body that is not JSON. */
  async getJson(path: string, query?: readonly QueryParam[]): Promise<{ value: unknown; text: string }> {
    const res = await this.request('GET', path, { query });
    try {
      return { value: JSON.parse(res.text), text: res.text };
    } catch {
      throw new AgentRequestError(ERR.CLI_AGENT_RESPONSE, `GET ${path}: the agent's answer is not JSON: ${JSON.stringify(res.text.slice(0, 200))}`);
    }
  }

  /** PUT (with an optional JSON body); resolves once the agent answered 2xx. */
  async put(path: string, body?: unknown, query?: readonly QueryParam[]): Promise<AgentResponse> {
    return this.request('PUT', path, { body, query });
  }
}

/**
 * The client for a command, or undefined after printing `Error connecting to agent: <why>`
 * (Consul's wording, with "Consul" dropped) to stderr when the address is unusable.
 */
export function connectOrReport(flags: HttpFlags, io: CliIo): AgentClient | undefined {
  try {
    return clientFromFlags(flags, io.env);
  } catch (err) {
    io.err(`Error connecting to agent: ${(err as Error).message}`);
    return undefined;
  }
}
