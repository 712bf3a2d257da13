/**
 * Go ServeMux path cleaning (consul-compat.md §0): a request whose decoded path is not
 * canonical (`//`, `/./`, `/../`, a trailing `/.` or `/..`) gets a 301 to the cleaned path,
 * so `/v1/kv//foo` and `/v1/agent/../agent/self` redirect rather than reach a handler. Like Go,
 * the check runs on the percent-decoded path: `%2F%2E%2E%2F` is `/../` and redirects too,
 * while a lone `%2F` inside an ID is just a `/` in that ID and needs no cleaning.
 */

/** Go's path.Clean: lexical processing of `.`, `..` and repeated slashes, for absolute paths. */
export function goPathClean(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return '/' + out.join('/');
}

/** Go's cleanPath in net/http: path.Clean, keeping a trailing slash the request had. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  if (p[0] !== '/') p = '/' + p;
  let np = goPathClean(p);
  if (p.endsWith('/') && np !== '/') np += '/';
  return np;
}

/** Characters Go leaves unescaped in a path besides unreserved ones (url.shouldEscape, encodePath). */
const KEEP = /%(24|26|2B|2C|3A|3B|3D|40)/g;

/** Re-escapes a cleaned path for a Location header, as Go's url.URL.String does. */
export function escapePath(p: string): string {
  return p
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(KEEP, (m) => decodeURIComponent(m)))
    .join('/');
}

/**
 * Where a request for `rawUrl` (path plus optional query, as received) must be redirected, or
 * undefined when its path is already clean (or cannot be decoded: the router answers that 400).
 * Fast for the common case: a path with no `%`, `//` or `/.` is clean without decoding.
 */
export function redirectFor(rawUrl: string): string | undefined {
  const q = rawUrl.indexOf('?');
  const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
  if (!rawPath.includes('%') && !rawPath.includes('//') && !rawPath.includes('/.')) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  const clean = cleanPath(decoded);
  if (clean === decoded) return undefined;
  return escapePath(clean) + (q < 0 ? '' : rawUrl.slice(q));
}
