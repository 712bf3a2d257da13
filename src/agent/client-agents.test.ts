/**
 * Client agents fed by the servers' change stream, as real processes: 3 servers
 * (`-server -bootstrap-expect 3`) and 2 client agents (no -server, -retry-join). A service with
 * a TTL check registered on client A is answered by client B's DNS; failing the check on A
 * drops it from B's answer; killing the server B streams from makes B resubscribe to another
 * (one it learned from the stream: B's retry_join names only one server) and keep following.
 * Read modes (read-point.ts): a write acknowledged by one server is seen at once by default
 * reads on a lagging follower and on a client that follows it; once B's server has lost its quorum, B answers
 * `?consistent` (and default) reads with 500 `No cluster leader` and `?stale` ones from its
 * replica, saying no leader is known and for how long. A client agent whose servers cannot be
 * reached starts anyway (empty catalog), or exits 1 after -retry-max attempts.
 * Waits are on HTTP blocking queries (the event), HTTP answers and process exits, with deadlines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askUdp, dataOf, rcodeOf } from '../dns/dns-test-client.ts';
import { freePort, tempDir, until } from '../cli/commands/cli-harness.ts';

const HERALD = join(import.meta.dirname, '..', 'cli', 'herald.mjs');

interface Proc {
  name: string;
  rpc: string;
  http: string;
  dns: number;
  child: ChildProcess;
  out: string;
  exited: Promise<number | null>;
}

const procs: Proc[] = [];
const dirs: string[] = [];

async function launch(name: string, args: string[], rpc = ''): Promise<Proc> {
  const [http, dns] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [HERALD, 'agent', ...args, '-bind', '127.0.0.1', '-http-port', String(http), '-dns-port', String(dns), '-node', name, '-plugin', 'http-api', '-plugin', 'kv'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p: Proc = { name, rpc, http: `127.0.0.1:${http}`, dns, child, out: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout!.on('data', (d) => (p.out += d));
  child.stderr!.on('data', (d) => (p.out += d));
  procs.push(p);
  return p;
}

async function http(p: Proc, path: string, init: RequestInit = {}, timeoutMs = 5_000): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`http://${p.http}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function up(p: Proc): Promise<void> {
  let code: number | null | undefined;
  void p.exited.then((c) => (code = c));
  await until(`${p.name} to serve HTTP`, async () => (await http(p, '/v1/agent/self')).status === 200, 25_000, () =>
    code !== undefined ? `${p.name} exited with ${code}:\n${p.out}` : undefined,
  );
}

const webAddrs = async (p: Proc) => {
  const r = await askUdp('web.service.consul', { port: p.dns, type: 'A' });
  return { rcode: rcodeOf(r), addrs: dataOf(r, 'A') };
};

/** The upstream B follows now, from its log (the last "following the catalog from" line). */
const upstreamOf = (p: Proc) => [...p.out.matchAll(/following the catalog from (\S+)/g)].at(-1)?.[1];

let servers: Proc[];
let a: Proc;
let b: Proc;

beforeAll(async () => {
  const rpcPorts = [await freePort(), await freePort(), await freePort()];
  const join = rpcPorts.flatMap((p) => ['-retry-join', `127.0.0.1:${p}`]);
  servers = [];
  for (let i = 0; i < 3; i++) {
    const dir = tempDir(`client-agents-s${i + 1}`);
    dirs.push(dir);
    servers.push(await launch(`s${i + 1}`, ['-server', '-bootstrap-expect', '3', '-data-dir', dir, '-server-port', String(rpcPorts[i]), ...join], `127.0.0.1:${rpcPorts[i]}`));
  }
  await Promise.all(servers.map(up));
  // A knows every server; B only s2, so it must learn the others from the stream.
  const [dirA, dirB] = [tempDir('client-agents-a'), tempDir('client-agents-b')];
  dirs.push(dirA, dirB);
  a = await launch('client-a', ['-data-dir', dirA, ...join]);
  b = await launch('client-b', ['-data-dir', dirB, '-retry-join', servers[1]!.rpc]);
  await Promise.all([up(a), up(b)]);
}, 35_000);

