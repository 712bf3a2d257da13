/**
 * `herald lock [options] prefix child...`, as `consul lock` (command/lock): holds the lock
 * `<prefix>/.lock` (KvLock: a session with a 15s TTL, renewed while held) and runs the child
 * command through a shell (`$SHELL -c`, /bin/sh by default; `-shell=false` runs it directly)
 * with CONSUL_LOCK_HELD=true. When the child exits, the lock is released, the session destroyed
 * and the key deleted if nobody took it. When the lock is lost (session invalidated, key taken
 * or deleted) or the command gets SIGINT/SIGTERM, the child gets SIGTERM, then SIGKILL after
 * 5 s, and the lock is released.
 *
 * Exit status: as Consul's, 0 once the lock was held and released, 1 on an error; with
 * `-child-exit-code`, 2 when the child failed (any non-zero status or a signal), as Consul's
 * scripts expect. The child's own status is in the `Error running handler` line.
 * `-n` > 1 (a semaphore) is not implemented: it is refused with an error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { posix } from 'node:path';
import {
  addHttpFlags,
  connectOrReport,
  FlagSet,
  parseDuration,
  parseOrExit,
  processIo,
  usageError,
  type CliIo,
} from '../../../src/plugin.ts';
import { KvApi } from './kv-api.ts';
import { KvLock } from './kv-lock.ts';

const HELP = `
Usage: herald lock [options] prefix child...

  Acquires a lock at a given path, and invokes a child process when
  successful. The child process can assume the lock is held while it executes.
  If the lock is lost or communication is disrupted the child process will be
  sent a SIGTERM signal and given time to gracefully exit. After the grace
  period expires the process will be hard terminated.

  The lock is the key "<prefix>/.lock", held by a session with a 15s TTL that
  is renewed while the child runs: the same key and flags "consul lock" uses,
  so the two exclude each other.

  Only -n=1 (a single holder) is supported; semaphores (-n > 1) are not.

  The prefix provided must have write privileges.
`;

/** How long a child gets between SIGTERM and SIGKILL (lockKillGracePeriod). */
export const KILL_GRACE_MS = 5_000;
/** api's defaultMonitorRetry. */
const DEFAULT_MONITOR_RETRY = 3;

/** Signals passed on to the child while it runs; the first two also end the command. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
const SHUTDOWN: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** The exit status a shell reports for a child: its code, or 128 + the signal that ended it. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

/** Go's ExitError text: `exit status N` or `signal: <name>`. */
function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return code !== null ? `exit status ${code}` : `signal: ${signal ?? 'unknown'}`;
}

