/**
 * The requests Patroni's Consul DCS makes (patroni/dcs/consul.py through its python-consul
 * client; consul-compat.md §9), sent as raw HTTP with fetch against a real `herald agent
 * -plugin http-api -plugin kv`: a session `{name, lockdelay: "0.001s", behavior: "delete",
 * ttl}` (after the TTL-too-short refusal Patroni string-matches), the leader key taken with
 * `?acquire=`, `cas` writes on the initialize/config/sync keys, the cluster read with
 * `?recurse&consistent`, a replica blocking on the leader key with
 * `?index=<ModifyIndex>&wait=<float>s`, and the leader key deleted when the session's TTL runs
 * out. The agent runs with `session_ttl_min = 1s` so the expiry (Consul: up to 2x TTL) takes
 * seconds, not minutes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, tempDir, type RunningAgent } from '../../../src/cli/commands/cli-harness.ts';

const SCOPE = 'service/pgcluster';
const LEADER = `${SCOPE}/leader`;

let agent: RunningAgent;
let base: string;

beforeAll(async () => {
  const configDir = tempDir('patroni');
  writeFileSync(join(configDir, 'kv.json'), JSON.stringify({ plugin_config: { kv: { session_ttl_min: '1s' } } }));
  agent = await startAgent({ configDir, node: 'pg-node', extraArgs: ['-plugin', 'kv'] });
  base = `http://${agent.httpAddr}`;
}, 30_000);

afterAll(() => agent?.kill());

interface Answer {
  status: number;
  index: bigint;
  text: string;
  json: unknown;
}

async function call(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: string, timeoutMs = 10_000): Promise<Answer> {
  const res = await fetch(base + path, { method, body, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // `text` as sent: a -dev agent pretty-prints and ends bodies with a newline, as Consul's dev mode does.
  return { status: res.status, index: BigInt(res.headers.get('x-consul-index') ?? '0'), text, json };
}

interface DirEntry {
  Key: string;
  Value: string | null;
  Session?: string;
  ModifyIndex: number;
}

const decode = (e: DirEntry) => (e.Value === null ? '' : Buffer.from(e.Value, 'base64').toString());

describe('a Patroni-shaped leader election over raw HTTP', { timeout: 30_000 }, () => {
  let session = '';

  it('creates the session: a TTL under the minimum is refused with the text Patroni matches, then accepted', async () => {
    const tooShort = await call('PUT', '/v1/session/create', JSON.stringify({ name: 'pgcluster-pg0', lockdelay: '0.001s', behavior: 'delete', ttl: '0.5s' }));
    expect(tooShort.status).toBe(500);
    expect(tooShort.text).toMatch(/^Invalid Session TTL '500000000', must be between \[1s=24h0m0s\]/);

    const created = await call('PUT', '/v1/session/create', JSON.stringify({ name: 'pgcluster-pg0', lockdelay: '0.001s', behavior: 'delete', ttl: '1s' }));
    expect(created.status).toBe(200);
    session = (created.json as { ID: string }).ID;
    const info = await call('GET', `/v1/session/info/${session}`);
    expect(info.json).toEqual([expect.objectContaining({ ID: session, Name: 'pgcluster-pg0', Behavior: 'delete', TTL: '1s', LockDelay: 1_000_000 })]);
  });

  /** Patroni renews its session on every loop; the 1 s TTL leaves 2 s between renewals. */
  const renew = async () => expect((await call('PUT', `/v1/session/renew/${session}`)).status).toBe(200);

  it('initializes the cluster once (cas=0), takes the leader key with acquire, cas-updates config and sync', async () => {
    await renew();
    expect((await call('PUT', `/v1/kv/${SCOPE}/initialize?cas=0`, '7012345678901234567')).text.trim()).toBe('true');
    expect((await call('PUT', `/v1/kv/${SCOPE}/initialize?cas=0`, '1111111111111111111')).text.trim()).toBe('false');

    expect((await call('PUT', `/v1/kv/${LEADER}?acquire=${session}`, 'pg0')).text.trim()).toBe('true');
    // The same session acquiring again updates the value (Patroni's leader "touch").
    expect((await call('PUT', `/v1/kv/${LEADER}?acquire=${session}`, 'pg0')).text.trim()).toBe('true');
    const other = (await call('PUT', '/v1/session/create', JSON.stringify({ name: 'pgcluster-pg1', lockdelay: '0.001s', behavior: 'delete', ttl: '30s' }))).json as { ID: string };
    expect((await call('PUT', `/v1/kv/${LEADER}?acquire=${other.ID}`, 'pg1')).text.trim()).toBe('false');
    await call('PUT', `/v1/session/destroy/${other.ID}`);
    await renew();

    expect((await call('PUT', `/v1/kv/${SCOPE}/config?cas=0`, '{"ttl":30}')).text.trim()).toBe('true');
    const cfg = ((await call('GET', `/v1/kv/${SCOPE}/config`)).json as DirEntry[])[0]!;
    expect((await call('PUT', `/v1/kv/${SCOPE}/config?cas=${cfg.ModifyIndex - 1}`, '{"ttl":20}')).text.trim()).toBe('false');
    expect((await call('PUT', `/v1/kv/${SCOPE}/config?cas=${cfg.ModifyIndex}`, '{"ttl":20}')).text.trim()).toBe('true');
    expect((await call('PUT', `/v1/kv/${SCOPE}/sync?cas=0`, '{"leader":"pg0","sync_standby":null}')).text.trim()).toBe('true');
    expect((await call('PUT', `/v1/kv/${SCOPE}/members/pg0?acquire=${session}`, '{"role":"master"}')).text.trim()).toBe('true');
  });

  it('reads the cluster with ?recurse&consistent', async () => {
    await renew();
    const cluster = await call('GET', `/v1/kv/${SCOPE}/?recurse=1&consistent=1`);
    expect(cluster.status).toBe(200);
    const entries = cluster.json as DirEntry[];
    expect(entries.map((e) => [e.Key, decode(e)])).toEqual([
      [`${SCOPE}/config`, '{"ttl":20}'],
      [`${SCOPE}/initialize`, '7012345678901234567'],
      [LEADER, 'pg0'],
      [`${SCOPE}/members/pg0`, '{"role":"master"}'],
      [`${SCOPE}/sync`, '{"leader":"pg0","sync_standby":null}'],
    ]);
    expect(entries.find((e) => e.Key === LEADER)?.Session).toBe(session);
    expect(cluster.index).toBeGreaterThan(0n);
  });

  it('a replica blocking on the leader key with a float wait returns at timeout with the same index, and wakes on a change', async () => {
    await renew();
    const leader = await call('GET', `/v1/kv/${LEADER}`);
    const modify = BigInt(((leader.json as DirEntry[])[0]!).ModifyIndex);
    // Single key: X-Consul-Index is the key's ModifyIndex, which Patroni compares.
    expect(leader.index).toBe(modify);

    await renew();
    const t0 = performance.now();
    const idle = await call('GET', `/v1/kv/${LEADER}?index=${modify}&wait=0.4s`);
    const idleMs = performance.now() - t0;
    expect(idle.status).toBe(200);
    expect(idle.index).toBe(modify);
    expect(idleMs).toBeGreaterThanOrEqual(390);
    // Consul adds up to wait/16 of jitter; Patroni budgets wait + max(wait/15, 1s).
    expect(idleMs).toBeLessThan(1400 + 400);

    // A write to another key of the cluster does not end the wait; a leader update does.
    const parked = call('GET', `/v1/kv/${LEADER}?index=${modify}&wait=9.5s`);
    expect((await call('PUT', `/v1/kv/${SCOPE}/members/pg0?acquire=${session}`, '{"role":"master","lag":0}')).text.trim()).toBe('true');
    await renew();
    expect((await call('PUT', `/v1/kv/${LEADER}?acquire=${session}`, 'pg0-updated')).text.trim()).toBe('true');
    const woke = await parked;
    expect(woke.index).toBeGreaterThan(modify);
    expect(decode((woke.json as DirEntry[])[0]!)).toBe('pg0-updated');
  });

  it('when the session is no longer renewed, its TTL runs out and the leader key is deleted (behavior=delete)', async () => {
    const leader = await call('GET', `/v1/kv/${LEADER}`);
    expect(leader.status).toBe(200);
    // A replica parks on the leader key; the expiry (within 2 x TTL = 2 s) must wake it.
    const t0 = performance.now();
    const parked = await call('GET', `/v1/kv/${LEADER}?index=${leader.index}&wait=8s`, undefined, 15_000);
    const waitedMs = performance.now() - t0;
    expect(parked.status).toBe(404);
    expect(parked.index).toBeGreaterThan(leader.index);
    expect(waitedMs).toBeLessThan(6000);
    // Every key the session held went with it; the others stay.
    const left = ((await call('GET', `/v1/kv/${SCOPE}/?recurse&consistent`)).json as DirEntry[]).map((e) => e.Key);
    expect(left).toEqual([`${SCOPE}/config`, `${SCOPE}/initialize`, `${SCOPE}/sync`]);
    expect((await call('GET', `/v1/session/info/${session}`)).json).toEqual([]);
    expect((await call('PUT', `/v1/session/renew/${session}`)).status).toBe(404);
  });
});
