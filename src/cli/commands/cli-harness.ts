/**
 * Test harness for the client commands: a real `herald agent -dev -plugin http-api` child
 * process on free loopback ports, and the `herald` CLI run as a child process against it.
 * Waits are on process events, or polls bounded by a deadline where there is no event (the
 * HTTP port coming up). `captureIo` runs a command in-process where no process behaviour is
 * under test (usage errors). Used by the *.test.ts files next to it; not part of the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../output.ts';

const HERALD = join(import.meta.dirname, '..', 'herald.mjs');

/** A port nothing listens on right now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A fresh temporary directory (for config dirs and service files). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `herald-cli-${prefix}-`));
}

export interface RunningAgent {
  child: ChildProcess;
  httpPort: number;
  dnsPort: number;
  httpAddr: string;
  configDir: string;
  /** Everything the agent printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGKILL if still running (afterAll). */
  kill(): void;
}

/**
 * Polls `probe` until it holds; throws after `deadlineMs`, or at once when `abandon()` says the
 * wait is pointless (the process died). For conditions that raise no event.
 */
export async function until(
  what: string,
  probe: () => Promise<boolean>,
  deadlineMs = 20_000,
  abandon: () => string | undefined = () => undefined,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const reason = abandon();
    if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    try {
      if (await probe()) return;
    } catch {
      /* not there yet */
    }
    if (Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/**
 * Starts `herald agent -dev -config-dir <dir> -dns-port <free> -http-port <free> -plugin
 * http-api -node <node>` and resolves once GET /v1/agent/self answers 200. Rejects (with the
 * agent's output) when it exits first or does not answer within the deadline.
 */
export async function startAgent(opts: { configDir: string; node?: string; extraArgs?: string[] }): Promise<RunningAgent> {
  const [httpPort, dnsPort] = [await freePort(), await freePort()];
  const args = [
    HERALD, 'agent', '-dev', '-config-dir', opts.configDir, '-dns-port', String(dnsPort), '-http-port', String(httpPort),
    '-plugin', 'http-api', '-node', opts.node ?? 'cli-test', ...(opts.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const agent: RunningAgent = {
    child,
    httpPort,
    dnsPort,
    httpAddr: `127.0.0.1:${httpPort}`,
    configDir: opts.configDir,
    output: () => out,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  try {
    await until(
      'the agent to answer GET /v1/agent/self',
      async () => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/v1/agent/self`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        return res.status === 200;
      },
      20_000,
      () => (exitCode !== undefined ? `the agent exited with ${exitCode}` : undefined),
    );
  } catch (err) {
    agent.kill();
    throw new Error(`${(err as Error).message}; agent output:\n${out}`);
  }
  return agent;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node src/cli/herald.mjs <args>` and resolves when it exits. `env` replaces the HTTP
 * settings variables (HERALD_* and CONSUL_* are cleared first, so the caller's shell cannot
 * leak in). Killed after `timeoutMs` (then `code` is null), below the 30 s test timeouts.
 * `stdin`, when given, is written to the command's standard input (otherwise it has none).
 */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 25_000, stdin?: string | Buffer): Promise<CliResult> {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const k of ['HERALD_HTTP_ADDR', 'CONSUL_HTTP_ADDR', 'HERALD_HTTP_TOKEN', 'CONSUL_HTTP_TOKEN']) delete base[k];
  const child = spawn(process.execPath, [HERALD, ...args], { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...base, ...env } });
  if (stdin !== undefined) child.stdin!.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A CliIo that records what a command prints, for running a command in-process. */
export function captureIo(env: Record<string, string | undefined> = {}): CliIo & { stdout(): string; stderr(): string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (m) => void out.push(m + '\n'),
    err: (m) => void err.push(m + '\n'),
    env,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}