/** Sends `signal` to the child's process group (it leads one), or to the child alone. */
function signalChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** `herald lock ...`; resolves with the exit code. */
export async function runLock(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const fs = new FlagSet(HELP);
  const http = addHttpFlags(fs, { server: true });
  const childExitCode = fs.bool(
    'child-exit-code',
    "Exit 2 if the child process exited with an error if this is true, otherwise this doesn't propagate an error from the child. The default value is false.",
  );
  const limit = fs.int(
    'n',
    'Optional limit on the number of concurrent lock holders. Only 1 (a lock) is supported; semaphores (more than 1) are not.',
    { default: 1, defaultText: '1' },
  );
  const monitorRetry = fs.int(
    'monitor-retry',
    'Number of times to retry if the agent returns a 5xx error (or cannot be reached) while monitoring the lock, 1s apart. 0 disables retries.',
    { default: DEFAULT_MONITOR_RETRY, defaultText: String(DEFAULT_MONITOR_RETRY) },
  );
  const name = fs.string('name', 'Optional name to associate with the lock session. If not provided, one is generated based on the provided child command.');
  const passStdin = fs.bool('pass-stdin', 'Pass stdin to the child process.');
  const shell = fs.bool('shell', 'Use a shell to run the command (can set a custom shell via the SHELL environment variable). The default value is true.');
  const timeout = fs.string('timeout', 'Maximum amount of time to wait to acquire the lock, specified as a duration like "1s" or "3h". The default value is 0 (wait for ever).', {
    example: 'duration',
  });
  const tryFlag = fs.string('try', 'DEPRECATED. Use -timeout instead.', { example: 'duration' });
  const verbose = fs.bool('verbose', 'Enable verbose (debugging) output.');
  const extra = parseOrExit(fs, argv, io);
  if (typeof extra === 'number') return extra;

  // Go's DurationVar refuses a bad value while parsing; do the same here, before anything else.
  let timeoutMs = 0;
  for (const f of [['try', tryFlag], ['timeout', timeout]] as const) {
    if (!f[1].set) continue;
    try {
      timeoutMs = parseDuration(f[1].value);
    } catch {
      return usageError(fs, io, `invalid value ${JSON.stringify(f[1].value)} for flag -${f[0]}: parse error`);
    }
  }
  if (limit.value <= 0) {
    io.err('Lock holder limit must be positive');
    return 1;
  }
  if (extra.length < 2) {
    io.err('Key prefix and child command must be specified');
    return 1;
  }
  const prefix = extra[0]!.replace(/^\//, '');
  const childArgs = extra.slice(1);
  if (timeoutMs < 0) {
    io.err('Timeout must be positive');
    return 1;
  }
  const sessionName = name.value || `Consul lock for '${childArgs.join(' ')}' at '${prefix}'`;
  if (monitorRetry.value < 0) {
    io.err("Number for 'monitor-retry' must be >= 0");
    return 1;
  }
  if (limit.value > 1) {
    io.err(`Lock setup failed: -n=${limit.value} asks for a semaphore, which herald lock does not support yet (only -n=1)`);
    return 1;
  }
  const client = connectOrReport(http, io);
  if (!client) return 1;
  try {
    await client.getJson('/v1/agent/self');
  } catch (err) {
    io.err(`Error querying agent: ${(err as Error).message}`);
    return 1;
  }

  const say = verbose.value ? (m: string) => io.out(m) : undefined;
  const key = posix.join(prefix, '.lock');
  say?.(`Setting up lock at path: ${key}`);
  const lock = new KvLock(new KvApi(client), { key, sessionName, monitorRetries: monitorRetry.value, verbose: say });

  // SIGINT/SIGTERM end the command (Consul's ShutdownCh); while a child runs, every forwarded
  // signal reaches it too.
  const shutdown = new AbortController();
  let child: ChildProcess | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) signalChild(child, signal);
    if (SHUTDOWN.includes(signal)) shutdown.abort();
  };
  const handlers = FORWARDED.map((s) => [s, () => onSignal(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  try {
    say?.('Attempting lock acquisition');
    let held: boolean;
    try {
      held = await lock.acquire(shutdown.signal, timeoutMs > 0 ? Date.now() + timeoutMs : undefined);
    } catch (err) {
      io.err(`Lock acquisition failed: ${(err as Error).message}`);
      return 1;
    }
    if (!held) {
      io.err('Shutdown triggered or timeout during lock acquisition');
      return 1;
    }

    let childCode = 0;
    if (shutdown.signal.aborted) {
      io.err('Shutdown triggered during lock acquisition');
    } else {
      say?.('Starting handler');
      const useShell = shell.set ? shell.value : true;
      const [cmd, ...args] = useShell ? [process.env.SHELL || '/bin/sh', '-c', childArgs.join(' ')] : childArgs;
      const started = spawn(cmd!, args, {
        stdio: [passStdin.value ? 'inherit' : 'ignore', 'inherit', 'inherit'],
        env: { ...process.env, CONSUL_LOCK_HELD: 'true', HERALD_LOCK_HELD: 'true' },
        // Its own process group, so a kill reaches whatever the shell started too.
        detached: true,
      });
      child = started;
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
        started.once('exit', (code, signal) => resolve({ code, signal }));
        started.once('error', (error) => resolve({ code: null, signal: null, error }));
      });
      const stopped = new Promise<'shutdown'>((resolve) => {
        if (shutdown.signal.aborted) resolve('shutdown');
        shutdown.signal.addEventListener('abort', () => resolve('shutdown'), { once: true });
      });
      const first = await Promise.race([exited, lock.lost.then(() => 'lost' as const), stopped]);
      let end: { code: number | null; signal: NodeJS.Signals | null; error?: Error };
      if (first === 'lost' || first === 'shutdown') {
        if (first === 'lost') io.err('Lock lost, killing child');
        else say?.('Shutdown triggered, killing child');
        say?.(`Terminating child pid ${started.pid}`);
        signalChild(started, 'SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<'grace'>((r) => (timer = setTimeout(() => r('grace'), KILL_GRACE_MS)));
        const after = await Promise.race([exited, grace]);
        clearTimeout(timer);
        if (after === 'grace') {
          say?.(`Child did not exit after grace period of ${KILL_GRACE_MS / 1000}s`);
          say?.(`Killing child pid ${started.pid}`);
          signalChild(started, 'SIGKILL');
          end = await exited;
        } else {
          say?.('Child terminated');
          end = after;
        }
      } else {
        end = first;
        say?.('Child terminated, releasing lock');
      }
      if (end.error) {
        io.err(`Error starting handler: ${end.error.message}`);
        childCode = 127;
      } else {
        if (end.code !== 0) io.err(`Error running handler: ${exitText(end.code, end.signal)}`);
        childCode = exitStatus(end.code, end.signal);
      }
    }

    try {
      await lock.release();
    } catch (err) {
      io.err(`Lock release failed: ${(err as Error).message}`);
      return 1;
    }
    try {
      const cleaned = await lock.cleanup();
      if (cleaned === 'in-use') say?.('Cleanup aborted, lock in use');
      else say?.('Cleanup succeeded');
    } catch (err) {
      io.err(`Lock cleanup failed: ${(err as Error).message}`);
      return 1;
    }
    return childExitCode.value && childCode !== 0 ? 2 : 0;
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}
