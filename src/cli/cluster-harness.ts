/**
 * Three (or more) real `herald agent -server` processes for fault tests, each on its own
 * 127.0.0.x address (HTTP, DNS and RPC bound there) and under its own uid (so nftables can tell
 * their connections apart: src/cli/nft-faults.ts). Process faults: SIGKILL + restart on the same
 * data dir, SIGSTOP/SIGCONT. Waits poll HTTP answers with a deadline (there is no event to wait
 * on across processes). Test-only; not part of the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir, until } from './commands/cli-harness.ts';

const HERALD = join(import.meta.dirname, 'herald.mjs');

/**
 * The uids the servers run under: fixed (not per run) so tsx's per-uid compile cache in the temp
 * dir is reused between runs. Unassigned on the CI image; nothing else runs under them.
 */
export const SERVER_UID_BASE = 64100;

export interface ClusterServer {
  readonly name: string;
  /** 1-based. */
  readonly index: number;
  readonly addr: string;
  readonly uid: number;
  readonly rpcPort: number;
  readonly httpPort: number;
  /** `addr:rpcPort`, what /v1/status/leader answers. */
  readonly rpc: string;
  /** `addr:httpPort`. */
  readonly http: string;
  readonly dataDir: string;
  readonly args: string[];
  child: ChildProcess;
  /** Everything the current process printed. */
  out: string;
  /** Resolves when the current process exits (code, or null when killed by a signal). */
  exited: Promise<number | null>;
  paused: boolean;
}

/** GET with a timeout; throws on a network error or timeout. */
export async function httpGet(s: ClusterServer, path: string, timeoutMs = 2_000): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${s.http}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text() };
}

/** A running server process group and the process-level faults on it. */
export class Cluster {
  readonly servers: ClusterServer[] = [];

  private constructor() {}

  /** Picks ports and data dirs (owned by each server's uid); `start()` launches. */
  static async create(size = 3): Promise<Cluster> {
    const c = new Cluster();
    const ports = [];
    for (let i = 0; i < size; i++) ports.push({ rpc: await freePort(), http: await freePort(), dns: await freePort() });
    const join = ports.flatMap((p, i) => ['-retry-join', `127.0.0.${i + 1}:${p.rpc}`]);
    for (let i = 0; i < size; i++) {
      const p = ports[i]!;
      const addr = `127.0.0.${i + 1}`;
      const uid = SERVER_UID_BASE + i + 1;
      const dataDir = tempDir(`fault-s${i + 1}`);
      chownSync(dataDir, uid, uid);
      const args = [
        'agent', '-server', '-bootstrap-expect', String(size), '-data-dir', dataDir, '-bind', addr, '-client', addr,
        '-server-port', String(p.rpc), '-http-port', String(p.http), '-dns-port', String(p.dns), '-node', `s${i + 1}`,
        '-plugin', 'http-api', '-plugin', 'kv', ...join,
      ];
      c.servers.push({
        name: `s${i + 1}`, index: i + 1, addr, uid, rpcPort: p.rpc, httpPort: p.http, rpc: `${addr}:${p.rpc}`, http: `${addr}:${p.http}`,
        dataDir, args, child: undefined as unknown as ChildProcess, out: '', exited: Promise.resolve(null), paused: false,
      });
    }
    return c;
  }

  /** Launches every server and waits until each answers HTTP. */
  async start(): Promise<void> {
    for (const s of this.servers) this.launch(s);
    await Promise.all(this.servers.map((s) => this.waitUp(s)));
  }

  launch(s: ClusterServer): void {
    const child = spawn(process.execPath, [HERALD, ...s.args], { uid: s.uid, gid: s.uid, stdio: ['ignore', 'pipe', 'pipe'] });
    s.child = child;
    s.out = '';
    s.paused = false;
    child.stdout!.on('data', (d) => (s.out += d));
    child.stderr!.on('data', (d) => (s.out += d));
    s.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  alive(s: ClusterServer): boolean {
    return s.child !== undefined && s.child.exitCode === null && s.child.signalCode === null;
  }

  async waitUp(s: ClusterServer, deadlineMs = 30_000): Promise<void> {
    await until(`${s.name} to serve HTTP`, async () => (await httpGet(s, '/v1/agent/self')).status === 200, deadlineMs, () =>
      this.alive(s) ? undefined : `${s.name} exited:\n${s.out}`,
    );
  }

  /** SIGKILL, resolved once the process is gone. */
  async kill(s: ClusterServer): Promise<void> {
    if (s.paused) this.resume(s); // a stopped process still dies on SIGKILL; resuming keeps `paused` honest
    s.child.kill('SIGKILL');
    await s.exited;
  }

  /** Starts the server again on its data dir and waits for HTTP. */
  async restart(s: ClusterServer): Promise<void> {
    this.launch(s);
    await this.waitUp(s);
  }

  pause(s: ClusterServer): void {
    s.child.kill('SIGSTOP');
    s.paused = true;
  }

  resume(s: ClusterServer): void {
    s.child.kill('SIGCONT');
    s.paused = false;
  }

  /** The servers that are running and not paused. */
  responsive(): ClusterServer[] {
    return this.servers.filter((s) => this.alive(s) && !s.paused);
  }

  /**
   * Waits until every server in `among` (default: the responsive ones) names the same leader,
   * one of them, other than `not`; returns it.
   */
  async agreedLeader(opts: { among?: ClusterServer[]; not?: ClusterServer; deadlineMs?: number } = {}): Promise<ClusterServer> {
    const among = opts.among ?? this.responsive();
    let found: ClusterServer | undefined;
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

  /** SIGCONT and SIGKILL every process, then removes the data dirs. */
  async close(): Promise<void> {
    for (const s of this.servers) {
      if (!this.alive(s)) continue;
      s.child.kill('SIGCONT');
      s.child.kill('SIGKILL');
      await s.exited;
    }
    for (const s of this.servers) rmSync(s.dataDir, { recursive: true, force: true });
  }
}
