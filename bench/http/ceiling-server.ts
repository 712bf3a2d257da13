/**
 * The framework ceiling for the HTTP benchmark: a minimal fastify app, in its own process,
 * that answers each benchmarked path with the exact status, headers and body bytes Herald gave
 * for it (captured by the harness just before). Whatever Herald spends beyond this is Herald's
 * own work (routing, query parsing, reading the catalog, encoding JSON).
 *
 * Usage: node --import tsx bench/http/ceiling-server.ts <routes.json> <port>
 * routes.json: [{ "path": "/v1/catalog/services", "status": 200, "headers": {...}, "bodyBase64": "..." }]
 * Prints `ceiling listening on 127.0.0.1:<port>` once it listens; exits on SIGTERM/SIGINT.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';

/** One captured response, served for GET `path` (the query string is ignored by the router). */
export interface CapturedRoute {
  path: string;
  status: number;
  headers: Record<string, string>;
  bodyBase64: string;
}

/** Headers that describe the connection or the message framing, which fastify sets itself. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);

/** Builds the app (not listening). Each route sends a preallocated Buffer: no per-request encoding. */
export function ceilingApp(routes: CapturedRoute[]) {
  const app = Fastify({ logger: false });
  for (const r of routes) {
    const body = Buffer.from(r.bodyBase64, 'base64');
    const headers = Object.entries(r.headers).filter(([k]) => !HOP_HEADERS.has(k.toLowerCase()));
    app.get(r.path, (_req, reply) => {
      reply.code(r.status);
      for (const [k, v] of headers) reply.header(k, v);
      return reply.send(body);
    });
  }
  return app;
}

async function main(argv: string[]): Promise<void> {
  const [file, portArg] = argv;
  if (!file || !portArg) throw new Error('usage: ceiling-server.ts <routes.json> <port>');
  const routes = JSON.parse(readFileSync(file, 'utf8')) as CapturedRoute[];
  const app = ceilingApp(routes);
  await app.listen({ host: '127.0.0.1', port: Number(portArg) });
  process.stdout.write(`ceiling listening on 127.0.0.1:${portArg}\n`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`ceiling-server: ${err.message}\n`);
    process.exit(1);
  });
}
