/**
 * Real `herald agent` processes for cluster tests (servers and client agents on 127.0.0.1,
 * each on free HTTP and DNS ports): launch, wait until HTTP answers, restart on the same
 * ports, and clean everything up. Waits poll with a deadline, or give up at once when the
 * process exited. Test-only; not part of the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir, until } from '../cli/commands/cli-harness.ts';

const HERALD = join(import.meta.dirname, '..', 'cli', 'herald.mjs');

export interface AgentProc {
  readonly name: string;
  /** A server's RPC address (`127.0.0.1:<port>`), '' for a client agent. */
  readonly rpc: string;
  /** `127.0.0.1:<port>`. */
  readonly http: string;
  readonly dns: number;
  /** The `herald agent` arguments before the ports and the node name. */
  readonly args: string[];
  child: ChildProcess;
  /** Everything the current process printed. */
  out: string;
  /** Resolves with the current process's exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** GET (or `init`) an agent's HTTP API with a timeout. */
export async function agentHttp(p: AgentProc, path: string, init: RequestInit = {}, timeoutMs = 5_000): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`http://${p.http}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** Waits until the agent answers GET /v1/agent/self; fails at once with its output when it exits. */
export async function waitUp(p: AgentProc, deadlineMs = 25_000): Promise<void> {
  let code: number | null | undefined;
  void p.exited.then((c) => (code = c));
  await until(`${p.name} to serve HTTP`, async () => (await agentHttp(p, '/v1/agent/self')).status === 200, deadlineMs, () =>
    code !== undefined ? `${p.name} exited with ${code}:\n${p.out}` : undefined,
  );
}

/** The agents one test file starts, and their data dirs. */
export class AgentProcs {
  readonly all: AgentProc[] = [];
  private readonly dirs: string[] = [];

  /** A temporary directory removed by cleanup(). */
  dir(prefix: string): string {
    const d = tempDir(prefix);
    this.dirs.push(d);
    return d;
  }

  /**
   * Starts `herald agent <args> -bind 127.0.0.1 -http-port <free> -dns-port <free> -node <name>
   * -plugin http-api -plugin kv` (does not wait for it: see waitUp).
   */
  async launch(name: string, args: string[], rpc = ''): Promise<AgentProc> {
    const [http, dns] = [await freePort(), await freePort()];
    const p: AgentProc = { name, rpc, http: `127.0.0.1:${http}`, dns, args, child: undefined as unknown as ChildProcess, out: '', exited: Promise.resolve(null) };
    this.spawn(p);
    this.all.push(p);
    return p;
  }

  /** Starts the agent again with the same arguments and ports (its previous process must be gone). */
  relaunch(p: AgentProc): void {
    this.spawn(p);
  }

  private spawn(p: AgentProc): void {
    const port = (hostPort: string) => hostPort.slice(hostPort.lastIndexOf(':') + 1);
    const child = spawn(
      process.execPath,
      [HERALD, 'agent', ...p.args, '-bind', '127.0.0.1', '-http-port', port(p.http), '-dns-port', String(p.dns), '-node', p.name, '-plugin', 'http-api', '-plugin', 'kv'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    p.child = child;
    p.out = '';
    child.stdout!.on('data', (d) => (p.out += d));
    child.stderr!.on('data', (d) => (p.out += d));
    p.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** SIGCONT and SIGKILL whatever still runs, then removes the data dirs. */
  cleanup(): void {
    for (const p of this.all) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}
