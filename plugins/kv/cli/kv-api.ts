/**
 * The client side of `/v1/kv` and `/v1/session` for the `herald kv` and `herald lock` commands,
 * over the core's AgentClient, with the query parameters Consul's Go api package sends
 * (consul-compat.md §3.4, §3.6). Indexes and Flags are uint64 on the wire, so they are kept as
 * bigints end to end (spec §0): a lock key's Flags (0x2ddccbc058a50c18) is above 2^53.
 */
import type { AgentClient, AgentResponse, QueryParam } from '../../../src/plugin.ts';

/** One KV entry as `GET /v1/kv/<key>` returns it, with the value decoded. */
export interface KvPair {
  Key: string;
  Flags: bigint;
  /** The value's bytes; empty for a null Value. */
  Value: Buffer;
  /** The holding session, '' when unlocked. */
  Session: string;
  LockIndex: bigint;
  CreateIndex: bigint;
  ModifyIndex: bigint;
}

/** A read and the index it was answered at (X-Consul-Index). */
export interface Indexed<T> {
  value: T;
  index: bigint;
}

/** Blocking-query and consistency options of a read. */
export interface ReadOptions {
  /** `?index=`: block until the result index passes it. */
  index?: bigint;
  /** `?wait=` in ms (sent as `<ms>ms`, as the Go client does). */
  waitMs?: number;
  consistent?: boolean;
  /** Abandons the read (a parked blocking query nobody needs any more). */
  signal?: AbortSignal;
}

/** Options of a write (`PUT /v1/kv/<key>`): at most one of cas/acquire/release. */
export interface PutOptions {
  /** Sent only when not 0 (Consul's api.KV: leaving it out also resets Flags to 0). */
  flags?: bigint;
  cas?: bigint;
  acquire?: string;
  release?: string;
}

const UINT64_FIELDS = /"(Flags|LockIndex|CreateIndex|ModifyIndex)"\s*:\s*(\d+)/g;

/**
 * Parses a DirEntry array, uint64 fields as bigints. The numbers are quoted before JSON.parse
 * (Node 20's JSON.parse has no access to the source text); the pattern cannot match inside a
 * JSON string, where every `"` is escaped.
 */
export function parseDirEntries(text: string): KvPair[] {
  const raw = JSON.parse(text.replace(UINT64_FIELDS, '"$1":"$2"')) as unknown;
  if (!Array.isArray(raw)) throw new Error(`expected a JSON array of KV entries, got ${JSON.stringify(text.slice(0, 200))}`);
  return raw.map((e: Record<string, unknown>) => ({
    Key: String(e.Key ?? ''),
    Flags: BigInt((e.Flags as string | undefined) ?? 0),
    Value: typeof e.Value === 'string' ? Buffer.from(e.Value, 'base64') : Buffer.alloc(0),
    Session: typeof e.Session === 'string' ? e.Session : '',
    LockIndex: BigInt((e.LockIndex as string | undefined) ?? 0),
    CreateIndex: BigInt((e.CreateIndex as string | undefined) ?? 0),
    ModifyIndex: BigInt((e.ModifyIndex as string | undefined) ?? 0),
  }));
}

/** The path of a key: each segment escaped, `/` kept (the key may end with `/`). */
export function kvPath(key: string): string {
  return '/v1/kv/' + key.split('/').map(encodeURIComponent).join('/');
}

function indexOf(res: AgentResponse): bigint {
  const h = res.headers.get('x-consul-index');
  return h && /^\d+$/.test(h) ? BigInt(h) : 0n;
}

function readQuery(o: ReadOptions): QueryParam[] {
  const q: QueryParam[] = [];
  if (o.consistent) q.push(['consistent', null]);
  if (o.index !== undefined && o.index > 0n) q.push(['index', o.index.toString()]);
  if (o.waitMs !== undefined) q.push(['wait', `${Math.ceil(o.waitMs)}ms`]);
  return q;
}

/** A blocking read's deadline: the wait, the server's jitter (wait/16), and slack. */
function readTimeout(o: ReadOptions): number | undefined {
  return o.waitMs === undefined ? undefined : Math.ceil(o.waitMs + o.waitMs / 16 + 5000);
}

