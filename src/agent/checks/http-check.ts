/**
 * One run of an HTTP check (Consul's CheckHTTP): any 2xx is passing, 429 warning, anything
 * else (or no response) critical, with output `HTTP GET <url>: 200 OK Output: <body>`.
 */
import http from 'node:http';
import https from 'node:https';
import { OUTPUT_MAX_SIZE, type CheckResult } from './check-runner.ts';

/** Consul's default per-run timeout for HTTP checks. */
export const HTTP_DEFAULT_TIMEOUT_MS = 10_000;
/** Go's http.Client gives up after this many redirects. */
export const MAX_REDIRECTS = 10;
/** Consul's checks.UserAgent. */
export const USER_AGENT = 'Consul Health Check';
const ACCEPT = 'text/plain, text/*, */*';

export interface HttpCheckOptions {
  url: string;
  /** Default GET. */
  method?: string;
  /** Multi-valued request headers; a `Host` entry overrides the request's Host. */
  header?: Record<string, string[]>;
  body?: string;
  tlsSkipVerify?: boolean;
  /** ms for the whole exchange (connect, headers, body), default 10 s. */
  timeout?: number;
  /** Bytes of body kept in the output, default 4096. */
  outputMaxSize?: number;
}

interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string | string[]>;
  body: string;
}

/**
 * Runs the request once and resolves (never rejects). Keep-alive is off (Consul disables it so
 * a stale pooled connection never fails a check). Redirects are followed up to 10 times with
 * Go's method rules: 301/302/303 turn non-GET/HEAD into GET without body, 307/308 keep both
 * (RFC 9110 §15.4). At most `outputMaxSize` bytes of body are read, then the response is
 * destroyed. A timeout before the response headers is critical with the error; a timeout
 * while reading the body keeps the status and the body read so far, as Consul does.
 */
export async function runHttpCheck(opts: HttpCheckOptions, signal?: AbortSignal): Promise<CheckResult> {
  const method = opts.method && opts.method !== '' ? opts.method : 'GET';
  const timeout = opts.timeout && opts.timeout > 0 ? opts.timeout : HTTP_DEFAULT_TIMEOUT_MS;
  const cap = opts.outputMaxSize && opts.outputMaxSize > 0 ? opts.outputMaxSize : OUTPUT_MAX_SIZE;
  // Go's url.Error prefix: `Get "http://...": <cause>`.
  const op = method.slice(0, 1).toUpperCase() + method.slice(1).toLowerCase();
  const fail = (msg: string): CheckResult => ({ status: 'critical', output: `${op} ${JSON.stringify(opts.url)}: ${msg}` });

  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    return { status: 'critical', output: `parse ${JSON.stringify(opts.url)}: invalid URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return fail(`unsupported protocol scheme ${JSON.stringify(url.protocol.slice(0, -1))}`);
  }

  const headers: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(opts.header ?? {})) {
    if (values.length === 0) continue;
    // Go's req.Host comes from Header.Get("Host"): the first value only.
    headers[name] = name.toLowerCase() === 'host' ? values[0]! : values;
  }
  if (!hasHeader(headers, 'user-agent')) headers['User-Agent'] = USER_AGENT;
  if (!hasHeader(headers, 'accept')) headers['Accept'] = ACCEPT;

  const deadline = AbortSignal.timeout(timeout);
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;

  let hop: Hop = { url, method: method.toUpperCase(), headers, body: opts.body ?? '' };
  for (let redirects = 0; ; redirects++) {
    let res: http.IncomingMessage;
    try {
      res = await send(hop, opts.tlsSkipVerify === true, combined);
    } catch (err) {
      if (deadline.aborted) return fail('context deadline exceeded (Client.Timeout exceeded while awaiting headers)');
      if (signal?.aborted) return fail('context canceled');
      return fail(err instanceof Error ? err.message : String(err));
    }
    const next = redirectHop(hop, res);
    if (next) {
      res.destroy();
      if (redirects + 1 > MAX_REDIRECTS) return fail(`stopped after ${MAX_REDIRECTS} redirects`);
      hop = next;
      continue;
    }
    const body = await readCapped(res, cap, combined);
    const code = res.statusCode ?? 0;
    const status = res.statusMessage ? `${code} ${res.statusMessage}` : String(code);
    const output = `HTTP ${method} ${opts.url}: ${status} Output: ${body}`;
    if (code >= 200 && code <= 299) return { status: 'passing', output };
    // RFC 6585 §4: the target asks us to back off; Consul reports that as warning.
    if (code === 429) return { status: 'warning', output };
    return { status: 'critical', output };
  }
}

function hasHeader(headers: Record<string, unknown>, lower: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === lower);
}

function send(hop: Hop, tlsSkipVerify: boolean, signal: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers = { ...hop.headers };
    if (hop.body.length > 0 && !hasHeader(headers, 'content-length')) {
      headers['Content-Length'] = String(Buffer.byteLength(hop.body));
    }
    const common = { method: hop.method, headers, agent: false as const, signal };
    const req =
      hop.url.protocol === 'https:'
        ? https.request(hop.url, { ...common, rejectUnauthorized: !tlsSkipVerify })
        : http.request(hop.url, common);
    req.once('response', resolve);
    req.once('error', reject);
    req.end(hop.body.length > 0 ? hop.body : undefined);
  });
}

/** The next request when `res` is a redirect Go's client would follow, else undefined. */
function redirectHop(prev: Hop, res: http.IncomingMessage): Hop | undefined {
  const code = res.statusCode ?? 0;
  if (![301, 302, 303, 307, 308].includes(code)) return undefined;
  const location = res.headers.location;
  // A 3xx without Location is returned as the final response (Go issue 17773).
  if (!location) return undefined;
  let url: URL;
  try {
    url = new URL(location, prev.url);
  } catch {
    return undefined;
  }
  let method = prev.method;
  let body = prev.body;
  const headers = { ...prev.headers };
  if (code !== 307 && code !== 308) {
    if (method !== 'GET' && method !== 'HEAD') method = 'GET';
    body = '';
    for (const k of Object.keys(headers)) {
      const l = k.toLowerCase();
      if (l === 'content-length' || l === 'content-type') delete headers[k];
    }
  }
  // Go drops credentials when the redirect leaves the original host (net/http shouldCopyHeaderOnRedirect).
  if (url.hostname !== prev.url.hostname && !url.hostname.endsWith('.' + prev.url.hostname)) {
    for (const k of Object.keys(headers)) {
      const l = k.toLowerCase();
      if (l === 'authorization' || l === 'www-authenticate' || l === 'cookie' || l === 'cookie2') delete headers[k];
    }
  }
  // A Host override names the first target only.
  if (url.host !== prev.url.host) {
    for (const k of Object.keys(headers)) if (k.toLowerCase() === 'host') delete headers[k];
  }
  return { url, method, headers, body };
}

/** Reads at most `cap` bytes of body, then destroys the response; a read error ends early. */
function readCapped(res: http.IncomingMessage, cap: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      res.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onAbort = () => finish();
    if (signal.aborted) return finish();
    signal.addEventListener('abort', onAbort, { once: true });
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      const part = chunk.length <= cap - kept ? chunk : chunk.subarray(0, cap - kept);
      chunks.push(part);
      kept += part.length;
      if (kept >= cap) finish();
    });
    res.once('end', finish);
    res.once('error', finish);
    res.once('close', finish);
  });
}
