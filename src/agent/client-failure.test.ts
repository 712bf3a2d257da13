/**
 * Failure detection for client agents, as real processes: 3 servers (client_failure_timeout
 * 3 s) and 2 client agents, A with a service `web`, B following the catalog from s2 only.
 * - SIGKILL A: within the timeout its serfHealth is critical on every server and `web` leaves
 *   B's DNS (the node stays in the catalog: failed is not left); restarted, A is passing again
 *   and `web` is back.
 * - SIGSTOP A, then SIGCONT: critical, then passing again, written by the leader (A's own
 *   anti-entropy would take a minute).
 * - SIGSTOP the server B streams from: B moves to another server and is never marked failed.
 * - SIGTERM A (graceful leave): A's node leaves the catalog at once, as Consul's left members do.
 * Waits are blocking queries (the event) or polls with a deadline where there is none (DNS).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askUdp, dataOf, rcodeOf } from '../dns/dns-test-client.ts';
import { freePort, until } from '../cli/commands/cli-harness.ts';
import { agentHttp as http, AgentProcs, waitUp, type AgentProc } from './agent-procs.ts';
import { livenessTuning, SERF_OUTPUT } from './client-liveness.ts';

const tuning = livenessTuning(3_000);
const group = new AgentProcs();
let servers: AgentProc[];
let a: AgentProc;
let b: AgentProc;

interface SerfHealth {
  Status: string;
  Output: string;
  ModifyIndex: number;
}

/**
 * Blocking queries on `path` (index chained, as a Consul client watches) until `pred` holds for
 * the body; returns it. Non-200 answers (an election) are retried until the deadline.
 */
async function watch<T>(p: AgentProc, path: string, pred: (body: T) => boolean, deadlineMs: number): Promise<T> {
  const end = performance.now() + deadlineMs;
  let index = '0';
  for (;;) {
    const left = end - performance.now();
    if (left <= 0) throw new Error(`timed out watching ${path} on ${p.name}`);
    const wait = Math.max(1, Math.ceil(left / 1_000));
    const r = await http(p, `${path}${path.includes('?') ? '&' : '?'}index=${index}&wait=${wait}s`, {}, wait * 1_000 + 2_000).catch(() => undefined);
    if (r?.status === 200) {
      const body = JSON.parse(r.text) as T;
      if (pred(body)) return body;
      index = r.headers.get('x-consul-index') ?? index;
    } else await new Promise((res) => setTimeout(res, 100));
  }
}

/** The node's serfHealth as server `p` has it (stale read: no leader needed). */
async function serfHealth(p: AgentProc, node: string): Promise<SerfHealth | undefined> {
  const checks = JSON.parse((await http(p, `/v1/health/node/${node}?stale`)).text) as Array<SerfHealth & { CheckID: string }>;
  return checks.find((c) => c.CheckID === 'serfHealth');
}

/** Waits until every server in `on` has `node`'s serfHealth at `status`. */
async function serfHealthBecomes(on: AgentProc[], node: string, status: string, deadlineMs: number): Promise<void> {
  await Promise.all(
    on.map((s) =>
      watch<Array<{ CheckID: string; Status: string }>>(s, `/v1/health/node/${node}?stale`, (cs) => cs.some((c) => c.CheckID === 'serfHealth' && c.Status === status), deadlineMs),
    ),
  );
}

const webOnB = async () => {
  const r = await askUdp('web.service.consul', { port: b.dns, type: 'A' });
  return { rcode: rcodeOf(r), addrs: dataOf(r, 'A') };
};

/** The upstream B follows now, from its log (the last "following the catalog from" line). */
const upstreamOf = (p: AgentProc) => [...p.out.matchAll(/following the catalog from (\S+)/g)].at(-1)?.[1];

beforeAll(async () => {
  const rpcPorts = [await freePort(), await freePort(), await freePort()];
  const join_ = rpcPorts.flatMap((p) => ['-retry-join', `127.0.0.1:${p}`]);
  const conf = group.dir('client-failure-conf');
  writeFileSync(join(conf, 'server.json'), JSON.stringify({ client_failure_timeout: `${tuning.failureTimeoutMs}ms` }));
  writeFileSync(join(conf, 'web.json'), JSON.stringify({ service: { name: 'web', port: 8080 } }));
  servers = [];
  for (let i = 0; i < 3; i++) {
    const args = ['-server', '-bootstrap-expect', '3', '-data-dir', group.dir(`client-failure-s${i + 1}`), '-server-port', String(rpcPorts[i]), '-config-file', join(conf, 'server.json'), ...join_];
    servers.push(await group.launch(`s${i + 1}`, args, `127.0.0.1:${rpcPorts[i]}`));
  }
  await Promise.all(servers.map((s) => waitUp(s)));
  a = await group.launch('client-a', ['-data-dir', group.dir('client-failure-a'), '-config-file', join(conf, 'web.json'), ...join_]);
  b = await group.launch('client-b', ['-data-dir', group.dir('client-failure-b'), '-retry-join', servers[1]!.rpc]);
  await Promise.all([waitUp(a), waitUp(b)]);
  await until('B to answer web.service.consul', async () => (await webOnB()).addrs.length === 1, 10_000);
}, 45_000);

afterAll(() => group.cleanup());

