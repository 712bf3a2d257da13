/**
 * Answers questions inside the Consul domain(s) from the local, health-filtered view
 * (consul-compat.md §1.3-1.11). This runs on cache misses only: the result is encoded once,
 * cached as wire bytes and dropped when the view says one of its dependencies changed.
 */
import type { RuntimeConfig } from '../agent/config-types.ts';
import type { NodeRow, ServiceRow } from '../catalog/types.ts';
import type { DnsAnswer, DnsQuery } from '../plugin.ts';
import { ADDR_DEP, nodeDep, svcDep, type CatalogView, type ServiceInstance } from '../view/catalog-view.ts';
import { decodeAddrLabel, encodeAddrLabel, parseConsulName, reverseNameToIp } from './consul-name.ts';
import { QTYPE, RCODE, type ResourceRecord } from './records.ts';
import { serviceTtl } from './service-ttl.ts';
import { shuffleInPlace } from './answer-order.ts';

/** Dependency keys the answer cache is invalidated by: the ones CatalogView.onInvalidate emits. */
const dep = { service: svcDep, node: nodeDep, addresses: ADDR_DEP } as const;

type IpFamily = 4 | 6 | 0;

function ipFamily(address: string): IpFamily {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) return 4;
  if (address.includes(':')) return 6;
  return 0;
}

export class ConsulResolver {
  private config: RuntimeConfig;
  private readonly view: CatalogView;
  /** Unix seconds, for the SOA serial (Consul uses the current time). */
  private readonly now: () => number;

  constructor(view: CatalogView, config: RuntimeConfig, now: () => number = () => Math.floor(Date.now() / 1000)) {
    this.view = view;
    this.config = config;
    this.now = now;
  }

  /** Takes effect for the next miss; the caller clears the answer cache. */
  setConfig(config: RuntimeConfig): void {
    this.config = config;
  }

  /**
   * The answer for `q`, or undefined when the name is not ours (outside the domains, or a
   * reverse name no node or service has, with recursors configured to ask instead).
   */
  resolve(q: DnsQuery): DnsAnswer | undefined {
    const lname = q.lname;
    const domain = this.matchDomain(lname);
    if (domain === undefined) {
      if (lname.endsWith('.in-addr.arpa') || lname.endsWith('.ip6.arpa')) return this.reverse(q);
      return undefined;
    }
    const rest = lname.length === domain.length ? '' : lname.slice(0, lname.length - domain.length - 1);
    const labels = rest === '' ? [] : rest.split('.');
    const ctx = new AnswerContext(q, domain, this.config, this.now);

    // SOA and NS are answered for any name in the domain, as Consul does.
    if (q.type === QTYPE.SOA) return ctx.soaAnswer(this.nameServers());
    if (q.type === QTYPE.NS) return ctx.nsAnswer(this.nameServers());

    const parsed = parseConsulName(labels);
    if ('dc' in parsed && parsed.dc !== undefined && parsed.dc !== this.config.datacenter) {
      // Unknown datacenter: NXDOMAIN since Consul PR #8103.
      return ctx.negative(RCODE.NXDOMAIN, []);
    }
    switch (parsed.kind) {
      case 'apex':
        return ctx.negative(RCODE.NOERROR, [dep.service('consul')]);
      case 'invalid':
        return ctx.negative(RCODE.NXDOMAIN, []);
      case 'query':
        // Prepared queries arrive with the HTTP API's query endpoints; until then none exist.
        return ctx.negative(RCODE.NXDOMAIN, [`query:${parsed.query}`]);
      case 'addr':
        return this.addrLookup(ctx, parsed.hex);
      case 'node':
        return this.nodeLookup(ctx, parsed.node);
      case 'service':
        return this.serviceLookup(ctx, parsed.service, parsed.tag);
    }
  }

  private matchDomain(lname: string): string | undefined {
    for (const d of [this.config.domain, this.config.altDomain]) {
      if (!d) continue;
      if (lname === d || lname.endsWith('.' + d)) return d;
    }
    return undefined;
  }

