/**
 * One run of a TCP check (Consul's CheckTCP): passing when a connection to `host:port` is
 * established, critical otherwise. Output `TCP connect <addr>: Success`.
 */
import net from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { CheckResult } from './check-runner.ts';

/** Consul's default per-run timeout for TCP checks (its net.Dialer timeout). */
export const TCP_DEFAULT_TIMEOUT_MS = 10_000;
/** Go's dialSerial never gives one address less than this, unless less time is left. */
const SANE_MINIMUM_MS = 2_000;

/** Resolves a host name to its addresses, in the order to try them. */
export type HostLookup = (host: string) => Promise<string[]>;

export interface TcpCheckOptions {
  /** `host:port`, `[v6]:port` (Go's net.SplitHostPort syntax). */
  address: string;
  /** ms for resolution plus every connect attempt, default 10 s. */
  timeout?: number;
  /** Default: getaddrinfo through dns.promises.lookup (async, off the event loop). */
  lookup?: HostLookup;
}

const systemLookup: HostLookup = async (host) => (await dnsLookup(host, { all: true })).map((a) => a.address);

/**
 * Connects once and resolves (never rejects). A name is resolved and every address is tried
 * in order until one connects, each attempt getting an equal share of the time left (Go's
 * dialSerial/partialDeadline); the first error is reported if all fail. The connection is
 * closed at once; nothing is sent.
 */
export async function runTcpCheck(opts: TcpCheckOptions, signal?: AbortSignal): Promise<CheckResult> {
  const timeout = opts.timeout && opts.timeout > 0 ? opts.timeout : TCP_DEFAULT_TIMEOUT_MS;
  const deadline = performance.now() + timeout;
  const fail = (output: string): CheckResult => ({ status: 'critical', output });

  let host: string;
  let port: number;
  try {
    [host, port] = splitHostPort(opts.address);
  } catch (err) {
    return fail((err as Error).message);
  }

  let addrs: string[];
  if (net.isIP(host)) {
    addrs = [host];
  } else {
    const lookup = opts.lookup ?? systemLookup;
    const timedOut = Symbol('timeout');
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await Promise.race([
        lookup(host),
        new Promise<typeof timedOut>((resolve) => {
          timer = setTimeout(() => resolve(timedOut), timeout);
        }),
      ]);
      if (r === timedOut) return fail(`dial tcp: lookup ${host}: i/o timeout`);
      addrs = r;
    } catch (err) {
      return fail(`dial tcp: lookup ${host}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    if (addrs.length === 0) return fail(`dial tcp: lookup ${host}: no such host`);
  }

  let firstError: string | undefined;
  for (let i = 0; i < addrs.length; i++) {
    if (signal?.aborted) return fail('dial tcp: operation was canceled');
    const left = deadline - performance.now();
    if (left <= 0) {
      firstError ??= `dial tcp ${joinHostPort(addrs[i]!, port)}: i/o timeout`;
      break;
    }
    const share = Math.max(left / (addrs.length - i), Math.min(SANE_MINIMUM_MS, left));
    const err = await connectOnce(addrs[i]!, port, share, signal);
    if (err === undefined) return { status: 'passing', output: `TCP connect ${opts.address}: Success` };
    firstError ??= err;
  }
  return fail(firstError ?? `dial tcp ${opts.address}: no address`);
}

/** Resolves undefined when connected (and closes the socket), else the error text. */
function connectOnce(ip: string, port: number, ms: number, signal?: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: ip, port });
    let done = false;
    const finish = (err: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(err);
    };
    const timer = setTimeout(() => finish(`dial tcp ${joinHostPort(ip, port)}: i/o timeout`), ms);
    const onAbort = () => finish('dial tcp: operation was canceled');
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => finish(undefined));
    sock.once('error', (e) => finish(`dial tcp ${joinHostPort(ip, port)}: ${e.message}`));
  });
}

/** Go's net.SplitHostPort, for TCP ports given as numbers. Throws with Go's wording. */
export function splitHostPort(address: string): [string, number] {
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    if (end < 0) throw new Error(`address ${address}: missing ']' in address`);
    if (address[end + 1] !== ':') throw new Error(`address ${address}: missing port in address`);
    host = address.slice(1, end);
    portText = address.slice(end + 2);
  } else {
    const i = address.lastIndexOf(':');
    if (i < 0) throw new Error(`address ${address}: missing port in address`);
    host = address.slice(0, i);
    portText = address.slice(i + 1);
    if (host.includes(':')) throw new Error(`address ${address}: too many colons in address`);
  }
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new Error(`address ${address}: invalid port`);
  // An empty host means the local system, as in Go's Dial.
  return [host === '' ? '127.0.0.1' : host, port];
}

function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
