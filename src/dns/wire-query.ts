/**
 * The hot-path query reader (DESIGN.md principle 1): validates a received DNS query in place and
 * fills a caller-owned view with the header fields, the question's boundaries, the EDNS0
 * parameters and the answer-cache key. No object decode, no exceptions, no allocation except the
 * key string of a valid query.
 *
 * What is checked, and why:
 * - fewer than 12 bytes, or QR=1: DROP. A response is never answered, so two servers cannot be
 *   turned into a reflection loop (RFC 1035 §4.1.1; miekg/dns, hence Consul, ignores them too).
 * - opcode != QUERY: NOTIMP (RFC 1035 §4.1.1).
 * - QDCOUNT != 1, ANCOUNT or NSCOUNT != 0: FORMERR. A query carries exactly one question
 *   (RFC 9619); this is also what Consul answers, because miekg/dns rejects such headers with
 *   FORMERR before its handler runs.
 * - question name: labels of 64+ octets and the 0x40/0x80/0xC0 label types (RFC 1035 §4.1.4,
 *   RFC 6891 §5), names over 255 octets (RFC 1035 §3.1), a question cut short: FORMERR.
 *   A question is the first name in the message, so a compression pointer there can only point
 *   at the header or at itself: it is refused rather than followed, and loops cannot happen.
 * - additional section: at most one OPT RR, owned by the root (RFC 6891 §6.1.1); its options
 *   must be well-formed TLVs (§6.1.2); version != 0 is FORMERR here (BADVERS, §6.1.3, is not
 *   implemented). UDP sizes below 512 count as 512 (§6.2.5). Other additional records (a TSIG or
 *   SIG(0) signature, stray records) are skipped and ignored: Herald holds no keys, so it answers
 *   unsigned, as a server without the key would (the client then decides); they do not change the
 *   answer, so they do not affect caching.
 * - bytes after the last counted record are ignored (RFC 1035 gives them no meaning).
 * QCLASS and QTYPE policy (AXFR -> NOTIMP, CHAOS -> REFUSED) belongs to the caller, which has the
 * question in the view; `QueryStatus.REFUSED` exists for it.
 */

/** What the caller does with a packet. Plain numbers so the hot path compares small integers. */
export const QueryStatus = {
  /** A well-formed query: look `key` up, or take the miss path. */
  OK: 0,
  /** Send nothing: no 12-byte header, or QR=1 (a response). */
  DROP: 1,
  /** Reply FORMERR (RFC 1035 §4.1.1) with `errorReply`. */
  FORMERR: 2,
  /** Reply NOTIMP: the opcode is not QUERY. */
  NOTIMP: 3,
  /** Reply REFUSED. Never returned by readQuery; for the caller's policy (class, zone). */
  REFUSED: 4,
} as const;

export type QueryStatusCode = (typeof QueryStatus)[keyof typeof QueryStatus];

/**
 * One query as read in place. One object per server (per transport), overwritten by every
 * readQuery call: copy what you need before the next packet is read. All fields are always
 * written, so the shape never changes (monomorphic property access on the hot path).
 */
export interface QueryView {
  /** The last readQuery result. */
  status: number;
  /** Header fields; valid unless status is DROP because the packet had no 12-byte header. */
  id: number;
  /** The 16-bit flags word as received. */
  flags: number;
  opcode: number;
  rd: boolean;
  /** Checking disabled (RFC 4035 §3.1.6): echoed by replyFromCache/errorReply. */
  cd: boolean;
  /** Where the question name starts: always 12. */
  qnameStart: number;
  /** Offset just past the question name's root label; 0 when the question was not read. */
  qnameEnd: number;
  qtype: number;
  qclass: number;
  /** Offset just past QCLASS; 0 when the question was not read (errorReply then sends QDCOUNT 0). */
  questionEnd: number;
  /** Exactly one structurally valid OPT RR was found (even if its version made the query FORMERR). */
  hasEdns: boolean;
  /** Requester's UDP payload size, raised to 512 when smaller (RFC 6891 §6.2.5); 0 without EDNS. */
  ednsUdpSize: number;
  ednsVersion: number;
  /** DNSSEC OK bit (RFC 3225). */
  ednsDo: boolean;
  /** The OPT RR carries at least one option (cookie, ECS, padding, ...). */
  ednsHasOptions: boolean;
  /**
   * Offset of the first EDNS Client Subnet option (code 8, RFC 7871 §6) within the packet (its
   * OPTION-CODE field), or -1. ECS is the one option that changes a Herald reply (spec §1.7).
   */
  ednsEcsAt: number;
  /**
   * Answer-cache key, '' unless status is OK. Opaque: transport, EDNS presence, UDP size and DO
   * bit, then the question's wire bytes with ASCII A-Z lowercased (RFC 4343 §3), QTYPE, QCLASS.
   * Two queries share a key exactly when one cached reply (patched for ID, RD, CD and the
   * question's letter case) answers both.
   */
  key: string;
}

