/**
 * A private network namespace for the multi-process fault test (src/cli/cluster-faults.test.ts,
 * distributed-anchors §4.2): the agents and the nftables table that cuts their links live in
 * it, so no rule and no listening port ever touches the host's network. The test process stays
 * in the host namespace (Node cannot enter another one) and reaches the agents' HTTP ports
 * through a veth pair: `<subnet>.254` on the host side, `<subnet>.<i>` (one per agent) on the
 * namespace side. Test-only; not part of the CLI.
 *
 * Cleanup: `close()` (synchronous, idempotent) runs the registered hooks (the harness SIGKILLs
 * its processes there), deletes the veth and the namespace. It also runs on process exit and on
 * SIGINT/SIGTERM/SIGHUP. A run that died harder (SIGKILL) leaves `herald-faults-<pid>` behind:
 * `create()` first removes every such namespace (and its processes, and its host-side veth)
 * whose pid is no longer alive, so a leftover never breaks the next run.
 */
import { execFileSync, spawnSync } from 'node:child_process';

const PREFIX = 'herald-faults-';
/** Host-side veth names are `hf<pid>` (15 bytes at most: IFNAMSIZ). */
const VETH_PREFIX = 'hf';

/** Why a namespace cannot be made here (for `describe.skipIf`), or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux (network namespaces)';
  if (process.getuid?.() !== 0) return 'needs root (network namespace, agents under their own uids)';
  for (const [cmd, pkg] of [['ip', 'iproute2'], ['nsenter', 'util-linux']] as const) {
    const probe = spawnSync(cmd, ['-V'], { stdio: 'ignore' });
    if (probe.error || probe.status !== 0) return `needs the ${cmd} command (apt-get install ${pkg})`;
  }
  return undefined;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what dead runs left: namespaces named `herald-faults-<pid>` and veths named
 * `hf<pid>` whose pid is gone (or is this process: a leftover from a run that had our pid).
 * Processes still inside such a namespace are agents of that run: they are SIGKILLed first,
 * since a namespace with processes in it (and so its veth) outlives `ip netns del`.
 * Returns what was removed.
 */
export function removeLeftovers(): string[] {
  const stale = (pid: number) => pid === process.pid || !alive(pid);
  const removed: string[] = [];
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}(\\d+)$`).exec(name);
    if (!m || !stale(Number(m[1]))) continue;
    for (const pid of spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    removed.push(name);
  }
  for (const m of ip('-o', 'link', 'show').matchAll(new RegExp(`^\\d+: (${VETH_PREFIX}(\\d+))@`, 'gm'))) {
    if (!stale(Number(m[2]))) continue;
    spawnSync('ip', ['link', 'del', m[1]!], { stdio: 'ignore' });
    removed.push(m[1]!);
  }
  return removed;
}

/** A 10.77.x.0/24 that no host interface uses yet, starting from one derived from our pid. */
function freeSubnet(): string {
  const used = ip('-4', '-o', 'addr', 'show') + ip('-4', 'route', 'show');
  for (let i = 0; i < 256; i++) {
    const subnet = `10.77.${(process.pid + i) % 256}`;
    if (!used.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.77.x.0/24 for the fault test veth');
}

/** The namespace, its veth pair, and how to run commands in it. */
export class FaultNetns {
  readonly name = `${PREFIX}${process.pid}`;
  /** The host side of the veth pair. */
  readonly hostIf = `${VETH_PREFIX}${process.pid}`;
  private readonly hooks: (() => void)[] = [];
  private closed = false;
  private readonly onExit = () => this.close();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.close();
    // Our handler replaced the default action; restore it when nobody else handles the signal.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  private static readonly SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

  private constructor(
    /** `10.77.x`: the host side is `.254`, namespace addresses are `.1` to `.253`. */
    readonly subnet: string,
  ) {}

  /**
   * Removes leftovers of dead runs, then creates the namespace (loopback up: 127.0.0.0/8 is
   * all local there, as on the host) and the veth pair with `addresses` namespace-side
   * addresses (`address(1)` … `address(addresses)`). Cleanup is armed before anything exists.
   */
  static create(addresses: number): FaultNetns {
    removeLeftovers();
    const ns = new FaultNetns(freeSubnet());
    process.on('exit', ns.onExit);
    for (const s of FaultNetns.SIGNALS) process.once(s, ns.onSignal);
    try {
      ip('netns', 'add', ns.name);
      ip('-n', ns.name, 'link', 'set', 'lo', 'up');
      ip('link', 'add', ns.hostIf, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', ns.name);
      ip('addr', 'add', `${ns.subnet}.254/24`, 'dev', ns.hostIf);
      ip('link', 'set', ns.hostIf, 'up');
      for (let i = 1; i <= addresses; i++) ip('-n', ns.name, 'addr', 'add', `${ns.address(i)}/24`, 'dev', 'veth0');
      ip('-n', ns.name, 'link', 'set', 'veth0', 'up');
    } catch (err) {
      ns.close();
      throw err;
    }
    return ns;
  }

  /** The `i`-th namespace-side address, reachable from the host (1-based). */
  address(i: number): string {
    return `${this.subnet}.${i}`;
  }

  /**
   * The argv that runs `argv` inside the namespace (as `uid`/gid `uid`, supplementary groups
   * dropped, when given). nsenter execs the command, so the spawned pid is the command's own:
   * signals sent to it (SIGSTOP, SIGKILL) reach the agent itself.
   */
  command(argv: readonly string[], uid?: number): string[] {
    const who = uid === undefined ? [] : ['-S', String(uid), '-G', String(uid)];
    return ['nsenter', `--net=/run/netns/${this.name}`, ...who, '--', ...argv];
  }

  /** Runs `argv` inside the namespace as root and returns its stdout; throws on failure. */
  exec(argv: readonly string[], input?: string): string {
    const [cmd, ...args] = this.command(argv);
    return execFileSync(cmd!, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** Registers a synchronous step for `close()`, run before the namespace goes (latest first). */
  onClose(hook: () => void): void {
    this.hooks.unshift(hook);
  }

  /** Runs the hooks, deletes the veth pair and the namespace. Synchronous and idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.onExit);
    for (const s of FaultNetns.SIGNALS) process.off(s, this.onSignal);
    for (const hook of this.hooks) {
      try {
        hook();
      } catch {
        /* the namespace must go whatever a hook did */
      }
    }
    // Deleting one end deletes the pair, at once, even if a dying process still holds the namespace.
    spawnSync('ip', ['link', 'del', this.hostIf], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
  }
}
