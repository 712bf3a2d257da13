/**
 * Network faults between Herald agent processes, with nftables inside the fault test's own
 * network namespace (src/cli/fault-netns.ts), for src/cli/cluster-faults.test.ts. Test-only.
 *
 * Why not address matching alone: a socket that does not bind before connecting gets the source
 * address 127.0.0.1 whatever its destination (`ip route get 127.0.0.2` → `src 127.0.0.1`), and
 * Herald's transport does not bind, so `ip saddr` cannot say which agent sent a packet. So each
 * agent runs under its own uid, and this table
 * - marks every TCP connection an agent opens with that agent's index (output hook, `meta skuid`
 *   on the first packet, `ct mark set`), so conntrack knows each connection's initiator;
 * - drops, in the input hook (a silent loss, as on a real network; dropping in output would hand
 *   the sender an EPERM), the packets "from A to B": those of A's connections to B's RPC
 *   address, and A's answers on B's connections to A's RPC address. A client agent has no RPC
 *   listener: only its own connections (to servers) can be cut, in both directions.
 * The test's HTTP connections come in over the veth and are never marked, so they always pass.
 */
import { spawnSync } from 'node:child_process';
import type { FaultNetns } from './fault-netns.ts';

/** One agent as the rules see it. */
export interface NftPeer {
  /** 1-based, unique in the table: the conntrack mark of the connections it opens. */
  readonly index: number;
  /** The uid its process runs under. */
  readonly uid: number;
  /** Its Raft/RPC listener (`addr:port`, IPv4); absent for a client agent. */
  readonly rpc?: string;
}

/** Why nft cannot be used here (for `describe.skipIf`), or undefined when it can. */
export function nftUnavailable(): string | undefined {
  const probe = spawnSync('nft', ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) return 'needs the nft command (apt-get install nftables)';
  return undefined;
}

const TABLE = 'inet herald_faults';

/** The nftables table that cuts links between peers, in the namespace they run in. */
export class NftFaults {
  private readonly cuts = new Set<string>();
  private readonly byIndex: Map<number, NftPeer>;
  private droppedBefore = 0;

  /**
   * Creates the table with the marking rules. Must run before the peers open connections:
   * connections opened earlier carry no mark and no cut applies to them. The table goes with
   * the namespace (no cleanup of its own).
   */
  constructor(
    private readonly netns: FaultNetns,
    readonly peers: readonly NftPeer[],
  ) {
    this.byIndex = new Map(peers.map((p) => [p.index, p]));
    const marks = peers.map((p) => `    meta skuid ${p.uid} ct state new ct mark set ${p.index}`).join('\n');
    this.nft(
      `table ${TABLE} {\n` +
        `  chain origin { type filter hook output priority 0; policy accept;\n${marks}\n  }\n` +
        `  chain links { type filter hook input priority 0; policy accept; }\n` +
        `}\n`,
    );
  }

  /** Drops every packet from `from` to `to` (one direction) until healed. */
  cutOneWay(from: number, to: number): void {
    this.cuts.add(`${from}>${to}`);
    this.apply();
  }

  /** Cuts both directions between `index` and every other peer (servers and client agents). */
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

  private nft(script: string): string {
    return this.netns.exec(['nft', '-f', '-'], script);
  }

  /** The packet counters of the current cut rules. */
  private countNow(): number {
    const text = this.netns.exec(['nft', 'list', 'chain', ...TABLE.split(' '), 'links']);
    let n = 0;
    for (const m of text.matchAll(/counter packets (\d+)/g)) n += Number(m[1]);
    return n;
  }

  /** Rewrites the cut chain in one nft transaction (flush + rules), so it never half-applies. */
  private apply(): void {
    this.droppedBefore += this.countNow(); // the flush below resets the counters
    const rules: string[] = [];
    const match = (rpc: string, dir: 'd' | 's') => {
      const [addr, port] = rpc.split(':');
      return `ip ${dir}addr ${addr} tcp ${dir}port ${port}`;
    };
    for (const pair of this.cuts) {
      const [a, b] = pair.split('>').map((n) => this.byIndex.get(Number(n))!);
      // A's connections to B, in the direction A sends.
      if (b!.rpc) rules.push(`add rule ${TABLE} links ct direction original ct mark ${a!.index} ${match(b!.rpc, 'd')} counter drop`);
      // B's connections to A: A's answers.
      if (a!.rpc) rules.push(`add rule ${TABLE} links ct direction reply ct mark ${b!.index} ${match(a!.rpc, 's')} counter drop`);
    }
    this.nft([`flush chain ${TABLE} links`, ...rules].join('\n') + '\n');
  }
}