/** A fresh view to hand to readQuery; allocate one per server/transport, not per packet. */
export function createQueryView(): QueryView {
  return {
    status: QueryStatus.DROP,
    id: 0,
    flags: 0,
    opcode: 0,
    rd: false,
    cd: false,
    qnameStart: 12,
    qnameEnd: 0,
    qtype: 0,
    qclass: 0,
    questionEnd: 0,
    hasEdns: false,
    ednsUdpSize: 0,
    ednsVersion: 0,
    ednsDo: false,
    ednsHasOptions: false,
    ednsEcsAt: -1,
    key: '',
  };
}

const OPT = 41;
const EDNS_ECS = 8;
/** Key prefix: transport, EDNS flags, UDP size (2 bytes). */
const KEY_PREFIX = 4;
/**
 * Scratch for building the key: prefix + name (<= 255) + type + class. Module-level because the
 * reader is synchronous and single-threaded; the key string is the only allocation.
 */
const keyScratch = Buffer.allocUnsafe(KEY_PREFIX + 255 + 4);

/**
 * Validate `buf` (one DNS message, without the TCP length prefix) and fill `out`.
 * Never throws, whatever the bytes; returns `out.status`. `transport` is 'u' (UDP) or 't' (TCP):
 * replies differ per transport (trimming), so it is part of the key.
 */
export function readQuery(buf: Buffer, transport: 'u' | 't', out: QueryView): number {
  const len = buf.length;
  out.qnameStart = 12;
  out.qnameEnd = 0;
  out.questionEnd = 0;
  out.qtype = 0;
  out.qclass = 0;
  out.hasEdns = false;
  out.ednsUdpSize = 0;
  out.ednsVersion = 0;
  out.ednsDo = false;
  out.ednsHasOptions = false;
  out.ednsEcsAt = -1;
  out.key = '';
  if (len < 12) {
    out.id = 0;
    out.flags = 0;
    out.opcode = 0;
    out.rd = false;
    out.cd = false;
    return (out.status = QueryStatus.DROP);
  }
  const flags = (buf[2]! << 8) | buf[3]!;
  out.id = (buf[0]! << 8) | buf[1]!;
  out.flags = flags;
  out.opcode = (flags >>> 11) & 0xf;
  out.rd = (flags & 0x0100) !== 0;
  out.cd = (flags & 0x0010) !== 0;
  if ((flags & 0x8000) !== 0) return (out.status = QueryStatus.DROP);

  const qdcount = (buf[4]! << 8) | buf[5]!;
  const ancount = (buf[6]! << 8) | buf[7]!;
  const nscount = (buf[8]! << 8) | buf[9]!;
  const arcount = (buf[10]! << 8) | buf[11]!;

  // The question is read even when the status will be an error, so errorReply can echo it.
  // The name is copied into the key scratch while it is scanned, lowercasing ASCII A-Z only:
  // length octets are <= 63, below 'A', so the whole wire name can go through the same test.
  let p = 12;
  let k = KEY_PREFIX;
  let nameOk = false;
  if (qdcount === 1) {
    for (;;) {
      if (p >= len) break;
      const l = buf[p]!;
      if (l === 0) {
        keyScratch[k++] = 0;
        p++;
        nameOk = p + 4 <= len;
        break;
      }
      // 64..255: extended label types and compression pointers (RFC 1035 §4.1.4, RFC 6891 §5).
      if (l > 63) break;
      const end = p + 1 + l;
      // With its root octet the name must stay within 255 octets (RFC 1035 §3.1).
      if (end - 12 > 254 || end > len) break;
      keyScratch[k++] = l;
      for (let i = p + 1; i < end; i++) {
        const c = buf[i]!;
        keyScratch[k++] = c >= 65 && c <= 90 ? c | 0x20 : c;
      }
      p = end;
    }
  }
  if (nameOk) {
    out.qnameEnd = p;
    out.qtype = (buf[p]! << 8) | buf[p + 1]!;
    out.qclass = (buf[p + 2]! << 8) | buf[p + 3]!;
    keyScratch[k++] = buf[p]!;
    keyScratch[k++] = buf[p + 1]!;
    keyScratch[k++] = buf[p + 2]!;
    keyScratch[k++] = buf[p + 3]!;
    p += 4;
    out.questionEnd = p;
  }

  // The additional section is read when it can be reached: after a valid question and empty
  // answer/authority sections. That also lets error replies echo the OPT RR.
  let addOk = true;
  if (nameOk && ancount === 0 && nscount === 0 && arcount !== 0) addOk = readAdditional(buf, p, arcount, out);

  if (out.opcode !== 0) return (out.status = QueryStatus.NOTIMP);
  if (!nameOk || ancount !== 0 || nscount !== 0 || !addOk || out.ednsVersion !== 0) {
    return (out.status = QueryStatus.FORMERR);
  }

  const size = out.ednsUdpSize;
  keyScratch[0] = transport === 't' ? 0x74 : 0x75;
  keyScratch[1] = out.hasEdns ? (out.ednsDo ? 3 : 1) : 0;
  keyScratch[2] = size >>> 8;
  keyScratch[3] = size & 0xff;
  out.key = keyScratch.toString('latin1', 0, k);
  return (out.status = QueryStatus.OK);
}

