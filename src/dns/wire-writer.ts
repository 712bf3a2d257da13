/**
 * The response encoder: a `ResponseMessage` to wire bytes (RFC 1035 §4.1), with name compression
 * (RFC 1035 §4.1.4). Miss path only; the hit path copies the bytes this produces.
 *
 * Choices, and why:
 * - Compression compares names case-insensitively (ASCII only, RFC 4343 §3) but writes each name
 *   in the case given where it is written in full. The question is written in full, exactly as
 *   given, at offset 12, so the answer cache can later overwrite it with another client's casing
 *   (same length); names that point into it then read in that client's casing, as with Knot/NSD.
 * - Only RDATA names of the RFC 1035 types (CNAME, NS, PTR, MX, SOA) are compressed (RFC 3597 §4).
 *   The SRV target is written in full: "name compression is not to be used for this field"
 *   (RFC 2782, Target). It still serves as a target for later pointers (ADDITIONAL owner names),
 *   which any decoder follows: a pointer may reference any earlier name.
 * - Pointers hold 14 bits (RFC 1035 §4.1.4): names past offset 0x3FFF are written but not
 *   remembered as targets.
 * - TTLs are clamped to 0..2^31-1 (RFC 2181 §8). Names are absolute, without the trailing dot
 *   ('' is the root); one trailing dot is tolerated. `\.`, `\\` and `\DDD` escapes are read as in
 *   RFC 1035 §5.1 (what questionName produces); other non-ASCII text is written as UTF-8.
 * - Anything that cannot be encoded (bad name, bad address, RDATA over 65535 bytes) throws a
 *   HeraldError with code HERALD_ERR_DNS_ENCODE; the caller answers SERVFAIL.
 */
import { isIPv6 } from 'node:net';
import { ERR, HeraldError } from '../errors.ts';
import { QTYPE, type Edns, type ResourceRecord, type ResponseMessage } from './records.ts';

/** Encoder switches. */
export interface EncodeOptions {
  /** RFC 1035 §4.1.4 name compression; default true (Consul's `disable_compression` false). */
  compress?: boolean;
}

/** A name in wire form plus what compression needs; cached because answers repeat names. */
interface ParsedName {
  /** Uncompressed wire form, root octet included. */
  wire: Buffer;
  /** Offset of each label in `wire`; empty for the root. */
  starts: number[];
  /**
   * Per label: the id of the suffix starting there (lowercased wire bytes to the end). Equal
   * suffixes, whatever their case, share an id, so compression needs no string hashing per name.
   */
  ids: number[];
  /** Lowercased wire form as a latin1 string: the nameKey(). */
  key: string;
}

const ROOT: ParsedName = { wire: Buffer.from([0]), starts: [], ids: [], key: '\0' };
/**
 * Parsed names and suffix ids. Both are a miss-path memo, dropped together when full, but never
 * during an encode: ids recorded in the compression table must keep their meaning until it ends.
 */
const parsedNames = new Map<string, ParsedName>();
const suffixIds = new Map<string, number>();
const PARSED_NAMES_MAX = 4096;
let encoding = false;

/**
 * Compression table, indexed by suffix id: the offset of the first occurrence of that suffix in
 * the message being encoded, valid where stampOf[id] === stamp. Bumping `stamp` empties it.
 */
let stampOf = new Int32Array(1024);
let offsetOf = new Int32Array(1024);
let stamp = 0;

function fail(message: string): never {
  throw new HeraldError(ERR.DNS_ENCODE, message);
}

function resetNameMemo(): void {
  parsedNames.clear();
  suffixIds.clear();
  stampOf.fill(0);
  stamp = 0;
}

function suffixId(suffix: string): number {
  let id = suffixIds.get(suffix);
  if (id === undefined) {
    id = suffixIds.size;
    suffixIds.set(suffix, id);
    if (id >= stampOf.length) {
      const grownStamps = new Int32Array(stampOf.length * 2);
      grownStamps.set(stampOf);
      stampOf = grownStamps;
      const grownOffsets = new Int32Array(offsetOf.length * 2);
      grownOffsets.set(offsetOf);
      offsetOf = grownOffsets;
    }
  }
  return id;
}

function parseName(name: string): ParsedName {
  const hit = parsedNames.get(name);
  if (hit !== undefined) return hit;
  if (!encoding && parsedNames.size >= PARSED_NAMES_MAX) resetNameMemo();
  const parsed = parseNameUncached(name);
  parsedNames.set(name, parsed);
  return parsed;
}

