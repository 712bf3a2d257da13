/**
 * A Herald server's Raft: the driver (src/raft/raft-driver.ts) over the agent's storage and a
 * TcpTransport on bind:ports.server, the bootstrap_expect / retry_join exchange that forms or
 * joins a cluster, and what the HTTP API asks of it (leader headers and read points through
 * read-point.ts, status and operator endpoints, graceful leave).
 *
 * Joining (consul-compat.md §8 "Bootstrap"): a fresh server sends `herald.join` (its id, node
 * name, RPC address and replicated-state plugins) to every retry_join address, with backoff,
 * and merges the answers (each names the servers the answerer knows and, once it is in one,
 * its cluster's voters); servers that contacted it count too. server-bootstrap.ts decides:
 * bootstrap with the same voter list as the others, or start empty and ask a member to have
 * the leader add it (`herald.addServer`: one single-server membership change). A server with
 * Raft state on disk skips all that: its voters and their addresses are in its log.
 *
 * First contact is by address only (the peer's id is not known yet), over a separate
 * dial-only transport whose id (`<id>/join`) never collides with the main one's links.
 */
import os from 'node:os';
import type { StateMachine } from '../catalog/state-machine.ts';
import { ERR, HeraldError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { backoffDelay } from '../rpc/backoff.ts';
import { RpcError } from '../rpc/rpc-error.ts';
import { formatHostPort, parseHostPort, TcpTransport } from '../rpc/tcp-transport.ts';
import { anyPeerAt } from '../rpc/transport.ts';
import { RaftDriver, type RaftStatus } from '../raft/raft-driver.ts';
import { catalogStateMachine, RaftLog } from '../raft/raft-log.ts';
import { RaftError } from '../raft/raft-error.ts';
import { loadRaftState } from '../raft/raft-storage.ts';
import type { Storage } from '../storage/storage.ts';
import type { ReadMode } from '../plugin.ts';
import type { RuntimeConfig } from './config-types.ts';
import { ChangeFeed } from './client-feed.ts';
import { ClientLivenessMonitor } from './client-liveness-monitor.ts';
import { livenessTuning } from './client-liveness.ts';
import { ServerReads, type LeaderFacts } from './read-point.ts';
import { decideBootstrap, describeMismatch, pluginMismatch, type ClusterSeen, type ServerInfo } from './server-bootstrap.ts';

/** RPC methods servers serve each other (besides the driver's raft.*). */
export const SERVER_METHOD = {
  /** body ServerInfo -> JoinReply. */
  join: 'herald.join',
  /** body `{ id, address }` -> null once the server is a voter (forwarded to the leader by the driver). */
  addServer: 'herald.addServer',
  /** body `{ id?: string }` -> null once leadership moved (served by the leader). */
  transferLeader: 'herald.transferLeader',
} as const;

interface JoinReply {
  readonly self: ServerInfo;
  readonly known: readonly ServerInfo[];
  /** The answerer's voters (id -> address) once it runs Raft; null before. */
  readonly voters: Record<string, string> | null;
}

export interface ServerRaftOptions {
  readonly config: RuntimeConfig;
  readonly nodeId: string;
  readonly storage: Storage;
  readonly sm: StateMachine;
  /** Names of the replicated-state plugins this server runs. */
  readonly replicatedPlugins: readonly string[];
  readonly log: Logger;
}

/** One server of `/v1/operator/raft/configuration`. */
export interface RaftServerEntry {
  readonly id: string;
  readonly node: string;
  readonly address: string;
  readonly leader: boolean;
  readonly voter: boolean;
}

/** Retry pacing for retry_join: fast while a cluster forms, capped so a dead address costs little. */
const JOIN_BACKOFF = { baseMs: 100, maxMs: 2_000 };
const JOIN_TIMEOUT_MS = 2_000;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readServerInfo(v: unknown): ServerInfo {
  if (!isObj(v) || typeof v.id !== 'string' || !v.id || typeof v.name !== 'string' || typeof v.address !== 'string' || !Array.isArray(v.plugins)) {
    throw new HeraldError(ERR.COMMAND_INVALID, 'herald.join: malformed server description');
  }
  return { id: v.id, name: v.name, address: v.address, plugins: v.plugins.filter((p): p is string => typeof p === 'string').sort() };
}

function readJoinReply(v: unknown): JoinReply {
  if (!isObj(v) || !Array.isArray(v.known)) throw new HeraldError(ERR.COMMAND_INVALID, 'herald.join: malformed reply');
  const voters = isObj(v.voters) ? (Object.fromEntries(Object.entries(v.voters).filter(([, a]) => typeof a === 'string')) as Record<string, string>) : null;
  return { self: readServerInfo(v.self), known: v.known.map(readServerInfo), voters };
}

/** The host other servers reach this one at: advertise_addr, else the bind address, else the first private IPv4. */
export function advertiseHost(config: RuntimeConfig): string {
  if (config.advertiseAddr) return config.advertiseAddr;
  if (config.bindAddr && config.bindAddr !== '0.0.0.0' && config.bindAddr !== '::') return config.bindAddr;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

const sleep = (ms: number, wake?: Promise<void>) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    void wake?.then(() => {
      clearTimeout(t);
      resolve();
    });
  });

