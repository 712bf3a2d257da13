/**
 * The nemesis (Jepsen's word): injects faults during the fault phase, each kind as its own
 * random process with the mean interval the options give (0: that kind never happens).
 *
 * - partitions: isolate one server (often the leader), split minority from majority, a bridge
 *   (two sides that share one server, 5+ servers), or one-way cuts (a server that cannot send,
 *   one that cannot receive, a single link); healed after a while; one at a time;
 * - crash (losing everything not on disk) and restart after a while;
 * - pause (SIGSTOP) and resume: often the leader, for longer than an election timeout, so it
 *   comes back as a deposed leader that does not know it yet;
 * - membership: the leader adds the server outside the configuration, or removes a voter
 *   (possibly itself), keeping the voter count at n or n + 1;
 * - leadership transfer to a random voter;
 * - a slow disk (fsync stalls) on one server.
 *
 * Crashes and pauses together stay within a minority of the initial size, so the cluster can
 * make progress most of the time; safety must hold either way.
 */
import { roleOf, termOf, votersOf } from './core-peek.ts';
import type { Prng } from './prng.ts';
import type { ServerProcess } from './server-process.ts';
import type { SimNetwork } from './sim-network.ts';
import type { FaultRates } from './sim-options.ts';

export interface NemesisEnv {
  readonly servers: readonly ServerProcess[];
  /** The initial voter count n. */
  readonly initialVoters: number;
  readonly network: SimNetwork;
  now(): number;
  schedule(delay: number, label: string, run: () => void): void;
}

/** What the nemesis did, for the run's statistics. */
export interface NemesisStats {
  partitions: number;
  asymmetricPartitions: number;
  crashes: number;
  restarts: number;
  pauses: number;
  membershipProposed: number;
  transfersStarted: number;
  slowDisks: number;
}

type Kind = 'partition' | 'crash' | 'pause' | 'membership' | 'transfer' | 'slowDisk';

export class Nemesis {
  readonly stats: NemesisStats = {
    partitions: 0,
    asymmetricPartitions: 0,
    crashes: 0,
    restarts: 0,
    pauses: 0,
    membershipProposed: 0,
    transfersStarted: 0,
    slowDisks: 0,
  };
  private stopped = false;
  private partitioned = false;

  constructor(
    private readonly rng: Prng,
    private readonly rates: FaultRates,
    private readonly env: NemesisEnv,
  ) {}

  /** Starts every fault process whose rate is non-zero. */
  start(): void {
    const every: Record<Kind, number> = {
      partition: this.rates.partitionEvery,
      crash: this.rates.crashEvery,
      pause: this.rates.pauseEvery,
      membership: this.rates.membershipEvery,
      transfer: this.rates.transferEvery,
      slowDisk: this.rates.slowDiskEvery,
    };
    for (const kind of Object.keys(every) as Kind[]) if (every[kind] > 0) this.next(kind, every[kind]);
  }

  /** No new faults from now on (the ones in progress are healed by `healAll`). */
  stop(): void {
    this.stopped = true;
  }

  /** Heals the network, restarts crashed servers, resumes paused ones. */
  healAll(): void {
    this.env.network.heal();
    this.partitioned = false;
    for (const s of this.env.servers) {
      s.disarmCrash();
      if (s.state === 'down') {
        s.start();
        this.stats.restarts++;
      } else if (s.state === 'paused') s.resume();
      s.slowDiskUntil = 0;
    }
  }

  private next(kind: Kind, every: number): void {
    const delay = Math.max(1, Math.round(every * (0.5 + this.rng.float())));
    this.env.schedule(delay, `nemesis ${kind}`, () => {
      if (this.stopped) return;
      this.act(kind);
      this.next(kind, every);
    });
  }

  private act(kind: Kind): void {
    switch (kind) {
      case 'partition':
        return this.partition();
      case 'crash':
        return this.crash();
      case 'pause':
        return this.pause();
      case 'membership':
        return this.membership();
      case 'transfer':
        return this.transfer();
      case 'slowDisk': {
        const s = this.rng.pick(this.env.servers);
        s.slowDiskUntil = this.env.now() + this.during(this.rates.slowDiskFor);
        this.stats.slowDisks++;
        return;
      }
    }
  }

  private during([lo, hi]: readonly [number, number]): number {
    return this.rng.between(lo, hi);
  }

  /** The live server that leads the highest term, if any. */
  leader(): ServerProcess | undefined {
    let best: ServerProcess | undefined;
    let term = -1n;
    for (const s of this.env.servers) {
      if (s.state !== 'up') continue;
      const t = termOf(s.node!);
      if (roleOf(s.node!) === 'leader' && t > term) {
        best = s;
        term = t;
      }
    }
    return best;
  }

