/**
 * RFC 1035 §5 master-file parser for the zones plugin, plus the directory loader that turns
 * `<zoneDir>/*.zone` into validated zones. Runs at start-up and on reload only, never on the
 * packet path, so it favours clear errors over speed. Every error is a HeraldError with code
 * HERALD_ERR_ZONES_PARSE and the message `<file>:<line>: <what>`.
 *
 * Supported: $ORIGIN, $TTL (RFC 2308 §4), $INCLUDE (relative to the including file, never
 * outside the zone directory), `@`, relative and absolute names, blank owner = previous owner,
 * `( ... )` across lines, `;` comments, quoted strings with `\X` / `\DDD` escapes, TTL and class
 * in either order (RFC 1035 §5.1), BIND-style TTL units (`1h30m`), and the types
 * A AAAA CNAME NS SOA MX TXT SRV PTR in class IN.
 */
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import { ERR, HeraldError } from '../../src/plugin.ts';
import type { Logger, ResourceRecord } from '../../src/plugin.ts';

/** A parsed record with where it came from, so later checks can point at the line. */
export interface ParsedRecord {
  rr: ResourceRecord;
  file: string;
  line: number;
}

/** One validated zone: exactly one SOA, at its apex; every record at or below the apex. */
export interface LoadedZone {
  /** The apex (SOA owner), absolute, no trailing dot, as written ('' for the root). */
  origin: string;
  /** The `.zone` file it was read from. */
  file: string;
  soa: Extract<ResourceRecord, { type: 'SOA' }>;
  /** Every record, SOA included, deduplicated (RFC 2181 §5: an RRset has no duplicates). */
  records: ResourceRecord[];
}

export interface ParseOptions {
  /** Starting origin, absolute, no trailing dot ('' for the root). */
  origin: string;
  /** $INCLUDE may not reach outside this directory (default: the file's own directory). */
  zoneDir?: string;
}

/** RFC 2181 §8: TTLs are unsigned 31-bit. */
const MAX_TTL = 2 ** 31 - 1;
/** $INCLUDE nesting bound, so an include loop fails with a message instead of recursing. */
const MAX_INCLUDE_DEPTH = 8;
const SUPPORTED_TYPES = new Set(['A', 'AAAA', 'CNAME', 'NS', 'SOA', 'MX', 'TXT', 'SRV', 'PTR']);
const CLASSES = new Set(['IN', 'CH', 'CS', 'HS']);
const TTL_UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

interface Token {
  text: string;
  quoted: boolean;
  line: number;
}

interface Entry {
  tokens: Token[];
  /** The entry's first physical line began with a space or tab: owner = previous owner. */
  blankOwner: boolean;
  line: number;
}

/** State that flows across $INCLUDE boundaries. */
interface ParseState {
  zoneDirReal: string;
  defaultTtl?: number;
  lastTtl?: number;
  depth: number;
  out: ParsedRecord[];
}

function fail(file: string, line: number, what: string): never {
  throw new HeraldError(ERR.ZONES_PARSE, `${file}:${line}: ${what}`);
}

/** ASCII-only lowercasing: DNS names compare case-insensitively on A-Z only (RFC 4343 §3). */
export function lowerName(name: string): string {
  return /[A-Z]/.test(name) ? name.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32)) : name;
}

/**
 * Splits master-file text into entries (RFC 1035 §5.1): parentheses join physical lines,
 * `;` starts a comment, quotes make one token that may hold spaces. Escapes are kept raw in
 * the token text (`\;` does not start a comment) and decoded by whoever reads the token.
 */
function tokenize(text: string, file: string): Entry[] {
  const entries: Entry[] = [];
  let tokens: Token[] = [];
  let blankOwner = false;
  let entryLine = 1;
  let line = 1;
  let depth = 0;
  let parenLine = 0;
  let atLineStart = true;
  let i = 0;
  const endEntry = () => {
    if (tokens.length > 0) entries.push({ tokens, blankOwner, line: entryLine });
    tokens = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (atLineStart && depth === 0) {
      blankOwner = c === ' ' || c === '\t';
      entryLine = line;
    }
    atLineStart = false;
    if (c === '\n') {
      if (depth === 0) endEntry();
      line++;
      atLineStart = true;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '(') {
      if (depth === 0) parenLine = line;
      depth++;
      i++;
    } else if (c === ')') {
      if (depth === 0) fail(file, line, "')' without a matching '('");
      depth--;
      i++;
    } else if (c === '"') {
      const start = line;
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length || text[i] === '\n') fail(file, start, 'unterminated quoted string');
        const d = text[i];
        if (d === '"') break;
        if (d === '\\' && i + 1 < text.length && text[i + 1] !== '\n') {
          s += d + text[i + 1];
          i += 2;
          continue;
        }
        s += d;
        i++;
      }
      i++;
      tokens.push({ text: s, quoted: true, line: start });
    } else {
      let s = '';
      while (i < text.length) {
        const d = text[i];
        if (d === '\\' && i + 1 < text.length && text[i + 1] !== '\n') {
          s += d + text[i + 1];
          i += 2;
          continue;
        }
        if (d === ' ' || d === '\t' || d === '\r' || d === '\n' || d === ';' || d === '(' || d === ')' || d === '"') break;
        s += d;
        i++;
      }
      tokens.push({ text: s, quoted: false, line });
    }
  }
  if (depth > 0) fail(file, parenLine, "'(' is never closed");
  endEntry();
  return entries;
}

