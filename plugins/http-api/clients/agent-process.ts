/**
 * A real `herald agent` child process with the HTTP API on, for the client compatibility tests
 * and the HTTP benchmark: free loopback ports, `-dev` (or a data dir) `-plugin http-api`, ready once
 * `GET /v1/agent/self` answers 200, stopped with SIGTERM (SIGKILL after a grace period).
 * Follows src/cli/agent-process.test.ts: waits are on process events, and on HTTP polling with
 * a deadline where there is no event to wait on (the agent announces nothing when it listens).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../../src/cli/commands/cli-harness.ts';

/** The `herald` executable (tsx-loaded TypeScript, no build step). */
export const HERALD_BIN = join(import.meta.dirname, '../../../src/cli/herald.mjs');

/** Keep this much of the agent's stdout+stderr for error messages. */
const OUTPUT_TAIL = 16_384;

/** A port that was free on 127.0.0.1 a moment ago (the kernel picks it; tiny reuse race accepted). */
export { freePort };

export interface AgentArgsOptions {
  httpPort: number;
  dnsPort: number;
  /** `-node`; default `herald-test`. */
  nodeName?: string;
  /** `-config-dir`, when given. */
  configDir?: string;
  /**
   * Run without `-dev`, keeping state in this data dir. A `-dev` agent pretty-prints every JSON
   * answer (as Consul's dev mode does), so the benchmark runs a production-style agent instead.
   */
  dataDir?: string;
  /** More flags, appended last (e.g. `-node-meta rack:r1`). */
  extraArgs?: string[];
}

/** The `herald agent ...` argument vector (after the executable) for a loopback-only agent with the HTTP API. */
export function agentArgs(o: AgentArgsOptions): string[] {
  const mode = o.dataDir === undefined ? ['-dev'] : ['-data-dir', o.dataDir];
  const args = ['agent', ...mode, '-node', o.nodeName ?? 'herald-test', '-bind', '127.0.0.1', '-client', '127.0.0.1'];
  args.push('-http-port', String(o.httpPort), '-dns-port', String(o.dnsPort), '-plugin', 'http-api');
  if (o.configDir) args.push('-config-dir', o.configDir);
  return [...args, ...(o.extraArgs ?? [])];
}

/**
 * Polls `GET <baseUrl>/v1/agent/self` until it answers 200 with a JSON `Config`, failing at once
 * if `exited` settles first (the agent refused to start) and after `deadlineMs` otherwise.
 * `output` is included in the error, so a refused config shows why.
 */
export async function waitForAgent(
  baseUrl: string,
  exited: Promise<unknown>,
  output: () => string,
  deadlineMs = 30_000,
): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const end = Date.now() + deadlineMs;
  let last = 'no answer yet';
  for (let attempt = 0; attempt < 10_000; attempt++) {
    if (gone) throw new Error(`herald agent exited before answering GET /v1/agent/self:\n${output()}`);
    try {
      const res = await fetch(`${baseUrl}/v1/agent/self`, { signal: AbortSignal.timeout(2000) });
      const text = await res.text();
      if (res.status === 200 && typeof (JSON.parse(text) as { Config?: unknown }).Config === 'object') return;
      last = `HTTP ${res.status}: ${text.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > end) {
      throw new Error(`herald agent did not answer GET /v1/agent/self within ${deadlineMs} ms (last: ${last}):\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('unreachable: poll count exhausted');
}

export interface AgentProcessOptions extends Partial<Pick<AgentArgsOptions, 'nodeName' | 'configDir' | 'dataDir' | 'extraArgs'>> {
  /** Prepended to the command line, e.g. `['taskset', '-c', '0']` (it must exec, keeping the pid). */
  commandPrefix?: string[];
  /** How long to wait for `/v1/agent/self`; default 30 s. */
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** A running agent. `stop()` is idempotent. */
export interface AgentProcess {
  child: ChildProcess;
  pid: number;
  httpPort: number;
  dnsPort: number;
  /** `http://127.0.0.1:<httpPort>` (no trailing slash). */
  baseUrl: string;
  /** The last 16 KiB of stdout and stderr, interleaved. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts `herald agent -dev -plugin http-api` on fresh loopback ports and resolves once
 * `GET /v1/agent/self` answers. On failure the child is killed and the error carries its output.
 */
export async function startAgentProcess(opts: AgentProcessOptions = {}): Promise<AgentProcess> {
  const httpPort = await freePort();
  const dnsPort = await freePort();
  const argv = [process.execPath, HERALD_BIN, ...agentArgs({ httpPort, dnsPort, ...opts })];
  const prefix = opts.commandPrefix ?? [];
  const [cmd, ...args] = [...prefix, ...argv];
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString('utf8')).slice(-OUTPUT_TAIL);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      out += `\nspawn error: ${err.message}`;
      resolve(null);
    });
  });
  let stopping: Promise<number | null> | undefined;
  const stop = (graceMs = 5000): Promise<number | null> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), graceMs)));
      const first = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (first !== 'timeout') return first;
      child.kill('SIGKILL');
      return exited;
    })();
    return stopping;
  };
  const baseUrl = `http://127.0.0.1:${httpPort}`;
  try {
    await waitForAgent(baseUrl, exited, () => out, opts.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await stop(1000);
    throw err;
  }
  return { child, pid: child.pid!, httpPort, dnsPort, baseUrl, output: () => out, exited, stop };
}
