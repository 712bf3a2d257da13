/**
 * The payload encoding of RPC frames: a small tagged binary format (in the spirit of CBOR, far
 * smaller) for the values servers and agents exchange — Raft messages with bigint indexes and
 * Buffer entries, request bodies, change-stream items.
 *
 * Why not JSON: no bigint, Buffers would need base64 (+33 %, a copy each way). Why not
 * node:v8 serialize: its format follows the V8 version, and servers on different Node
 * versions must talk during a rolling upgrade; decoding it from the network is also a larger
 * attack surface than this. This format is defined here, fixed, and decoded with every
 * length checked against the input, so garbage is refused with an error, never a crash or a
 * huge allocation.
 *
 * Values (tag byte, then):
 *   0x00 undefined | 0x01 null | 0x02 false | 0x03 true
 *   0x04 uint: LEB128, a non-negative safe integer   0x05 nint: LEB128 m, the value is -m (m >= 1)
 *   0x06 float64, big-endian (every other number: fractions, -0, NaN, ±Infinity, |n| > 2^53-1)
 *   0x07 bigint >= 0: LEB128 (at most 2^64-1)        0x08 bigint < 0: LEB128 m, value -m
 *   0x09 string: LEB128 byte length, UTF-8            0x0a bytes: LEB128 length, raw
 *   0x0b array: LEB128 count, items                   0x0c object: LEB128 count, (key string body, value)*
 *
 * Objects must be plain (prototype Object.prototype or null); own enumerable string keys whose
 * value is `undefined` are left out, as JSON does, so an absent optional field stays absent.
 * Bigints are limited to ±(2^64-1) (Raft terms and indexes are u64). Nesting is limited to
 * MAX_DEPTH, which also turns a cycle into an error.
 */
import { ERR, RpcError } from './rpc-error.ts';

const T_UNDEFINED = 0x00;
const T_NULL = 0x01;
const T_FALSE = 0x02;
const T_TRUE = 0x03;
const T_UINT = 0x04;
const T_NINT = 0x05;
const T_F64 = 0x06;
const T_BIGU = 0x07;
const T_BIGN = 0x08;
const T_STRING = 0x09;
const T_BYTES = 0x0a;
const T_ARRAY = 0x0b;
const T_OBJECT = 0x0c;

/** Deepest nesting of arrays/objects accepted either way. */
export const MAX_DEPTH = 64;

const U64_MAX = (1n << 64n) - 1n;
const SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * What the codec carries. Documentation for callers: the codec takes `unknown` and checks at
 * run time, because interfaces such as the Raft core's `Message` are not assignable to an
 * index-signature type.
 */
export type RpcValue =
  | undefined
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | readonly RpcValue[]
  | { readonly [key: string]: RpcValue };

function encodeError(msg: string): RpcError {
  return new RpcError(ERR.RPC_ENCODE, `cannot encode value: ${msg}`);
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Bytes `value` takes encoded; throws RpcError(RPC_ENCODE) for what the format cannot carry. */
export function encodedSize(value: unknown): number {
  return measure(value, 0);
}

function measure(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'undefined':
    case 'boolean':
      return 1;
    case 'number':
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) return 1 + varintSize(v < 0 ? -v : v);
      return 9;
    case 'bigint': {
      const m = v < 0n ? -v : v;
      if (m > U64_MAX) throw encodeError(`bigint ${v} is outside ±(2^64-1)`);
      if (m <= SAFE_BIG) return 1 + varintSize(Number(m));
      let size = 1;
      for (let x = m; x >= 128n; x >>= 7n) size++;
      return 1 + size;
    }
    case 'string': {
      const n = Buffer.byteLength(v, 'utf8');
      return 1 + varintSize(n) + n;
    }
    case 'object': {
      if (v === null) return 1;
      if (depth >= MAX_DEPTH) throw encodeError(`nested deeper than ${MAX_DEPTH} (or cyclic)`);
      if (v instanceof Uint8Array) return 1 + varintSize(v.length) + v.length;
      if (Array.isArray(v)) {
        let size = 1 + varintSize(v.length);
        for (let i = 0; i < v.length; i++) size += measure(v[i], depth + 1);
        return size;
      }
      if (!isPlainObject(v)) throw encodeError(`${describe(v)} is not a plain object`);
      let count = 0;
      let size = 0;
      for (const key of Object.keys(v)) {
        const item = (v as Record<string, unknown>)[key];
        if (item === undefined) continue;
        count++;
        const klen = Buffer.byteLength(key, 'utf8');
        size += varintSize(klen) + klen + measure(item, depth + 1);
      }
      return 1 + varintSize(count) + size;
    }
    default:
      throw encodeError(`a ${typeof v} cannot be sent`);
  }
}

