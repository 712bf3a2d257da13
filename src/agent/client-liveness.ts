/**
 * Failure detection for client agents, without gossip: the pure core (no timers, no sockets,
 * no clock of its own; times are monotonic ms passed in).
 *
 * Consul learns that a member failed from serf (SWIM gossip) and its leader turns that into
 * the node's `serfHealth` check (consul-compat.md §8: a failed member keeps its catalog
 * entries, its serfHealth goes critical, so its services leave DNS). Herald has no gossip yet
 * (src/gossip is future work), so the signal is a heartbeat instead: every client agent sends
 * one to a server every `heartbeatIntervalMs` (client-heartbeat.ts), each server remembers when
 * it last heard from each client, followers pass what they heard to the leader in batches, and
 * the leader alone decides (client-liveness-monitor.ts), proposing the serfHealth change through
 * the log. The knowledge is "when did any server last hear from node X", in ages rather than
 * clock readings, so it survives a client moving to another server and needs no synchronised
 * clocks; a new leader starts with nothing and gives every client a full failure timeout of
 * grace instead.
 */
import type { HealthStatus } from '../catalog/types.ts';
import { ERR, HeraldError } from '../errors.ts';

/** Methods between client agents and servers (and among servers) for liveness. */
export const LIVENESS_RPC = {
  /**
   * Client -> any server, body `{ node: string }` -> `{ intervalMs: number, leaderReachable:
   * boolean }`: the beat interval to keep, and whether this server can pass the news on.
   */
  heartbeat: 'herald.clientHeartbeat',
  /** Follower -> leader, body `{ clients: SeenReport[] }` -> null. */
  seen: 'herald.clientsSeen',
} as const;

/** The two serfHealth outputs (consul-compat.md §2.4). */
export const SERF_OUTPUT = {
  passing: 'Agent alive and reachable',
  critical: 'Agent not live or unreachable',
} as const;

/** Every knob of the detector, derived from the one setting (`client_failure_timeout`). */
export interface LivenessTuning {
  /** A client silent this long is failed (its serfHealth goes critical). */
  readonly failureTimeoutMs: number;
  /** How often a client sends its heartbeat (the servers tell clients this in every answer). */
  readonly heartbeatIntervalMs: number;
  /** How often followers send the leader what they heard, and the leader re-judges. */
  readonly reportIntervalMs: number;
  /** A failed client is passing again once a server heard from it within this window. */
  readonly aliveWindowMs: number;
  /** The leader's own timer running this late means it heard nothing meanwhile: grace again. */
  readonly stallMs: number;
}

/**
 * Default failure timeout: 5 s. What Consul users see from serf on a small LAN cluster is about
 * 5-7 s from a crash to "failed" (memberlist LAN: a probe every 1 s, 500 ms probe timeout, then a
 * suspicion of at least 4·max(1, log10 N) s; anchors §2.3 estimate ≈ 6-7 s for N = 5), after
 * which the leader marks serfHealth critical at once. 5 s plus at most one report interval
 * lands in the same range, and tolerates four lost heartbeats (or a 4 s stall of a loaded
 * client) before a false alarm.
 */
export const DEFAULT_CLIENT_FAILURE_TIMEOUT_MS = 5_000;
/** Below this, one GC pause or a busy 2-core box marks healthy clients failed. */
export const MIN_CLIENT_FAILURE_TIMEOUT_MS = 500;

/**
 * The tuning for a failure timeout, with the formulas (memberlist's config.go style):
 * - heartbeat = timeout / 5 (memberlist's probe interval 1 s at the 5 s default): a client is
 *   failed only after five beats in a row went unheard, never on a single miss.
 * - report = heartbeat: a follower's news reaches the leader at most one interval late.
 * - alive window = timeout / 2: above heartbeat + report (the oldest a relayed beat can be when it
 *   arrives) and below the timeout, so passing and critical cannot chase each other.
 * - stall = timeout / 2: a leader whose own timer fired that late missed beats; judging then
 *   would accuse clients of the leader's own pause (Lifeguard's point, anchors §2.2).
 */