/** Decodes `\DDD` and `\X` (RFC 1035 §5.1) into bytes. */
function decodeEscapes(tok: Token, file: string): Buffer {
  const bytes: number[] = [];
  const s = tok.text;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') {
      const ddd = /^\d{3}/.exec(s.slice(i + 1, i + 4));
      if (ddd) {
        const v = Number(ddd[0]);
        if (v > 255) fail(file, tok.line, `escape \\${ddd[0]} is not a byte`);
        bytes.push(v);
        i += 3;
        continue;
      }
      i++;
      if (i >= s.length) fail(file, tok.line, 'dangling backslash');
    }
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    bytes.push(...Buffer.from(ch, 'utf8'));
    i += ch.length - 1;
  }
  return Buffer.from(bytes);
}

/** Resolves a domain name token against the origin (`@`, relative, absolute). */
function parseName(tok: Token, origin: string, file: string, what: string): string {
  if (tok.quoted) fail(file, tok.line, `${what}: a domain name cannot be quoted`);
  const t = tok.text;
  let name: string;
  if (t === '@') name = origin;
  else if (t === '.') name = '';
  else if (t.includes('\\')) fail(file, tok.line, `${what} '${t}': escapes in names are not supported`);
  else if (t.endsWith('.')) name = t.slice(0, -1);
  else name = origin === '' ? t : `${t}.${origin}`;
  if (/[^\x21-\x7e]/.test(name)) fail(file, tok.line, `${what} '${t}': names must be printable ASCII (use punycode xn-- for IDNs)`);
  if (name !== '') {
    for (const label of name.split('.')) {
      if (label === '') fail(file, tok.line, `${what} '${t}': empty label`);
      if (label.length > 63) fail(file, tok.line, `${what} '${t}': label longer than 63 octets (RFC 1035 §2.3.4)`);
    }
    // 255 octets on the wire = 253 characters in presentation form without the final dot.
    if (name.length > 253) fail(file, tok.line, `${what} '${t}': name longer than 255 octets (RFC 1035 §2.3.4)`);
  }
  return name;
}

/** A TTL: seconds, or BIND units (`1w2d3h4m5s`), at most 2^31-1 (RFC 2181 §8). */
function parseTtlValue(text: string): number | undefined {
  let total: number;
  if (/^\d+$/.test(text)) total = Number(text);
  else if (/^(\d+[smhdwSMHDW])+$/.test(text)) {
    total = 0;
    for (const m of text.matchAll(/(\d+)([smhdwSMHDW])/g)) total += Number(m[1]) * TTL_UNIT[m[2].toLowerCase()];
  } else return undefined;
  return total <= MAX_TTL ? total : undefined;
}

function ttlToken(tok: Token, file: string, what: string): number {
  const v = tok.quoted ? undefined : parseTtlValue(tok.text);
  if (v === undefined) fail(file, tok.line, `${what} '${tok.text}' is not a TTL (seconds or units like 1h30m, at most ${MAX_TTL})`);
  return v;
}

function uintToken(tok: Token, max: number, file: string, what: string): number {
  if (tok.quoted || !/^\d+$/.test(tok.text) || Number(tok.text) > max) {
    fail(file, tok.line, `${what} '${tok.text}' is not an integer from 0 to ${max}`);
  }
  return Number(tok.text);
}