/**
 * Walk `count` additional records from `p`; record the OPT RR into `out`. False on any
 * structural error (FORMERR). Bounded: every record consumes at least 11 bytes of `buf`.
 */
function readAdditional(buf: Buffer, p: number, count: number, out: QueryView): boolean {
  const len = buf.length;
  for (let n = 0; n < count; n++) {
    const owner = p;
    // Owner names here may be compressed (a TSIG key name): skip without following pointers.
    for (;;) {
      if (p >= len) return false;
      const l = buf[p]!;
      if (l === 0) {
        p++;
        break;
      }
      if (l >= 0xc0) {
        p += 2;
        break;
      }
      if (l > 63) return false;
      p += 1 + l;
    }
    if (p + 10 > len) return false;
    const type = (buf[p]! << 8) | buf[p + 1]!;
    const rdlen = (buf[p + 8]! << 8) | buf[p + 9]!;
    const rdata = p + 10;
    const end = rdata + rdlen;
    if (end > len) return false;
    if (type === OPT) {
      // One OPT only, and owned by the root (RFC 6891 §6.1.1).
      if (out.hasEdns || p !== owner + 1) {
        out.hasEdns = false;
        out.ednsUdpSize = 0;
        out.ednsVersion = 0;
        out.ednsDo = false;
        out.ednsHasOptions = false;
        out.ednsEcsAt = -1;
        return false;
      }
      const udp = (buf[p + 2]! << 8) | buf[p + 3]!;
      // TTL field: extended RCODE, VERSION, DO + Z (RFC 6891 §6.1.3).
      const version = buf[p + 5]!;
      const doBit = (buf[p + 6]! & 0x80) !== 0;
      let o = rdata;
      let ecs = -1;
      while (o < end) {
        if (o + 4 > end) return false;
        const code = (buf[o]! << 8) | buf[o + 1]!;
        const olen = (buf[o + 2]! << 8) | buf[o + 3]!;
        if (o + 4 + olen > end) return false;
        if (code === EDNS_ECS && ecs < 0) ecs = o;
        o += 4 + olen;
      }
      out.hasEdns = true;
      out.ednsUdpSize = udp < 512 ? 512 : udp;
      out.ednsVersion = version;
      out.ednsDo = doBit;
      out.ednsHasOptions = rdlen !== 0;
      out.ednsEcsAt = ecs;
    }
    p = end;
  }
  return true;
}

/**
 * The question name of a query that readQuery accepted (or at least whose question it read),
 * as presentation text: labels joined by '.', no trailing dot, '' for the root, letter case as
 * asked. '.' and '\' inside a label are escaped as `\.` and `\\`; bytes outside 0x21-0x7E as
 * `\DDD` (RFC 1035 §5.1, RFC 4343 §2.1), so encodeName() turns it back into the same wire bytes.
 * Miss path only: allocates. Returns '' when the view holds no question.
 */
export function questionName(buf: Buffer, view: QueryView): string {
  const end = view.qnameEnd;
  if (end === 0) return '';
  let s = '';
  let p = 12;
  while (p < end) {
    const l = buf[p]!;
    if (l === 0) break;
    if (p !== 12) s += '.';
    const stop = p + 1 + l;
    let plain = true;
    for (let i = p + 1; i < stop; i++) {
      const c = buf[i]!;
      if (c < 0x21 || c > 0x7e || c === 0x2e || c === 0x5c) {
        plain = false;
        break;
      }
    }
    if (plain) {
      s += buf.toString('latin1', p + 1, stop);
    } else {
      for (let i = p + 1; i < stop; i++) {
        const c = buf[i]!;
        if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
        else if (c < 0x21 || c > 0x7e) s += '\\' + String(c).padStart(3, '0');
        else s += String.fromCharCode(c);
      }
    }
    p = stop;
  }
  return s;
}
