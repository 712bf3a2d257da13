/**
 * A client agent's heartbeat over real TCP to fake servers (TcpTransports answering the
 * heartbeat method as client-liveness-monitor.ts does): where beats go when the stream's server
 * answers, answers without reaching the leader, or does not answer at all, and when the agent
 * leaves its stream server. The link is a ClientLink that never subscribes (the stream's server
 * is the first address), seen through a wrapper that records moveOff.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StateMachine } from '../catalog/state-machine.ts';
import { silentLogger } from '../log.ts';
import { TcpTransport } from '../rpc/tcp-transport.ts';
import { until } from '../cli/commands/cli-harness.ts';
import { ClientHeartbeat, type HeartbeatLink } from './client-heartbeat.ts';
import { ClientLink } from './client-link.ts';
import { LIVENESS_RPC } from './client-liveness.ts';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

type Mode = 'reaches-leader' | 'cut-off' | 'silent';

/** A server answering heartbeats per its mode (changeable), counting the beats it got per node. */
async function fakeServer(id: string, mode: Mode): Promise<{ address: string; beats: string[]; mode: Mode }> {
  const transport = new TcpTransport({ nodeId: id, clusterId: 'herald/dc1', listen: '127.0.0.1:0' });
  await transport.start();
  const s = { address: transport.address!, beats: [] as string[], mode };
  transport.handle(LIVENESS_RPC.heartbeat, (body, ctx) => {
    if (s.mode === 'silent') return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(null)));
    s.beats.push((body as { node: string }).node);
    return { intervalMs: 100, leaderReachable: s.mode === 'reaches-leader' };
  });
  closers.push(() => transport.close());
  return s;
}

function heartbeat(servers: string[]): { moved: string[] } {
  const link = new ClientLink({ nodeId: 'client', datacenter: 'dc1', servers, sm: new StateMachine(), plugins: [], log: silentLogger });
  const moved: string[] = [];
  const seen: HeartbeatLink = {
    get server() {
      return link.server;
    },
    requestAnyServer: (...args) => link.requestAnyServer(...args),
    moveOff: (address) => void moved.push(address),
  };
  const hb = new ClientHeartbeat({ link: seen, node: () => 'web-1', log: silentLogger });
  hb.start();
  closers.push(() => link.stop());
  closers.push(() => hb.stop());
  return { moved };
}

describe('ClientHeartbeat', () => {
  it('beats the server it streams from only, at the interval the server asks for', async () => {
    const [s1, s2] = [await fakeServer('s1', 'reaches-leader'), await fakeServer('s2', 'reaches-leader')];
    const { moved } = heartbeat([s1.address, s2.address]);
    // 100 ms asked (the first beat uses the 1 s default): several beats within a second.
    await until('five beats on s1', async () => s1.beats.length >= 5, 3_000);
    expect(new Set(s1.beats)).toEqual(new Set(['web-1']));
    expect(s2.beats).toEqual([]);
    expect(moved).toEqual([]);
  });

  it('also beats the next server when its own cannot reach the leader, and leaves it after two such beats', async () => {
    const [s1, s2] = [await fakeServer('s1', 'cut-off'), await fakeServer('s2', 'reaches-leader')];
    const { moved } = heartbeat([s1.address, s2.address]);
    await until('s1 to be left', async () => moved.length > 0, 3_000);
    expect(moved[0]).toBe(s1.address);
    expect(s2.beats.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps its server when no server reaches the leader (an election)', async () => {
    const [s1, s2] = [await fakeServer('s1', 'cut-off'), await fakeServer('s2', 'cut-off')];
    const { moved } = heartbeat([s1.address, s2.address]);
    await until('four beats on s1', async () => s1.beats.length >= 4, 3_000);
    expect(moved).toEqual([]);
  });

  it('beats another server when its own does not answer, and leaves it after two missed beats', async () => {
    const [s1, s2] = [await fakeServer('s1', 'reaches-leader'), await fakeServer('s2', 'reaches-leader')];
    const { moved } = heartbeat([s1.address, s2.address]);
    await until('a beat on s1', async () => s1.beats.length >= 1, 3_000);
    s1.mode = 'silent'; // as a SIGSTOPped process: the connection stays open, nothing answers
    await until('s1 to be left', async () => moved.length > 0, 3_000);
    expect(moved[0]).toBe(s1.address);
    expect(s2.beats.length).toBeGreaterThanOrEqual(2);
  });
});
