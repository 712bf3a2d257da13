/**
 * Request bodies: size limit and JSON decoding.
 *
 * Consul ignores the Content-Type of API bodies (clients send none, `text/plain`, or a form
 * type), so the server takes every body as raw bytes (see server.ts) and the route decodes it
 * here. The size limit is enforced by fastify while reading (413 before the body is buffered).
 * Nesting is bounded before parsing, so a hostile `[[[[...` cannot drive recursive code later
 * (the filter, the case-insensitive readers) into a stack overflow.
 */
import { badRequest } from './http-error.ts';

/**
 * Default body limit: 512 KiB. Consul has no general limit for JSON API bodies but bounds KV
 * values and transactions at 512 KiB (`kv_max_value_size`, `txn_max_req_len`); the largest
 * legitimate JSON body here (a service with its checks) is a few KiB, so the same figure
 * leaves room for any real client while capping what one request can make the agent buffer.
 */
export const DEFAULT_MAX_BODY_BYTES = 512 * 1024;

/**
 * Deepest array/object nesting accepted. Go's decoder allows 10 000; Consul's deepest real
 * body (a service's check `Header` map of lists) nests 4 levels, so 64 refuses nothing real.
 */
export const MAX_JSON_DEPTH = 64;

/** True when the JSON text nests arrays/objects deeper than `max` (strings are skipped). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The raw body as the server hands it to routes: bytes, or undefined when there was none. */
export type RawBody = Buffer | undefined;

/**
 * Decodes a JSON body. An absent or empty body throws 400 `Request decode failed: EOF` (Go's
 * decoder error) unless `allowEmpty`, which returns undefined. Malformed or too deeply nested
 * JSON throws 400 `Request decode failed: <reason>`.
 */
export function decodeJsonBody(body: unknown, opts: { allowEmpty?: boolean } = {}): unknown {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '';
  if (text.trim() === '') {
    if (opts.allowEmpty) return undefined;
    throw badRequest('Request decode failed: EOF');
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw badRequest(`Request decode failed: JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`Request decode failed: ${(err as Error).message}`);
  }
}
