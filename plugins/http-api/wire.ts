/**
 * Response bodies on the wire (consul-compat.md §0): compact JSON, or Go's
 * `json.MarshalIndent(obj, "", "    ")` plus a newline under `?pretty`; uint64 values (indexes,
 * Flags) exact; plain-text error bodies with no JSON wrapper; empty 200 bodies for writes that
 * return nothing.
 *
 * Exact uint64 without a per-key replacer: response objects carry indexes as JS numbers when
 * they fit in 2^53 (every index a real log reaches) and as bigint only beyond. The common case
 * is then one plain `JSON.stringify` (the fastest path V8 has); only a body that really holds a
 * bigint takes the slower writer below, which prints it as a bare JSON number.
 */
import type { FastifyReply } from 'fastify';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A uint64 as it sits in a response object: a number when exact, the bigint otherwise. */
export type WireUint = number | bigint;

/** `v` as a response value: a number if it is exactly representable, else the bigint itself. */
export function wireUint(v: bigint): WireUint {
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
}

/**
 * JSON text of `value`. Compact by default; `pretty` indents with four spaces and ends with a
 * newline, as Consul's `?pretty` does. bigints are written as exact JSON numbers. `undefined`
 * (nothing to encode) gives `null`.
 */
export function encodeJson(value: unknown, pretty = false): string {
  let text: string | undefined;
  try {
    text = pretty ? JSON.stringify(value, null, 4) : JSON.stringify(value);
  } catch (err) {
    // JSON.stringify refuses bigint with a TypeError; anything else (a cycle) is a real bug.
    if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
    text = writeJson(value, pretty ? '    ' : '', '');
  }
  if (text === undefined) text = 'null';
  return pretty ? text + '\n' : text;
}

/** JSON.stringify's output format, by hand, with bigint support. */
function writeJson(value: unknown, indent: string, current: string): string | undefined {
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const obj = value as { toJSON?: () => unknown };
  if (typeof obj.toJSON === 'function') return writeJson(obj.toJSON(), indent, current);
  const inner = current + indent;
  const open = indent ? '\n' + inner : '';
  const sep = indent ? ',\n' + inner : ',';
  const close = indent ? '\n' + current : '';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const parts = value.map((v) => writeJson(v, indent, inner) ?? 'null');
    return '[' + open + parts.join(sep) + close + ']';
  }
  const parts: string[] = [];
  for (const key of Object.keys(value as object)) {
    const v = writeJson((value as Record<string, unknown>)[key], indent, inner);
    if (v !== undefined) parts.push(JSON.stringify(key) + (indent ? ': ' : ':') + v);
  }
  if (parts.length === 0) return '{}';
  return '{' + open + parts.join(sep) + close + '}';
}

const identity = (s: string): string => s;

/**
 * Sends `value` as `application/json`, exactly the type Consul sends. fastify appends
 * `; charset=utf-8` to a JSON type sent as a string unless the reply has its own serializer,
 * so the text goes through an identity one (sending a Buffer instead would copy every body
 * over 4 KiB into a fresh allocation).
 */
export function sendJson(reply: FastifyReply, value: unknown, pretty: boolean): FastifyReply {
  return reply.serializer(identity).header('content-type', 'application/json').send(encodeJson(value, pretty));
}

/** Sends a plain-text body with `status` (Consul's error bodies: no JSON wrapper). */
export function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(text);
}

/** 200 with an empty body: what Consul's agent writes answer when a handler returns nothing. */
export function sendEmpty(reply: FastifyReply): FastifyReply {
  return reply.code(200).send();
}
