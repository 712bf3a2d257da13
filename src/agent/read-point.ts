/**
 * Read points (consul-compat.md §4 "Consistency", issue 5 item 2): what a read on a server or
 * a client agent waits for before it answers from its local state, so reads stay local (and
 * blocking queries keep waiting locally) without proxying HTTP.
 *
 * - `stale`: nothing. Any agent answers at once; X-Consul-KnownLeader / LastContact say how
 *   fresh its state is.
 * - `leader` (Consul's default): the leader's applied index. The leader answers from its own
 *   state at once while its lease holds (a quorum heard from it within the lease, checked after
 *   catching its clock up: RaftDriver.leaseHolds); otherwise it first confirms leadership with a
 *   ReadIndex round, so a leader back from SIGSTOP or a partition never answers from stale state
 *   (anchors G2). Consul's leader skips that check (its documented stale window). Every other agent
 *   asks the leader for its applied index (one RPC) and waits until its own state has applied
 *   that far, which gives read-your-writes across agents.
 * - `consistent`: a ReadIndex confirmed by a quorum (RaftDriver.readIndex, on any server).
 *
 * `herald.readPoint` ({ consistent } -> { index }) is served by every server on the servers'
 * transport, for followers and client agents. A follower answers a `leader` request by
 * forwarding it to the leader (one hop; `forwarded` stops a second one), the way it forwards
 * writes: a client agent keeps one link to one server and never needs a route to the leader,
 * and a leader that moved mid-call becomes one `No cluster leader` the caller may retry.
 *
 * A new leader may not have applied everything its predecessor acknowledged until it commits
 * an entry of its own term (Raft §5.4.2, §6.4), so until its applied index reaches its last
 * log index at election time, its own default reads wait for that too (a few ms after an
 * election; the fast path, with nothing to await, is every read after that).
 */
import { performance } from 'node:perf_hooks';
import { ERR, HeraldError } from '../errors.ts';
import type { ReadMode } from '../plugin.ts';
import type { RaftDriver } from '../raft/raft-driver.ts';
import type { RaftError } from '../raft/raft-error.ts';
import type { Transport } from '../rpc/transport.ts';

/** The request servers serve: body ReadPointRequest -> `{ index: bigint }`. */
export const READ_POINT_METHOD = 'herald.readPoint';

export interface ReadPointRequest {
  /** A quorum-confirmed ReadIndex (`?consistent`); else the leader's applied index. */
  readonly consistent: boolean;
  /** Set by a follower forwarding to the leader: the receiver answers itself or refuses. */
  readonly forwarded?: boolean;
}

/** Leader facts for X-Consul-KnownLeader and X-Consul-LastContact. */
export interface LeaderFacts {
  readonly knownLeader: boolean;
  readonly lastContactMs: number;
}

/** Consul's answer when no leader can vouch for a read or a write: 500 `No cluster leader`. */
export function noClusterLeader(cause?: unknown): HeraldError {
  return new HeraldError(ERR.NO_CLUSTER_LEADER, 'No cluster leader', cause === undefined ? undefined : { cause });
}

/** The index out of a `herald.readPoint` answer; throws COMMAND_INVALID on anything else. */
export function readPointIndex(reply: unknown): bigint {
  const index = (reply as { index?: unknown } | null)?.index;
  if (typeof index !== 'bigint') throw new HeraldError(ERR.COMMAND_INVALID, `${READ_POINT_METHOD}: malformed reply`);
  return index;
}

/** The error a read answers when the local state did not reach its read point in time. */
export function readPointTimeout(where: string, index: bigint, applied: bigint, ms: number): HeraldError {
  return new HeraldError(
    ERR.READ_POINT_TIMEOUT,
    `${where} did not reach the read point (index ${index}; applied ${applied}) within ${ms} ms; ?stale reads still answer from the local state`,
  );
}

function readRequest(body: unknown): ReadPointRequest {
  const b = body as { consistent?: unknown; forwarded?: unknown } | null;
  if (typeof b?.consistent !== 'boolean') throw new HeraldError(ERR.COMMAND_INVALID, `${READ_POINT_METHOD}: body needs consistent (boolean)`);
  return { consistent: b.consistent, forwarded: b.forwarded === true };
}

/**
 * A server's side of read points and of the leader headers: its own HTTP reads, and
 * `herald.readPoint` for followers and client agents. Created before the driver exists
 * (`attach` once it does); until then every read point is `No cluster leader`.
 */