export class ServerRaft {
  readonly self: ServerInfo;
  /** The ReplicatedLog the agent proposes through; set once start() resolved. */
  log!: RaftLog;
  private driver_: RaftDriver | undefined;
  private readonly known = new Map<string, ServerInfo>();
  private wakeDiscovery: () => void = () => {};
  private stopped = false;
  /** Read points and leader facts for this server's reads, followers' and client agents' (read-point.ts). */
  private readonly reads: ServerReads;
  /** The change stream client agents follow (client-feed.ts). */
  private readonly feed: ChangeFeed;
  /** Client agents' failure detection (client-liveness-monitor.ts), once the driver runs. */
  private liveness: ClientLivenessMonitor | undefined;

  private constructor(
    private readonly opts: ServerRaftOptions,
    readonly transport: TcpTransport,
    self: ServerInfo,
  ) {
    this.self = self;
    this.reads = new ServerReads(transport);
    this.feed = new ChangeFeed({ sm: opts.sm, plugins: self.plugins, log: opts.log.named('feed'), leader: () => this.reads.leaderInfo(), leaderAddress: () => this.leaderAddress() });
  }

  /** The driver; throws RAFT_STOPPED before the server has formed or joined a cluster. */
  get driver(): RaftDriver {
    if (!this.driver_) throw new RaftError(ERR.RAFT_STOPPED, 'raft: this server has not joined a cluster yet');
    return this.driver_;
  }