  private faulty(): number {
    let n = 0;
    for (const s of this.env.servers) if (s.state !== 'up' || s.crashArmed) n++;
    return n;
  }

  /** A live server to hurt: the leader with probability `pLeader`, else any live one. */
  private victim(pLeader: number): ServerProcess | undefined {
    const l = this.leader();
    if (l && this.rng.chance(pLeader)) return l;
    const up = this.env.servers.filter((s) => s.state === 'up');
    return up.length > 0 ? this.rng.pick(up) : undefined;
  }

  private partition(): void {
    if (this.partitioned) return;
    const net = this.env.network;
    const ids = this.env.servers.map((s) => s.id);
    const cutBoth = (a: readonly string[], b: readonly string[]) => {
      for (const x of a) for (const y of b) if (x !== y) (net.cut(x, y), net.cut(y, x));
    };
    if (this.rng.chance(this.rates.asymmetric)) {
      const v = this.victim(0.5)?.id ?? this.rng.pick(ids);
      const others = ids.filter((x) => x !== v);
      const shape = this.rng.int(3);
      if (shape === 0) for (const o of others) net.cut(v, o); // cannot send
      else if (shape === 1) for (const o of others) net.cut(o, v); // cannot receive
      else net.cut(v, this.rng.pick(others)); // one link, one way
      this.stats.asymmetricPartitions++;
    } else {
      const shuffled = this.rng.shuffle(ids);
      const shape = this.rng.int(ids.length >= 5 ? 3 : 2);
      if (shape === 0) {
        const v = this.victim(0.5)?.id ?? shuffled[0]!;
        cutBoth([v], ids.filter((x) => x !== v));
      } else if (shape === 1) {
        const k = this.rng.between(1, Math.floor(ids.length / 2));
        cutBoth(shuffled.slice(0, k), shuffled.slice(k));
      } else {
        // Bridge: two sides that cannot see each other, and one server that sees both.
        const rest = shuffled.slice(1); // shuffled[0] is the bridge
        const half = Math.floor(rest.length / 2);
        cutBoth(rest.slice(0, half), rest.slice(half));
      }
    }
    this.stats.partitions++;
    this.partitioned = true;
    this.env.schedule(this.during(this.rates.partitionFor), 'nemesis heal partition', () => {
      net.heal();
      this.partitioned = false;
    });
  }

  private crash(): void {
    if (this.faulty() >= Math.floor(this.env.initialVoters / 2)) return;
    const v = this.victim(0.4);
    if (!v) return;
    const r = this.rng.float();
    const down = () => {
      this.stats.crashes++;
      const quick = this.rng.chance(this.rates.quickRestart);
      const after = quick ? this.rng.between(1000, 20_000) : this.during(this.rates.downFor);
      this.env.schedule(after, `nemesis restart ${v.id}`, () => {
        if (v.state !== 'down') return;
        v.start();
        this.stats.restarts++;
      });
    };
    const inWrite = r < this.rates.crashInWrite ? 'any' : r < this.rates.crashInWrite + this.rates.crashInVoteWrite ? 'vote' : undefined;
    if (inWrite) {
      v.crashDuringNextWrite(inWrite, down);
      // A server that writes nothing for a while (idle, or a vote that never comes) crashes anyway.
      this.env.schedule(this.during(this.rates.downFor), `nemesis crash ${v.id} (no write came)`, () => v.fireArmedCrash());
    } else {
      v.crash();
      down();
    }
  }

  private pause(): void {
    if (this.faulty() >= Math.floor(this.env.initialVoters / 2)) return;
    const v = this.victim(0.5);
    if (!v) return;
    v.pause();
    this.stats.pauses++;
    this.env.schedule(this.during(this.rates.pauseFor), `nemesis resume ${v.id}`, () => v.resume());
  }

  private membership(): void {
    const l = this.leader();
    if (!l) return;
    const voters = votersOf(l.node!);
    const all = this.env.servers.map((s) => s.id);
    const outside = all.filter((x) => !voters.includes(x));
    const ok =
      voters.length <= this.env.initialVoters && outside.length > 0
        ? l.changeMembership('add', this.rng.pick(outside))
        : l.changeMembership('remove', this.rng.pick(voters));
    if (ok) this.stats.membershipProposed++;
  }

  private transfer(): void {
    const l = this.leader();
    if (!l) return;
    const others = votersOf(l.node!).filter((x) => x !== l.id);
    if (others.length === 0) return;
    if (l.transferLeadership(this.rng.pick(others))) this.stats.transfersStarted++;
  }
}
