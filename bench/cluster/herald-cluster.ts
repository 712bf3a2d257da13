/**
 * Three `herald agent -server -bootstrap-expect 3` processes on loopback, as in
 * src/cli/server-cluster.test.ts: each with its own data dir (so storage_engine rocksdb, every
 * acknowledged write fsync'd), its own HTTP/DNS/server ports, joined through -retry-join, and
 * the kv plugin. Each is pinned with taskset to the server cores.
 */
import { join } from 'node:path';
import { agentArgs, freePort, HERALD_BIN, waitForAgent, type AgentArgsOptions } from '../../plugins/http-api/clients/agent-process.ts';
import type { ProcessReaper } from '../dns/process-reaper.ts';
import type { Cluster, Member } from './cluster.ts';
import { call } from './http-call.ts';

/** Keys go into the URL path: escape each segment, keep the slashes. */
const kvPath = (key: string) => '/v1/kv/' + key.split('/').map(encodeURIComponent).join('/');

/** The replicated-state plugins every agent of the cluster runs (servers refuse a different set). */
export const REPLICATED_PLUGINS = ['-plugin', 'kv'];

/**
 * Starts one `herald agent` (arguments from agentArgs) pinned with taskset to `cpus`, through the
 * reaper; does not wait for it to serve.
 */
export async function spawnPinnedAgent(reaper: ProcessReaper, name: string, cpus: string, cwd: string, o: AgentArgsOptions): Promise<Member> {
  const cmdArgs = ['-c', cpus, process.execPath, HERALD_BIN, ...agentArgs(o)];
  const proc = await reaper.spawn(`herald-${name}`, 'taskset', cmdArgs, { cwd });
  return { name, origin: `http://127.0.0.1:${o.httpPort}`, cmd: 'taskset', args: cmdArgs, proc };
}

/** The Herald cluster, plus what client agents need to join it. */
export interface HeraldCluster extends Cluster {
  kind: 'herald';
  /** The server's RPC address (`127.0.0.1:<port>`), what `-retry-join` names. */
  rpcAddress(m: Member): string;
}

/** Starts the three servers and waits until each serves HTTP (not yet until a leader exists). */
export async function startHeraldCluster(reaper: ProcessReaper, work: string, serverCpus: string, cwd: string): Promise<HeraldCluster> {
  const ports: { rpc: number; http: number; dns: number }[] = [];
  for (let i = 0; i < 3; i++) ports.push({ rpc: await freePort(), http: await freePort(), dns: await freePort() });
  const joins = ports.flatMap((p) => ['-retry-join', `127.0.0.1:${p.rpc}`]);
  const members: Member[] = [];
  const rpcOf = new Map<string, Member>();
  const addressOf = new Map<Member, string>();
  for (let i = 0; i < 3; i++) {
    const p = ports[i]!;
    const m = await spawnPinnedAgent(reaper, `h${i + 1}`, serverCpus, cwd, {
      httpPort: p.http,
      dnsPort: p.dns,
      nodeName: `h${i + 1}`,
      dataDir: join(work, `herald-${i + 1}`),
      extraArgs: ['-server', '-bootstrap-expect', '3', '-server-port', String(p.rpc), ...REPLICATED_PLUGINS, ...joins],
    });
    members.push(m);
    rpcOf.set(`127.0.0.1:${p.rpc}`, m);
    addressOf.set(m, `127.0.0.1:${p.rpc}`);
  }
  await Promise.all(members.map((m) => waitForAgent(m.origin, m.proc.exited, () => m.proc.tail(), 60_000)));

  const leaderSeenBy = async (m: Member): Promise<string> => {
    const r = await call(m.origin, 'GET', '/v1/status/leader', undefined, 2000);
    if (r.status !== 200) return '';
    try {
      return JSON.parse(r.text) as string;
    } catch {
      return '';
    }
  };

  return {
    kind: 'herald',
    members,
    settings: 'Herald defaults (src/raft/driver-config.ts: tick 50 ms, election timeout 6 ticks randomised up to 12 ticks = 300-600 ms); storage_engine rocksdb (a data dir outside -dev)',
    async agreedLeader() {
      const live = members.filter((m) => !m.proc.done);
      const seen = await Promise.all(live.map(leaderSeenBy));
      if (seen[0] === '' || seen.some((s) => s !== seen[0])) return undefined;
      const leader = rpcOf.get(seen[0]!);
      return leader && !leader.proc.done ? leader : undefined;
    },
    async put(m, key, value, timeoutMs) {
      const r = await call(m.origin, 'PUT', kvPath(key), value, timeoutMs);
      return { ok: r.status === 200 && r.text.trim() === 'true', detail: r.error ?? `${r.status} ${r.text.slice(0, 80)}` };
    },
    async readLocal(m, key) {
      const r = await call(m.origin, 'GET', `${kvPath(key)}?stale&raw`, undefined, 2000);
      return r.status === 200 ? r.text : undefined;
    },
    loadWorkload: 'herald-put',
    gateway: '',
    rpcAddress: (m) => addressOf.get(m)!,
  };
}