  private nameServers(): NodeRow[] {
    const seen = new Set<string>();
    const nodes: NodeRow[] = [];
    for (const inst of this.view.consulServers()) {
      const key = inst.node.node.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      nodes.push(inst.node);
    }
    // Up to 3 name servers, shuffled (spec §1.3).
    shuffleInPlace(nodes);
    return nodes.slice(0, 3);
  }

  private addrLookup(ctx: AnswerContext, hex: string): DnsAnswer {
    const decoded = decodeAddrLabel(hex);
    if (decoded === null) return ctx.negative(RCODE.NXDOMAIN, []);
    const ttl = this.config.dnsConfig.nodeTtl;
    const t = ctx.q.type;
    if (decoded && decoded.family === 4 && (t === QTYPE.A || t === QTYPE.ANY)) {
      return ctx.positive([{ type: 'A', name: ctx.q.name, ttl, address: decoded.address }], [], []);
    }
    if (decoded && decoded.family === 6 && (t === QTYPE.AAAA || t === QTYPE.ANY)) {
      return ctx.positive([{ type: 'AAAA', name: ctx.q.name, ttl, address: decoded.address }], [], []);
    }
    return ctx.negative(RCODE.NOERROR, []);
  }

  private nodeLookup(ctx: AnswerContext, name: string): DnsAnswer {
    const deps = [dep.node(name)];
    const node = this.view.node(name);
    if (!node) return ctx.negative(RCODE.NXDOMAIN, deps);
    const ttl = this.config.dnsConfig.nodeTtl;
    const t = ctx.q.type;
    const answers: ResourceRecord[] = [];
    const additional: ResourceRecord[] = [];
    const fam = ipFamily(node.address);
    const wantsAddress = t === QTYPE.A || t === QTYPE.AAAA || t === QTYPE.ANY;
    if (wantsAddress) {
      if (fam === 4 && t !== QTYPE.AAAA) answers.push({ type: 'A', name: ctx.q.name, ttl, address: node.address });
      if (fam === 6 && t !== QTYPE.A) answers.push({ type: 'AAAA', name: ctx.q.name, ttl, address: node.address });
      if (fam === 0 && node.address) answers.push({ type: 'CNAME', name: ctx.q.name, ttl, target: node.address });
    }
    const metaTxt = nodeMetaTxt(ctx.q.name, node, ttl);
    if (t === QTYPE.TXT || t === QTYPE.ANY) answers.push(...metaTxt);
    else if (answers.length && this.config.dnsConfig.enableAdditionalNodeMetaTxt) additional.push(...metaTxt);
    if (answers.length === 0) return ctx.negative(RCODE.NOERROR, deps);
    return ctx.positive(answers, additional, deps);
  }

  private serviceLookup(ctx: AnswerContext, service: string, tag: string | undefined): DnsAnswer {
    const deps = [dep.service(service)];
    const dns = this.config.dnsConfig;
    const instances = this.view.healthyInstances(service, { tag, onlyPassing: dns.onlyPassing });
    if (instances.length === 0) return ctx.negative(RCODE.NXDOMAIN, deps);
    const ttl = serviceTtl(dns.serviceTtl, service);
    const t = ctx.q.type;
    if (t === QTYPE.SRV) return this.srvAnswer(ctx, instances, ttl, deps);
    if (t !== QTYPE.A && t !== QTYPE.AAAA && t !== QTYPE.ANY) return ctx.negative(RCODE.NOERROR, deps);

    const answers: ResourceRecord[] = [];
    const seen = new Set<string>();
    let cname: string | undefined;
    for (const inst of instances) {
      const address = inst.service.address || inst.node.address;
      const fam = ipFamily(address);
      if (fam === 0) {
        cname ??= address || undefined;
        continue;
      }
      if (seen.has(address)) continue;
      seen.add(address);
      if (fam === 4 && t !== QTYPE.AAAA) answers.push({ type: 'A', name: ctx.q.name, ttl, address });
      if (fam === 6 && t !== QTYPE.A) answers.push({ type: 'AAAA', name: ctx.q.name, ttl, address });
    }
    // A hostname address answers as a CNAME only when no instance has an IP (spec §1.3).
    if (answers.length === 0 && cname && seen.size === 0) {
      return ctx.positive([{ type: 'CNAME', name: ctx.q.name, ttl, target: cname }], [], deps);
    }
    if (answers.length === 0) return ctx.negative(RCODE.NOERROR, deps);
    const answer = ctx.positive(answers, [], deps);
    answer.shuffle = true;
    if (dns.aRecordLimit > 0) answer.maxAnswers = dns.aRecordLimit;
    return answer;
  }

