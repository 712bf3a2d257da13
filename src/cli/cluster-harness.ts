/**
 * Real Herald agents for fault tests: `herald agent -server` processes and client agents (no
 * -server, -retry-join to the servers), inside the test's network namespace
 * (src/cli/fault-netns.ts). Agent i binds RPC on its own 127.0.0.i and serves HTTP and DNS on
 * the namespace side of the veth (reachable from the test process), each under its own uid (so
 * nftables can tell their connections apart: src/cli/nft-faults.ts). The namespace is private,
 * so the ports are Consul's fixed defaults (8300 RPC, 8500 HTTP, 8600 DNS): nothing else can
 * hold them, and they sit below the ephemeral range outbound connections take theirs from.
 * Process faults: SIGKILL + restart on the same data dir, SIGSTOP/SIGCONT. Waits poll HTTP
 * answers with a deadline (there is no event to wait on across processes). Test-only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, until } from './commands/cli-harness.ts';
import type { FaultNetns } from './fault-netns.ts';

const HERALD = join(import.meta.dirname, 'herald.mjs');
const PORTS = { rpc: 8300, http: 8500, dns: 8600 };
/** How much of an agent's output is kept (across restarts) for failure reports. */
const OUT_BYTES = 64 * 1024;

/**
 * The uids the agents run under: fixed (not per run) so tsx's per-uid compile cache in the temp
 * dir is reused between runs. Unassigned on the CI image; nothing else runs under them.
 */
export const AGENT_UID_BASE = 64100;

export interface ClusterNode {
  /** s1…sN for servers, client-a, client-b… for client agents. */
  readonly name: string;
  /** 1-based over all agents (servers first): its 127.0.0.<index>, namespace address and uid. */
  readonly index: number;
  readonly role: 'server' | 'client';
  readonly uid: number;
  /** `127.0.0.i:8300`, what /v1/status/leader answers; absent for a client agent. */
  readonly rpc?: string;
  /** `addr:port` of its HTTP API, reachable from the test process. */
  readonly http: string;
  readonly dataDir: string;
  readonly args: string[];
  child: ChildProcess;
  /** The tail of everything its processes printed, restarts marked. */
  out: string;
  /** Resolves when the current process exits (code, or null when killed by a signal). */
  exited: Promise<number | null>;
  paused: boolean;
}

/** GET with a timeout; throws on a network error or timeout. */
export async function httpGet(n: Pick<ClusterNode, 'http'>, path: string, timeoutMs = 2_000): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${n.http}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text() };
}

/** A running group of agent processes and the process-level faults on them. */
export class Cluster {
  readonly servers: ClusterNode[] = [];
  readonly clients: ClusterNode[] = [];

  private constructor(private readonly netns: FaultNetns) {
    netns.onClose(() => this.killAllSync());
  }

  /** Every agent, servers first. */
  get nodes(): ClusterNode[] {
    return [...this.servers, ...this.clients];
  }

  /**
   * Prepares `servers` servers and `clients` client agents in `netns` (which needs at least
   * servers + clients addresses), with data dirs owned by each agent's uid; `start()` launches.
   * Client agent 1 knows every server; the others only one, so they must learn the rest from
   * the change stream.
   */
  static create(netns: FaultNetns, opts: { servers: number; clients: number }): Cluster {
    const c = new Cluster(netns);
    const rpcOf = (i: number) => `127.0.0.${i}:${PORTS.rpc}`;
    const joinAll = Array.from({ length: opts.servers }, (_, i) => ['-retry-join', rpcOf(i + 1)]).flat();
    for (let index = 1; index <= opts.servers + opts.clients; index++) {
      const server = index <= opts.servers;
      const name = server ? `s${index}` : `client-${String.fromCharCode(96 + index - opts.servers)}`;
      const uid = AGENT_UID_BASE + index;
      const dataDir = tempDir(`fault-${name}`);
      chownSync(dataDir, uid, uid);
      const join = server || index === opts.servers + 1 ? joinAll : ['-retry-join', rpcOf(1 + ((index - 1) % opts.servers))];
      const role = server ? ['-server', '-bootstrap-expect', String(opts.servers), '-server-port', String(PORTS.rpc)] : [];
      const args = [
        'agent', ...role, '-data-dir', dataDir, '-bind', `127.0.0.${index}`, '-client', netns.address(index),
        '-http-port', String(PORTS.http), '-dns-port', String(PORTS.dns), '-node', name, '-plugin', 'http-api', '-plugin', 'kv', ...join,
      ];
      const node: ClusterNode = {
        name, index, role: server ? 'server' : 'client', uid, ...(server ? { rpc: rpcOf(index) } : {}), http: `${netns.address(index)}:${PORTS.http}`,
        dataDir, args, child: undefined as unknown as ChildProcess, out: '', exited: Promise.resolve(null), paused: false,
      };
      (server ? c.servers : c.clients).push(node);
    }
    return c;
  }