function parseNameUncached(name: string): ParsedName {
  if (name === '' || name === '.') return ROOT;
  const bytes: number[] = [];
  const starts: number[] = [];
  let labelStart = 0;
  let labelLen = 0;
  bytes.push(0); // length octet of the first label, patched when the label ends
  const n = name.length;
  for (let i = 0; i < n; i++) {
    const ch = name.charCodeAt(i);
    if (ch === 0x2e) {
      if (labelLen === 0) {
        fail(`empty label in name ${JSON.stringify(name)}`);
      }
      bytes[labelStart] = labelLen;
      starts.push(labelStart);
      if (i === n - 1) {
        // A trailing dot: the name was written fully qualified.
        labelLen = -1;
        break;
      }
      labelStart = bytes.length;
      bytes.push(0);
      labelLen = 0;
      continue;
    }
    if (ch === 0x5c) {
      const d0 = name.charCodeAt(i + 1);
      if (Number.isNaN(d0)) fail(`dangling escape in name ${JSON.stringify(name)}`);
      if (d0 >= 0x30 && d0 <= 0x39) {
        const d1 = name.charCodeAt(i + 2);
        const d2 = name.charCodeAt(i + 3);
        if (!(d1 >= 0x30 && d1 <= 0x39 && d2 >= 0x30 && d2 <= 0x39)) {
          fail(`bad \\DDD escape in name ${JSON.stringify(name)}`);
        }
        const v = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30);
        if (v > 255) fail(`\\DDD escape over 255 in name ${JSON.stringify(name)}`);
        bytes.push(v);
        i += 3;
      } else if (d0 < 0x80) {
        bytes.push(d0);
        i += 1;
      } else {
        const enc = Buffer.from(name.slice(i + 1, i + 1 + (d0 >= 0xd800 && d0 <= 0xdbff ? 2 : 1)), 'utf8');
        for (const b of enc) bytes.push(b);
        labelLen += enc.length - 1;
        i += d0 >= 0xd800 && d0 <= 0xdbff ? 2 : 1;
      }
      labelLen++;
      continue;
    }
    if (ch < 0x80) {
      bytes.push(ch);
      labelLen++;
      continue;
    }
    const wide = ch >= 0xd800 && ch <= 0xdbff;
    const enc = Buffer.from(name.slice(i, i + (wide ? 2 : 1)), 'utf8');
    for (const b of enc) bytes.push(b);
    labelLen += enc.length;
    if (wide) i++;
  }
  if (labelLen === 0) fail(`empty label in name ${JSON.stringify(name)}`);
  if (labelLen > 0) {
    bytes[labelStart] = labelLen;
    starts.push(labelStart);
  }
  bytes.push(0);
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i]!;
    if (bytes[s]! > 63) fail(`label over 63 octets in name ${JSON.stringify(name)}`);
  }
  // RFC 1035 §3.1: 255 octets including the length octets and the root.
  if (bytes.length > 255) fail(`name over 255 octets: ${JSON.stringify(name)}`);
  const wire = Buffer.from(bytes);
  const lower = Buffer.from(bytes);
  for (let i = 0; i < lower.length; i++) {
    const c = lower[i]!;
    if (c >= 65 && c <= 90) lower[i] = c | 0x20;
  }
  const key = lower.toString('latin1');
  const ids = starts.map((s) => suffixId(s === 0 ? key : key.slice(s)));
  return { wire, starts, ids, key };
}

/** The uncompressed wire form of a presentation name (escapes as questionName writes them). */
export function encodeName(name: string): Buffer {
  return Buffer.from(parseName(name).wire);
}

/**
 * A comparison key for a name: equal for names that are the same DNS name (ASCII case folded,
 * escapes resolved, trailing dot ignored). Throws HERALD_ERR_DNS_ENCODE for an invalid name.
 */
export function nameKey(name: string): string {
  return parseName(name).key;
}

/**
 * The encoder's state. One per module: encoding is synchronous, so it is reused call after call
 * and grows to the largest message seen.
 */
let out = Buffer.allocUnsafe(4096);
let pos = 0;
let compressing = true;

function ensure(n: number): void {
  if (pos + n <= out.length) return;
  let size = out.length * 2;
  while (size < pos + n) size *= 2;
  const bigger = Buffer.allocUnsafe(size);
  out.copy(bigger, 0, 0, pos);
  out = bigger;
}

function u8(v: number): void {
  ensure(1);
  out[pos++] = v;
}

function u16(v: number): void {
  ensure(2);
  out[pos++] = (v >>> 8) & 0xff;
  out[pos++] = v & 0xff;
}

