/**
 * One DNS query in, one reply out, for both transports.
 *
 * The hit path (DESIGN.md principle 1): read the header and question in place, look the key
 * up, copy the cached wire answer with the ID, flags and question case patched. No decode,
 * no await, no exceptions. Everything else is the miss path: ask the hooks in chain order,
 * encode once per cached order, trim for the transport, cache the bytes.
 */
import type { DnsConfig } from '../agent/config-types.ts';
import type { DnsAnswer, DnsHook, DnsHookResult, DnsQuery } from '../plugin.ts';
import { AnswerCache, replyFromCache } from './answer-cache.ts';
import { errorReply } from './error-reply.ts';
import { rotate, shuffleInPlace } from './answer-order.ts';
import { QTYPE, QCLASS_IN, RCODE, type EdnsOption, type ResourceRecord, type ResponseMessage } from './records.ts';
import { fitResponse } from './trim.ts';
import { createQueryView, questionName, QueryStatus, readQuery, type QueryView } from './wire-query.ts';

/** Counters a scrape or a test can read; the hot path only increments. */
export interface DnsStats {
  queries: number;
  hits: number;
  misses: number;
  /** Packets with no readable header, or responses (QR=1): never answered. */
  dropped: number;
  formerr: number;
  notimp: number;
  refused: number;
  servfail: number;
  truncated: number;
  hookErrors: number;
}

export function newDnsStats(): DnsStats {
  return { queries: 0, hits: 0, misses: 0, dropped: 0, formerr: 0, notimp: 0, refused: 0, servfail: 0, truncated: 0, hookErrors: 0 };
}

export interface Remote {
  address: string;
  port: number;
}

/** EDNS UDP payload sizes are clamped to this (consul-compat §1.7, new behaviour). */
const MAX_EDNS_UDP = 65467;
const TCP_MAX = 65535;
const QTYPE_IXFR = 251;

export interface QueryHandlerOptions {
  cache: AnswerCache;
  hooks: DnsHook[];
  dnsConfig: DnsConfig;
  /** Set RA: only when recursors are configured (spec §1.7). */
  recursionAvailable: boolean;
  onHookError?: (hook: string, err: unknown) => void;
}

export class QueryHandler {
  readonly stats: DnsStats = newDnsStats();
  private readonly cache: AnswerCache;
  private hooks: DnsHook[];
  private dns: DnsConfig;
  private ra: boolean;
  private readonly onHookError: (hook: string, err: unknown) => void;
  /** One reusable view per transport: the hit path writes into it instead of allocating. */
  private readonly udpView: QueryView = createQueryView();
  private readonly tcpView: QueryView = createQueryView();
  /**
   * Bumped by every invalidation. A miss that awaited a hook only caches its answer if no
   * invalidation happened meanwhile, so a stale answer can never be stored after the change
   * that should have dropped it.
   */
  private epoch = 0;

  constructor(opts: QueryHandlerOptions) {
    this.cache = opts.cache;
    this.hooks = opts.hooks;
    this.dns = opts.dnsConfig;
    this.ra = opts.recursionAvailable;
    this.onHookError = opts.onHookError ?? (() => {});
  }

  /** Swap configuration (reload). Clears the cache: TTLs, limits and flags are baked into it. */
  reconfigure(opts: { hooks?: DnsHook[]; dnsConfig?: DnsConfig; recursionAvailable?: boolean }): void {
    if (opts.hooks) this.hooks = opts.hooks;
    if (opts.dnsConfig) this.dns = opts.dnsConfig;
    if (opts.recursionAvailable !== undefined) this.ra = opts.recursionAvailable;
    this.clearCache();
  }

  /** Drop the cached answers that depend on any of `deps`, before the next packet is read. */
  invalidate(deps: Iterable<string>): void {
    this.epoch++;
    this.cache.invalidate(deps);
  }

  clearCache(): void {
    this.epoch++;
    this.cache.clear();
  }