  private srvAnswer(ctx: AnswerContext, instances: ServiceInstance[], ttl: number, deps: string[]): DnsAnswer {
    const dns = this.config.dnsConfig;
    const answers: ResourceRecord[] = [];
    const additional: ResourceRecord[] = [];
    const seenInstance = new Set<string>();
    const seenTarget = new Set<string>();
    for (const inst of instances) {
      const svc = inst.service;
      const address = svc.address || inst.node.address;
      const key = `${inst.node.node.toLowerCase()}|${address}|${svc.port}`;
      if (seenInstance.has(key)) continue;
      seenInstance.add(key);
      const weight = inst.status === 'passing' ? svc.weights.passing : svc.weights.warning;
      const target = this.srvTarget(ctx, inst.node, svc);
      answers.push({ type: 'SRV', name: ctx.q.name, ttl, priority: 1, weight, port: svc.port, target: target.name });
      const tkey = target.name.toLowerCase();
      if (seenTarget.has(tkey)) continue;
      seenTarget.add(tkey);
      const nodeTtl = dns.nodeTtl;
      if (target.family === 4) additional.push({ type: 'A', name: target.name, ttl: nodeTtl, address });
      if (target.family === 6) additional.push({ type: 'AAAA', name: target.name, ttl: nodeTtl, address });
      if (target.isNode && dns.enableAdditionalNodeMetaTxt) additional.push(...nodeMetaTxt(target.name, inst.node, nodeTtl));
    }
    const answer = ctx.positive(answers, additional, deps);
    answer.shuffle = true;
    return answer;
  }

  /** SRV target rules, consul-compat.md §1.4. */
  private srvTarget(ctx: AnswerContext, node: NodeRow, svc: ServiceRow): { name: string; family: IpFamily; isNode: boolean } {
    const dc = this.config.datacenter;
    if (!svc.address) {
      const fam = ipFamily(node.address);
      if (fam !== 0) return { name: `${node.node}.node.${dc}.${ctx.domain}`, family: fam, isNode: true };
      return { name: stripDot(node.address), family: 0, isNode: false };
    }
    const fam = ipFamily(svc.address);
    if (fam !== 0) return { name: `${encodeAddrLabel(svc.address)}.addr.${dc}.${ctx.domain}`, family: fam, isNode: false };
    return { name: stripDot(svc.address), family: 0, isNode: false };
  }

  /** PTR lookups (spec §1.11): node addresses first, then service addresses. */
  private reverse(q: DnsQuery): DnsAnswer | undefined {
    if (q.type !== QTYPE.PTR && q.type !== QTYPE.ANY) return undefined;
    const ip = reverseNameToIp(q.lname);
    const domain = this.config.domain;
    const ctx = new AnswerContext(q, domain, this.config, this.now);
    const deps = [dep.addresses];
    if (ip !== undefined) {
      const dc = this.config.datacenter;
      const node = this.view.nodeByAddress(ip);
      // PTR answers carry TTL 0, as Consul hard-codes them (issue #10577).
      if (node) return ctx.positive([{ type: 'PTR', name: q.name, ttl: 0, target: `${node.node}.node.${dc}.${domain}` }], [], deps);
      const svc = this.view.serviceByAddress(ip);
      if (svc) return ctx.positive([{ type: 'PTR', name: q.name, ttl: 0, target: `${svc.service}.service.${dc}.${domain}` }], [], deps);
    }
    // Nothing of ours: let the recursors answer; without them, NXDOMAIN (not Consul 1.x's SERVFAIL).
    if (this.config.recursors.length > 0) return undefined;
    return ctx.negative(RCODE.NXDOMAIN, deps);
  }
}