function u32(v: number): void {
  ensure(4);
  const x = v >>> 0;
  out[pos++] = x >>> 24;
  out[pos++] = (x >>> 16) & 0xff;
  out[pos++] = (x >>> 8) & 0xff;
  out[pos++] = x & 0xff;
}

/** Write `name`; `pointer` false writes it in full (question, SRV target) but still records it. */
function writeName(name: string, pointer: boolean): void {
  const { wire, starts, ids } = parseName(name);
  if (compressing) {
    for (let i = 0; i < starts.length; i++) {
      const off = starts[i]!;
      const id = ids[i]!;
      if (stampOf[id] === stamp) {
        if (pointer) {
          const at = offsetOf[id]!;
          ensure(off + 2);
          for (let b = 0; b < off; b++) out[pos + b] = wire[b]!;
          pos += off;
          out[pos++] = 0xc0 | (at >>> 8);
          out[pos++] = at & 0xff;
          return;
        }
      } else {
        const here = pos + off;
        if (here < 0x4000) {
          stampOf[id] = stamp;
          offsetOf[id] = here;
        }
      }
    }
  }
  ensure(wire.length);
  out.set(wire, pos);
  pos += wire.length;
}

function ttlOf(ttl: number): number {
  if (!(ttl > 0)) return 0;
  return ttl >= 0x7fffffff ? 0x7fffffff : Math.floor(ttl);
}

/** Dotted-quad IPv4 (RFC 1035 §3.4.1 A RDATA), parsed by hand: this runs once per A record. */
function writeIPv4(address: string): void {
  ensure(4);
  const n = address.length;
  let octet = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? address.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      // No empty parts, no leading zeros (as node:net's isIPv4), no value over 255.
      if (digits === 0 || octet > 255 || parts === 4) fail(`bad IPv4 address ${JSON.stringify(address)}`);
      out[pos + parts++] = octet;
      octet = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3 && !(digits === 1 && octet === 0)) {
      octet = octet * 10 + (c - 0x30);
      digits++;
    } else {
      fail(`bad IPv4 address ${JSON.stringify(address)}`);
    }
  }
  if (parts !== 4) fail(`bad IPv4 address ${JSON.stringify(address)}`);
  pos += 4;
}

function writeIPv6(address: string): void {
  if (!isIPv6(address) || address.includes('%')) fail(`bad IPv6 address ${JSON.stringify(address)}`);
  const groups: number[] = [];
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const res: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const o = g.split('.').map(Number);
        res.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
      } else {
        res.push(parseInt(g, 16));
      }
    }
    return res;
  };
  const dbl = address.indexOf('::');
  if (dbl >= 0) {
    const head = parse(address.slice(0, dbl));
    const tail = parse(address.slice(dbl + 2));
    groups.push(...head);
    for (let i = head.length + tail.length; i < 8; i++) groups.push(0);
    groups.push(...tail);
  } else {
    groups.push(...parse(address));
  }
  if (groups.length !== 8) fail(`bad IPv6 address ${JSON.stringify(address)}`);
  for (const g of groups) u16(g);
}

/** One character-string from ASCII text of <= 255 chars (node-meta TXT); false if not ASCII. */
function writeShortAscii(t: string): boolean {
  const n = t.length;
  ensure(1 + n);
  for (let i = 0; i < n; i++) {
    const c = t.charCodeAt(i);
    if (c > 0x7f) return false;
    out[pos + 1 + i] = c;
  }
  out[pos] = n;
  pos += 1 + n;
  return true;
}

/** TXT: each string as character-strings of at most 255 bytes (RFC 1035 §3.3.14). */
function writeTexts(texts: readonly string[]): void {
  if (texts.length === 0) {
    // RDATA is one or more character-strings: an empty TXT is one empty string.
    u8(0);
    return;
  }
  for (const t of texts) {
    if (t.length <= 255 && writeShortAscii(t)) continue;
    const bytes = Buffer.from(t, 'utf8');
    if (bytes.length === 0) {
      u8(0);
      continue;
    }
    for (let o = 0; o < bytes.length; o += 255) {
      const chunk = Math.min(255, bytes.length - o);
      ensure(1 + chunk);
      out[pos++] = chunk;
      bytes.copy(out, pos, o, o + chunk);
      pos += chunk;
    }
  }
}

