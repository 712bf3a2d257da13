/**
 * One HTTP request with a hard timeout, on node:http rather than fetch: the sequential-writer
 * measurement needs a single kept-alive socket and as little client overhead per request as
 * possible, and the failover loop needs connection errors reported, not thrown.
 */
import { Agent, request } from 'node:http';

export interface CallResult {
  /** 0 when no answer came (connection error or timeout); `error` then says which. */
  status: number;
  text: string;
  error?: string;
}

/** A keep-alive agent with one socket: sequential writes reuse one connection. */
export function singleSocketAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

/** Sends one request to `origin` (`http://host:port`); never rejects. */
export function call(
  origin: string,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body: string | Buffer | undefined,
  timeoutMs: number,
  agent?: Agent,
): Promise<CallResult> {
  const url = new URL(path, origin);
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: CallResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, agent: agent ?? false, headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => done({ status: 0, text: '', error: err.message }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => done({ status: 0, text: '', error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end(body);
  });
}
