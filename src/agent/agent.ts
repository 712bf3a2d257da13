/**
 * One Herald agent: wires config, the log and state machine, the health-filtered view, the
 * DNS front end, the local checks and the plugins, and starts and stops them in phases.
 *
 * Data flow (DESIGN.md): local services and checks -> commands -> log -> state machine ->
 * change feed -> view -> exact cache invalidation -> DNS. Without a data dir (the memory
 * engine) the log is LocalLog and the whole chain runs synchronously inside `propose`, so a
 * check flip has dropped the affected cached answers before the event loop reads the next
 * packet. With a data dir (the rocksdb engine) it is DurableLog: the same chain runs once the
 * entry is fsync'd, and a restart restores the state (snapshot + log replay) before anything
 * else starts, plus the services and checks registered through the API (local-registrations.ts).
 * A client agent (no -server, with retry_join) has no log of its own: its state machine follows
 * a server's change stream and its writes go to a server (client-link.ts, client-feed.ts).
 */
import os from 'node:os';
import type { CheckFields, HealthStatus, NodeFields } from '../catalog/types.ts';
import { StateMachine } from '../catalog/state-machine.ts';
import { LocalLog, type ReplicatedLog } from '../raft/local-log.ts';
import { DurableLog } from '../raft/durable-log.ts';
import { openStorage, storageDir } from '../storage/open-storage.ts';
import type { StableStore, Storage } from '../storage/storage.ts';
import { parseArchiveState, readSnapshotArchive, writeSnapshotArchive } from '../catalog/snapshot-archive.ts';
import { CatalogView } from '../view/catalog-view.ts';
import { AnswerCache } from '../dns/answer-cache.ts';
import { ConsulResolver } from '../dns/consul-resolver.ts';
import { orderHooks } from '../dns/chain.ts';
import { QueryHandler } from '../dns/query-handler.ts';
import { listenUdp, type UdpListener } from '../dns/udp-listener.ts';
import { listenTcp, type TcpListener } from '../dns/tcp-listener.ts';
import { PluginHost } from '../plugin-host.ts';
import { resolvePlugins } from '../plugins-available.ts';
import type { AgentAccess, CoreAccess, DnsHook, LocalCheck } from '../plugin.ts';
import { ERR, HeraldError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { CheckManager } from './checks/check-manager.ts';
import type { CheckDefinition, RuntimeConfig, ServiceDefinition } from './config-types.ts';
import { forEachYielding, LocalState, SERF_HEALTH } from './local-state.ts';
import { LocalRegistrations, type LocalRegistrationsState } from './local-registrations.ts';
import { resolveNodeId } from './node-id.ts';
import { ServerRaft } from './server-raft.ts';
import { ClientLink } from './client-link.ts';
import { ClientHeartbeat } from './client-heartbeat.ts';
import { parseHostPort } from '../rpc/tcp-transport.ts';

/** How long start-up keeps retrying its registration while a cluster has no leader. */
const START_RETRY_MS = 60_000;
/** Answers that mean "no leader right now", not "refused": worth retrying at start-up. */
const TRANSIENT_CLUSTER_ERRORS = new Set<string>([
  ERR.RAFT_NOT_LEADER,
  ERR.NO_CLUSTER_LEADER,
  ERR.RAFT_PROPOSAL_DROPPED,
  ERR.RAFT_PROPOSAL_INDETERMINATE,
  ERR.RAFT_TIMEOUT,
  ERR.RPC_CONNECTION_LOST,
  ERR.RPC_TIMEOUT,
  ERR.RPC_NO_ROUTE,
]);

/** How long a client agent's graceful leave waits for its node's deregistration (Consul's leave drain: 5 s). */
const LEAVE_DRAIN_MS = 5_000;

/** How often the full anti-entropy sync runs (Consul: about a minute). */
const SYNC_INTERVAL_MS = 60_000;

export interface AgentOptions {
  log: Logger;
  /** Re-read the config as the CLI does on SIGHUP (the HTTP API's /v1/agent/reload). */
  reload?: () => Promise<void>;
  /** Graceful leave and exit (the HTTP API's /v1/agent/leave). */
  leave?: () => Promise<void>;
  /**
   * The agent cannot go on after start-up (a client agent's retry_join gave up after retry_max
   * attempts, or its servers run other replicated-state plugins): stop it and exit 1.
   */
  fatal?: (err: Error) => void;
}

const NODE_MAINT = '_node_maintenance';
const serviceMaint = (id: string) => `_service_maintenance:${id}`;

export class Agent {
  readonly sm = new StateMachine();
  /** LocalLog until boot opens storage; DurableLog from then on when there is a data dir. */
  private log_: ReplicatedLog;
  private storage?: Storage;
  private durable?: DurableLog;
  /** With -server: the Raft driver, its transport and the join logic. */
  private server?: ServerRaft;
  /** A client agent (no -server, with retry_join): its state machine follows a server's change stream. */
  private client?: ClientLink;
  /** The client agent had caught up with a server when start-up went on (else it registers later). */
  private clientCaughtUp = false;
  /** A client agent's liveness heartbeat to the servers (client-heartbeat.ts). */
  private heartbeat?: ClientHeartbeat;
  private registrations?: LocalRegistrations;
  readonly view: CatalogView;
  readonly dns: QueryHandler;
  readonly plugins: PluginHost;
  readonly local: LocalState;
  readonly checks: CheckManager;
  private readonly resolver: ConsulResolver;
  private readonly consulHook: DnsHook;
  private udp?: UdpListener;
  private tcp?: TcpListener;
  private syncTimer?: NodeJS.Timeout;
  private cfg: RuntimeConfig;
  private readonly log: Logger;
  private stopping = false;
  private readonly opts: AgentOptions;
  readonly startedAt = Date.now();

  private constructor(config: RuntimeConfig, opts: AgentOptions) {
    this.cfg = config;
    this.opts = opts;
    this.log = opts.log;
    this.log_ = new LocalLog(this.sm);
    this.view = new CatalogView(this.sm);
    this.resolver = new ConsulResolver(this.view, config);
    this.consulHook = { name: 'consul', resolve: (q) => this.resolver.resolve(q) };
    this.dns = new QueryHandler({
      cache: new AnswerCache({ maxBytes: config.dnsConfig.cacheMaxBytes }),
      hooks: [this.consulHook],
      dnsConfig: config.dnsConfig,
      recursionAvailable: config.recursors.length > 0,
      onHookError: (hook, err) => this.log.named('dns').error(`hook ${hook} failed: ${(err as Error).stack ?? err}`),
    });
    // Exact invalidation: the view names what a change touched, the cache drops just that.
    this.view.onInvalidate((deps) => this.dns.invalidate(deps));
    const core: CoreAccess = {
      propose: (command) => this.proposeOrNoLeader(command),
      onChange: (listener) => this.sm.onChange(listener),
      invalidateDns: (deps) => this.dns.invalidate(deps),
      // Read lazily: the host is created just below, and groups are complete only after load().
      httpRouteGroups: () => this.plugins.httpRoutes,
      snapshot: () => this.snapshot(),
      restore: (archive) => this.restore(archive),
      cluster: () => this.server,
      reads: () => this.server ?? this.client,
    };
    this.plugins = new PluginHost(config, this.log.named('plugin'), core, this.sm, this.access());
    // Through the agent, so it follows the switch to the durable log in boot().
    const agent = this;
    const viaAgent: ReplicatedLog = {
      propose: (command) => agent.raftLog.propose(command),
      get lastIndex() {
        return agent.raftLog.lastIndex;
      },
    };
    this.local = new LocalState(nodeFields(config), viaAgent, this.sm);
    this.checks = new CheckManager({
      write: (checkId: string, status: HealthStatus, output: string) => {
        void this.local.updateCheck(checkId, status, output).catch((err) => this.log.warn(`check ${checkId}: ${(err as Error).message}`));
      },
      deregisterService: (serviceId: string) => {
        this.log.info(`deregistering service ${serviceId}: critical longer than DeregisterCriticalServiceAfter`);
        void this.removeService(serviceId);
      },
      allowScripts: { local: config.enableLocalScriptChecks || config.enableScriptChecks, remote: config.enableScriptChecks },
      checkUpdateInterval: config.checkUpdateInterval,
      logger: this.log.named('checks'),
    });
  }

  get config(): RuntimeConfig {
    return this.cfg;
  }

  /** The replicated log: LocalLog (memory engine) or DurableLog (rocksdb, a data dir). */
  get raftLog(): ReplicatedLog {
    return this.log_;
  }

  /** Build, load plugins, register local state, then open the DNS ports. */
  static async start(config: RuntimeConfig, opts: AgentOptions): Promise<Agent> {
    // A server's node ID is its Raft id: kept in the data dir across restarts (Consul's node-id file).
    if ((config.server || isClientAgent(config)) && !config.nodeId) config = { ...config, nodeId: resolveNodeId('', config.dev ? undefined : config.dataDir) };
    const agent = new Agent(config, opts);
    try {
      await agent.boot();
    } catch (err) {
      await agent.stop();
      throw err;
    }
    return agent;
  }

  private async boot(): Promise<void> {
    const config = this.cfg;
    const plugins = await resolvePlugins(config.plugins);
    await this.plugins.load(plugins);
    // Extensions first: a restored snapshot and the replayed log carry their state.
    for (const ext of this.plugins.stateExtensions) this.sm.registerExtension(ext);
    if (config.server) await this.openServer(plugins.filter((p) => p.replicatedState).map((p) => p.name));
    else if (isClientAgent(config)) await this.openClient(plugins.filter((p) => p.replicatedState).map((p) => p.name));
    else if (config.storageEngine === 'rocksdb') await this.openDurable();
    this.dns.reconfigure({ hooks: orderHooks([this.consulHook, ...this.plugins.dnsHooks]) });

    // In a cluster the first writes can meet an election in progress (a leader just lost, or
    // not yet agreed on a loaded machine): every step below is idempotent, so retry the whole
    // registration on such transient answers rather than failing start-up.
    const register = () => this.retryWhileNoLeader(async () => {
      if (this.registrations) {
        // Restored catalog: register what this agent owns first (unchanged rows are no-ops),
        // then the sync removes only what it no longer owns, so nothing churns on a restart.
        const kept = await this.registrations.load();
        await forEachYielding(config.services, (def) => this.addService(def));
        await forEachYielding(config.checks, (def) => this.addCheck(def));
        await this.restoreRegistrations(kept);
        await this.local.syncAll(this.nodeChecks());
        if (config.dev || config.server) await this.registerServerService();
      } else {
        await this.local.syncAll(this.nodeChecks());
        if (config.dev || config.server) await this.registerServerService();
        await forEachYielding(config.services, (def) => this.addService(def));
        await forEachYielding(config.checks, (def) => this.addCheck(def));
      }
    });
    // A client agent that has reached no server yet registers once it has (openClient).
    if (this.client && !this.clientCaughtUp) {
      void this.client.ready.then(register).catch((err) => {
        if (!this.stopping) this.log.warn(`registering this agent's services and checks failed: ${(err as Error).message}; the anti-entropy sync retries`);
      });
    } else await register();

    if (config.ports.dns >= 0) {
      const host = config.clientAddr;
      try {
        this.udp = await listenUdp(this.dns, host, config.ports.dns);
        this.tcp = await listenTcp(this.dns, host, this.udp.port, {
          idleTimeoutMs: config.dnsConfig.tcpIdleTimeout,
          maxConnections: config.dnsConfig.tcpMaxConnections,
        });
      } catch (err) {
        throw new HeraldError(ERR.LISTEN, `cannot listen for DNS on ${host}:${config.ports.dns}: ${(err as Error).message}`, { cause: err });
      }
      this.log.info(`DNS listening on ${host}:${this.udp.port} (udp, tcp) for ${[config.domain, config.altDomain].filter(Boolean).join(', ')}`);
    }
    await this.plugins.start();
    this.syncTimer = setInterval(() => {
      void this.local.syncAll(this.nodeChecks()).catch((err) => this.log.warn(`anti-entropy sync failed: ${(err as Error).message}`));
    }, SYNC_INTERVAL_MS);
    this.syncTimer.unref();
  }

  /**
   * Opens `<data_dir>/raft` (refused, naming the dir, when another agent holds it), restores
   * the snapshot and replays the log into the state machine, and switches to the durable log.
   */
  private async openDurable(): Promise<void> {
    const config = this.cfg;
    const log = this.log.named('raft');
    this.storage = await openStorage(config, { logger: this.log });
    const { log: durable, report } = await DurableLog.open(this.sm, this.storage, {
      snapshotThreshold: config.raftSnapshotThreshold,
      snapshotIntervalMs: config.raftSnapshotInterval,
      logger: log,
    });
    this.durable = durable;
    this.log_ = durable;
    log.info(
      `storage: rocksdb at ${storageDir(config.dataDir!)}; ` +
        (report.snapshotIndex > 0n ? `restored the snapshot at ${report.snapshotIndex}, ` : 'no snapshot, ') +
        `replayed ${report.replayed} entries${report.undecodable ? ` (${report.undecodable} undecodable, dropped)` : ''}; index ${durable.lastIndex}`,
    );
    this.registrations = this.apiRegistrations(this.storage.stable);
  }

  /** What the API registered (services, checks, maintenance), kept in `stable` across restarts. */
  private apiRegistrations(stable: StableStore): LocalRegistrations {
    return new LocalRegistrations(stable, () => ({
      services: this.local.serviceDefs().filter((d) => d.source === 'api'),
      checks: this.local.standaloneCheckDefs().filter((d) => d.source === 'api'),
      maintenance: this.local.maintenanceChecks(),
    }));
  }

  /**
   * -server: the log is Raft (the driver over this agent's storage: rocksdb under the data dir,
   * memory in -dev) on a TcpTransport at bind:ports.server. Resolves once this server is in a
   * cluster with a known leader; the committed entries are applied by then.
   */
  private async openServer(replicatedPlugins: string[]): Promise<void> {
    const config = this.cfg;
    this.storage = await openStorage(config, { logger: this.log });
    this.server = await ServerRaft.start({ config, nodeId: config.nodeId, storage: this.storage, sm: this.sm, replicatedPlugins, log: this.log.named('raft') });
    this.log_ = this.server.log;
    this.registrations = this.apiRegistrations(this.storage.stable);
  }

  /**
   * A client agent: the catalog comes from the servers' change stream, writes go to a server.
   * Resolves once the local replica has caught up with a server, or once every retry_join
   * address failed once (the link keeps retrying; a later refusal or retry_max is `fatal`).
   */
  private async openClient(replicatedPlugins: string[]): Promise<void> {
    const config = this.cfg;
    const log = this.log.named('client');
    this.client = new ClientLink({ nodeId: config.nodeId, datacenter: config.datacenter, servers: config.retryJoin, sm: this.sm, plugins: replicatedPlugins, retryMax: config.retryMax, log });
    log.info(`client agent: following the servers at ${config.retryJoin.join(', ')}`);
    // Consul's client agent starts at once and retries retry_join in the background; this one
    // waits for its first catch-up unless no server answers at all (client-link.ts).
    this.clientCaughtUp = await this.client.start();
    if (!this.clientCaughtUp) {
      log.warn(
        `no server reachable yet at ${config.retryJoin.join(', ')}; serving DNS and HTTP from an empty catalog while retrying in the background` +
          (config.retryMax > 0 ? ` (at most ${config.retryMax} attempts)` : ''),
      );
      void this.client.ready.then(() => log.info('reached a server: the catalog is replicated here now'), () => undefined);
    }
    void this.client.ready.catch((err: Error) => {
      if (!this.stopping) this.opts.fatal?.(err);
    });
    this.log_ = this.client;
    // Without it the leader marks this agent failed (serfHealth critical) after client_failure_timeout.
    this.heartbeat = new ClientHeartbeat({ link: this.client, node: () => this.local.nodeFields.node, log: log.named('heartbeat') });
    this.heartbeat.start();
    // The catalog lives on the servers; the data dir keeps only what this agent registered through the API.
    if (config.storageEngine === 'rocksdb') {
      this.storage = await openStorage(config, { logger: this.log });
      this.registrations = this.apiRegistrations(this.storage.stable);
    }
  }

  /**
   * Runs `fn` again (with backoff, for up to START_RETRY_MS) while a cluster answers that it has
   * no leader or lost the write in a leader change; any other error, or a single-node agent's,
   * is thrown at once.
   */
  private async retryWhileNoLeader(fn: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + START_RETRY_MS;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        return await fn();
      } catch (err) {
        // A forwarded write's error arrives as RPC_REMOTE carrying the remote code.
        const e = err as HeraldError & { remoteCode?: string };
        const code = e.code === ERR.RPC_REMOTE && e.remoteCode ? e.remoteCode : (e.code as string | undefined);
        if (!(this.server || this.client) || !code || !TRANSIENT_CLUSTER_ERRORS.has(code) || Date.now() + delay > deadline || this.stopping) throw err;
        this.log.warn(`start-up registration: ${(err as Error).message}; retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** A plugin's write: as the log answers, except "no leader" becomes Consul's `No cluster leader`. */
  private async proposeOrNoLeader(command: Parameters<ReplicatedLog['propose']>[0]): Promise<{ index: bigint; result?: unknown }> {
    try {
      return await this.raftLog.propose(command);
    } catch (err) {
      if ((this.server || this.client) && (err as HeraldError).code === ERR.RAFT_NOT_LEADER) throw new HeraldError(ERR.NO_CLUSTER_LEADER, 'No cluster leader', { cause: err });
      throw err;
    }
  }

  /** Registers again what the previous run registered through the API (config files win on an ID clash). */
  private async restoreRegistrations(kept: LocalRegistrationsState): Promise<void> {
    const log = this.log.named('agent');
    await forEachYielding(kept.services, async (def) => {
      if (this.local.service(def.id)) return log.info(`service ${def.id} is defined in the config; not restoring the API registration`);
      await this.addService(def).catch((err) => log.warn(`not restoring service ${def.id}: ${(err as Error).message}`));
    });
    await forEachYielding(kept.checks, async (def) => {
      if (this.local.checkDef(def.id)) return;
      await this.addCheck(def).catch((err) => log.warn(`not restoring check ${def.id}: ${(err as Error).message}`));
    });
    for (const m of kept.maintenance) {
      if (m.serviceId && !this.local.service(m.serviceId)) continue;
      await this.local.setMaintenance(m.checkId, m);
    }
    if (kept.services.length + kept.checks.length > 0) {
      log.info(`restored ${kept.services.length} services and ${kept.checks.length} checks registered through the API`);
    }
  }

  /** Makes the API registrations durable before a write is acknowledged (no-op without a data dir). */
  private async persistRegistrations(): Promise<void> {
    await this.registrations?.save();
  }

  /** The whole replicated state as a snapshot archive, at the index it covers. */
  async snapshot(): Promise<{ archive: Buffer; index: bigint }> {
    // Taken synchronously: the state and its index belong to the same instant.
    const index = this.durable ? this.durable.appliedIndex : this.server ? this.server.log.appliedIndex : this.client ? this.client.appliedIndex : this.raftLog.lastIndex;
    const state = Buffer.from(JSON.stringify(this.sm.snapshot()));
    return { archive: writeSnapshotArchive({ index, term: 1n, state }), index };
  }

  /**
   * Replaces all replicated state with an archive's (see CoreAccess.restore). Everything is
   * checked before anything changes; with a data dir the result is durable when this resolves.
   */
  async restore(archive: Buffer): Promise<{ index: bigint }> {
    if (this.server || this.client) throw new HeraldError(ERR.SNAPSHOT_INVALID, 'snapshot restore on a Raft cluster is not supported yet');
    const { meta, state } = readSnapshotArchive(archive);
    const parsed = parseArchiveState(state);
    let index: bigint;
    if (this.durable) index = await this.durable.installSnapshot(parsed);
    else {
      this.sm.restore(parsed);
      index = this.sm.lastIndex;
    }
    this.log.info(`restored snapshot ${meta.id} (archive index ${meta.index}); state now at index ${index}`);
    return { index };
  }

  /** The DNS port actually bound (useful with port 0 in tests). */
  get dnsPort(): number {
    return this.udp?.port ?? -1;
  }

  /** What plugins (the HTTP API) may do with the local agent. */
  private access(): AgentAccess {
    return {
      config: () => this.cfg,
      node: () => this.local.nodeFields,
      services: () => this.local.serviceDefs(),
      checks: () => this.localChecks(),
      registerService: (def, o) => this.addService(def, o),
      deregisterService: (id) => this.removeService(id),
      registerCheck: (def) => this.addCheck(def),
      deregisterCheck: (id) => this.removeCheck(id),
      ttlUpdate: (id, status, output) => this.checks.ttlUpdate(id, status, output),
      setServiceMaintenance: (id, enable, reason) => this.setServiceMaintenance(id, enable, reason),
      setNodeMaintenance: (enable, reason) => this.setNodeMaintenance(enable, reason),
      reload: () => (this.opts.reload ? this.opts.reload() : Promise.reject(new Error('reload is not available'))),
      leave: () => (this.opts.leave ? this.opts.leave() : this.stop()),
      dnsStats: () => this.dns.stats,
      startedAt: this.startedAt,
    };
  }

  private localChecks(): LocalCheck[] {
    return this.local.checkDefs().map((definition) => {
      const live = this.checks.status(definition.id);
      return { definition, status: live?.status ?? definition.status, output: live?.output ?? '' };
    });
  }

  async setServiceMaintenance(serviceId: string, enable: boolean, reason: string): Promise<boolean> {
    const svc = this.local.service(serviceId);
    if (!svc) return false;
    await this.local.setMaintenance(
      serviceMaint(serviceId),
      enable
        ? maintenanceCheck(serviceMaint(serviceId), 'Service Maintenance Mode', reason || 'Maintenance mode is enabled for this service, but no reason was provided. This is a default message.', svc)
        : undefined,
    );
    await this.persistRegistrations();
    return true;
  }

  async setNodeMaintenance(enable: boolean, reason: string): Promise<void> {
    await this.local.setMaintenance(
      NODE_MAINT,
      enable
        ? maintenanceCheck(NODE_MAINT, 'Node Maintenance Mode', reason || 'Maintenance mode is enabled for this node, but no reason was provided. This is a default message.')
        : undefined,
    );
    await this.persistRegistrations();
  }

  /**
   * Register a service and start its checks. Script checks are refused unless enabled.
   * Checks the previous registration had and this one lacks are kept unless
   * `replaceExistingChecks` (Consul's `?replace-existing-checks`); config reloads replace.
   */
  async addService(def: ServiceDefinition, opts: { replaceExistingChecks?: boolean } = { replaceExistingChecks: true }): Promise<void> {
    const previous = this.local.service(def.id);
    if (previous && !opts.replaceExistingChecks) {
      const ids = new Set(def.checks.map((c) => c.id));
      def = { ...def, checks: [...def.checks, ...previous.checks.filter((c) => !ids.has(c.id))] };
    }
    for (const c of def.checks) this.checks.validate(c);
    await this.local.addService(def);
    const keep = new Set(def.checks.map((c) => c.id));
    for (const c of previous?.checks ?? []) if (!keep.has(c.id)) this.checks.remove(c.id);
    for (const c of def.checks) this.checks.add(c);
    await this.persistRegistrations();
  }

  async removeService(id: string): Promise<boolean> {
    const def = this.local.service(id);
    if (!def) return false;
    for (const c of def.checks) this.checks.remove(c.id);
    for (const c of this.local.checkDefs()) if (c.serviceId === id) this.checks.remove(c.id);
    const removed = await this.local.removeService(id);
    await this.persistRegistrations();
    return removed;
  }

  async addCheck(def: CheckDefinition): Promise<void> {
    if (def.serviceId && !this.local.service(def.serviceId)) {
      throw new HeraldError(ERR.CONFIG_INVALID, `ServiceID "${def.serviceId}" does not exist`);
    }
    this.checks.validate(def);
    await this.local.addCheck(def);
    this.checks.add(def);
    await this.persistRegistrations();
  }

  /** Remove a check, standalone or embedded in a service definition. */
  async removeCheck(id: string): Promise<boolean> {
    const owner = this.local.serviceDefs().find((s) => s.checks.some((c) => c.id === id));
    this.checks.remove(id);
    if (owner) {
      await this.local.addService({ ...owner, checks: owner.checks.filter((c) => c.id !== id) });
      await this.raftLog.propose({ type: 'catalog.deregister', node: this.local.nodeFields.node, checkId: id });
      await this.persistRegistrations();
      return true;
    }
    const removed = await this.local.removeCheck(id);
    await this.persistRegistrations();
    return removed;
  }

  /** TTL check update (the HTTP API's /v1/agent/check/pass|warn|fail|update). */
  ttlUpdate(checkId: string, status: HealthStatus, output: string): void {
    this.checks.ttlUpdate(checkId, status, output);
  }

  /**
   * Re-apply a new, already validated config (SIGHUP). Plugins may refuse it, in which case
   * nothing changes. The DNS sockets stay open throughout: no query is dropped.
   */
  async reload(next: RuntimeConfig): Promise<void> {
    // The node ID resolved at start (a server's data-dir node-id) stays for the process's life.
    if (!next.nodeId) next = { ...next, nodeId: this.cfg.nodeId };
    await this.plugins.reload(next);
    const prev = this.cfg;
    this.cfg = next;
    this.resolver.setConfig(next);
    this.local.setNode(nodeFields(next));
    this.checks.reconfigure({
      allowScripts: { local: next.enableLocalScriptChecks || next.enableScriptChecks, remote: next.enableScriptChecks },
      checkUpdateInterval: next.checkUpdateInterval,
    });
    // Services and checks from files: drop the ones gone, (re)register the rest.
    const nextServices = new Set(next.services.map((s) => s.id));
    for (const def of this.local.serviceDefs()) {
      if (def.source === 'file' && !nextServices.has(def.id)) await this.removeService(def.id);
    }
    const nextChecks = new Set(next.checks.map((c) => c.id));
    for (const def of this.local.checkDefs()) {
      if (def.source === 'file' && !def.serviceId && !nextChecks.has(def.id) && !this.isEmbedded(def.id)) await this.removeCheck(def.id);
    }
    await forEachYielding(next.services, (def) => this.addService(def));
    await forEachYielding(next.checks, (def) => this.addCheck(def));
    await this.local.registerNode(this.nodeChecks());
    this.dns.reconfigure({ dnsConfig: next.dnsConfig, recursionAvailable: next.recursors.length > 0 });
    if (prev.ports.dns !== next.ports.dns || prev.clientAddr !== next.clientAddr) {
      this.log.warn('DNS port and client address changes take effect on restart');
    }
    this.log.info('reload complete');
  }

  private isEmbedded(checkId: string): boolean {
    return this.local.serviceDefs().some((s) => s.checks.some((c) => c.id === checkId));
  }

  /**
   * Graceful leave (SIGTERM, `herald leave`): a server hands off leadership and leaves the
   * voter set first (server-raft.ts); a client agent deregisters its node (leaveCatalog); then
   * everything stops.
   */
  async leave(): Promise<void> {
    if (!this.stopping) {
      await this.server?.leave();
      if (this.client) await this.leaveCatalog();
    }
    await this.stop();
  }

  /**
   * A client agent's graceful leave takes its node out of the catalog at once, services and
   * checks with it: Consul's leader deregisters a member that left (consul-compat.md §8). The
   * leader here cannot tell a leave from a crash (no gossip), so the agent writes it itself.
   * Checks and anti-entropy stop first, so nothing registers the node again. Bounded by
   * LEAVE_DRAIN_MS; if it fails, the servers' failure detector marks the node critical instead.
   */
  private async leaveCatalog(): Promise<void> {
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.checks.stopAll();
    const node = this.local.nodeFields.node;
    let timer: NodeJS.Timeout | undefined;
    const drained = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${LEAVE_DRAIN_MS} ms`)), LEAVE_DRAIN_MS);
    });
    try {
      await Promise.race([this.raftLog.propose({ type: 'catalog.deregister', node }), drained]);
      this.log.info(`left the cluster: node ${node} deregistered`);
    } catch (err) {
      this.log.warn(`graceful leave incomplete: node ${node} not deregistered: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Graceful stop: plugins, checks, sockets, then the log and storage. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.checks.stopAll();
    await this.plugins.stop();
    await this.udp?.close();
    await this.tcp?.close();
    await this.server?.stop();
    this.heartbeat?.stop();
    await this.client?.stop();
    // Writes in flight finish (and are acknowledged) before the store closes.
    await this.durable?.close();
    await this.storage?.close();
  }

  /** The agent's own node check: in a single-node agent it is always alive. */
  private nodeChecks(): CheckFields[] {
    return [
      {
        checkId: SERF_HEALTH,
        name: 'Serf Health Status',
        status: 'passing',
        notes: '',
        output: 'Agent alive and reachable',
        serviceId: '',
        serviceName: '',
        serviceTags: [],
        type: 'serf',
        definition: {},
      },
    ];
  }

  /** Servers register the `consul` service (port 8300); NS answers are built from it. */
  private async registerServerService(): Promise<void> {
    await this.raftLog.propose({
      type: 'catalog.register',
      node: this.local.nodeFields,
      service: {
        id: 'consul',
        service: 'consul',
        tags: [],
        address: '',
        port: this.server ? parseHostPort(this.server.self.address).port : 8300,
        meta: {},
        weights: { passing: 1, warning: 1 },
        enableTagOverride: false,
        taggedAddresses: {},
      },
    });
  }
}

function maintenanceCheck(checkId: string, name: string, notes: string, svc?: ServiceDefinition): CheckFields {
  return {
    checkId,
    name,
    status: 'critical',
    notes,
    output: '',
    serviceId: svc?.id ?? '',
    serviceName: svc?.name ?? '',
    serviceTags: svc?.tags ?? [],
    type: 'maintenance',
    definition: {},
  };
}

/** A client agent: not a server, and told where the servers are (retry_join). */
function isClientAgent(config: RuntimeConfig): boolean {
  return !config.server && !config.dev && config.retryJoin.length > 0;
}

/** The agent's node row, as Consul agents register themselves (spec §2.4). */
export function nodeFields(config: RuntimeConfig): NodeFields {
  const address = advertiseAddress(config);
  return {
    node: config.nodeName,
    id: config.nodeId,
    address,
    datacenter: config.datacenter,
    taggedAddresses: { lan: address, lan_ipv4: address, wan: address, wan_ipv4: address },
    meta: { ...config.nodeMeta, 'consul-network-segment': '' },
  };
}

/** The bind address, or for 0.0.0.0 the first non-internal IPv4 (else loopback). */
function advertiseAddress(config: RuntimeConfig): string {
  if (config.bindAddr && config.bindAddr !== '0.0.0.0' && config.bindAddr !== '::') return config.bindAddr;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