function describe(v: object): string {
  const name = (v as { constructor?: { name?: string } }).constructor?.name;
  return name ? `a ${name}` : 'an object';
}

/**
 * Writes `value` into `buf` at `pos` (which must have `encodedSize(value)` bytes of room) and
 * returns the position after it. Call encodedSize first: it does the validation.
 */
export function writeValue(buf: Buffer, pos: number, value: unknown): number {
  return write(buf, pos, value);
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

function writeBigVarint(buf: Buffer, pos: number, m: bigint): number {
  if (m <= SAFE_BIG) return writeVarint(buf, pos, Number(m));
  while (m >= 128n) {
    buf[pos++] = Number(m & 0x7fn) | 0x80;
    m >>= 7n;
  }
  buf[pos++] = Number(m);
  return pos;
}

function write(buf: Buffer, pos: number, v: unknown): number {
  switch (typeof v) {
    case 'undefined':
      buf[pos] = T_UNDEFINED;
      return pos + 1;
    case 'boolean':
      buf[pos] = v ? T_TRUE : T_FALSE;
      return pos + 1;
    case 'number':
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        buf[pos] = v < 0 ? T_NINT : T_UINT;
        return writeVarint(buf, pos + 1, v < 0 ? -v : v);
      }
      buf[pos] = T_F64;
      buf.writeDoubleBE(v, pos + 1);
      return pos + 9;
    case 'bigint':
      buf[pos] = v < 0n ? T_BIGN : T_BIGU;
      return writeBigVarint(buf, pos + 1, v < 0n ? -v : v);
    case 'string': {
      buf[pos] = T_STRING;
      const n = Buffer.byteLength(v, 'utf8');
      pos = writeVarint(buf, pos + 1, n);
      return pos + buf.write(v, pos, n, 'utf8');
    }
    default: {
      const o = v as object | null;
      if (o === null) {
        buf[pos] = T_NULL;
        return pos + 1;
      }
      if (o instanceof Uint8Array) {
        buf[pos] = T_BYTES;
        pos = writeVarint(buf, pos + 1, o.length);
        buf.set(o, pos);
        return pos + o.length;
      }
      if (Array.isArray(o)) {
        buf[pos] = T_ARRAY;
        pos = writeVarint(buf, pos + 1, o.length);
        for (let i = 0; i < o.length; i++) pos = write(buf, pos, o[i]);
        return pos;
      }
      const rec = o as Record<string, unknown>;
      const keys = Object.keys(rec).filter((k) => rec[k] !== undefined);
      buf[pos] = T_OBJECT;
      pos = writeVarint(buf, pos + 1, keys.length);
      for (const key of keys) {
        const klen = Buffer.byteLength(key, 'utf8');
        pos = writeVarint(buf, pos, klen);
        pos += buf.write(key, pos, klen, 'utf8');
        pos = write(buf, pos, rec[key]);
      }
      return pos;
    }
  }
}

/** `value` encoded on its own (tests, callers that want the bytes). */
export function encodeValue(value: unknown): Buffer {
  const out = Buffer.allocUnsafe(encodedSize(value));
  writeValue(out, 0, value);
  return out;
}