export class ServerReads {
  private driver?: RaftDriver;
  /** Ms timestamp (performance.now) of the last message from the leader; 0 before any. */
  private lastLeaderContact = 0;
  /** This server's last log index when it last became leader (see the file comment). */
  private termStart = 0n;

  constructor(private readonly transport: Transport) {}

  /** Starts tracking `driver`: leader contact (every message from the leader) and leadership changes. */
  attach(driver: RaftDriver): void {
    this.driver = driver;
    this.transport.onMessage((from) => {
      if (from === driver.leaderHint()?.id) this.lastLeaderContact = performance.now();
    });
    driver.onLeaderChange((leader) => {
      // Losing the leader is not contact with it: LastContact keeps growing through an election.
      if (leader === undefined) return;
      this.lastLeaderContact = performance.now();
      if (driver.isLeader) this.termStart = driver.lastIndex;
    });
  }

  /** Serves `herald.readPoint` on the servers' transport. */
  serve(): void {
    this.transport.handle(READ_POINT_METHOD, async (body) => {
      const req = readRequest(body);
      return { index: await this.index(req.consistent, req.forwarded) };
    });
  }

  /** Is a leader known now, and ms since this server last heard from it (0 on the leader). */
  leaderInfo(): LeaderFacts {
    const d = this.driver;
    if (!d) return { knownLeader: false, lastContactMs: 0 };
    if (d.isLeader) return { knownLeader: true, lastContactMs: 0 };
    return { knownLeader: d.leaderHint() !== undefined, lastContactMs: this.lastLeaderContact ? Math.round(performance.now() - this.lastLeaderContact) : 0 };
  }

  /** For this server's own HTTP reads (ReadAccess.readPoint): undefined when nothing must be awaited. */
  readPoint(mode: ReadMode): Promise<void> | undefined {
    if (mode === 'stale') return undefined;
    const d = this.driver;
    if (mode === 'leader' && d?.isLeader && d.appliedIndex >= this.termStart && d.leaseHolds()) return undefined;
    return this.index(mode === 'consistent').then((index) => this.waitApplied(index));
  }

  /**
   * The index a read must see: a ReadIndex (`consistent`; applied here by the time it
   * resolves), or the leader's applied index (asked of the leader by a follower). Rejects
   * NO_CLUSTER_LEADER when no leader answers within an election or the read timeout.
   */
  async index(consistent: boolean, forwarded = false): Promise<bigint> {
    const d = this.driver;
    if (!d) throw noClusterLeader();
    if (d.leaderHint() === undefined) {
      // An election is on: wait for it as a write would (Consul's RPC hold), then give up.
      await d.waitForLeader(undefined, 2 * d.tuning.electionTicks * d.tuning.tickMs).catch((err) => {
        throw noClusterLeader(err);
      });
    }
    if (consistent) {
      try {
        return await d.readIndex();
      } catch (err) {
        const code = (err as RaftError).code;
        if (code === ERR.RAFT_NOT_LEADER || code === ERR.RAFT_TIMEOUT) throw noClusterLeader(err);
        throw err;
      }
    }
    if (d.isLeader) {
      await this.waitApplied(this.termStart);
      if (d.leaseHolds()) return d.appliedIndex;
      // No quorum heard from us lately (we may have been paused or cut off, and deposed without
      // knowing it yet): confirm leadership with a heartbeat round before vouching for anything.
      return this.index(true, forwarded);
    }
    const leader = d.leaderHint();
    if (forwarded || leader === undefined) throw noClusterLeader();
    try {
      return readPointIndex(await this.transport.request(leader.id, READ_POINT_METHOD, { consistent: false, forwarded: true } satisfies ReadPointRequest, { timeoutMs: d.tuning.readTimeoutMs }));
    } catch (err) {
      // The leader moved, refused, or did not answer in time: no leader vouches for the read.
      throw noClusterLeader(err);
    }
  }

  /** Resolves once this server has applied `index`; READ_POINT_TIMEOUT after the driver's read timeout. */
  private async waitApplied(index: bigint): Promise<void> {
    const d = this.driver!;
    if (d.appliedIndex >= index) return;
    const ms = d.tuning.readTimeoutMs;
    await d.waitForApplied(index, ms).catch((err) => {
      if ((err as RaftError).code === ERR.RAFT_TIMEOUT) throw readPointTimeout('this server', index, d.appliedIndex, ms);
      throw err;
    });
  }
}
