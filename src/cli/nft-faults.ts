/**
 * Network faults between Herald server processes on loopback, with nftables, for the
 * multi-process fault test (src/cli/cluster-faults.test.ts). Test-only; not part of the CLI.
 *
 * Why not address matching: a socket that does not bind before connecting gets the source
 * address 127.0.0.1 whatever its destination (`ip route get 127.0.0.2` → `src 127.0.0.1`), and
 * Herald's transport does not bind, so `ip saddr` cannot say which server sent a packet. Why not
 * a network namespace: the test process (vitest) cannot enter one, and the clients must reach
 * the servers' HTTP ports. So each server runs under its own uid, and this table
 * - marks every TCP connection a server opens with that server's index (output hook, `meta skuid`
 *   on the first packet, `ct mark set`), so conntrack knows each connection's initiator;
 * - drops, in the input hook (a silent loss, as on a real network; dropping in output would hand
 *   the sender an EPERM), the packets "from A to B": those of A's connections to B's RPC port,
 *   and A's answers on B's connections to A's RPC port.
 * Clients' HTTP connections are never marked (the test runs as another uid), so they always pass.
 *
 * The table is ours alone (`inet herald_test_<pid>`), matches only the servers' uids and RPC
 * ports, and `close()` deletes it (also on process exit), so no other rule is ever touched.
 */
import { execFileSync, spawnSync } from 'node:child_process';

/** One server as the rules see it. */
export interface NftPeer {
  /** 1-based, unique in the table: the conntrack mark of the connections it opens. */
  readonly index: number;
  /** The uid its process runs under. */
  readonly uid: number;
  /** Its Raft/RPC TCP port (unique among the peers). */
  readonly rpcPort: number;
}

/** Why the faults cannot run here (for `describe.skipIf`), or undefined when they can. */
export function nftUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux (nftables)';
  if (process.getuid?.() !== 0) return 'needs root (nftables rules, servers under their own uids)';
  const probe = spawnSync('nft', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return 'needs the nft command (apt-get install nftables)';
  return undefined;
}

function nft(script: string): void {
  execFileSync('nft', ['-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
}

/** A dedicated nftables table that cuts links between peers. */
export class NftFaults {
  readonly table = `herald_test_${process.pid}`;
  private readonly cuts = new Set<string>();
  private readonly byIndex: Map<number, NftPeer>;
  private closed = false;
  private droppedBefore = 0;
  private readonly onExit = () => this.close();

  /**
   * Creates the table with the marking rules. Must run before the peers open connections:
   * connections opened earlier carry no mark and no cut applies to them.
   */
  constructor(readonly peers: readonly NftPeer[]) {
    this.byIndex = new Map(peers.map((p) => [p.index, p]));
    const marks = peers.map((p) => `    meta skuid ${p.uid} ct state new ct mark set ${p.index}`).join('\n');
    // Delete-then-create (the `add table` makes the delete valid when the table is new): a
    // leftover table from a crashed run with the same pid must not keep old rules.
    nft(
      `add table inet ${this.table}\ndelete table inet ${this.table}\n` +
        `table inet ${this.table} {\n` +
        `  chain origin { type filter hook output priority 0; policy accept;\n${marks}\n  }\n` +
        `  chain links { type filter hook input priority 0; policy accept; }\n` +
        `}\n`,
    );
    process.on('exit', this.onExit);
  }

  /** Drops every packet from `from` to `to` (one direction) until healed. */
  cutOneWay(from: number, to: number): void {
    this.cuts.add(`${from}>${to}`);
    this.apply();
  }

  /** Cuts both directions between `index` and every other peer. */
  isolate(index: number): void {
    for (const p of this.peers) {
      if (p.index === index) continue;
      this.cuts.add(`${index}>${p.index}`);
      this.cuts.add(`${p.index}>${index}`);
    }
    this.apply();
  }

  /** Packets dropped by cuts so far (summed over every cut applied since the table was made). */
  dropped(): number {
    return this.droppedBefore + this.countNow();
  }

  /** Removes every cut (the marking rules stay). */
  heal(): void {
    this.cuts.clear();
    this.apply();
  }

  /** Deletes the table; idempotent, and safe to call from an exit handler. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.onExit);
    spawnSync('nft', ['delete', 'table', 'inet', this.table], { stdio: 'ignore' });
  }

  /** The packet counters of the current cut rules. */
  private countNow(): number {
    const text = execFileSync('nft', ['list', 'chain', 'inet', this.table, 'links'], { encoding: 'utf8' });
    let n = 0;
    for (const m of text.matchAll(/counter packets (\d+)/g)) n += Number(m[1]);
    return n;
  }

  /** Rewrites the cut chain in one nft transaction (flush + rules), so it never half-applies. */
  private apply(): void {
    this.droppedBefore += this.countNow(); // the flush below resets the counters
    const rules: string[] = [];
    for (const pair of this.cuts) {
      const [a, b] = pair.split('>').map((n) => this.byIndex.get(Number(n))!);
      // A's connections to B, in the direction A sends.
      rules.push(`add rule inet ${this.table} links ct direction original ct mark ${a!.index} tcp dport ${b!.rpcPort} counter drop`);
      // B's connections to A: A's answers.
      rules.push(`add rule inet ${this.table} links ct direction reply ct mark ${b!.index} tcp sport ${a!.rpcPort} counter drop`);
    }
    nft([`flush chain inet ${this.table} links`, ...rules].join('\n') + '\n');
  }
}
