/**
 * etcd as the KV benchmark's peer: one member on loopback with its own data directory (WAL
 * fsync on, etcd's default), driven through its v3 HTTP/JSON gateway, where keys and values are
 * base64 in JSON bodies (`POST <gw>/kv/put`, `POST <gw>/kv/range`). etcd 3.4 serves the gateway
 * under `/v3/` (and still `/v3beta/`); 3.3 only under `/v3beta/`: the harness asks which.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Gateway prefixes, newest first. */
export const GATEWAY_PREFIXES = ['/v3', '/v3beta'] as const;

export interface EtcdPorts {
  client: number;
  peer: number;
}

/** `etcd` arguments for a single loopback member named `bench` with data in `dataDir`. */
export function etcdArgs(dataDir: string, ports: EtcdPorts): string[] {
  const client = `http://127.0.0.1:${ports.client}`;
  const peer = `http://127.0.0.1:${ports.peer}`;
  return [
    '--name', 'bench',
    '--data-dir', join(dataDir, 'etcd'),
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `bench=${peer}`,
    '--initial-cluster-state', 'new',
    '--log-level', 'warn',
    '--logger', 'zap',
  ];
}

/** `etcd --version`'s first line (`etcd Version: 3.4.23`), or undefined when etcd is missing. */
export function etcdVersion(bin = 'etcd'): string | undefined {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return /Version:\s*(\S+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

async function post(url: string, body: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** `true` once `GET /health` reports the member healthy. */
export async function etcdHealthy(origin: string): Promise<boolean> {
  try {
    const res = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { health?: unknown };
    return res.status === 200 && (body.health === 'true' || body.health === true);
  } catch {
    return false;
  }
}

/** The first gateway prefix that answers a range request with 200, or undefined. */
export async function detectGateway(origin: string): Promise<string | undefined> {
  for (const gw of GATEWAY_PREFIXES) {
    try {
      const r = await post(`${origin}${gw}/kv/range`, { key: Buffer.from('bench/probe').toString('base64') });
      if (r.status === 200) return gw;
    } catch {
      /* try the next */
    }
  }
  return undefined;
}

/** Writes one key through the gateway; throws unless etcd answered 200. */
export async function etcdPut(origin: string, gw: string, key: string, value: Uint8Array): Promise<void> {
  const r = await post(`${origin}${gw}/kv/put`, { key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') });
  if (r.status !== 200) throw new Error(`etcd put ${key}: ${r.status} ${r.text.slice(0, 200)}`);
}

/** Reads one key through the gateway: its value, or undefined when absent. */
export async function etcdGet(origin: string, gw: string, key: string): Promise<Buffer | undefined> {
  const r = await post(`${origin}${gw}/kv/range`, { key: Buffer.from(key).toString('base64') });
  if (r.status !== 200) throw new Error(`etcd range ${key}: ${r.status} ${r.text.slice(0, 200)}`);
  const kvs = (r.json as { kvs?: { value?: string }[] }).kvs;
  return kvs && kvs[0] ? Buffer.from(kvs[0].value ?? '', 'base64') : undefined;
}

/** How many keys start with `prefix` (a count-only range). */
export async function etcdCount(origin: string, gw: string, prefix: string): Promise<number> {
  const start = Buffer.from(prefix);
  // The end of a prefix range: the prefix with its last byte incremented (etcd's clientv3.GetPrefixRangeEnd).
  const end = Buffer.from(start);
  end[end.length - 1]! += 1;
  const r = await post(`${origin}${gw}/kv/range`, { key: start.toString('base64'), range_end: end.toString('base64'), count_only: true });
  if (r.status !== 200) throw new Error(`etcd count ${prefix}: ${r.status} ${r.text.slice(0, 200)}`);
  return Number((r.json as { count?: string }).count ?? 0);
}
