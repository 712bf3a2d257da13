/**
 * Sends one DNS query to upstream recursors and brings back the first acceptable reply
 * (consul-compat §1.8, §1.10). Off the hot path: only cache misses for names outside every
 * local zone reach it, and forwarded answers are never cached.
 *
 * Socket choice: a fresh ephemeral socket per upstream attempt, not a shared socket with an ID
 * map. Each attempt then gets a new kernel-chosen source port on top of its fresh random ID
 * (RFC 5452 §9.2: ID and port entropy together resist forged replies), the UDP socket is
 * connect()ed so the kernel drops datagrams from any other address and reports ICMP
 * unreachable as an error (so a dead upstream fails fast), and a late reply to an abandoned
 * attempt can never be matched to a later one. The cost, one socket per forwarded query, is
 * bounded by the caller's in-flight cap.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { ERR, HeraldError, RCODE } from '../../src/plugin.ts';

/** One recursor address. */
export interface Upstream {
  host: string;
  port: number;
  family: 4 | 6;
  /** `host:port` (`[v6]:port`), for logs. */
  label: string;
}

/**
 * Parses a recursor from the config (`ip:port`, `[v6]:port`, or a bare IP meaning port 53).
 * Throws HERALD_ERR_CONFIG_INVALID for anything else: recursors are addresses, not names.
 */
export function parseRecursor(addr: string): Upstream {
  let host = addr;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr);
  if (bracket) {
    host = bracket[1];
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (net.isIP(addr) === 0) {
    const colon = addr.lastIndexOf(':');
    if (colon > 0 && /^\d+$/.test(addr.slice(colon + 1))) {
      host = addr.slice(0, colon);
      port = Number(addr.slice(colon + 1));
    }
  }
  const family = net.isIP(host);
  if ((family !== 4 && family !== 6) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new HeraldError(ERR.CONFIG_INVALID, `recursors: '${addr}' is not an IP address with an optional port`);
  }
  return { host, port, family, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** End offset of the question section (RFC 1035 §4.1.2), or -1 when it cannot be walked. */
export function questionEnd(packet: Buffer): number {
  if (packet.length < 12) return -1;
  let off = 12;
  for (let q = packet.readUInt16BE(4); q > 0; q--) {
    for (;;) {
      if (off >= packet.length) return -1;
      const len = packet[off];
      // A query's question has nothing earlier to point at, so compression is malformed here.
      if (len & 0xc0) return -1;
      off += 1 + len;
      if (len === 0) break;
    }
    off += 4;
  }
  return off <= packet.length ? off : -1;
}

const lower = (b: number) => (b >= 0x41 && b <= 0x5a ? b | 0x20 : b);

/**
 * True when `reply` answers `sent`: a response (QR), same ID, same opcode, and the same
 * question (names compared case-insensitively, RFC 4343; type and class exactly), as
 * RFC 5452 §9.1 asks before a resolver accepts a reply. `qEnd` is `questionEnd(sent)`.
 */
export function isReplyTo(sent: Buffer, qEnd: number, reply: Buffer): boolean {
  if (reply.length < qEnd) return false;
  if (reply[0] !== sent[0] || reply[1] !== sent[1]) return false;
  if ((reply[2] & 0x80) === 0) return false;
  if ((reply[2] & 0x78) !== (sent[2] & 0x78)) return false;
  if (reply[4] !== sent[4] || reply[5] !== sent[5]) return false;
  let off = 12;
  while (off < qEnd) {
    for (;;) {
      const len = sent[off];
      if (reply[off] !== len) return false;
      off++;
      if (len === 0) break;
      for (const end = off + len; off < end; off++) if (lower(reply[off]) !== lower(sent[off])) return false;
    }
    for (const end = off + 4; off < end; off++) if (reply[off] !== sent[off]) return false;
  }
  return true;
}

/** What one attempt against one upstream came to. */
export type Exchange =
  | { ok: true; reply: Buffer }
  | { ok: false; reason: 'timeout' | 'error' | 'closed' | 'aborted'; detail?: string };

export interface ExchangeOptions {
  timeoutMs: number;
  /** Decides which received messages count; others are ignored and the wait goes on. */
  accept: (reply: Buffer) => boolean;
  signal?: AbortSignal;
}

/** Runs one attempt: `start` opens the socket, calls `done` once; timeout and abort end it. */
function attempt(
  opts: ExchangeOptions,
  start: (done: (e: Exchange) => void) => () => void,
): Promise<Exchange> {
  return new Promise((resolve) => {
    if (opts.signal?.aborted) return resolve({ ok: false, reason: 'aborted' });
    let settled = false;
    let close: () => void = () => {};
    const onAbort = () => done({ ok: false, reason: 'aborted' });
    const timer = setTimeout(() => done({ ok: false, reason: 'timeout' }), opts.timeoutMs);
    function done(e: Exchange) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      close();
      resolve(e);
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    close = start(done);
    if (settled) close();
  });
}

/** One query over UDP on a fresh connected socket; waits for the first accepted datagram. */
export function exchangeUdp(query: Buffer, upstream: Upstream, opts: ExchangeOptions): Promise<Exchange> {
  return attempt(opts, (done) => {
    const sock = dgram.createSocket(upstream.family === 6 ? 'udp6' : 'udp4');
    sock.on('error', (err) => done({ ok: false, reason: 'error', detail: (err as NodeJS.ErrnoException).code ?? err.message }));
    sock.on('message', (msg) => {
      if (opts.accept(msg)) done({ ok: true, reply: msg });
    });
    sock.connect(upstream.port, upstream.host, () => {
      sock.send(query, (err) => {
        if (err) done({ ok: false, reason: 'error', detail: (err as NodeJS.ErrnoException).code ?? err.message });
      });
    });
    return () => {
      try {
        sock.close();
      } catch {
        // already closed by an error
      }
    };
  });
}

/** One query over TCP with 2-byte length framing (RFC 1035 §4.2.2); reads frames until one is accepted. */
export function exchangeTcp(query: Buffer, upstream: Upstream, opts: ExchangeOptions): Promise<Exchange> {
  return attempt(opts, (done) => {
    const sock = net.connect({ host: upstream.host, port: upstream.port });
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    sock.on('connect', () => {
      const framed = Buffer.allocUnsafe(query.length + 2);
      framed.writeUInt16BE(query.length, 0);
      query.copy(framed, 2);
      sock.write(framed);
    });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const frame = Buffer.from(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (opts.accept(frame)) return done({ ok: true, reply: frame });
      }
    });
    sock.on('error', (err) => done({ ok: false, reason: 'error', detail: (err as NodeJS.ErrnoException).code ?? err.message }));
    sock.on('close', () => done({ ok: false, reason: 'closed' }));
    return () => sock.destroy();
  });
}