  /**
   * Listens on bind:ports.server, forms or joins the cluster (waiting as long as that takes:
   * Consul's servers wait for bootstrap_expect peers the same way), starts the driver, and
   * resolves once a leader is known. Rejects SERVER_JOIN_REFUSED when a contacted server runs
   * different replicated-state plugins (both sides log which).
   */
  static async start(opts: ServerRaftOptions): Promise<ServerRaft> {
    const { config, nodeId, log } = opts;
    const transport = new TcpTransport({
      nodeId,
      clusterId: `herald/${config.datacenter}`,
      listen: formatHostPort(config.bindAddr, config.ports.server),
      logger: log.named('rpc'),
    });
    await transport.start();
    const port = parseHostPort(transport.address!).port;
    const self: ServerInfo = { id: nodeId, name: config.nodeName, address: formatHostPort(advertiseHost(config), port), plugins: [...opts.replicatedPlugins].sort() };
    const server = new ServerRaft(opts, transport, self);
    try {
      await server.run();
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  private async run(): Promise<void> {
    const { config, log, storage } = this.opts;
    this.serve();
    log.info(`server RPC on ${this.transport.address} (advertised as ${this.self.address}), node id ${this.self.id}`);
    const stored = await loadRaftState(storage);
    let bootstrap: Record<string, string> | undefined;
    let joinVia: ServerInfo | undefined;
    if (stored.fresh) {
      const decision = config.retryJoin.length === 0 && config.bootstrapExpect <= 1 ? decideBootstrap(this.self, 1, [], []) : await this.discover();
      if (decision.kind === 'bootstrap') bootstrap = { ...decision.voters };
      else if (decision.kind === 'join') joinVia = decision.via;
    }
    const driver = new RaftDriver({
      id: this.self.id,
      storage,
      transport: this.transport,
      stateMachine: this.feed.wrap(catalogStateMachine(this.opts.sm)),
      ...(bootstrap ? { bootstrap } : {}),
      // Consul's raft_snapshot_threshold / raft_snapshot_interval, shared with the single-agent log.
      tuning: { snapshotThreshold: config.raftSnapshotThreshold, snapshotIntervalMs: config.raftSnapshotInterval },
      logger: log,
    });
    this.driver_ = driver;
    this.log = new RaftLog(driver);
    this.reads.attach(driver);
    await driver.start();
    // Failure detection for client agents (their serfHealth); judged only while this server leads.
    const tuning = livenessTuning(config.clientFailureTimeout);
    this.liveness = new ClientLivenessMonitor({
      transport: this.transport,
      sm: this.opts.sm,
      raft: driver,
      propose: (command) => this.log.propose(command),
      tuning,
      // A follower hears the leader every Raft heartbeat (50 ms): silence for a beat interval means cut off.
      leaderReachable: () => {
        const f = this.leaderInfo();
        return f.knownLeader && f.lastContactMs < tuning.heartbeatIntervalMs;
      },
      log: log.named('liveness'),
    });
    this.liveness.start();
    if (joinVia) await this.askToBeAdded(joinVia);
    await this.waitForLeader();
    const book = driver.status().peers.find((p) => p.id === this.self.id)?.address;
    if (!stored.fresh && book !== undefined && book !== this.self.address) {
      // Restarted on another address (an ephemeral port, a new IP): tell the cluster.
      log.info(`this server's address changed from ${book} to ${this.self.address}; updating the cluster`);
      await driver.addServer(this.self.id, this.self.address).catch((err) => log.warn(`could not update this server's address: ${(err as Error).message}`));
    }
  }

  private async waitForLeader(): Promise<void> {
    for (;;) {
      if (this.stopped) throw new RaftError(ERR.RAFT_STOPPED, 'raft: stopped while waiting for a leader');
      try {
        const leader = await this.driver.waitForLeader(undefined, 10_000);
        this.opts.log.info(`cluster leader: ${leader}${leader === this.self.id ? ' (this server)' : ''}`);
        return;
      } catch (err) {
        if ((err as RaftError).code !== ERR.RAFT_TIMEOUT) throw err;
        this.opts.log.warn('no cluster leader yet; still waiting');
      }
    }
  }

  // ---- joining -------------------------------------------------------------------------------

  private serve(): void {
    const log = this.opts.log;
    this.reads.serve();
    this.feed.serve(
      this.transport,
      () => {
        if (!this.log) throw new RaftError(ERR.RAFT_NOT_LEADER, 'raft: this server has not joined a cluster yet');
        return this.log;
      },
      () => {
        try {
          return this.peers();
        } catch {
          return [];
        }
      },
    );
    this.transport.handle(SERVER_METHOD.join, (body) => {
      const them = readServerInfo(body);
      const mm = pluginMismatch(this.self.plugins, them.plugins);
      if (mm) {
        const text = describeMismatch(this.self.name, `${them.name} (${them.address})`, mm);
        log.error(`refusing the join of ${them.name} (${them.address}): ${text}`);
        throw new HeraldError(ERR.SERVER_JOIN_REFUSED, `${this.self.name} refused the join: ${describeMismatch(them.name, `${this.self.name} (${this.self.address})`, { onlyHere: mm.onlyThere, onlyThere: mm.onlyHere })}`);
      }
      if (them.id !== this.self.id && !this.known.has(them.id)) {
        this.known.set(them.id, them);
        this.wakeDiscovery();
      }
      const reply: JoinReply = { self: this.self, known: [...this.known.values()], voters: this.votersBook() };
      return reply;
    });
    this.transport.handle(SERVER_METHOD.addServer, async (body) => {
      if (!isObj(body) || typeof body.id !== 'string' || typeof body.address !== 'string') throw new HeraldError(ERR.COMMAND_INVALID, 'herald.addServer: body needs id and address');
      await this.driver.addServer(body.id, body.address);
      return null;
    });
    this.transport.handle(SERVER_METHOD.transferLeader, async (body) => {
      const id = isObj(body) && typeof body.id === 'string' ? body.id : undefined;
      if (!this.driver.isLeader) throw new RaftError(ERR.RAFT_NOT_LEADER, 'raft: not the leader');
      await this.transferLocally(id);
      return null;
    });
  }

  private votersBook(): Record<string, string> | null {
    if (!this.driver_) return null;
    let s: RaftStatus;
    try {
      s = this.driver_.status();
    } catch {
      return null;
    }
    if (s.peers.length === 0) return null;
    return Object.fromEntries(s.peers.map((p) => [p.id, p.address ?? '']));
  }

  /** Contacts every retry_join address until server-bootstrap.ts says bootstrap or join. */
  private async discover() {
    const { config, log } = this.opts;
    const joiner = new TcpTransport({ nodeId: `${this.self.id}/join`, clusterId: `herald/${config.datacenter}`, logger: log.named('rpc-join') });
    const failedOnce = new Set<string>();
    const clusters = new Map<string, ClusterSeen>();
    let lastReason = '';
    try {
      for (let attempt = 0; ; attempt++) {
        if (this.stopped) throw new RaftError(ERR.RAFT_STOPPED, 'raft: stopped while joining');
        const woken = new Promise<void>((resolve) => (this.wakeDiscovery = resolve));
        await Promise.all(
          config.retryJoin.map(async (address) => {
            const peer = anyPeerAt(address);
            joiner.setPeer(peer, address);
            try {
              const reply = readJoinReply(await joiner.request(peer, SERVER_METHOD.join, this.self, { timeoutMs: JOIN_TIMEOUT_MS }));
              if (failedOnce.delete(address)) log.info(`retry_join: reached ${reply.self.name} at ${address}`);
              if (reply.self.id === this.self.id) return;
              const mm = pluginMismatch(this.self.plugins, reply.self.plugins);
              if (mm) {
                const text = describeMismatch(this.self.name, `${reply.self.name} (${address})`, mm);
                log.error(`cannot join: ${text}`);
                throw new HeraldError(ERR.SERVER_JOIN_REFUSED, `cannot join: ${text}`);
              }
              for (const s of [reply.self, ...reply.known]) {
                if (s.id !== this.self.id && !pluginMismatch(this.self.plugins, s.plugins)) this.known.set(s.id, s);
              }
              if (reply.voters) clusters.set(reply.self.id, { via: reply.self, voters: reply.voters });
            } catch (err) {
              if (err instanceof RpcError && err.remoteCode === ERR.SERVER_JOIN_REFUSED) {
                const text = err.message.replace(/^request '[^']+' to \S+ failed: /, '');
                log.error(`cannot join via ${address}: ${text}`);
                throw new HeraldError(ERR.SERVER_JOIN_REFUSED, text);
              }
              if (err instanceof HeraldError && err.code === ERR.SERVER_JOIN_REFUSED) throw err;
              // Each failing address is logged once until it answers again (Consul logs every retry).
              if (!failedOnce.has(address)) {
                failedOnce.add(address);
                log.warn(`retry_join: cannot reach ${address} yet: ${(err as Error).message}; retrying`);
              }
            }
          }),
        );
        const d = decideBootstrap(this.self, config.bootstrapExpect, [...this.known.values()], [...clusters.values()]);
        if (d.kind !== 'wait') {
          if (d.kind === 'bootstrap') log.info(`bootstrapping with voters ${Object.keys(d.voters).sort().join(', ')}`);
          else log.info(`joining the existing cluster through ${d.via.name} (${d.via.address})`);
          return d;
        }
        if (d.reason !== lastReason) log.info(`waiting to form a cluster: ${d.reason}`);
        lastReason = d.reason;
        await sleep(backoffDelay(attempt, { ...JOIN_BACKOFF, random: Math.random }), woken);
      }
    } finally {
      this.wakeDiscovery = () => {};
      await joiner.close();
    }
  }

  /** Asks `via` (any member) to have the leader add this server; retried until it is a voter. */
  private async askToBeAdded(via: ServerInfo): Promise<void> {
    const log = this.opts.log;
    this.transport.setPeer(via.id, via.address);
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new RaftError(ERR.RAFT_STOPPED, 'raft: stopped while joining');
      try {
        await this.transport.request(via.id, SERVER_METHOD.addServer, { id: this.self.id, address: this.self.address }, { timeoutMs: 15_000 });
        log.info(`added to the cluster as a voter (through ${via.name})`);
        return;
      } catch (err) {
        if (attempt === 0) log.warn(`could not be added through ${via.name} yet: ${(err as Error).message}; retrying`);
        await sleep(backoffDelay(attempt, { ...JOIN_BACKOFF, random: Math.random }));
      }
    }
  }

  // ---- what the HTTP API asks ----------------------------------------------------------------

  /** Is a leader known now, and ms since this server last heard from it (0 on the leader). */
  leaderInfo(): LeaderFacts {
    return this.reads.leaderInfo();
  }

  /**
   * What a read here waits for (ReadAccess.readPoint, read-point.ts): nothing for `stale` or
   * for `leader` on the leader; the leader's applied index on a follower; a ReadIndex for
   * `consistent`. Rejects NO_CLUSTER_LEADER (`No cluster leader`) without a leader.
   */
  readPoint(mode: ReadMode): Promise<void> | undefined {
    return this.reads.readPoint(mode);
  }

  /** The leader's RPC address, `""` without one (`/v1/status/leader`). */
  leaderAddress(): string {
    return this.driver_?.leaderHint()?.address ?? '';
  }

  /** The voters' RPC addresses (`/v1/status/peers`). */
  peers(): string[] {
    return this.driver_ ? this.driver_.status().peers.map((p) => p.address ?? '') : [];
  }

  /** `/v1/operator/raft/configuration`: the voters with their node names (from the catalog). */
  configuration(): { servers: RaftServerEntry[]; index: bigint } {
    const s = this.driver.status();
    const names = new Map(this.opts.sm.nodes().map((n) => [n.id, n.node]));
    const servers = s.peers.map((p) => ({ id: p.id, node: names.get(p.id) ?? (p.id === this.self.id ? this.self.name : p.id), address: p.address ?? '', leader: p.leader, voter: p.voter }));
    return { servers, index: s.applied };
  }

  /** Removes a voter by id or address (`operator raft remove-peer`). */
  async removePeer(by: { id?: string; address?: string }): Promise<void> {
    const s = this.driver.status();
    const peer = s.peers.find((p) => (by.id !== undefined && p.id === by.id) || (by.address !== undefined && p.address === by.address));
    if (!peer) throw new HeraldError(ERR.COMMAND_INVALID, `no voter with ${by.id !== undefined ? `id ${by.id}` : `address ${by.address}`} in the Raft configuration`);
    await this.driver.removeServer(peer.id);
  }

  /** Moves leadership to `id` (or the most up-to-date other voter), forwarding to the leader. */
  async transferLeader(id?: string): Promise<void> {
    const d = this.driver;
    if (d.isLeader) return this.transferLocally(id);
    const leader = d.leaderHint();
    if (!leader) throw new HeraldError(ERR.NO_CLUSTER_LEADER, 'No cluster leader');
    try {
      await this.transport.request(leader.id, SERVER_METHOD.transferLeader, id === undefined ? {} : { id }, { timeoutMs: d.tuning.transferTimeoutMs + 1_000 });
    } catch (err) {
      if (err instanceof RpcError && err.remoteCode) throw new HeraldError(ERR.RAFT_REFUSED, err.message.replace(/^request '[^']+' to \S+ failed: /, ''));
      throw err;
    }
  }

  private async transferLocally(id?: string): Promise<void> {
    const d = this.driver;
    const s = d.status();
    let target = id;
    if (target === undefined) {
      const others = s.peers.filter((p) => p.id !== this.self.id).sort((a, b) => (b.match ?? 0n) > (a.match ?? 0n) ? 1 : (b.match ?? 0n) < (a.match ?? 0n) ? -1 : 0);
      if (others.length === 0) throw new HeraldError(ERR.RAFT_REFUSED, 'no other voter to transfer leadership to');
      target = others[0]!.id;
    } else if (!s.peers.some((p) => p.id === target)) {
      throw new HeraldError(ERR.COMMAND_INVALID, `no voter with id ${target}`);
    }
    await d.transferLeadership(target);
  }

  /**
   * Graceful leave: a leader hands leadership to another voter first; then this server asks to
   * be removed from the voters when the others still make a quorum without it (so a leave never
   * blocks the cluster). Best effort, bounded by the driver's timeouts: errors are logged.
   */
  async leave(): Promise<void> {
    const d = this.driver_;
    if (!d) return;
    const log = this.opts.log;
    try {
      const voters = d.status().peers;
      if (!voters.some((p) => p.id === this.self.id) || voters.length < 2) return;
      if (d.isLeader) {
        await this.transferLocally();
        log.info(`leadership transferred to ${d.leaderHint()?.id}`);
      }
      await d.removeServer(this.self.id);
      log.info('removed this server from the Raft voters');
    } catch (err) {
      log.warn(`graceful leave incomplete: ${(err as Error).message}`);
    }
  }

  /** Stops the driver and closes the transport. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wakeDiscovery();
    this.liveness?.stop();
    await this.driver_?.stop();
    await this.transport.close();
  }
}
