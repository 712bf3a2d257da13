/**
 * The nemesis of the real-process fault test (src/cli/cluster-faults.test.ts): carries out one
 * planned fault (src/cli/fault-schedule.ts) on a running cluster under load, heals it, and
 * returns once the servers agree on a leader again and writes are acknowledged again, so faults
 * never overlap. Each fault lasts past an election timeout; the ones that should cost the
 * cluster its leader wait for a new one among the others. Test-only; not part of the CLI.
 */
import { until } from './commands/cli-harness.ts';
import type { Cluster, ClusterNode } from './cluster-harness.ts';
import type { FaultKind, PlannedFault } from './fault-schedule.ts';
import type { KvWorkload } from './kv-workload.ts';
import type { NftFaults } from './nft-faults.ts';

export interface NemesisContext {
  readonly cluster: Cluster;
  readonly nft: NftFaults;
  readonly workload: KvWorkload;
  /** How long a pause, isolation or cut lasts: several election timeouts. */
  readonly holdMs: number;
  /** Appends a line to the fault log. */
  log(msg: string): void;
}

/** What a fault did, for the test's assertions. */
export interface FaultRecord {
  readonly kind: FaultKind;
  /** The agent it hit. */
  readonly target: string;
  /** Network faults: packets the cut dropped (proof that it cut). */
  readonly dropped?: number;
  /** kill-client-agent: writes through the agent in flight when it was killed. */
  readonly writesInFlight?: number;
}

const hold = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until clients get writes acknowledged again after `since` (workload time, µs). */
export async function progress(w: KvWorkload, what: string, since: number): Promise<void> {
  await until(`acknowledged writes ${what}`, async () => w.ackedSince(since) > 0, 20_000);
}

/** Carries out `fault`, heals it, and waits until the cluster has a leader and takes writes. */
export async function injectFault(ctx: NemesisContext, fault: PlannedFault): Promise<FaultRecord> {
  const { cluster: c, nft, workload: w, log } = ctx;
  const leader = await c.agreedLeader();
  const follower = c.servers.filter((s) => s !== leader)[fault.pick]!;
  const role = (n: ClusterNode) => (n === leader ? 'leader' : 'follower');
  /**
   * Logs and starts a fault; when it costs the leader, waits for a new one among the others;
   * then waits for an acknowledged write. Returns when the fault started (Date.now()).
   */
  const during = async (what: string, start: () => unknown, costsLeader: boolean): Promise<number> => {
    log(what);
    await start();
    const startedAt = Date.now();
    const t = w.now();
    if (costsLeader) log(`new leader ${(await c.agreedLeader({ among: c.servers.filter((s) => s !== leader), not: leader })).name}`);
    await progress(w, `during: ${what}`, t);
    return startedAt;
  };
  /** Holds the fault until `holdMs` after `startedAt`. */
  const holdFrom = (startedAt: number) => hold(Math.max(0, ctx.holdMs - (Date.now() - startedAt)));
  /** A cut held for `holdMs`, then healed; returns the packets it dropped. */
  const cut = async (what: string, apply: () => void, costsLeader: boolean): Promise<number> => {
    const before = nft.dropped();
    await holdFrom(await during(what, apply, costsLeader));
    const dropped = nft.dropped() - before;
    nft.heal();
    log(`heal (${dropped} packets dropped)`);
    return dropped;
  };

  let record: FaultRecord;
  switch (fault.kind) {
    case 'kill-leader':
    case 'kill-follower': {
      const victim = fault.kind === 'kill-leader' ? leader : follower;
      await during(`SIGKILL ${role(victim)} ${victim.name}`, () => c.kill(victim), victim === leader);
      await c.restart(victim);
      log(`restarted ${victim.name}`);
      record = { kind: fault.kind, target: victim.name };
      break;
    }
    case 'pause-leader':
    case 'pause-follower': {
      // A stopped leader's queued requests are answered after SIGCONT by a deposed leader: no
      // stale consistent read, no ack of an uncommitted write.
      const victim = fault.kind === 'pause-leader' ? leader : follower;
      await holdFrom(await during(`SIGSTOP ${role(victim)} ${victim.name}`, () => c.pause(victim), victim === leader));
      c.resume(victim);
      log(`SIGCONT ${victim.name}`);
      record = { kind: fault.kind, target: victim.name };
      break;
    }
    case 'isolate-leader':
    case 'isolate-follower': {
      // Every RPC link of the victim, to servers and client agents; clients still reach its HTTP.
      const victim = fault.kind === 'isolate-leader' ? leader : follower;
      const dropped = await cut(`isolate ${role(victim)} ${victim.name}`, () => nft.isolate(victim.index), victim === leader);
      record = { kind: fault.kind, target: victim.name, dropped };
      break;
    }
    case 'cut-leader-to-follower':
    case 'cut-follower-to-leader': {
      const [from, to] = fault.kind === 'cut-leader-to-follower' ? [leader, follower] : [follower, leader];
      const dropped = await cut(`cut ${from.name} -> ${to.name} (leader ${leader.name})`, () => nft.cutOneWay(from.index, to.index), false);
      record = { kind: fault.kind, target: follower.name, dropped };
      break;
    }
    case 'kill-client-agent': {
      const victim = c.clients[fault.pick]!;
      // Mid-write: a write through it was sent a moment ago and is not answered yet.
      let inFlight = 0;
      await until(`a write in flight through ${victim.name}`, async () => {
        await Promise.race([w.writeInFlight(victim.name), hold(1_000)]);
        await hold(3);
        inFlight = w.writesInFlight(victim.name);
        return inFlight > 0;
      }, 10_000);
      await during(`SIGKILL client agent ${victim.name} (${inFlight} write(s) through it in flight)`, () => c.kill(victim), false);
      await c.restart(victim);
      log(`restarted ${victim.name}`);
      const acked = w.stats.ackedVia[victim.name] ?? 0;
      await until(`a write acknowledged through the restarted ${victim.name}`, async () => (w.stats.ackedVia[victim.name] ?? 0) > acked, 20_000);
      record = { kind: fault.kind, target: victim.name, writesInFlight: inFlight };
      break;
    }
  }
  await c.agreedLeader({ deadlineMs: 30_000 });
  await progress(w, `after ${fault.kind}`, w.now());
  return record;
}