  /**
   * Answer one packet. Returns the reply synchronously for hits and errors, a promise for
   * misses, or undefined when the packet is dropped (no header, or not a query).
   */
  handle(packet: Buffer, transport: 'u' | 't', remote: Remote): Buffer | Promise<Buffer | undefined> | undefined {
    this.stats.queries++;
    const view = transport === 'u' ? this.udpView : this.tcpView;
    const status = readQuery(packet, transport, view);
    if (status === QueryStatus.OK) {
      // Only client-subnet changes a reply; cookies and other options still hit the cache.
      if (view.ednsEcsAt < 0) {
        const entry = this.cache.get(view.key);
        if (entry !== undefined) {
          this.stats.hits++;
          return replyFromCache(entry, packet, view);
        }
      }
      this.stats.misses++;
      return this.miss(packet, transport, remote, view);
    }
    if (status === QueryStatus.DROP) {
      this.stats.dropped++;
      return undefined;
    }
    return this.error(packet, view, status);
  }

  private error(packet: Buffer, view: QueryView, status: number): Buffer {
    let rcode: number = RCODE.FORMERR;
    if (status === QueryStatus.NOTIMP) {
      rcode = RCODE.NOTIMP;
      this.stats.notimp++;
    } else if (status === QueryStatus.REFUSED) {
      rcode = RCODE.REFUSED;
      this.stats.refused++;
    } else {
      this.stats.formerr++;
    }
    return errorReply(packet, view, rcode);
  }

  /** The miss path. Copies what it needs out of the shared view before anything awaits. */
  private miss(packet: Buffer, transport: 'u' | 't', remote: Remote, view: QueryView): Buffer | Promise<Buffer | undefined> {
    if (view.qtype === QTYPE.AXFR || view.qtype === QTYPE_IXFR) {
      this.stats.notimp++;
      return errorReply(packet, view, RCODE.NOTIMP);
    }
    if (view.qclass !== QCLASS_IN && view.qclass !== QTYPE.ANY) {
      this.stats.refused++;
      return errorReply(packet, view, RCODE.REFUSED);
    }
    const name = questionName(packet, view);
    const query: DnsQuery = {
      name,
      lname: asciiLower(name),
      type: view.qtype,
      class: view.qclass,
      transport: transport === 'u' ? 'udp' : 'tcp',
      edns: view.hasEdns
        ? { udpSize: view.ednsUdpSize, extendedRcode: 0, version: view.ednsVersion, dnssecOk: view.ednsDo, options: ecsEcho(packet, view.ednsEcsAt) }
        : undefined,
      packet,
      remote,
      rd: view.rd,
    };
    const meta: MissMeta = {
      id: view.id,
      opcode: view.opcode,
      key: view.key,
      cacheable: view.ednsEcsAt < 0,
      epoch: this.epoch,
      // Errors later need a view of this packet; the shared one will have moved on.
      errorView: { ...view },
    };
    return this.runHooks(query, meta, 0);
  }

  private runHooks(query: DnsQuery, meta: MissMeta, from: number): Buffer | Promise<Buffer | undefined> {
    for (let i = from; i < this.hooks.length; i++) {
      const hook = this.hooks[i]!;
      let result: DnsHookResult | Promise<DnsHookResult>;
      try {
        result = hook.resolve(query);
      } catch (err) {
        return this.hookFailed(hook, err, query, meta);
      }
      if (result instanceof Promise) {
        return result.then(
          (r) => (r === undefined ? this.runHooks(query, meta, i + 1) : this.finish(query, meta, r)),
          (err) => this.hookFailed(hook, err, query, meta),
        );
      }
      if (result !== undefined) return this.finish(query, meta, result);
    }
    // Outside every zone we serve, and no forwarder: REFUSED (spec §1.8).
    this.stats.refused++;
    return errorReply(query.packet, meta.errorView, RCODE.REFUSED);
  }

