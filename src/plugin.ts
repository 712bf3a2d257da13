/**
 * The plugin interface: the only door a plugin uses into Herald's core (DESIGN.md principle 5).
 *
 * A plugin is a folder `plugins/<name>/` whose `index.ts` default-exports a `HeraldPlugin`.
 * Its `setup` receives a `PluginContext` and registers what it adds: state-machine commands,
 * DNS hooks, HTTP routes, CLI commands, and start/stop/reload hooks. Registration is checked
 * (name, dependencies) before any setup runs, in the style of fastify's plugin metadata.
 */
import type { RuntimeConfig } from './agent/config-types.ts';
import type { ChangeSet, Command, HealthStatus, NodeFields } from './catalog/types.ts';
import type { Edns, ResourceRecord } from './dns/records.ts';
import type { Logger } from './log.ts';
import type { StateMachine } from './catalog/state-machine.ts';
import type { CheckDefinition, ServiceDefinition } from './agent/config-types.ts';
import type { DnsStats } from './dns/query-handler.ts';

export type { RuntimeConfig, ServiceDefinition, CheckDefinition, DnsConfig } from './agent/config-types.ts';
export type { Command, ChangeSet, HealthStatus, NodeRow, ServiceRow, CheckRow, NodeFields, ServiceFields, CheckFields } from './catalog/types.ts';
export type { DnsStats } from './dns/query-handler.ts';
export { serviceDefinitionFromJson, checkDefinitionFromJson } from './agent/service-definition.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { VERSION, CONSUL_COMPAT_VERSION } from './version.ts';
export type { ResourceRecord, Edns } from './dns/records.ts';
export { QTYPE, RCODE } from './dns/records.ts';
export type { Logger } from './log.ts';
export { HeraldError, ERR } from './errors.ts';
export type { ErrorCode } from './errors.ts';

/** One DNS question as a hook sees it (a cache miss: the hit path never reaches hooks). */
export interface DnsQuery {
  /** Question name as asked, without the trailing dot ('' for the root). */
  name: string;
  /** Lowercased `name`. */
  lname: string;
  type: number;
  class: number;
  transport: 'udp' | 'tcp';
  edns?: Edns;
  /** The whole query packet as received. Shared: do not mutate. */
  packet: Buffer;
  remote: { address: string; port: number };
  /** Recursion desired bit of the query. */
  rd: boolean;
}

/** A hook's answer. The core encodes it, trims it for the transport and may cache it. */
export interface DnsAnswer {
  kind: 'answer';
  rcode: number;
  /** Authoritative answer (aa bit). */
  authoritative: boolean;
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
  /**
   * Cache the encoded answer under the question until one of `deps` is invalidated
   * (or the whole cache is cleared on reload). Omit to answer uncached.
   */
  cache?: { deps: string[] };
  /**
   * The answers are interchangeable instances: the core serves them in rotating random
   * orders (and caches several orders), as Consul shuffles on every response.
   */
  shuffle?: boolean;
  /** Keep at most this many answers after shuffling (Consul's `a_record_limit`). */
  maxAnswers?: number;
}

/** A reply relayed byte for byte (recursor forwarding). The core patches nothing but the ID. */
export interface DnsRawReply {
  kind: 'raw';
  packet: Buffer;
}

export type DnsHookResult = DnsAnswer | DnsRawReply | undefined;

/**
 * A DNS hook. Hooks run in the order declared in `src/dns/chain.ts`; the first one that
 * returns a result answers. Returning undefined passes the question on.
 */
export interface DnsHook {
  name: string;
  resolve(query: DnsQuery): DnsHookResult | Promise<DnsHookResult>;
}

/** Replicated state a plugin adds: its commands are applied in log order by the state machine. */
export interface StateExtension {
  /** Command `type`s this extension applies, each prefixed with the plugin name (`kv.set`). */
  commands: string[];
  /** Deterministic: no clock, no randomness, no I/O. Returns the tables it touched. */
  apply(index: bigint, command: Command): { tables: string[]; result?: unknown };
  snapshot(): unknown;
  restore(data: unknown): void;
}