/** `/v1/kv` and `/v1/session` through one agent. */
export class KvApi {
  constructor(readonly client: AgentClient) {}

  /** One key; undefined when it does not exist (404). */
  async get(key: string, o: ReadOptions = {}): Promise<Indexed<KvPair | undefined>> {
    const res = await this.client.request('GET', kvPath(key), { query: readQuery(o), accept: [404], timeoutMs: readTimeout(o), signal: o.signal });
    if (res.status === 404) return { value: undefined, index: indexOf(res) };
    return { value: parseDirEntries(res.text)[0], index: indexOf(res) };
  }

  /** Every entry under `prefix`, sorted by key; [] when none. */
  async list(prefix: string, o: ReadOptions = {}): Promise<Indexed<KvPair[]>> {
    const res = await this.client.request('GET', kvPath(prefix), { query: [['recurse', null], ...readQuery(o)], accept: [404], timeoutMs: readTimeout(o), signal: o.signal });
    return { value: res.status === 404 ? [] : parseDirEntries(res.text), index: indexOf(res) };
  }

  /** The keys under `prefix`, folded at `separator` when it is not ''. */
  async keys(prefix: string, separator: string, o: ReadOptions = {}): Promise<string[]> {
    const q: QueryParam[] = [['keys', null]];
    if (separator !== '') q.push(['separator', separator]);
    const res = await this.client.request('GET', kvPath(prefix), { query: [...q, ...readQuery(o)], accept: [404] });
    if (res.status === 404) return [];
    const keys = JSON.parse(res.text) as unknown;
    if (!Array.isArray(keys)) throw new Error(`expected a JSON array of keys, got ${JSON.stringify(res.text.slice(0, 200))}`);
    return keys.map(String);
  }

  /** `PUT /v1/kv/<key>`: the agent's `true`/`false` (false: CAS mismatch, lock not taken or not held). */
  async put(key: string, value: Uint8Array, o: PutOptions = {}): Promise<boolean> {
    const q: QueryParam[] = [];
    if (o.flags !== undefined && o.flags !== 0n) q.push(['flags', o.flags.toString()]);
    if (o.cas !== undefined) q.push(['cas', o.cas.toString()]);
    if (o.acquire !== undefined) q.push(['acquire', o.acquire]);
    if (o.release !== undefined) q.push(['release', o.release]);
    const res = await this.client.request('PUT', kvPath(key), { query: q, rawBody: value });
    return res.text.trim() === 'true';
  }

  /** `DELETE /v1/kv/<key>` (`recurse`: the whole prefix; `cas`: only at that ModifyIndex). */
  async delete(key: string, o: { recurse?: boolean; cas?: bigint } = {}): Promise<boolean> {
    const q: QueryParam[] = [];
    if (o.recurse) q.push(['recurse', null]);
    if (o.cas !== undefined) q.push(['cas', o.cas.toString()]);
    const res = await this.client.request('DELETE', kvPath(key), { query: q });
    return res.text.trim() === 'true';
  }

  /** `PUT /v1/session/create`; resolves with the new session's ID. */
  async createSession(body: Record<string, unknown>): Promise<string> {
    const res = await this.client.put('/v1/session/create', body);
    const id = (JSON.parse(res.text) as { ID?: unknown }).ID;
    if (typeof id !== 'string' || id === '') throw new Error(`session create answered without an ID: ${res.text.slice(0, 200)}`);
    return id;
  }

  /**
   * `PUT /v1/session/renew/<id>`: the TTL the server now asks for (it may raise it), or
   * undefined when the session no longer exists (404).
   */
  async renewSession(id: string): Promise<string | undefined> {
    const res = await this.client.request('PUT', `/v1/session/renew/${encodeURIComponent(id)}`, { accept: [404] });
    if (res.status === 404) return undefined;
    const list = JSON.parse(res.text) as { TTL?: unknown }[];
    const ttl = list?.[0]?.TTL;
    return typeof ttl === 'string' ? ttl : '';
  }

  /** `PUT /v1/session/destroy/<id>` (true also for an unknown ID). */
  async destroySession(id: string): Promise<void> {
    await this.client.put(`/v1/session/destroy/${encodeURIComponent(id)}`);
  }
}
