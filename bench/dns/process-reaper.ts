/**
 * Every process the benchmark starts goes through a ProcessReaper, which guarantees none
 * outlives the run: each child leads its own process group (so helpers a server forks die
 * with it), `stopAll()` runs in the harness's `finally`, SIGINT/SIGTERM/SIGHUP stop everything
 * before exiting, and a last-resort `exit` hook SIGKILLs whatever is still alive. Every wait
 * is bounded.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** How much of a child's stdout+stderr is kept for error messages. */
const TAIL_BYTES = 8192;

/** A child started by the reaper. */
export interface Tracked {
  name: string;
  child: ChildProcess;
  /** The child's pid, which is also its process-group id. */
  pid: number;
  /** Resolves when the group leader has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the leader has exited. */
  readonly done: boolean;
  /** The last bytes the child wrote to stdout and stderr, interleaved. */
  tail(): string;
  /** Everything written to stdout, when `captureStdout` was set. */
  stdout(): string;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Resolves true if `p` settles within `ms`, false otherwise; never leaves a timer behind. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((res) => {
    timer = setTimeout(() => res(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts, tracks and always stops child processes (see the file comment). */
export class ProcessReaper {
  private readonly live = new Set<Tracked>();
  private uninstall: (() => void) | undefined;

  /**
   * Spawns `cmd args` as the leader of a new process group with stdin closed. Output is drained
   * continuously (a full pipe would stall the child) into a bounded tail, and fully into
   * `stdout()` when `captureStdout` is set. Throws if the executable cannot be started.
   */
  async spawn(
    name: string,
    cmd: string,
    args: string[],
    opts: Pick<SpawnOptions, 'cwd' | 'env'> & { captureStdout?: boolean } = {},
  ): Promise<Tracked> {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    let out = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    child.stdout!.on('data', (c: Buffer) => {
      keep(c);
      if (opts.captureStdout) out += c.toString('utf8');
    });
    child.stderr!.on('data', keep);
    let done = false;
    const closed = new Promise<void>((res) => child.once('close', () => res()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
      child.once('exit', (code, signal) => {
        done = true;
        // The leader is gone; helpers it left in its group go too. Then let the pipes drain
        // (bounded) so tail() holds the child's last words.
        signalGroup(child.pid!, 'SIGKILL');
        void within(closed, 500).then(() => res({ code, signal }));
      });
      child.once('error', () => {
        done = true;
        res({ code: null, signal: null });
      });
    });
    // 'spawn' or 'error' comes first; an ENOENT must not be reported as a running child.
    await new Promise<void>((res, rej) => {
      child.once('spawn', () => res());
      child.once('error', rej);
    });
    const tracked: Tracked = {
      name,
      child,
      pid: child.pid!,
      exited,
      get done() {
        return done;
      },
      tail: () => tail,
      stdout: () => out,
    };
    this.live.add(tracked);
    void exited.then(() => this.live.delete(tracked));
    return tracked;
  }

  /** Children still running. */
  running(): Tracked[] {
    return [...this.live];
  }

  /**
   * SIGTERM the child's group, wait up to `graceMs` for the leader, then SIGKILL the group and
   * wait up to another `graceMs`. Resolves true if the leader exited.
   */
  async stop(t: Tracked, graceMs = 3000): Promise<boolean> {
    if (t.done) {
      signalGroup(t.pid, 'SIGKILL');
      return true;
    }
    signalGroup(t.pid, 'SIGTERM');
    if (!(await within(t.exited, graceMs))) {
      signalGroup(t.pid, 'SIGKILL');
      await within(t.exited, graceMs);
    }
    signalGroup(t.pid, 'SIGKILL');
    return t.done;
  }

  /** Stops every tracked child in parallel; resolves with the names of any that would not die. */
  async stopAll(graceMs = 3000): Promise<string[]> {
    const all = [...this.live];
    const ok = await Promise.all(all.map((t) => this.stop(t, graceMs)));
    return all.filter((_, i) => !ok[i]).map((t) => t.name);
  }

  /** SIGKILLs every tracked group at once, synchronously (for `exit` hooks). */
  killAllSync(): void {
    for (const t of this.live) signalGroup(t.pid, 'SIGKILL');
  }

  /**
   * Installs SIGINT/SIGTERM/SIGHUP handlers that stop every child and exit 128+signo, and an
   * `exit` hook that SIGKILLs whatever is left. Returns a function that removes them.
   */
  installSignalHandlers(log: (msg: string) => void = (m) => process.stderr.write(m + '\n')): () => void {
    if (this.uninstall) return this.uninstall;
    const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log(`bench: ${sig}: stopping ${this.live.size} child process(es)`);
      void this.stopAll(2000).finally(() => process.exit(128 + (numbers[sig] ?? 0)));
    };
    const onExit = () => this.killAllSync();
    const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of sigs) process.on(s, onSignal);
    process.on('exit', onExit);
    this.uninstall = () => {
      for (const s of sigs) process.off(s, onSignal);
      process.off('exit', onExit);
      this.uninstall = undefined;
    };
    return this.uninstall;
  }
}