  private hookFailed(hook: DnsHook, err: unknown, query: DnsQuery, meta: MissMeta): Buffer {
    this.stats.hookErrors++;
    this.stats.servfail++;
    this.onHookError(hook.name, err);
    return errorReply(query.packet, meta.errorView, RCODE.SERVFAIL);
  }

  private finish(query: DnsQuery, meta: MissMeta, result: Exclude<DnsHookResult, undefined>): Buffer {
    if (result.kind === 'raw') {
      const reply = Buffer.from(result.packet);
      if (reply.length >= 2) reply.writeUInt16BE(meta.id, 0);
      return reply;
    }
    const variants = this.encodeVariants(query, meta, result);
    if (result.rcode === RCODE.SERVFAIL) this.stats.servfail++;
    if (result.cache && meta.cacheable && meta.epoch === this.epoch) {
      this.cache.set(meta.key, variants, result.cache.deps);
    }
    return variants[0]!;
  }

  /**
   * Encode the answer once per cached order. Interchangeable answers (instances) are cached
   * as rotations of one random order, so every instance leads equally often on hits and
   * trimming keeps a different subset each time.
   */
  private encodeVariants(query: DnsQuery, meta: MissMeta, answer: DnsAnswer): Buffer[] {
    const orders: ResourceRecord[][] = [];
    const all = answer.answers;
    if (answer.shuffle && all.length > 1) {
      const k = Math.max(1, Math.min(this.dns.shuffleVariants, all.length));
      const base = shuffleInPlace(all.slice());
      for (let v = 0; v < k; v++) {
        const order = all.length <= k ? rotate(base, v) : shuffleInPlace(all.slice());
        orders.push(order);
      }
    } else {
      orders.push(all);
    }
    const limit = answer.maxAnswers;
    const udp = query.transport === 'udp';
    const maxSize = udp ? (query.edns ? Math.min(Math.max(query.edns.udpSize, 512), MAX_EDNS_UDP) : 512) : TCP_MAX;
    const out: Buffer[] = [];
    for (const order of orders) {
      const msg: ResponseMessage = {
        id: meta.id,
        opcode: meta.opcode,
        rd: query.rd,
        aa: answer.authoritative,
        ra: this.ra,
        tc: false,
        rcode: answer.rcode,
        question: { name: query.name, type: query.type, class: query.class },
        answers: limit !== undefined && limit > 0 ? order.slice(0, limit) : order,
        authority: answer.authority,
        additional: answer.additional,
        // Echo the requester's UDP size (spec §1.7) and DO bit (RFC 3225 §3); ECS comes back
        // with scope 0: Herald's answers do not depend on the client's subnet (RFC 7871 §7.2.1).
        edns: query.edns
          ? { udpSize: query.edns.udpSize, extendedRcode: 0, version: 0, dnssecOk: query.edns.dnssecOk, options: query.edns.options }
          : undefined,
      };
      const fitted = fitResponse(msg, {
        transport: udp ? 'udp' : 'tcp',
        maxSize,
        udpAnswerLimit: this.dns.udpAnswerLimit,
        enableTruncate: this.dns.enableTruncate,
        compress: !this.dns.disableCompression,
      });
      if (fitted.trimmed) this.stats.truncated++;
      out.push(fitted.packet);
    }
    return out;
  }
}

interface MissMeta {
  id: number;
  opcode: number;
  key: string;
  cacheable: boolean;
  epoch: number;
  errorView: QueryView;
}

/** The client-subnet option of the query, with its scope prefix set to 0 for the reply. */
function ecsEcho(packet: Buffer, at: number): EdnsOption[] {
  if (at < 0 || at + 4 > packet.length) return [];
  const len = packet.readUInt16BE(at + 2);
  if (at + 4 + len > packet.length || len < 4) return [];
  const data = Buffer.from(packet.subarray(at + 4, at + 4 + len));
  data[3] = 0;
  return [{ code: 8, data }];
}


/** DNS names compare case-insensitively in ASCII only (RFC 4343 §3). */
export function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}
