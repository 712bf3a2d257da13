/**
 * Go's text forms that Consul's error strings carry, so Herald's read the same: `%q` / `%#v`
 * quoting, strconv.ParseUint errors, go-memdb's UUID index errors, url.Values.Encode.
 */

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };

/** Go's strconv.Quote (what `%q` and `%#v` print for a string). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const short = SHORT[ch];
    if (short) out += short;
    else if (PRINTABLE.test(ch)) out += ch;
    else {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x80) out += '\\x' + cp.toString(16).padStart(2, '0');
      else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
      else out += '\\U' + cp.toString(16).padStart(8, '0');
    }
  }
  return out + '"';
}

const MAX_UINT64 = (1n << 64n) - 1n;

/** Go's strconv.ParseUint(s, 10, 64); throws Error with Go's message (`strconv.ParseUint: parsing "x": invalid syntax`). */
export function parseUint64(s: string): bigint {
  if (!/^[0-9]+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v > MAX_UINT64) throw new Error(`strconv.ParseUint: parsing ${goQuote(s)}: value out of range`);
  return v;
}

/**
 * The key go-memdb's UUID index looks a session up by: the hex digits with hyphens removed,
 * lowercased (so `ABC…` and `abc…` are one session, as in Consul). Throws Error with Consul's
 * index message for what it cannot parse (`UUID must be 36 characters`, ...).
 */
export function sessionLookupKey(id: string): string {
  if (Buffer.byteLength(id, 'utf8') !== 36) throw new Error('UUID must be 36 characters');
  const hyphens = id.split('-').length - 1;
  if (hyphens > 4) throw new Error(`UUID should have maximum of 4 "-"; got ${hyphens}`);
  const hex = id.replaceAll('-', '');
  if (hex.length % 2 !== 0) throw new Error('UUID (without hyphens) must be even length');
  const bad = /[^0-9a-fA-F]/u.exec(hex);
  if (bad) {
    const cp = bad[0].codePointAt(0)!;
    throw new Error(`invalid UUID: encoding/hex: invalid byte: U+${cp.toString(16).toUpperCase().padStart(4, '0')} ${goQuoteRune(bad[0])}`);
  }
  return hex.toLowerCase();
}

function goQuoteRune(ch: string): string {
  return `'${ch === "'" ? "\\'" : ch}'`;
}

/** Go's url.QueryEscape. */
function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}

/** Go's url.Values.Encode: keys sorted, `k=v` pairs joined with `&`, each value of a repeated key in order. */
export function encodeGoValues(params: [string, string[]][]): string {
  const sorted = [...params].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const parts: string[] = [];
  for (const [k, vs] of sorted) for (const v of vs) parts.push(`${queryEscape(k)}=${queryEscape(v)}`);
  return parts.join('&');
}

/**
 * Go's base64.StdEncoding.DecodeString: padding required, `\r` and `\n` skipped, anything else
 * refused with Go's `illegal base64 data at input byte N` (N is a byte offset into the input).
 * Returns the canonical base64 of the decoded bytes (null for none), or the error text.
 */
export function decodeGoBase64(text: string): { value: string | null } | { error: string } {
  const src = Buffer.from(text, 'utf8');
  const err = (at: number) => ({ error: `illegal base64 data at input byte ${at}` });
  const isB64 = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
  const nl = (c: number | undefined) => c === 10 || c === 13;
  let si = 0;
  let clean = '';
  for (;;) {
    // One quantum of four characters.
    let j = 0;
    let ended = false;
    for (; j < 4; j++) {
      while (si < src.length && nl(src[si])) si++;
      if (si === src.length) {
        if (j === 0) return { value: clean === '' ? null : Buffer.from(clean, 'base64').toString('base64') };
        return err(si - j);
      }
      const c = src[si]!;
      si++;
      if (isB64(c)) {
        clean += String.fromCharCode(c);
        continue;
      }
      if (c !== 61) return err(si - 1);
      // Padding: only in the third or fourth place of the last quantum.
      if (j === 0 || j === 1) return err(si - 1);
      if (j === 2) {
        while (si < src.length && nl(src[si])) si++;
        if (si === src.length) return err(src.length);
        if (src[si] !== 61) return err(si - 1);
        si++;
      }
      while (si < src.length && nl(src[si])) si++;
      if (si < src.length) return err(si);
      ended = true;
      break;
    }
    if (ended) return { value: clean === '' ? null : Buffer.from(clean, 'base64').toString('base64') };
  }
}