  /** Launches the servers, waits until each answers HTTP, then the same for the client agents. */
  async start(): Promise<void> {
    for (const s of this.servers) this.launch(s);
    await Promise.all(this.servers.map((s) => this.waitUp(s)));
    // A client agent answers HTTP only once it has caught up with a server: after the servers.
    for (const n of this.clients) this.launch(n);
    await Promise.all(this.clients.map((n) => this.waitUp(n)));
  }

  launch(n: ClusterNode): void {
    const [cmd, ...args] = this.netns.command([process.execPath, HERALD, ...n.args], n.uid);
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    n.child = child;
    if (n.out) n.out += `\n--- ${n.name} restarted ---\n`;
    n.paused = false;
    const keep = (d: Buffer) => (n.out = (n.out + d.toString()).slice(-OUT_BYTES));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    n.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  alive(n: ClusterNode): boolean {
    return n.child !== undefined && n.child.exitCode === null && n.child.signalCode === null;
  }

  async waitUp(n: ClusterNode, deadlineMs = 30_000): Promise<void> {
    await until(`${n.name} to serve HTTP`, async () => (await httpGet(n, '/v1/agent/self')).status === 200, deadlineMs, () =>
      this.alive(n) ? undefined : `${n.name} exited:\n${n.out}`,
    );
  }

  /** SIGKILL, resolved once the process is gone. */
  async kill(n: ClusterNode): Promise<void> {
    if (n.paused) this.resume(n); // a stopped process still dies on SIGKILL; resuming keeps `paused` honest
    n.child.kill('SIGKILL');
    await n.exited;
  }

  /** Starts the agent again on its data dir and waits for HTTP. */
  async restart(n: ClusterNode): Promise<void> {
    this.launch(n);
    await this.waitUp(n);
  }

  pause(n: ClusterNode): void {
    n.child.kill('SIGSTOP');
    n.paused = true;
  }

  resume(n: ClusterNode): void {
    n.child.kill('SIGCONT');
    n.paused = false;
  }

  /** The servers that are running and not paused. */
  responsive(): ClusterNode[] {
    return this.servers.filter((s) => this.alive(s) && !s.paused);
  }

  /**
   * Waits until every server in `among` (default: the responsive ones) names the same leader,
   * one of them, other than `not`; returns it.
   */
  async agreedLeader(opts: { among?: ClusterNode[]; not?: ClusterNode; deadlineMs?: number } = {}): Promise<ClusterNode> {
    const among = opts.among ?? this.responsive();
    let found: ClusterNode | undefined;
    await until(
      `${among.map((s) => s.name).join(', ')} to agree on a leader${opts.not ? ` other than ${opts.not.name}` : ''}`,
      async () => {
        const ls = await Promise.all(among.map(async (s) => JSON.parse((await httpGet(s, '/v1/status/leader', 1_000)).text) as string));
        const l = this.servers.find((s) => s.rpc === ls[0]);
        if (!l || l === opts.not || !among.includes(l) || !ls.every((x) => x === ls[0])) return false;
        found = l;
        return true;
      },
      opts.deadlineMs ?? 20_000,
    );
    return found!;
  }

  /** SIGCONT + SIGKILL every live process at once (synchronous: also the namespace's exit hook). */
  killAllSync(): void {
    for (const n of this.nodes) {
      if (!this.alive(n)) continue;
      n.child.kill('SIGCONT');
      n.child.kill('SIGKILL');
    }
  }

  /** Kills every process, waits for the exits, then removes the data dirs. */
  async close(): Promise<void> {
    this.killAllSync();
    await Promise.all(this.nodes.map((n) => (n.child ? n.exited : undefined)));
    for (const n of this.nodes) rmSync(n.dataDir, { recursive: true, force: true });
  }
}
