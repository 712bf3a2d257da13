/**
 * The servers' side of client failure detection (the thin driver around client-liveness.ts):
 * serves the clients' heartbeats, sends the leader what this server heard, and on the leader
 * turns the verdicts into `check.update` commands for each client's `serfHealth`.
 *
 * No gossip (see client-liveness.ts): liveness is "some server heard this client's heartbeat
 * lately". Every server answers heartbeats; once per report interval a follower sends the
 * leader the clients it heard from and how long ago (one request, whatever the number of
 * clients), and the leader judges the catalog's client nodes. Only nodes an agent registered
 * (they carry serfHealth) are judged, and never a server's: Raft watches servers, and a server
 * carries the `consul` service or is a voter.
 *
 * The verdict goes through the log like any write (deterministic apply, every replica and
 * client agent sees it in index order). Before proposing, the leader confirms it still leads
 * (ReadIndex): a deposed leader's view is stale, and its proposal would be forwarded and
 * committed by the new leader.
 */
import { performance } from 'node:perf_hooks';
import { TABLE, type StateMachine } from '../catalog/state-machine.ts';
import type { Command } from '../catalog/types.ts';
import { ERR, HeraldError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RaftDriver } from '../raft/raft-driver.ts';
import type { Transport } from '../rpc/transport.ts';
import { ClientLivenessTable, LIVENESS_RPC, SERF_OUTPUT, type JudgedNode, type LivenessTuning, type SeenReport } from './client-liveness.ts';
import { SERF_HEALTH, SERVER_SERVICE_ID } from './local-state.ts';

/** What the monitor reads of the Raft driver. */
export type LivenessRaft = Pick<RaftDriver, 'isLeader' | 'leaderHint' | 'status' | 'readIndex'>;

export interface ClientLivenessMonitorOptions {
  /** The servers' transport: clients' heartbeats arrive on it, reports go to the leader over it. */
  readonly transport: Transport;
  readonly sm: StateMachine;
  readonly raft: LivenessRaft;
  /** Proposes through this server's log (the leader's own). */
  readonly propose: (command: Command) => Promise<unknown>;
  readonly tuning: LivenessTuning;
  /** Whether this server leads or hears from the leader now (a client beats another server too when not). */
  readonly leaderReachable: () => boolean;
  readonly log: Logger;
}

function readNodeName(v: unknown, method: string): string {
  const node = (v as { node?: unknown } | null)?.node;
  if (typeof node !== 'string' || node === '') throw new HeraldError(ERR.COMMAND_INVALID, `${method}: body needs node`);
  return node;
}

function readReports(v: unknown): SeenReport[] {
  const clients = (v as { clients?: unknown } | null)?.clients;
  if (!Array.isArray(clients)) throw new HeraldError(ERR.COMMAND_INVALID, `${LIVENESS_RPC.seen}: body needs clients`);
  return clients.filter((c): c is SeenReport => typeof c?.node === 'string' && c.node !== '' && typeof c?.ageMs === 'number' && Number.isFinite(c.ageMs));
}

export class ClientLivenessMonitor {
  private readonly table: ClientLivenessTable;
  private timer: NodeJS.Timeout | undefined;
  /** Lowercased nodes with a verdict being proposed (not judged again until it settles). */
  private readonly proposing = new Set<string>();
  private reporting = false;
  private candidates: { key: string; nodes: readonly JudgedNode[] } | undefined;

  /** Serves the heartbeat and report methods on the transport at once; judging starts with start(). */
  constructor(private readonly opts: ClientLivenessMonitorOptions) {
    this.table = new ClientLivenessTable(opts.tuning);
    opts.transport.handle(LIVENESS_RPC.heartbeat, (body) => {
      this.table.heard(readNodeName(body, LIVENESS_RPC.heartbeat), performance.now());
      return { intervalMs: opts.tuning.heartbeatIntervalMs, leaderReachable: opts.leaderReachable() };
    });
    opts.transport.handle(LIVENESS_RPC.seen, (body) => {
      const now = performance.now();
      for (const r of readReports(body)) this.table.heard(r.node, now, r.ageMs);
      return null;
    });
  }

  /** Starts the rounds: every report interval, a follower reports and the leader judges. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.round(), this.opts.tuning.reportIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private round(): void {
    const now = performance.now();
    const leading = this.opts.raft.isLeader;
    this.table.tick(now, leading);
    if (leading) this.judge(now);
    else this.report(now);
  }

  private report(now: number): void {
    const leader = this.opts.raft.leaderHint()?.id;
    if (leader === undefined || leader === this.opts.transport.localId || this.reporting) return;
    const clients = this.table.report(now);
    if (clients.length === 0) return;
    this.reporting = true;
    this.opts.transport
      .request(leader, LIVENESS_RPC.seen, { clients }, { timeoutMs: this.opts.tuning.reportIntervalMs })
      // A lost report is covered by the next one; the leader's timeout spans five of them.
      .catch((err) => this.opts.log.debug(`report to the leader ${leader} failed: ${(err as Error).message}`))
      .finally(() => (this.reporting = false));
  }

  /**
   * The client agents' nodes: those with serfHealth, minus the servers'. Recomputed only when
   * the catalog's nodes, services or checks (statuses included) or the voters changed.
   */
  private clientNodes(): readonly JudgedNode[] {
    const { sm, raft } = this.opts;
    let voters: string[];
    try {
      voters = raft.status().peers.map((p) => p.id);
    } catch {
      return [];
    }
    const key = `${sm.checksIndex}/${sm.tableIndex(TABLE.nodes)}/${sm.tableIndex(TABLE.services)}/${voters.join(',')}`;
    if (this.candidates?.key === key) return this.candidates.nodes;
    const servers = new Set(voters);
    const nodes: JudgedNode[] = [];
    for (const row of sm.nodes()) {
      if ((row.id !== '' && servers.has(row.id)) || sm.serviceRowsOnNode(SERVER_SERVICE_ID, row.node).length > 0) continue;
      const serf = sm.nodeChecks(row.node).find((c) => c.checkId === SERF_HEALTH && c.serviceId === '');
      if (serf) nodes.push({ node: row.node, status: serf.status });
    }
    this.candidates = { key, nodes };
    return nodes;
  }

  private judge(now: number): void {
    const verdicts = this.table.judge(now, this.clientNodes()).filter((v) => !this.proposing.has(v.node.toLowerCase()));
    if (verdicts.length > 0) void this.propose(verdicts);
  }

  private async propose(verdicts: Array<{ node: string; status: 'passing' | 'critical' }>): Promise<void> {
    const { raft, log, tuning } = this.opts;
    for (const v of verdicts) this.proposing.add(v.node.toLowerCase());
    try {
      await raft.readIndex();
      if (!raft.isLeader) return;
      await Promise.all(
        verdicts.map(async ({ node, status }) => {
          try {
            await this.opts.propose({ type: 'check.update', node, checkId: SERF_HEALTH, status, output: SERF_OUTPUT[status] });
            if (status === 'critical') log.warn(`client agent ${node} not heard from for over ${tuning.failureTimeoutMs} ms: serfHealth critical`);
            else log.info(`client agent ${node} is reachable again: serfHealth passing`);
          } catch (err) {
            // CHECK_UNKNOWN: the node left (deregistered) meanwhile; anything else is retried next round.
            log.debug(`serfHealth of ${node} -> ${status} not written: ${(err as Error).message}`);
          }
        }),
      );
    } catch (err) {
      log.debug(`not judging client agents now: ${(err as Error).message}`);
    } finally {
      for (const v of verdicts) this.proposing.delete(v.node.toLowerCase());
    }
  }
}