function writeRecord(rr: ResourceRecord): void {
  const type = QTYPE[rr.type];
  if (type === undefined) fail(`unsupported record type ${JSON.stringify((rr as { type: unknown }).type)}`);
  writeName(rr.name, true);
  u16(type);
  u16(1); // class IN
  u32(ttlOf(rr.ttl));
  u16(0); // RDLENGTH, patched below
  const rdStart = pos;
  switch (rr.type) {
    case 'A':
      writeIPv4(rr.address);
      break;
    case 'AAAA':
      writeIPv6(rr.address);
      break;
    case 'CNAME':
    case 'NS':
    case 'PTR':
      writeName(rr.target, true);
      break;
    case 'MX':
      u16(rr.preference);
      writeName(rr.exchange, true);
      break;
    case 'TXT':
      writeTexts(rr.texts);
      break;
    case 'SRV':
      u16(rr.priority);
      u16(rr.weight);
      u16(rr.port);
      writeName(rr.target, false);
      break;
    case 'SOA':
      writeName(rr.mname, true);
      writeName(rr.rname, true);
      u32(rr.serial);
      u32(rr.refresh);
      u32(rr.retry);
      u32(rr.expire);
      u32(rr.minimum);
      break;
  }
  const rdlen = pos - rdStart;
  if (rdlen > 0xffff) fail(`RDATA of ${rr.name} ${rr.type} is ${rdlen} bytes (max 65535)`);
  out[rdStart - 2] = rdlen >>> 8;
  out[rdStart - 1] = rdlen & 0xff;
}

/** The OPT pseudo-RR (RFC 6891 §6.1.2-6.1.3): root owner, CLASS = UDP size, TTL = ext-rcode|version|DO. */
function writeOpt(edns: Edns, rcode: number): void {
  u8(0);
  u16(41);
  u16(edns.udpSize & 0xffff);
  const ext = rcode > 15 ? (rcode >>> 4) & 0xff : edns.extendedRcode & 0xff;
  u8(ext);
  u8(edns.version & 0xff);
  u16(edns.dnssecOk ? 0x8000 : 0);
  let rdlen = 0;
  for (const o of edns.options) rdlen += 4 + o.data.length;
  if (rdlen > 0xffff) fail(`EDNS options are ${rdlen} bytes (max 65535)`);
  u16(rdlen);
  for (const o of edns.options) {
    u16(o.code);
    u16(o.data.length);
    ensure(o.data.length);
    o.data.copy(out, pos);
    pos += o.data.length;
  }
}

function count(n: number, what: string): number {
  if (n > 0xffff) fail(`${n} ${what} records (max 65535)`);
  return n;
}

/** Encode into the module buffer; returns the length. */
function encodeInto(msg: ResponseMessage, opts: EncodeOptions | undefined): number {
  if (parsedNames.size >= PARSED_NAMES_MAX) resetNameMemo();
  // A new stamp empties the compression table in O(1).
  if (++stamp === 0x7fffffff) {
    stampOf.fill(0);
    stamp = 1;
  }
  pos = 0;
  compressing = opts?.compress !== false;
  encoding = true;
  try {
    return encodeSections(msg);
  } finally {
    encoding = false;
  }
}

function encodeSections(msg: ResponseMessage): number {
  const rcode = msg.rcode;
  const flags =
    0x8000 |
    ((msg.opcode & 0xf) << 11) |
    (msg.aa ? 0x0400 : 0) |
    (msg.tc ? 0x0200 : 0) |
    (msg.rd ? 0x0100 : 0) |
    (msg.ra ? 0x0080 : 0) |
    (rcode & 0xf);
  u16(msg.id & 0xffff);
  u16(flags);
  u16(msg.question ? 1 : 0);
  u16(count(msg.answers.length, 'answer'));
  u16(count(msg.authority.length, 'authority'));
  u16(count(msg.additional.length + (msg.edns ? 1 : 0), 'additional'));
  if (msg.question) {
    writeName(msg.question.name, false);
    u16(msg.question.type);
    u16(msg.question.class);
  }
  for (const rr of msg.answers) writeRecord(rr);
  for (const rr of msg.authority) writeRecord(rr);
  for (const rr of msg.additional) writeRecord(rr);
  if (msg.edns) writeOpt(msg.edns, rcode);
  return pos;
}

/**
 * Encode `msg` (every section, no trimming) into a new Buffer the caller owns.
 * Throws HeraldError(HERALD_ERR_DNS_ENCODE) when a name, address or RDATA cannot be encoded.
 */
export function encodeResponse(msg: ResponseMessage, opts?: EncodeOptions): Buffer {
  const n = encodeInto(msg, opts);
  const res = Buffer.allocUnsafe(n);
  out.copy(res, 0, 0, n);
  return res;
}

/** The byte length encodeResponse would produce, without allocating the result. Same throws. */
export function encodedLength(msg: ResponseMessage, opts?: EncodeOptions): number {
  return encodeInto(msg, opts);
}
