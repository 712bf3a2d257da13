/**
 * Every knob of the Raft driver, its default and the reason, in one place (memberlist's
 * config.go style). The core counts time in ticks; this file says how long a tick is.
 */
import { ERR, HeraldError } from '../errors.ts';
import type { ReadOnlyMode } from './core/index.ts';

export interface RaftDriverTuning {
  /** Length of one core tick in ms (the ticker derives ticks from a monotonic clock). */
  readonly tickMs: number;
  /** A leader sends heartbeats every this many ticks. */
  readonly heartbeatTicks: number;
  /** T: a follower campaigns after a random [T, 2T) ticks without hearing from a leader. */
  readonly electionTicks: number;
  /** How ReadIndex requests are confirmed ('safe': a heartbeat round per batch; 'lease': core README). */
  readonly readOnly: ReadOnlyMode;
  /** Snapshot the state machine and compact the log after this many applied entries (0: never). */
  readonly snapshotThreshold: number;
  /**
   * The threshold is checked at most once per this many ms, plus a random jitter of up to as
   * much again so servers do not snapshot together (Consul's raft_snapshot_interval; 0: after
   * every Ready).
   */
  readonly snapshotIntervalMs: number;
  /** Entries kept below a snapshot, so slightly lagging followers catch up without one. */
  readonly trailingEntries: number;
  /** A proposal not applied within this time rejects as indeterminate (a backstop; leadership loss rejects sooner). */
  readonly proposalTimeoutMs: number;
  /** A linearizable read whose read index is not confirmed within this time rejects RAFT_TIMEOUT. */
  readonly readTimeoutMs: number;
  /** A leadership transfer not completed within this time rejects RAFT_TIMEOUT. */
  readonly transferTimeoutMs: number;
  /** Most ticks replayed at once after the event loop was blocked or the process paused. */
  readonly maxCatchUpTicks: number;
  /** A leader sends its MsgApp before its own fsync completes (dissertation §10.2.1). */
  readonly sendAppendsEarly: boolean;
  /** A follower's propose() forwards the command to the leader ('raft.propose') instead of refusing it. */
  readonly forwardProposals: boolean;
}

/**
 * The defaults, with their reasons.
 *
 * Failover: the leader's last heartbeat reset every follower's election clock; after the
 * leader dies, follower i campaigns after E_i ~ U[T, 2T) ticks, and the first one to do so
 * wins in two round trips (PreVote, then Vote; each far below a tick on a LAN). With n-1
 * followers the expected wait is the minimum of n-1 uniforms:
 *
 *     failover ≈ tickMs · (T + T/n) + tickMs  (the last term: tick granularity)
 *     p50 (3 servers)  = tickMs · T · (1 + (1 - √0.5)) ≈ 1.29 · T · tickMs
 *     worst case       < 2 · T · tickMs + tickMs  (plus a split vote, rare with PreVote)
 *
 * With tickMs 50, T 6: p50 ≈ 390 ms (+50), worst ≈ 650 ms, inside anchors §5 G1 (p50 ≤ 1 s,
 * p99 ≤ 2 s) and its suggested "heartbeat 50 ms, election timeout random in [300, 600] ms".
 * The election timeout is ≥ 10× a 30 ms event-loop stall, the anchors' rule for a loaded
 * 2-core box (§4.2 "Capacity").
 *
 * - heartbeatTicks 1 (50 ms): broadcastTime ≪ electionTimeout (Raft §5.6); also carries commit.
 * - readOnly 'safe': `?consistent` must not depend on clocks (Jepsen 2014, anchors §1.5).
 * - snapshotThreshold 16384, trailingEntries 10240, snapshotIntervalMs 30 s: Consul's
 *   raft_snapshot_threshold, raft_trailing_logs and raft_snapshot_interval (DurableLog uses the
 *   same). Snapshotting serialises the whole state on the JS thread, which stalls the event loop
 *   (heartbeats included) for as long as that takes: at 2,000 writes/s a bare threshold would
 *   do it every 8 s on every server; the interval bounds it to one per 30-60 s per server.
 * - proposalTimeoutMs 10 s: the RPC layer's request timeout; above Consul's 7 s hold.
 * - readTimeoutMs = transferTimeoutMs = 4 · 2T · tickMs: a deposed leader steps down within
 *   2T (CheckQuorum) and a new one is elected within about 2T more; past that, fail the read.
 * - maxCatchUpTicks = 4T: enough for a stalled leader to notice (CheckQuorum at T..2T) without
 *   an unbounded loop after a long SIGSTOP.
 */
export function raftDriverDefaults(): RaftDriverTuning {
  const tickMs = 50;
  const electionTicks = 6;
  const maxElectionMs = 2 * electionTicks * tickMs;
  return {
    tickMs,
    heartbeatTicks: 1,
    electionTicks,
    readOnly: 'safe',
    snapshotThreshold: 16384,
    snapshotIntervalMs: 30_000,
    trailingEntries: 10240,
    proposalTimeoutMs: 10_000,
    readTimeoutMs: 4 * maxElectionMs,
    transferTimeoutMs: 4 * maxElectionMs,
    maxCatchUpTicks: 4 * electionTicks,
    sendAppendsEarly: true,
    forwardProposals: true,
  };
}

/**
 * Defaults overlaid with `overrides`. Timeouts not overridden follow an overridden tickMs or
 * electionTicks (so a test's fast clock gets proportionate timeouts). Throws CONFIG_INVALID
 * naming the knob.
 */
export function resolveDriverTuning(overrides: Partial<RaftDriverTuning> = {}): RaftDriverTuning {
  const o = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Partial<RaftDriverTuning>;
  const base = raftDriverDefaults();
  const tickMs = o.tickMs ?? base.tickMs;
  const electionTicks = o.electionTicks ?? base.electionTicks;
  const maxElectionMs = 2 * electionTicks * tickMs;
  const t: RaftDriverTuning = {
    ...base,
    readTimeoutMs: 4 * maxElectionMs,
    transferTimeoutMs: 4 * maxElectionMs,
    maxCatchUpTicks: 4 * electionTicks,
    ...o,
  };
  const bad = (knob: string, why: string): never => {
    throw new HeraldError(ERR.CONFIG_INVALID, `raft: ${knob} ${why}`);
  };
  for (const k of ['tickMs', 'proposalTimeoutMs', 'readTimeoutMs', 'transferTimeoutMs'] as const) {
    if (!(typeof t[k] === 'number' && Number.isFinite(t[k]) && t[k] > 0)) bad(k, `must be a positive number (got ${String(t[k])})`);
  }
  for (const k of ['heartbeatTicks', 'electionTicks', 'maxCatchUpTicks'] as const) {
    if (!Number.isInteger(t[k]) || t[k] < 1) bad(k, `must be a positive integer (got ${String(t[k])})`);
  }
  for (const k of ['snapshotThreshold', 'trailingEntries', 'snapshotIntervalMs'] as const) {
    if (!Number.isInteger(t[k]) || t[k] < 0) bad(k, `must be a non-negative integer (got ${String(t[k])})`);
  }
  if (t.electionTicks <= t.heartbeatTicks) bad('electionTicks', `${t.electionTicks} must exceed heartbeatTicks ${t.heartbeatTicks}`);
  return t;
}