export function livenessTuning(failureTimeoutMs = DEFAULT_CLIENT_FAILURE_TIMEOUT_MS): LivenessTuning {
  if (!Number.isFinite(failureTimeoutMs) || failureTimeoutMs < MIN_CLIENT_FAILURE_TIMEOUT_MS) {
    throw new HeraldError(ERR.CONFIG_INVALID, `client_failure_timeout must be at least ${MIN_CLIENT_FAILURE_TIMEOUT_MS} ms, not ${failureTimeoutMs}`);
  }
  const heartbeatIntervalMs = Math.round(failureTimeoutMs / 5);
  return {
    failureTimeoutMs,
    heartbeatIntervalMs,
    reportIntervalMs: heartbeatIntervalMs,
    aliveWindowMs: Math.round(failureTimeoutMs / 2),
    stallMs: Math.round(failureTimeoutMs / 2),
  };
}

/** A client node the leader judges, with its serfHealth status in the catalog now. */
export interface JudgedNode {
  readonly node: string;
  readonly status: HealthStatus;
}

/** What a follower tells the leader: each client it heard from lately, and how long ago. */
export interface SeenReport {
  readonly node: string;
  readonly ageMs: number;
}

/**
 * When this server (or, through reports, any server) last heard from each client node, and the
 * leader's verdicts. Node names are matched case-insensitively, as the catalog does.
 */
export class ClientLivenessTable {
  /** Lowercased node name -> monotonic ms of the freshest news. */
  private readonly seen = new Map<string, number>();
  /** Set while this server leads: when it took over, or last stalled (the grace start). */
  private leadingSince: number | undefined;
  private lastTick: number | undefined;

  constructor(readonly tuning: LivenessTuning) {}

  /** A heartbeat from `node` arrived now (`ageMs` old, for news relayed by another server). */
  heard(node: string, now: number, ageMs = 0): void {
    const key = node.toLowerCase();
    const at = now - Math.max(0, ageMs);
    const prev = this.seen.get(key);
    if (prev === undefined || at > prev) this.seen.set(key, at);
  }

  /** What a follower sends the leader: every node heard from within the failure timeout. */
  report(now: number): SeenReport[] {
    const out: SeenReport[] = [];
    for (const [node, at] of this.seen) {
      const ageMs = now - at;
      if (ageMs <= this.tuning.failureTimeoutMs) out.push({ node, ageMs });
    }
    return out;
  }

  /**
   * Called on every timer round with whether this server leads. Taking over (or a stall of the
   * round's own timer) starts a grace period: nobody is judged failed on news older than that.
   * Also forgets news too old to matter.
   */
  tick(now: number, leading: boolean): void {
    const stalled = this.lastTick !== undefined && now - this.lastTick > this.tuning.reportIntervalMs + this.tuning.stallMs;
    this.lastTick = now;
    if (!leading) this.leadingSince = undefined;
    else if (this.leadingSince === undefined || stalled) this.leadingSince = now;
    for (const [node, at] of this.seen) if (now - at > 2 * this.tuning.failureTimeoutMs) this.seen.delete(node);
  }

  /** True while this server leads and is inside the grace period (a fresh leader, or after a stall). */
  inGrace(now: number): boolean {
    return this.leadingSince !== undefined && now - this.leadingSince <= this.tuning.failureTimeoutMs;
  }

  /**
   * The leader's verdicts: the serfHealth status each of `nodes` should have now, for those whose
   * catalog status differs. Critical once nothing was heard for the failure timeout (counting
   * from the grace start at the earliest); passing again once a fresh beat (within the alive
   * window) was heard. Empty unless this server leads (see tick).
   */
  judge(now: number, nodes: Iterable<JudgedNode>): Array<{ node: string; status: 'passing' | 'critical' }> {
    const since = this.leadingSince;
    if (since === undefined) return [];
    const out: Array<{ node: string; status: 'passing' | 'critical' }> = [];
    for (const n of nodes) {
      const at = this.seen.get(n.node.toLowerCase());
      if (n.status !== 'critical') {
        if (now - Math.max(at ?? since, since) > this.tuning.failureTimeoutMs) out.push({ node: n.node, status: 'critical' });
      } else if (at !== undefined && now - at <= this.tuning.aliveWindowMs) {
        out.push({ node: n.node, status: 'passing' });
      }
    }
    return out;
  }
}