/** Options for decoding. */
export interface DecodeOptions {
  /**
   * When false, byte strings come back as views into `buf` (no copy). That pins the whole
   * buffer `buf` is a view of (for a socket, a read chunk of up to 64 KiB) for as long as the
   * value lives, so the default copies; pass false only for values dropped soon after.
   */
  readonly copyBytes?: boolean;
}

function decodeError(msg: string): RpcError {
  return new RpcError(ERR.RPC_PROTOCOL, `malformed value: ${msg}`);
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly copy: boolean,
  ) {
    this.pos = start;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw decodeError('truncated');
    return this.buf[this.pos++]!;
  }

  /** A LEB128 integer that must stay a safe integer (lengths, counts, uint/nint). */
  varint(): number {
    let result = 0;
    let mult = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mult;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw decodeError('integer above 2^53-1');
        return result;
      }
      mult *= 128;
    }
    throw decodeError('integer longer than 8 bytes');
  }

  bigVarint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        if (result > U64_MAX) throw decodeError('bigint above 2^64-1');
        return result;
      }
      shift += 7n;
    }
    throw decodeError('bigint longer than 10 bytes');
  }

  /** A length that must fit in what is left of the input. */
  length(): number {
    const n = this.varint();
    if (n > this.buf.length - this.pos) throw decodeError(`length ${n} runs past the end`);
    return n;
  }

  /** An element count; each element takes at least one byte, so a count beyond the bytes left is a lie. */
  count(): number {
    const n = this.varint();
    if (n > this.buf.length - this.pos) throw decodeError(`count ${n} is more than the bytes left`);
    return n;
  }

  string(): string {
    const n = this.length();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  value(depth: number): unknown {
    const tag = this.byte();
    switch (tag) {
      case T_UNDEFINED:
        return undefined;
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_UINT:
        return this.varint();
      case T_NINT: {
        const m = this.varint();
        if (m === 0) throw decodeError('negative zero integer');
        return -m;
      }
      case T_F64: {
        if (this.pos + 8 > this.buf.length) throw decodeError('truncated float');
        const f = this.buf.readDoubleBE(this.pos);
        this.pos += 8;
        return f;
      }
      case T_BIGU:
        return this.bigVarint();
      case T_BIGN: {
        const m = this.bigVarint();
        if (m === 0n) throw decodeError('negative zero bigint');
        return -m;
      }
      case T_STRING:
        return this.string();
      case T_BYTES: {
        const n = this.length();
        const view = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        return this.copy ? Buffer.from(view) : view;
      }
      case T_ARRAY: {
        if (depth >= MAX_DEPTH) throw decodeError(`nested deeper than ${MAX_DEPTH}`);
        const n = this.count();
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
        return out;
      }
      case T_OBJECT: {
        if (depth >= MAX_DEPTH) throw decodeError(`nested deeper than ${MAX_DEPTH}`);
        const n = this.count();
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const key = this.string();
          const item = this.value(depth + 1);
          // A '__proto__' key must become a property, not swap the object's prototype.
          if (key === '__proto__') {
            Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
          } else {
            out[key] = item;
          }
        }
        return out;
      }
      default:
        throw decodeError(`unknown tag 0x${tag.toString(16)}`);
    }
  }
}

/**
 * Decodes the one value that fills `buf` from `start` to its end. Throws RpcError(RPC_PROTOCOL)
 * for anything malformed (unknown tag, truncation, lengths past the end, trailing bytes, too
 * deep); never allocates more than the input's size allows.
 */
export function decodeValue(buf: Buffer, start = 0, opts: DecodeOptions = {}): unknown {
  const r = new Reader(buf, start, opts.copyBytes ?? true);
  const v = r.value(0);
  if (r.pos !== buf.length) throw decodeError(`${buf.length - r.pos} trailing bytes`);
  return v;
}
