/**
 * One KV load run, in its own process (pinned to the client core by the harness): autocannon's
 * programmatic API, because the writes need a different key on every request, which the
 * autocannon CLI cannot generate for etcd (its keys are base64 inside a JSON body). Prints
 * autocannon's result object as one JSON line, the same shape as `autocannon --json`, so
 * bench/http/autocannon-run.ts's parser reads it.
 *
 * Usage: node --import tsx bench/kv/load-runner.ts '<LoadSpec as JSON>'
 *
 * Workloads (the same logical operation on both stores):
 *   herald-put  PUT  /v1/kv/<prefix><n>          body: the value bytes
 *   etcd-put    POST <gateway>/kv/put            body: {"key":b64(<prefix><n>),"value":b64(value)}
 *   herald-get  GET  /v1/kv/<key>                (one key, every request)
 *   etcd-get    POST <gateway>/kv/range          body: {"key":b64(<key>)}
 *   plain-get   GET  <path>                      (the ceiling)
 * `<n>` counts up per request, modulo `keySpace`: every write in a run goes to a different key
 * until the key space wraps.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

export type Workload = 'herald-put' | 'etcd-put' | 'herald-get' | 'etcd-get' | 'plain-get';

export interface LoadSpec {
  workload: Workload;
  /** `http://127.0.0.1:<port>` (no path). */
  origin: string;
  connections: number;
  pipelining: number;
  durationSec: number;
  /** Writes: key prefix; reads: the one key (herald, etcd) or the path (plain-get). */
  key: string;
  /** Writes: the value, base64 (so any bytes fit in the JSON spec). */
  valueBase64?: string;
  /** Writes cycle over this many keys. */
  keySpace?: number;
  /** etcd's gateway prefix (`/v3` on 3.4; `/v3beta` on 3.3). */
  etcdGateway?: string;
}

/** The request autocannon sends (the fields setupRequest may change). */
export interface BenchRequest {
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** Keys go into the URL path: escape each segment, keep the slashes. */
function kvPath(key: string): string {
  return '/v1/kv/' + key.split('/').map(encodeURIComponent).join('/');
}

/**
 * The request for the `n`-th operation of a workload. Pure, so the harness test can check the
 * two stores get the same logical operation.
 */
export function requestFor(spec: LoadSpec, n: number): BenchRequest {
  const gw = spec.etcdGateway ?? '/v3';
  const json = { 'content-type': 'application/json' };
  const value = Buffer.from(spec.valueBase64 ?? '', 'base64');
  const writeKey = `${spec.key}${n % (spec.keySpace ?? 100_000)}`;
  switch (spec.workload) {
    case 'herald-put':
      return { method: 'PUT', path: kvPath(writeKey), body: value };
    case 'etcd-put':
      return {
        method: 'POST',
        path: `${gw}/kv/put`,
        headers: json,
        body: JSON.stringify({ key: Buffer.from(writeKey).toString('base64'), value: value.toString('base64') }),
      };
    case 'herald-get':
      return { method: 'GET', path: kvPath(spec.key) };
    case 'etcd-get':
      return { method: 'POST', path: `${gw}/kv/range`, headers: json, body: JSON.stringify({ key: Buffer.from(spec.key).toString('base64') }) };
    case 'plain-get':
      return { method: 'GET', path: spec.key };
  }
}

/** Whether the workload's request changes from one operation to the next. */
export function varies(w: Workload): boolean {
  return w === 'herald-put' || w === 'etcd-put';
}

interface AutocannonInstance {
  on(event: 'done', fn: (result: unknown) => void): void;
}
type AutocannonFn = (opts: Record<string, unknown>, cb: (err: Error | null, result: unknown) => void) => AutocannonInstance;

/** Runs the load described by `spec`; resolves with autocannon's result object. */
export function runLoad(spec: LoadSpec): Promise<unknown> {
  const autocannon = require('autocannon') as AutocannonFn;
  const first = requestFor(spec, 0);
  let n = 0;
  const request: Record<string, unknown> = { method: first.method, path: first.path, headers: first.headers, body: first.body };
  if (varies(spec.workload)) {
    request.setupRequest = (req: Record<string, unknown>) => {
      const next = requestFor(spec, n++);
      req.path = next.path;
      req.body = next.body;
      return req;
    };
  }
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: spec.origin,
        connections: spec.connections,
        pipelining: spec.pipelining,
        duration: spec.durationSec,
        requests: [request],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

/** The line the runner prints once loaded, right before the load starts (the harness's window opens). */
export const START_MARKER = '{"event":"start"}';

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  require('autocannon'); // loaded before the marker, so start-up stays out of the window
  process.stdout.write(START_MARKER + '\n');
  const result = await runLoad(spec);
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: Error) => {
    process.stderr.write(`load-runner: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