/** Builds the records every answer shares (SOA, NS) for one question. */
class AnswerContext {
  constructor(
    readonly q: DnsQuery,
    readonly domain: string,
    private readonly config: RuntimeConfig,
    private readonly now: () => number,
  ) {}

  soa(): ResourceRecord {
    const soa = this.config.dnsConfig.soa;
    return {
      type: 'SOA',
      name: this.domain,
      // RFC 2308 §3: the SOA's own TTL is the negative-caching TTL.
      ttl: soa.minTtl,
      mname: `ns.${this.domain}`,
      rname: `hostmaster.${this.domain}`,
      serial: this.now() >>> 0,
      refresh: soa.refresh,
      retry: soa.retry,
      expire: soa.expire,
      minimum: soa.minTtl,
    };
  }

  /** NXDOMAIN or NODATA: no answers, the SOA in AUTHORITY (RFC 2308 §2). */
  negative(rcode: number, deps: string[]): DnsAnswer {
    return {
      kind: 'answer',
      rcode,
      authoritative: true,
      answers: [],
      authority: [this.soa()],
      additional: [],
      cache: { deps },
    };
  }

  positive(answers: ResourceRecord[], additional: ResourceRecord[], deps: string[]): DnsAnswer {
    return { kind: 'answer', rcode: RCODE.NOERROR, authoritative: true, answers, authority: [], additional, cache: { deps } };
  }

  private nsRecords(servers: NodeRow[]): { ns: ResourceRecord[]; glue: ResourceRecord[] } {
    const ttl = this.config.dnsConfig.nodeTtl;
    const dc = this.config.datacenter;
    const ns: ResourceRecord[] = [];
    const glue: ResourceRecord[] = [];
    for (const node of servers) {
      const target = `${node.node}.node.${dc}.${this.domain}`;
      ns.push({ type: 'NS', name: this.domain, ttl, target });
      const fam = ipFamily(node.address);
      if (fam === 4) glue.push({ type: 'A', name: target, ttl, address: node.address });
      if (fam === 6) glue.push({ type: 'AAAA', name: target, ttl, address: node.address });
    }
    return { ns, glue };
  }

  soaAnswer(servers: NodeRow[]): DnsAnswer {
    const { ns, glue } = this.nsRecords(servers);
    return { ...this.positive([this.soa()], glue, [dep.service('consul')]), authority: ns };
  }

  nsAnswer(servers: NodeRow[]): DnsAnswer {
    const { ns, glue } = this.nsRecords(servers);
    if (ns.length === 0) return this.negative(RCODE.NOERROR, [dep.service('consul')]);
    return this.positive(ns, glue, [dep.service('consul')]);
  }
}

/**
 * Node meta as TXT records, RFC 1464 `key=value` with backquote escaping of `` ` ``, `=` and
 * leading/trailing spaces in the key; keys starting `rfc1035-` give the bare value.
 */
export function nodeMetaTxt(name: string, node: NodeRow, ttl: number): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  for (const [key, value] of Object.entries(node.meta)) {
    if (key.toLowerCase().startsWith('rfc1035-')) {
      out.push({ type: 'TXT', name, ttl, texts: [value] });
      continue;
    }
    let k = key.replace(/[`=]/g, (c) => '`' + c);
    k = k.replace(/^ +/, (m) => '` '.repeat(m.length)).replace(/ +$/, (m) => '` '.repeat(m.length));
    out.push({ type: 'TXT', name, ttl, texts: [`${k}=${value}`] });
  }
  return out;
}

function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