afterAll(() => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('client agents (3 servers + 2 clients, real processes)', () => {
  it('register in the replicated catalog and answer DNS for each other', async () => {
    const reg = await http(a, '/v1/agent/service/register', {
      method: 'PUT',
      body: JSON.stringify({ ID: 'web', Name: 'web', Port: 8080, Check: { TTL: '60s', Status: 'passing' } }),
    });
    expect(reg.status, reg.text).toBe(200);
    // Read-your-writes on A: its own replica has the registration once the PUT returned.
    const onA = JSON.parse((await http(a, '/v1/catalog/service/web')).text) as { Node: string }[];
    expect(onA.map((r) => r.Node)).toEqual(['client-a']);

    await until('B to answer web.service.consul', async () => (await webAddrs(b)).addrs.length === 1, 10_000);
    expect(await webAddrs(b)).toEqual({ rcode: 'NOERROR', addrs: ['127.0.0.1'] });
    // Every agent's node is in the catalog (servers and both clients), seen from B's replica.
    const nodes = (JSON.parse((await http(b, '/v1/catalog/nodes')).text) as { Node: string }[]).map((n) => n.Node).sort();
    expect(nodes).toEqual(['client-a', 'client-b', 's1', 's2', 's3']);
    // B serves reads from its own replica: it has no Raft, and its catalog came from a stream.
    expect(b.out).toMatch(/client agent: following the servers at/);
    // /v1/status on a client agent names the cluster's leader and voters, as on a server.
    const leader = JSON.parse((await http(servers[0]!, '/v1/status/leader')).text) as string;
    const peers = (JSON.parse((await http(servers[0]!, '/v1/status/peers')).text) as string[]).sort();
    expect(leader).toMatch(/^127\.0\.0\.1:\d+$/);
    for (const c of [a, b]) {
      await until(`${c.name} to name the leader`, async () => JSON.parse((await http(c, '/v1/status/leader')).text) === leader, 5_000);
      expect((JSON.parse((await http(c, '/v1/status/peers')).text) as string[]).sort()).toEqual(peers);
    }
  }, 15_000);

  it('sees a write acknowledged by one server in default reads on a lagging follower and on the client that follows it, at once (read-your-writes)', async () => {
    const leader = JSON.parse((await http(servers[0]!, '/v1/status/leader')).text) as string;
    // The lagging follower: one a client streams from (A starts on s1, B on s2; one of them is not the leader).
    const lagging = servers.find((s) => s.rpc !== leader && [upstreamOf(a), upstreamOf(b)].includes(s.rpc))!;
    const via = servers.find((s) => s !== lagging)!;
    const follower = upstreamOf(a) === lagging.rpc ? a : b;
    expect(lagging, `a follower among the clients' upstreams (leader ${leader})`).toBeDefined();
    // The follower is paused while the write commits (the others are a quorum), then resumed
    // just before the reads: its Raft messages and the reads arrive together, and it answers
    // before it has applied the write unless the read waits for the leader's index.
    for (let i = 0; i < 5; i++) {
      lagging.child.kill('SIGSTOP');
      const put = await http(via, '/v1/kv/ryw', { method: 'PUT', body: `v${i}` }).finally(() => lagging.child.kill('SIGCONT'));
      expect(put.text).toBe('true');
      const reads = await Promise.all([lagging, follower, a, b].map((p) => http(p, '/v1/kv/ryw?raw')));
      expect(reads.map((r) => r.text), `write ${i}`).toEqual([`v${i}`, `v${i}`, `v${i}`, `v${i}`]);
    }
    const onClient = await http(follower, '/v1/kv/ryw');
    expect(onClient.headers.get('x-consul-effective-consistency')).toBe('leader');
    expect(onClient.headers.get('x-consul-knownleader')).toBe('true');
    // Keepalives every 250 ms plus the server's own contact: an idle cluster does not look stale.
    expect(Number(onClient.headers.get('x-consul-lastcontact'))).toBeLessThan(1_000);
    const consistent = await http(follower, '/v1/kv/ryw?consistent&raw');
    expect([consistent.status, consistent.text]).toEqual([200, 'v4']);
  }, 20_000);

  it('drops the service from B\'s DNS when the check fails on A, then follows a new server after its upstream dies', async () => {
    const health = await http(b, '/v1/health/service/web?passing');
    expect(JSON.parse(health.text)).toHaveLength(1);
    const index = health.headers.get('x-consul-index')!;

    // The event: B's blocking query on its own replica returns once the failure reached it.
    const t0 = performance.now();
    const watched = http(b, `/v1/health/service/web?passing&index=${index}&wait=10s`, {}, 12_000);
    expect((await http(a, '/v1/agent/check/fail/service:web?note=down', { method: 'PUT' })).status).toBe(200);
    const after = await watched;
    const flipMs = performance.now() - t0;
    expect(JSON.parse(after.text)).toEqual([]);
    expect((await webAddrs(b)).addrs).toEqual([]);
    console.log(`check flip on A reached B's view (blocking query returned; DNS then empty) in ${flipMs.toFixed(1)} ms`);
    expect(flipMs).toBeLessThan(2_000);

    // Kill the server B streams from; B must resubscribe elsewhere and keep following.
    const upstream = upstreamOf(b);
    const victim = servers.find((s) => s.rpc === upstream);
    expect(victim, `B's upstream ${upstream}`).toBeDefined();
    victim!.child.kill('SIGKILL');
    await victim!.exited;
    await until('B to follow another server', async () => upstreamOf(b) !== undefined && upstreamOf(b) !== upstream, 10_000);
    expect(servers.map((s) => s.rpc)).toContain(upstreamOf(b));

    // A server forwarding a write to a dead leader waits out its request timeout, so write once
    // the survivors agree on a leader (as a Consul client would retry after "No cluster leader").
    const survivors = servers.filter((s) => s !== victim);
    await until('the surviving servers to agree on a live leader', async () => {
      const ls = await Promise.all(survivors.map(async (s) => JSON.parse((await http(s, '/v1/status/leader')).text) as string));
      return ls[0] !== '' && ls[0] !== victim!.rpc && ls.every((l) => l === ls[0]);
    }, 10_000);
    // Writes through A after the kill (a new leader may be being elected): a KV write answers
    // once committed, so it also tells when the check update below can go through.
    await until('a write through A to succeed', async () => (await http(a, '/v1/kv/after-kill', { method: 'PUT', body: 'yes' }, 12_000)).text === 'true', 15_000);
    expect((await http(b, '/v1/kv/after-kill?raw')).text).toBe('yes');
    expect((await http(a, '/v1/agent/check/pass/service:web', { method: 'PUT' })).status).toBe(200);
    await until('B to answer web again', async () => (await webAddrs(b)).addrs.length === 1, 10_000);
    expect(await webAddrs(b)).toEqual({ rcode: 'NOERROR', addrs: ['127.0.0.1'] });
  }, 30_000);

  it("answers ?consistent with 500 No cluster leader on B once B's server lost its quorum, and ?stale from B's replica saying so", async () => {
    // One server died above; kill the other one B does not stream from: B's server is alone.
    const upstream = upstreamOf(b);
    const other = servers.find((s) => s.child.exitCode === null && s.child.signalCode === null && s.rpc !== upstream)!;
    expect(other, `a live server besides B's upstream ${upstream}`).toBeDefined();
    other.child.kill('SIGKILL');
    await other.exited;

    const consistent = await http(b, '/v1/kv/after-kill?consistent&raw', {}, 15_000);
    expect([consistent.status, consistent.text]).toEqual([500, 'No cluster leader']);
    const byDefault = await http(b, '/v1/kv/after-kill?raw', {}, 15_000);
    expect([byDefault.status, byDefault.text]).toEqual([500, 'No cluster leader']);

    const stale = async () => {
      const r = await http(b, '/v1/kv/after-kill?stale&raw');
      return { status: r.status, text: r.text, known: r.headers.get('x-consul-knownleader'), contact: Number(r.headers.get('x-consul-lastcontact')) };
    };
    await until('B to say no leader is known', async () => (await stale()).known === 'false', 10_000);
    const first = await stale();
    expect(first).toMatchObject({ status: 200, text: 'yes', known: 'false' });
    await until('B\'s LastContact to grow', async () => (await stale()).contact >= first.contact + 500, 10_000);
    expect((await stale()).known).toBe('false');
  }, 45_000);

  it('starts a client agent whose servers cannot be reached (empty catalog, No known Consul servers), or exits 1 after -retry-max attempts', async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const [dirC, dirD] = [tempDir('client-agents-c'), tempDir('client-agents-d')];
    dirs.push(dirC, dirD);
    const c = await launch('client-c', ['-data-dir', dirC, '-retry-join', nowhere]);
    const d = await launch('client-d', ['-data-dir', dirD, '-retry-join', nowhere, '-retry-max', '2']);
    await up(c);
    expect(c.out).toMatch(/no server reachable yet at .*serving DNS and HTTP from an empty catalog/);
    const stale = await http(c, '/v1/catalog/nodes?stale');
    expect([stale.status, stale.text, stale.headers.get('x-consul-knownleader')]).toEqual([200, '[]', 'false']);
    const byDefault = await http(c, '/v1/catalog/nodes');
    expect([byDefault.status, byDefault.text]).toEqual([500, 'No known Consul servers']);
    expect(await d.exited).toBe(1);
    expect(d.out).toMatch(/no server reached after 2 attempts \(retry_max 2\)/);
  }, 30_000);
});
