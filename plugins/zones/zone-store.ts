/**
 * Authoritative lookup over loaded zones (RFC 1034 §4.3.2, simplified: no delegations, so an
 * NS set below an apex is served as plain data, never as a referral). Immutable once built:
 * a reload builds a new store and swaps it in whole.
 */
import { QTYPE, RCODE } from '../../src/plugin.ts';
import type { DnsAnswer, DnsQuery, ResourceRecord } from '../../src/plugin.ts';
import { lowerName } from './zone-file.ts';
import type { LoadedZone } from './zone-file.ts';

/** CNAME links followed inside one zone before the answer stops (loop and length bound). */
export const MAX_CNAME_CHAIN = 8;
const QTYPE_IXFR = 251;
const QCLASS_IN = 1;
const QCLASS_ANY = 255;

type SoaRecord = Extract<ResourceRecord, { type: 'SOA' }>;

const TYPE_NAME = new Map<number, ResourceRecord['type']>(
  (['A', 'AAAA', 'CNAME', 'NS', 'SOA', 'MX', 'TXT', 'SRV', 'PTR'] as const).map((t) => [QTYPE[t], t]),
);

interface Zone {
  origin: string;
  lorigin: string;
  /** The cache dependency key for answers from this zone. */
  dep: string;
  /** The SOA for negative answers, TTL = min(SOA TTL, SOA minimum) (RFC 2308 §5). */
  negativeSoa: SoaRecord;
  /** Lowercased owner -> its records (every type). */
  nodes: Map<string, ResourceRecord[]>;
  /** Every owner and every ancestor of one, down to the apex: empty non-terminals exist too. */
  existing: Set<string>;
}

/** The cache dependency key for one zone origin: `zone:<lowercased origin>` (`zone:.` for the root). */
export function zoneDep(origin: string): string {
  return `zone:${lowerName(origin) || '.'}`;
}

function parentName(lname: string): string {
  const dot = lname.indexOf('.');
  return dot < 0 ? '' : lname.slice(dot + 1);
}

function buildZone(loaded: LoadedZone): Zone {
  const lorigin = lowerName(loaded.origin);
  const nodes = new Map<string, ResourceRecord[]>();
  const existing = new Set<string>([lorigin]);
  for (const rr of loaded.records) {
    const lname = lowerName(rr.name);
    const list = nodes.get(lname);
    if (list) list.push(rr);
    else nodes.set(lname, [rr]);
    for (let n = lname; n !== lorigin && !existing.has(n); n = parentName(n)) existing.add(n);
  }
  const soa = loaded.soa;
  return {
    origin: loaded.origin,
    lorigin,
    dep: zoneDep(loaded.origin),
    negativeSoa: { ...soa, ttl: Math.min(soa.ttl, soa.minimum) },
    nodes,
    existing,
  };
}

/** What one name resolves to inside a zone, wildcards applied. */
type NodeResult = { kind: 'records'; records: ResourceRecord[] } | { kind: 'nodata' } | { kind: 'nxdomain' };

/** A lookup key for `resolve`: a DnsQuery carries all of it. */
export type ZoneQuestion = Pick<DnsQuery, 'name' | 'lname' | 'type' | 'class'>;

/** Loaded zones, longest origin wins. Immutable; build a new one to change the data. */
export class ZoneStore {
  private readonly zones = new Map<string, Zone>();

  /** `zones` must have distinct origins (the directory loader guarantees it). */
  constructor(zones: readonly LoadedZone[] = []) {
    for (const z of zones) this.zones.set(lowerName(z.origin), buildZone(z));
  }

  /** The origins served, as written in the zone files. */
  get origins(): string[] {
    return [...this.zones.values()].map((z) => z.origin);
  }

  /** Cache dependency keys of every zone served (`zone:<origin>`), for invalidation on swap. */
  get deps(): string[] {
    return [...this.zones.values()].map((z) => z.dep);
  }

  /** The zone with the longest origin that contains `lname`, if any. */
  private findZone(lname: string): Zone | undefined {
    for (let n = lname; ; n = parentName(n)) {
      const z = this.zones.get(n);
      if (z) return z;
      if (n === '') return undefined;
    }
  }