function parseRdata(type: string, owner: string, ttl: number, rd: Token[], origin: string, file: string, line: number): ResourceRecord {
  const need = (n: number) => {
    if (rd.length < n) fail(file, line, `${type} needs ${n} RDATA field${n > 1 ? 's' : ''}, got ${rd.length}`);
    if (rd.length > n) fail(file, rd[n].line, `trailing data after ${type} RDATA: '${rd[n].text}'`);
  };
  const base = { name: owner, ttl };
  switch (type) {
    case 'A': {
      need(1);
      if (rd[0].quoted || !isIPv4(rd[0].text)) fail(file, rd[0].line, `A address '${rd[0].text}' is not an IPv4 address`);
      return { ...base, type, address: rd[0].text };
    }
    case 'AAAA': {
      need(1);
      if (rd[0].quoted || !isIPv6(rd[0].text) || rd[0].text.includes('%')) {
        fail(file, rd[0].line, `AAAA address '${rd[0].text}' is not an IPv6 address`);
      }
      return { ...base, type, address: rd[0].text };
    }
    case 'CNAME':
    case 'NS':
    case 'PTR':
      need(1);
      return { ...base, type, target: parseName(rd[0], origin, file, `${type} target`) };
    case 'MX':
      need(2);
      return {
        ...base,
        type,
        preference: uintToken(rd[0], 65535, file, 'MX preference'),
        exchange: parseName(rd[1], origin, file, 'MX exchange'),
      };
    case 'SRV':
      need(4);
      return {
        ...base,
        type,
        priority: uintToken(rd[0], 65535, file, 'SRV priority'),
        weight: uintToken(rd[1], 65535, file, 'SRV weight'),
        port: uintToken(rd[2], 65535, file, 'SRV port'),
        target: parseName(rd[3], origin, file, 'SRV target'),
      };
    case 'SOA':
      need(7);
      return {
        ...base,
        type,
        mname: parseName(rd[0], origin, file, 'SOA mname'),
        rname: parseName(rd[1], origin, file, 'SOA rname'),
        serial: uintToken(rd[2], 0xffffffff, file, 'SOA serial'),
        refresh: ttlToken(rd[3], file, 'SOA refresh'),
        retry: ttlToken(rd[4], file, 'SOA retry'),
        expire: ttlToken(rd[5], file, 'SOA expire'),
        minimum: ttlToken(rd[6], file, 'SOA minimum'),
      };
    case 'TXT': {
      if (rd.length === 0) fail(file, line, 'TXT needs at least one character-string');
      const texts = rd.map((tok) => {
        const bytes = decodeEscapes(tok, file);
        if (bytes.length > 255) fail(file, tok.line, `TXT string of ${bytes.length} octets is longer than 255 (RFC 1035 §3.3)`);
        const text = bytes.toString('utf8');
        // Records carry TXT as JS strings; bytes that are not UTF-8 would not survive the trip.
        if (!Buffer.from(text, 'utf8').equals(bytes)) fail(file, tok.line, 'TXT string is not valid UTF-8');
        return text;
      });
      return { ...base, type, texts };
    }
  }
  fail(file, line, `unsupported type ${type}`);
}

async function parseInto(text: string, file: string, origin: string, state: ParseState): Promise<void> {
  let owner: string | undefined;
  for (const entry of tokenize(text, file)) {
    const toks = entry.tokens;
    const first = toks[0];
    if (!first.quoted && first.text.startsWith('$')) {
      const directive = first.text.toUpperCase();
      if (directive === '$ORIGIN') {
        if (toks.length !== 2) fail(file, entry.line, '$ORIGIN takes one domain name');
        origin = parseName(toks[1], origin, file, '$ORIGIN');
      } else if (directive === '$TTL') {
        if (toks.length !== 2) fail(file, entry.line, '$TTL takes one TTL');
        state.defaultTtl = ttlToken(toks[1], file, '$TTL');
      } else if (directive === '$INCLUDE') {
        if (toks.length < 2 || toks.length > 3) fail(file, entry.line, '$INCLUDE takes a file name and an optional origin');
        await includeFile(toks, file, entry.line, origin, state);
      } else {
        fail(file, entry.line, `unknown directive ${first.text}`);
      }
      continue;
    }
    let i = 0;
    if (!entry.blankOwner) {
      owner = parseName(first, origin, file, 'owner');
      i = 1;
    } else if (owner === undefined) {
      fail(file, entry.line, 'record has no owner name and there is no previous owner');
    }
    let ttl: number | undefined;
    let klass: string | undefined;
    // RFC 1035 §5.1: [<TTL>] [<class>] <type> or [<class>] [<TTL>] <type>.
    for (let k = 0; k < 2 && i < toks.length; k++) {
      const t = toks[i];
      if (t.quoted) break;
      if (/^\d/.test(t.text)) {
        if (ttl !== undefined) fail(file, t.line, `second TTL '${t.text}'`);
        ttl = ttlToken(t, file, 'TTL');
        i++;
      } else if (CLASSES.has(t.text.toUpperCase())) {
        if (klass !== undefined) fail(file, t.line, `second class '${t.text}'`);
        klass = t.text.toUpperCase();
        i++;
      } else break;
    }
    if (klass !== undefined && klass !== 'IN') fail(file, entry.line, `class ${klass} is not supported (only IN)`);
    if (i >= toks.length) fail(file, entry.line, 'record has no type');
    const typeTok = toks[i];
    const type = typeTok.text.toUpperCase();
    if (typeTok.quoted || !SUPPORTED_TYPES.has(type)) {
      fail(file, typeTok.line, `unsupported or missing type '${typeTok.text}' (supported: ${[...SUPPORTED_TYPES].join(' ')})`);
    }
    const rdata = toks.slice(i + 1);
    if (ttl !== undefined) state.lastTtl = ttl;
    // Without an explicit TTL: $TTL (RFC 2308 §4), else the last explicit TTL (RFC 1035 §5.1);
    // an SOA with neither uses its own minimum, as BIND does for files that predate $TTL.
    let effective = ttl ?? state.defaultTtl ?? state.lastTtl;
    if (effective === undefined && type === 'SOA' && rdata.length === 7) {
      effective = ttlToken(rdata[6], file, 'SOA minimum');
    }
    if (effective === undefined) fail(file, entry.line, 'record has no TTL and no $TTL is set');
    const rr = parseRdata(type, owner!, effective, rdata, origin, file, entry.line);
    state.out.push({ rr, file, line: entry.line });
  }
}