/** The order recursors are tried in: as configured, or a uniform random permutation (Consul's `random`). */
export function attemptOrder(n: number, strategy: 'sequential' | 'random', random: () => number = Math.random): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  if (strategy === 'random') {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  return order;
}

export interface ForwardOptions {
  transport: 'udp' | 'tcp';
  /** Per upstream attempt, ms. */
  timeoutMs: number;
  strategy: 'sequential' | 'random';
  /** Injected for tests; default Math.random (spreads load, not a secret). */
  random?: () => number;
  /** Injected for tests; default a CSPRNG, as the ID is part of spoofing resistance (RFC 5452 §9.2). */
  newId?: () => number;
  signal?: AbortSignal;
}

/** One try, for logs and tests: which upstream and what happened. */
export interface Attempt {
  upstream: string;
  outcome: 'accepted' | 'timeout' | 'error' | 'closed' | 'aborted' | `rcode ${number}`;
  detail?: string;
}

export interface ForwardResult {
  /** The accepted reply with the client's ID written back; absent when every upstream failed. */
  reply?: Buffer;
  attempts: Attempt[];
}

/**
 * Forwards `query` (a whole DNS message, not framed) to each upstream in turn, each under a
 * fresh random ID. The first validated reply with rcode NOERROR or NXDOMAIN, or with TC set
 * (the client retries over TCP), is returned with the client's ID restored; other rcodes,
 * timeouts and socket errors move on to the next upstream. Never throws.
 */
export async function forwardQuery(query: Buffer, upstreams: readonly Upstream[], opts: ForwardOptions): Promise<ForwardResult> {
  const attempts: Attempt[] = [];
  const qEnd = questionEnd(query);
  if (qEnd < 0) return { attempts };
  const clientId = query.readUInt16BE(0);
  const newId = opts.newId ?? (() => randomInt(0, 0x10000));
  const exchange = opts.transport === 'tcp' ? exchangeTcp : exchangeUdp;
  for (const i of attemptOrder(upstreams.length, opts.strategy, opts.random)) {
    const upstream = upstreams[i];
    const sent = Buffer.from(query);
    sent.writeUInt16BE(newId() & 0xffff, 0);
    const ex = await exchange(sent, upstream, {
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      accept: (reply) => isReplyTo(sent, qEnd, reply),
    });
    if (!ex.ok) {
      attempts.push({ upstream: upstream.label, outcome: ex.reason, detail: ex.detail });
      if (ex.reason === 'aborted') break;
      continue;
    }
    const rcode = ex.reply[3] & 0x0f;
    const truncated = (ex.reply[2] & 0x02) !== 0;
    if (truncated || rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN) {
      attempts.push({ upstream: upstream.label, outcome: 'accepted' });
      const reply = Buffer.from(ex.reply);
      reply.writeUInt16BE(clientId, 0);
      return { reply, attempts };
    }
    attempts.push({ upstream: upstream.label, outcome: `rcode ${rcode}` });
  }
  return { attempts };
}
