/**
 * Request JSON read the way Go's encoding/json fills a struct: a field matches its exact name
 * first, else the first key equal to it without regard to case (python-consul sends `name`,
 * `ttl`, `lockdelay`); unknown keys are ignored; a value of the wrong type is an error in Go's
 * words (`json: cannot unmarshal number into Go struct field Session.Name of type string`).
 *
 * Also a lossless parse: integers beyond 2^53 (uint64 Flags and indexes in a transaction) are
 * kept exactly instead of being rounded by JSON.parse.
 */

/** A big integer that JSON.parse would have rounded, carried as its decimal text. */
export class BigIntText {
  constructor(readonly text: string) {}
}

const BIG_MARK = '\u0000bigint:';

/**
 * JSON.parse, except integer literals that are not safe JS integers come back as BigIntText.
 * Throws SyntaxError as JSON.parse does.
 */
export function parseJsonLossless(text: string): unknown {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < text.length && /[0-9eE.+-]/.test(text[j]!)) j++;
      const tok = text.slice(i, j);
      if (/^-?[0-9]{16,}$/.test(tok) && !Number.isSafeInteger(Number(tok))) {
        out += text.slice(from, i) + JSON.stringify(BIG_MARK + tok);
        from = j;
      }
      i = j - 1;
    }
  }
  if (from === 0) return JSON.parse(text);
  out += text.slice(from);
  return JSON.parse(out, (_k, v) => (typeof v === 'string' && v.startsWith(BIG_MARK) ? new BigIntText(v.slice(BIG_MARK.length)) : v));
}

/** Go's name for a JSON value's type in unmarshal errors. */
export function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof BigIntText) return 'number';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      return 'object';
  }
}

/** Decode error in Go's words; the caller prefixes the endpoint's own text. */
export class GoDecodeError extends Error {}

/** A JSON object read as a Go struct named `type` (for error messages). */
export class GoFields {
  private readonly obj: Record<string, unknown>;
  constructor(
    value: unknown,
    readonly type: string,
  ) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof BigIntText) {
      throw new GoDecodeError(`json: cannot unmarshal ${jsonKind(value)} into Go value of type ${type}`);
    }
    this.obj = value as Record<string, unknown>;
  }

  /** True when the body has the field (exact or case-insensitive). */
  has(name: string): boolean {
    return this.key(name) !== undefined;
  }

  private key(name: string): string | undefined {
    if (Object.hasOwn(this.obj, name)) return name;
    const lower = name.toLowerCase();
    for (const k of Object.keys(this.obj)) if (k.toLowerCase() === lower) return k;
    return undefined;
  }

  /** The raw value (undefined when absent). */
  raw(name: string): unknown {
    const k = this.key(name);
    return k === undefined ? undefined : this.obj[k];
  }

  private wrong(name: string, v: unknown, goType: string): GoDecodeError {
    return new GoDecodeError(`json: cannot unmarshal ${jsonKind(v)} into Go struct field ${this.type.split('.').pop()}.${name} of type ${goType}`);
  }

  /** A string field; null and absent give undefined (Go leaves the field as it was). */
  string(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw this.wrong(name, v, 'string');
    return v;
  }

  /** A string list; absent gives undefined, null gives null (Go sets the slice to nil). */
  stringList(name: string, goType = '[]string'): string[] | null | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (v === null) return null;
    if (!Array.isArray(v)) throw this.wrong(name, v, goType);
    return v.map((x) => {
      if (typeof x !== 'string') throw this.wrong(name, x, 'string');
      return x;
    });
  }

  /** A list of objects; absent gives undefined, null gives null. */
  objectList(name: string, elemType: string): GoFields[] | null | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (v === null) return null;
    if (!Array.isArray(v)) throw this.wrong(name, v, `[]${elemType}`);
    return v.map((x) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) throw this.wrong(name, x, elemType);
      return new GoFields(x, elemType);
    });
  }

  /** A uint64 field as a decimal string; absent or null gives undefined. */
  uint64(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined || v === null) return undefined;
    if (v instanceof BigIntText) {
      if (v.text.startsWith('-') || BigInt(v.text) >= 1n << 64n) throw new GoDecodeError(`json: cannot unmarshal number ${v.text} into Go struct field ${this.type.split('.').pop()}.${name} of type uint64`);
      return v.text;
    }
    if (typeof v !== 'number') throw this.wrong(name, v, 'uint64');
    if (!Number.isInteger(v) || v < 0) throw new GoDecodeError(`json: cannot unmarshal number ${v} into Go struct field ${this.type.split('.').pop()}.${name} of type uint64`);
    return BigInt(v).toString();
  }
}