async function includeFile(toks: Token[], file: string, line: number, origin: string, state: ParseState): Promise<void> {
  const nameTok = toks[1];
  const target = path.resolve(path.dirname(file), nameTok.quoted ? nameTok.text : decodeEscapes(nameTok, file).toString('utf8'));
  const includeOrigin = toks.length === 3 ? parseName(toks[2], origin, file, '$INCLUDE origin') : origin;
  if (state.depth >= MAX_INCLUDE_DEPTH) fail(file, line, `$INCLUDE nested deeper than ${MAX_INCLUDE_DEPTH} (a loop?)`);
  let real: string;
  try {
    real = await realpath(target);
  } catch (err) {
    fail(file, line, `$INCLUDE ${nameTok.text}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  // Symlinks resolved first, so a link cannot smuggle a file from outside the zone directory.
  if (real !== state.zoneDirReal && !real.startsWith(state.zoneDirReal + path.sep)) {
    fail(file, line, `$INCLUDE ${nameTok.text} is outside the zone directory ${state.zoneDirReal}`);
  }
  let text: string;
  try {
    text = await readFile(real, 'utf8');
  } catch (err) {
    fail(file, line, `$INCLUDE ${nameTok.text}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  state.depth++;
  // RFC 1035 §5.1: the included file starts at the given origin; ours is untouched on return.
  await parseInto(text, target, includeOrigin, state);
  state.depth--;
}

/**
 * Parses master-file text. `file` names the text in errors and anchors relative $INCLUDEs.
 * Returns the records in file order (includes expanded in place); no zone-level checks.
 */
export async function parseZoneText(text: string, file: string, options: ParseOptions): Promise<ParsedRecord[]> {
  const dir = options.zoneDir ?? path.dirname(file);
  let zoneDirReal: string;
  try {
    zoneDirReal = await realpath(dir);
  } catch {
    zoneDirReal = path.resolve(dir);
  }
  const state: ParseState = { zoneDirReal, depth: 0, out: [] };
  await parseInto(text, file, options.origin, state);
  return state.out;
}

function sameRecord(a: ResourceRecord, b: ResourceRecord): boolean {
  const { ttl: _a, name: an, ...ra } = a;
  const { ttl: _b, name: bn, ...rb } = b;
  return lowerName(an) === lowerName(bn) && JSON.stringify(ra) === JSON.stringify(rb);
}

function isAtOrBelow(lname: string, lorigin: string): boolean {
  return lorigin === '' || lname === lorigin || lname.endsWith('.' + lorigin);
}

/**
 * Reads and validates one zone file. The starting origin is the file name minus `.zone`;
 * $ORIGIN or the SOA owner override it. Checks: exactly one SOA, which defines the apex;
 * every record at or below the apex; CNAME alone at its name (RFC 1034 §3.6.2, RFC 2181 §10.1).
 */
export async function loadZoneFile(file: string, zoneDir: string = path.dirname(file)): Promise<LoadedZone> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    fail(file, 0, `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const base = path.basename(file).replace(/\.zone$/, '');
  const start = base === '' || base === '.' || base === 'root' ? '' : base.replace(/\.$/, '');
  const parsed = await parseZoneText(text, file, { origin: start, zoneDir });
  const soas = parsed.filter((p) => p.rr.type === 'SOA');
  if (soas.length === 0) fail(file, parsed[0]?.line ?? 1, 'no SOA record: each zone file needs exactly one, at its apex');
  if (soas.length > 1) fail(soas[1].file, soas[1].line, `second SOA record (the first is at ${soas[0].file}:${soas[0].line})`);
  const soa = soas[0].rr as LoadedZone['soa'];
  const lorigin = lowerName(soa.name);
  const records: ResourceRecord[] = [];
  const byName = new Map<string, ParsedRecord[]>();
  for (const p of parsed) {
    const lname = lowerName(p.rr.name);
    if (!isAtOrBelow(lname, lorigin)) {
      fail(p.file, p.line, `${p.rr.name || '.'} is outside the zone ${soa.name || '.'} (its SOA is at ${soas[0].file}:${soas[0].line})`);
    }
    const here = byName.get(lname) ?? [];
    if (here.some((q) => sameRecord(q.rr, p.rr))) continue;
    const cname = here.find((q) => q.rr.type === 'CNAME');
    if (cname || (p.rr.type === 'CNAME' && here.length > 0)) {
      const other = cname ?? here[0];
      fail(p.file, p.line, `${p.rr.name}: a CNAME cannot share its name with other records (RFC 1034 §3.6.2; see ${other.file}:${other.line})`);
    }
    here.push(p);
    byName.set(lname, here);
    records.push(p.rr);
  }
  return { origin: soa.name, file, soa, records };
}

/**
 * Loads every `*.zone` file directly in `dir` (sub-directories and dot-files are skipped; they
 * may hold $INCLUDE fragments). Returns undefined, and logs, when `dir` is unset or missing.
 * Any file that fails throws, and no zone is returned: callers keep what they had.
 */
export async function loadZoneDirectory(dir: string | undefined, log: Logger): Promise<LoadedZone[] | undefined> {
  if (!dir) {
    log.info('no zone directory configured; serving no static zones');
    return undefined;
  }
  try {
    if (!(await stat(dir)).isDirectory()) {
      log.warn(`zone directory ${dir} is not a directory; serving no static zones`);
      return undefined;
    }
  } catch {
    log.warn(`zone directory ${dir} does not exist; serving no static zones`);
    return undefined;
  }
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => !d.name.startsWith('.') && d.name.endsWith('.zone') && (d.isFile() || d.isSymbolicLink()))
    .map((d) => d.name)
    .sort();
  const zones: LoadedZone[] = [];
  const byOrigin = new Map<string, LoadedZone>();
  for (const name of names) {
    const zone = await loadZoneFile(path.join(dir, name), dir);
    const key = lowerName(zone.origin);
    const dup = byOrigin.get(key);
    if (dup) fail(zone.file, 1, `zone ${zone.origin || '.'} is already loaded from ${dup.file}`);
    byOrigin.set(key, zone);
    zones.push(zone);
  }
  return zones;
}

function presentName(name: string): string {
  return name + '.';
}

function presentTxt(text: string): string {
  let out = '"';
  for (const b of Buffer.from(text, 'utf8')) {
    if (b === 0x22 || b === 0x5c) out += '\\' + String.fromCharCode(b);
    else if (b < 0x20 || b >= 0x7f) out += '\\' + String(b).padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return out + '"';
}

/**
 * One record in master-file presentation form (RFC 1035 §5.1), absolute names, class IN:
 * `www.example.internal. 300 IN A 192.0.2.1`. `parseZoneText` reads it back to the same record.
 */
export function formatRecord(rr: ResourceRecord): string {
  const head = `${presentName(rr.name)} ${rr.ttl} IN ${rr.type}`;
  switch (rr.type) {
    case 'A':
    case 'AAAA':
      return `${head} ${rr.address}`;
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return `${head} ${presentName(rr.target)}`;
    case 'MX':
      return `${head} ${rr.preference} ${presentName(rr.exchange)}`;
    case 'SRV':
      return `${head} ${rr.priority} ${rr.weight} ${rr.port} ${presentName(rr.target)}`;
    case 'TXT':
      return `${head} ${rr.texts.map(presentTxt).join(' ')}`;
    case 'SOA':
      return `${head} ${presentName(rr.mname)} ${presentName(rr.rname)} ${rr.serial} ${rr.refresh} ${rr.retry} ${rr.expire} ${rr.minimum}`;
  }
}
