/**
 * One run of a script check (Consul's CheckMonitor): exec `args` without a shell, in a new
 * process group, and map the exit code the way Nagios plugins do: 0 passing, 1 warning,
 * anything else critical.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { formatDuration } from '../../duration.ts';
import { OUTPUT_MAX_SIZE, type CheckResult } from './check-runner.ts';

/** Consul's default per-run timeout for script checks. */
export const SCRIPT_DEFAULT_TIMEOUT_MS = 30_000;

export interface ScriptCheckOptions {
  /** argv; args[0] is looked up on PATH. Never run through a shell. */
  args: string[];
  /** ms, default 30 s. */
  timeout?: number;
  /** Bytes of output kept, default 4096. */
  outputMaxSize?: number;
}

/**
 * Runs the script once and resolves (never rejects) with its result.
 * Output is stdout and stderr in arrival order, the first `outputMaxSize` bytes kept; later
 * bytes are read and dropped so the child never blocks on a full pipe. On timeout (or abort)
 * the whole process group is SIGKILLed and the result is critical
 * `Timed out (<t>) running check`, followed by the output so far, as Consul reports it.
 * The promise settles only after the direct child has exited, so runs never overlap.
 */
export function runScriptCheck(opts: ScriptCheckOptions, signal?: AbortSignal): Promise<CheckResult> {
  const timeout = opts.timeout && opts.timeout > 0 ? opts.timeout : SCRIPT_DEFAULT_TIMEOUT_MS;
  const cap = opts.outputMaxSize && opts.outputMaxSize > 0 ? opts.outputMaxSize : OUTPUT_MAX_SIZE;
  if (opts.args.length === 0 || opts.args[0] === '') {
    return Promise.resolve({ status: 'critical', output: 'no script args to run' });
  }
  if (signal?.aborted) return Promise.resolve({ status: 'critical', output: 'check stopped' });

  return new Promise<CheckResult>((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let total = 0;
    let settled = false;
    let killedBy: 'timeout' | 'abort' | undefined;

    // detached: the child calls setsid(), so it leads a new process group and a timeout can
    // kill everything it started (Consul: exec.KillCommandSubtree).
    let child: ChildProcess;
    try {
      child = spawn(opts.args[0]!, opts.args.slice(1), {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (err) {
      // Invalid arguments (a NUL byte in argv) throw synchronously.
      resolve({ status: 'critical', output: err instanceof Error ? err.message : String(err) });
      return;
    }

    const collect = (chunk: Buffer) => {
      total += chunk.length;
      if (kept >= cap) return;
      const part = chunk.length <= cap - kept ? chunk : chunk.subarray(0, cap - kept);
      chunks.push(part);
      kept += part.length;
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    // Errors on our pipe ends (EPIPE, destroy after kill) are not the check's result.
    child.stdout!.on('error', () => {});
    child.stderr!.on('error', () => {});

    const output = (): string => {
      const text = Buffer.concat(chunks).toString('utf8');
      // Same marker Consul's TTL check uses for head-truncated output.
      return total > kept ? `${text} ... (captured ${kept} of ${total} bytes)` : text;
    };

    const finish = (result: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };

    const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;

    const killGroup = (why: 'timeout' | 'abort') => {
      if (killedBy || settled) return;
      killedBy = why;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // ESRCH: the group is already gone.
        }
      }
      // A process that left the group could still hold our pipes open; stop waiting for them.
      child.stdout!.destroy();
      child.stderr!.destroy();
      const report = () => {
        if (why === 'abort') return finish({ status: 'critical', output: 'check stopped' });
        let msg = `Timed out (${formatDuration(timeout)}) running check`;
        const out = output();
        if (out.length > 0) msg += '\n\n' + out;
        finish({ status: 'critical', output: msg });
      };
      if (exited() || child.pid === undefined) report();
      else child.once('exit', report);
    };

    const timer = setTimeout(() => killGroup('timeout'), timeout);
    const onAbort = () => killGroup('abort');
    signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err) => {
      // spawn failure (ENOENT, EACCES): no process ran.
      if (child.pid === undefined) finish({ status: 'critical', output: err.message });
    });

    // 'close' waits for exit and for both pipes to close, like Go's cmd.Wait copying output.
    child.once('close', (code, sig) => {
      // A spawn failure also closes; its 'error' carries the reason.
      if (killedBy || child.pid === undefined) return;
      if (code === 0) finish({ status: 'passing', output: output() });
      else if (code === 1 && sig === null) finish({ status: 'warning', output: output() });
      else finish({ status: 'critical', output: output() });
    });
  });
}