/** A `herald <name> ...` subcommand. Returns the process exit code. */
export interface CliCommand {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

/**
 * An HTTP route group. The HTTP API plugin owns the server; other plugins hand it functions
 * that add routes to it. `server` is the fastify instance, typed loosely so the core does not
 * depend on fastify.
 */
export type HttpRoutes = (server: unknown) => void | Promise<void>;

/** A read-only view of the core for plugins. */
export interface CoreAccess {
  /** Propose a command to the log; resolves with its index once applied. */
  propose(command: Command): Promise<{ index: bigint; result?: unknown }>;
  /** Subscribe to the change feed; returns an unsubscribe function. */
  onChange(listener: (change: ChangeSet) => void): () => void;
  /** Drop every cached DNS answer that depends on one of these keys. */
  invalidateDns(deps: string[]): void;
  /**
   * The HTTP route groups every plugin registered with `ctx.httpRoutes`, in registration order,
   * for the plugin that owns the HTTP server to mount. Complete once all setups have run (read
   * it in an onStart hook, not in setup). Optional so hand-made test contexts need not stub it.
   */
  httpRouteGroups?(): readonly { plugin: string; routes: HttpRoutes }[];
}

/**
 * Read access to the replicated catalog (the state machine) and its indexes, for HTTP reads
 * and blocking queries. Returned rows are shared with the state machine: never mutate them.
 * Indexes rise only when what they cover changes (per service, per node, the service list),
 * so a blocking query keyed on one of them wakes only for relevant writes.
 */
export type CatalogReader = Pick<
  StateMachine,
  | 'lastIndex'
  | 'nodes'
  | 'getNode'
  | 'nodeServices'
  | 'nodeChecks'
  | 'serviceNames'
  | 'serviceRows'
  | 'checksForService'
  | 'checksByState'
  | 'allChecks'
  | 'serviceIndex'
  | 'nodeIndex'
  | 'servicesListIndex'
  | 'nodesListIndex'
  | 'checksIndex'
  | 'tableIndex'
  | 'counts'
>;

/** A local check with its live state, as `/v1/agent/checks` reports it. */
export interface LocalCheck {
  definition: CheckDefinition;
  status: HealthStatus;
  output: string;
}

/**
 * The local agent, for the HTTP API's `/v1/agent/*` endpoints and the CLI. Writes go through
 * the agent (and so through the log), never around it. Methods that take definitions expect
 * them already normalised (serviceDefinitionFromJson / checkDefinitionFromJson) and throw
 * HeraldError with Consul's message when the agent refuses them (script checks disabled,
 * unknown service for a check, ...).
 */
export interface AgentAccess {
  /** The running configuration (changes on reload). */
  config(): RuntimeConfig;
  /** This node's catalog row fields. */
  node(): NodeFields;
  services(): ServiceDefinition[];
  checks(): LocalCheck[];
  registerService(def: ServiceDefinition, opts?: { replaceExistingChecks?: boolean }): Promise<void>;
  /** False when no such local service. */
  deregisterService(id: string): Promise<boolean>;
  registerCheck(def: CheckDefinition): Promise<void>;
  deregisterCheck(id: string): Promise<boolean>;
  /** TTL check pass/warn/fail/update. Throws CHECK_UNKNOWN / CHECK_NOT_TTL. Returns the stored output. */
  ttlUpdate(checkId: string, status: HealthStatus, output: string): string;
  /** `_service_maintenance:<id>`; false when no such service. */
  setServiceMaintenance(serviceId: string, enable: boolean, reason: string): Promise<boolean>;
  /** `_node_maintenance`. */
  setNodeMaintenance(enable: boolean, reason: string): Promise<void>;
  /** Re-read the config files as SIGHUP does. Rejects (and keeps the running config) when they are bad. */
  reload(): Promise<void>;
  /** Graceful leave, then the process exits. */
  leave(): Promise<void>;
  dnsStats(): DnsStats;
  /** Process start time (ms since epoch), for /v1/agent/self Stats. */
  readonly startedAt: number;
}

export interface PluginContext {
  readonly config: RuntimeConfig;
  readonly catalog: CatalogReader;
  readonly agent: AgentAccess;
  /** This plugin's own options (`plugin_config.<name>` in the config files). */
  readonly options: Record<string, unknown>;
  readonly log: Logger;
  readonly core: CoreAccess;
  dnsHook(hook: DnsHook): void;
  stateExtension(ext: StateExtension): void;
  httpRoutes(routes: HttpRoutes): void;
  cliCommand(command: CliCommand): void;
  /** Start hooks run in registration order after the core is up; stop hooks in reverse. */
  onStart(fn: () => void | Promise<void>): void;
  onStop(fn: () => void | Promise<void>): void;
  /**
   * Called on SIGHUP with the new, already validated config. Throwing refuses the reload for
   * every component: the running config stays.
   */
  onReload(fn: (config: RuntimeConfig) => void | Promise<void>): void;
}

export interface HeraldPlugin {
  /** Lowercase letters, digits and dashes; the folder name. */
  name: string;
  /** Plugins that must be registered (earlier) on the same host. */
  dependencies?: string[];
  /** True when it adds replicated state: servers must all run it (checked at join). */
  replicatedState?: boolean;
  setup(ctx: PluginContext): void | Promise<void>;
}