  /**
   * Answers a question authoritatively when its name is in a loaded zone; returns undefined
   * otherwise so the next hook gets it. Pure and synchronous; the result may be cached until
   * the zone's dep (`zone:<origin>`) is invalidated.
   */
  resolve(q: ZoneQuestion): DnsAnswer | undefined {
    const zone = this.findZone(q.lname);
    if (!zone) return undefined;
    const cache = { deps: [zone.dep] };
    if (q.class !== QCLASS_IN && q.class !== QCLASS_ANY) return this.bare(RCODE.REFUSED, cache);
    // Zone transfers are not served (consul-compat §1.8: AXFR -> NOTIMP); IXFR likewise.
    if (q.type === QTYPE.AXFR || q.type === QTYPE_IXFR) return this.bare(RCODE.NOTIMP, cache);

    const answers: ResourceRecord[] = [];
    const seen = new Set<string>();
    let name = q.name;
    let lname = q.lname;
    for (let links = 0; ; ) {
      seen.add(lname);
      const node = this.lookupNode(zone, lname, name);
      if (node.kind !== 'records') {
        // RFC 6604 §2: after a CNAME the rcode describes the last name in the chain.
        return this.negative(zone, node.kind === 'nxdomain' ? RCODE.NXDOMAIN : RCODE.NOERROR, answers, cache);
      }
      if (q.type === QTYPE.ANY) {
        answers.push(...node.records);
        break;
      }
      const want = TYPE_NAME.get(q.type);
      const matching = want ? node.records.filter((rr) => rr.type === want) : [];
      if (matching.length > 0) {
        answers.push(...matching);
        break;
      }
      const cname = node.records.find((rr) => rr.type === 'CNAME');
      if (!cname || cname.type !== 'CNAME') return this.negative(zone, RCODE.NOERROR, answers, cache);
      answers.push(cname);
      links++;
      const ltarget = lowerName(cname.target);
      // Out-of-zone targets, loops and long chains stop here; the client's resolver goes on
      // from the last CNAME (RFC 1034 §4.3.2 step 3a).
      if (links >= MAX_CNAME_CHAIN || seen.has(ltarget) || this.findZone(ltarget) !== zone) break;
      name = cname.target;
      lname = ltarget;
    }
    return {
      kind: 'answer',
      rcode: RCODE.NOERROR,
      authoritative: true,
      answers,
      authority: [],
      additional: this.additional(zone, answers),
      cache,
    };
  }

  private bare(rcode: number, cache: { deps: string[] }): DnsAnswer {
    return { kind: 'answer', rcode, authoritative: false, answers: [], authority: [], additional: [], cache };
  }

  private negative(zone: Zone, rcode: number, answers: ResourceRecord[], cache: { deps: string[] }): DnsAnswer {
    // RFC 2308 §3: NXDOMAIN and NODATA carry the zone's SOA in AUTHORITY for negative caching.
    return { kind: 'answer', rcode, authoritative: true, answers, authority: [zone.negativeSoa], additional: [], cache };
  }

  /**
   * The records at `lname`; else NODATA for an empty non-terminal; else the wildcard at the
   * closest encloser, owner rewritten to `name` (RFC 4592 §3.3.1); else NXDOMAIN.
   */
  private lookupNode(zone: Zone, lname: string, name: string): NodeResult {
    const records = zone.nodes.get(lname);
    if (records) return { kind: 'records', records };
    if (zone.existing.has(lname)) return { kind: 'nodata' };
    let encloser = parentName(lname);
    while (encloser !== zone.lorigin && !zone.existing.has(encloser)) encloser = parentName(encloser);
    const wild = zone.nodes.get(encloser === '' ? '*' : `*.${encloser}`);
    if (!wild) return { kind: 'nxdomain' };
    return { kind: 'records', records: wild.map((rr) => ({ ...rr, name })) };
  }

  /** A/AAAA for in-zone MX, SRV and NS targets (RFC 1035 §3.3.9, §3.3.11; RFC 2782), deduplicated. */
  private additional(zone: Zone, answers: ResourceRecord[]): ResourceRecord[] {
    const out: ResourceRecord[] = [];
    const added = new Set<string>();
    for (const rr of answers) {
      const target = rr.type === 'MX' ? rr.exchange : rr.type === 'SRV' || rr.type === 'NS' ? rr.target : undefined;
      if (target === undefined) continue;
      const lt = lowerName(target);
      if (added.has(lt)) continue;
      added.add(lt);
      for (const a of zone.nodes.get(lt) ?? []) {
        if (a.type === 'A' || a.type === 'AAAA') out.push(a);
      }
    }
    return out;
  }
}