describe('client agent failure detection (3 servers + 2 clients, real processes)', () => {
  it('marks a SIGKILLed client critical within the timeout, drops its service from DNS, and brings it back on restart', async () => {
    for (const s of servers) expect((await serfHealth(s, 'client-a'))?.Status).toBe('passing');
    const t0 = performance.now();
    a.child.kill('SIGKILL');
    await a.exited;

    await serfHealthBecomes(servers, 'client-a', 'critical', tuning.failureTimeoutMs + 5_000);
    const detectMs = performance.now() - t0;
    console.log(`SIGKILL of client-a -> serfHealth critical on all 3 servers in ${detectMs.toFixed(0)} ms (failure timeout ${tuning.failureTimeoutMs} ms)`);
    // Not before several beats were missed (the last one was at most one interval before the kill).
    expect(detectMs).toBeGreaterThan(tuning.failureTimeoutMs - tuning.heartbeatIntervalMs);
    expect(detectMs).toBeLessThan(tuning.failureTimeoutMs + 3_000);
    expect(await serfHealth(servers[0]!, 'client-a')).toMatchObject({ Status: 'critical', Output: SERF_OUTPUT.critical });

    // B's replica gets the verdict from the stream: web is no longer healthy, nor in DNS.
    await watch<unknown[]>(b, '/v1/health/service/web?passing', (rows) => rows.length === 0, 5_000);
    expect(await webOnB()).toEqual({ rcode: 'NXDOMAIN', addrs: [] });
    // Failed, not left: the node and its service stay in the catalog.
    expect((JSON.parse((await http(b, '/v1/catalog/service/web')).text) as { Node: string }[]).map((r) => r.Node)).toEqual(['client-a']);

    group.relaunch(a);
    await waitUp(a);
    await serfHealthBecomes(servers, 'client-a', 'passing', 10_000);
    await until('B to answer web again', async () => (await webOnB()).addrs.length === 1, 5_000);
    expect(await webOnB()).toEqual({ rcode: 'NOERROR', addrs: ['127.0.0.1'] });
  }, 30_000);

  it('marks a paused client critical, and passing again once it answers (written by the leader)', async () => {
    a.child.kill('SIGSTOP');
    try {
      await serfHealthBecomes(servers, 'client-a', 'critical', tuning.failureTimeoutMs + 5_000);
      await until('web to leave B\'s DNS', async () => (await webOnB()).rcode === 'NXDOMAIN', 5_000);
    } finally {
      a.child.kill('SIGCONT');
    }
    const t0 = performance.now();
    await serfHealthBecomes(servers, 'client-a', 'passing', 5_000);
    console.log(`SIGCONT of client-a -> serfHealth passing on all 3 servers in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(await serfHealth(servers[0]!, 'client-a')).toMatchObject({ Status: 'passing', Output: SERF_OUTPUT.passing });
    await until('B to answer web again', async () => (await webOnB()).addrs.length === 1, 5_000);
  }, 20_000);

  it('does not mark a client failed when the server it streams from is paused: it moves to another', async () => {
    const upstream = upstreamOf(b);
    const victim = servers.find((s) => s.rpc === upstream);
    expect(victim, `B's upstream ${upstream}`).toBeDefined();
    const others = servers.filter((s) => s !== victim);
    const before = await serfHealth(others[0]!, 'client-b');
    expect(before?.Status).toBe('passing');
    // Servers never heartbeat: were they judged like clients, they would all be critical by now.
    const nodes = ['client-a', 'client-b', ...servers.map((s) => s.name)];

    victim!.child.kill('SIGSTOP');
    try {
      // Longer than the failure timeout since the pause, checking all along on the live servers.
      const t0 = performance.now();
      let movedMs: number | undefined;
      while (performance.now() < t0 + tuning.failureTimeoutMs + 2 * tuning.reportIntervalMs) {
        for (const s of others) for (const node of nodes) expect((await serfHealth(s, node))?.Status, `${node} on ${s.name}`).toBe('passing');
        if (movedMs === undefined && upstreamOf(b) !== upstream) movedMs = performance.now() - t0;
        await new Promise((res) => setTimeout(res, 200));
      }
      expect(movedMs, 'B to follow another server').toBeDefined();
      console.log(`B left its paused upstream after ${movedMs!.toFixed(0)} ms`);
      // Never flapped: the check was not written at all meanwhile.
      expect((await serfHealth(others[0]!, 'client-b'))?.ModifyIndex).toBe(before!.ModifyIndex);
      expect((await webOnB()).addrs).toEqual(['127.0.0.1']);
    } finally {
      victim!.child.kill('SIGCONT');
    }
  }, 25_000);

  it('deregisters a client agent\'s node when it leaves gracefully (SIGTERM)', async () => {
    const t0 = performance.now();
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    await Promise.all(servers.map((s) => watch<{ Node: string }[]>(s, '/v1/catalog/nodes?stale', (ns) => !ns.some((n) => n.Node === 'client-a'), 5_000)));
    await until('web to leave B\'s DNS', async () => (await webOnB()).rcode === 'NXDOMAIN', 5_000);
    // The leave, not the failure detector (which would only have marked it critical, and later).
    expect(performance.now() - t0).toBeLessThan(tuning.failureTimeoutMs);
    expect(a.out).toMatch(/left the cluster: node client-a deregistered/);
  }, 15_000);
});
