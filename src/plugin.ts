/**
 * The plugin interface: the only door a plugin uses into Herald's core (DESIGN.md principle 5).
 *
 * A plugin is a folder `plugins/<name>/` whose `index.ts` default-exports a `HeraldPlugin`.
 * Its `setup` receives a `PluginContext` and registers what it adds: state-machine commands,
 * DNS hooks, HTTP routes, and start/stop/reload hooks. CLI commands are static (`cli` on the
 * exported object), since a CLI process runs no setup. Registration is checked
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
// What a plugin's CLI commands (HeraldPlugin.cli) use: Consul-style flag parsing, the agent
// HTTP client with -http-addr/-token, and the output helpers.
export { FlagSet, FlagError, parseOrExit, parseNoArgs, usageError, dispatchSubcommand, parseGoInt } from './cli/flag-set.ts';
export type { Flag, FlagOptions } from './cli/flag-set.ts';
export { addHttpFlags, connectOrReport, AgentClient, AgentRequestError } from './cli/http-client.ts';
export type { HttpFlags, AgentResponse, QueryParam, RequestOptions } from './cli/http-client.ts';
export { processIo, columnize, prettyJson } from './cli/output.ts';
export type { CliIo } from './cli/output.ts';

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
  /**
   * Optional: reacts, inside the same apply, to a core command that changed the catalog (as
   * Consul invalidates sessions in the state-store transaction that makes a linked check
   * critical or deregisters the node). Called after the core tables changed and before the
   * entry's ChangeSet is published; the tables it returns are merged into that ChangeSet.
   * `change.nodes` are the lowercased names of the nodes the entry touched. Same rules as
   * apply (deterministic; read the catalog through the CatalogReader), and it must not throw:
   * the core change is already made (a throw is reported like a listener error).
   */
  onCatalogChange?(index: bigint, change: CatalogChange): { tables: string[] } | void;
}

/** What a core catalog command changed, as StateExtension.onCatalogChange sees it. */
export interface CatalogChange {
  /** Lowercased names of the nodes whose row, services or checks the entry changed or removed. */
  readonly nodes: ReadonlySet<string>;
}

/**
 * A `herald <name> ...` subcommand that a plugin ships (`HeraldPlugin.cli`). `name` is one
 * word that no core command uses; `summary` is the one line `herald help` lists. `run` gets the
 * arguments after the name and resolves with the process exit code (Consul's CLI: 0 ok, 1
 * error). Keep the module that declares it light: import the implementation inside `run`.
 */
export interface CliCommand {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

/**
 * An HTTP route group. The HTTP API plugin owns the server; other plugins hand it functions
 * that add routes to it. `server` is the fastify instance, typed loosely so the core does not
 * depend on fastify; `kit` gives Consul's wire rules (HttpToolkit) without importing http-api.
 */
export type HttpRoutes = (server: unknown, kit: HttpToolkit) => void | Promise<void>;

/** What a read answers once any wait is over (HttpToolkit.blockingRead). */
export interface HttpReadAnswer {
  /** Status; default 200. A 404 read still carries the index headers. */
  status?: number;
  /** A JSON value, sent compact, or indented under `?pretty` / dev mode. */
  json?: unknown;
  /** The same value already encoded as compact JSON; sent as is unless pretty printing is asked. */
  jsonText?: string;
  /** A raw body, used when there is no json (Content-Type etc. in `headers`). Neither: empty body. */
  body?: string | Buffer;
  headers?: Record<string, string>;
}

/** One blocking read: the registry key it parks on, its index, and the answer built after the wait. */
export interface HttpBlockingRead {
  /** The waiter key (`kv:<key>`, ...): only HttpToolkit.wake of this key (or wakeAll) re-checks it. */
  key: string;
  /** The read's current index (X-Consul-Index). Cheap: re-evaluated on every wake. */
  index(): bigint;
  /** Runs once, in the same synchronous step as the final index(). */
  answer(): HttpReadAnswer;
}

/**
 * Consul's HTTP wire rules, as the http-api plugin hands them to every route group. `req` and
 * `reply` are the fastify request and reply the route handler received. Errors made with
 * `error()` (and thrown from handlers) become plain-text answers with their status.
 */
export interface HttpToolkit {
  /**
   * Runs a read the Consul way: `?dc` (500 `No path to datacenter`), consistency flags and
   * `?index`/`?wait` (400 with Consul's text) before anything else; parks on `read.key` while
   * `?index` is at or above read.index() (until wake moves it, the wait with jitter runs out,
   * or the client leaves); then sends read.answer() with X-Consul-Index (never 0),
   * X-Consul-KnownLeader, X-Consul-LastContact and the other query-metadata headers.
   */
  blockingRead(req: unknown, reply: unknown, read: HttpBlockingRead): Promise<unknown>;
  /** `?dc`: this datacenter or none, else 500 `No path to datacenter` (writes that Consul forwards by dc). */
  checkDatacenter(req: unknown): void;
  /** The checks blockingRead runs first (`?dc`, consistency, `?index`/`?wait`), for writes that Consul parses the same way. */
  checkReadParams(req: unknown): void;
  /** Sets X-Consul-KnownLeader and X-Consul-LastContact only (reads that do not block, like an all-read txn). */
  setLeaderHeaders(reply: unknown): void;
  /** Re-checks the reads parked on these keys, on the next turn of the event loop. Unwatched keys cost one lookup. */
  wake(keys: Iterable<string>): void;
  /** Re-checks every parked read (after a snapshot restore). */
  wakeAll(): void;
  /** True when some read is parked on `key` now. */
  watched(key: string): boolean;
  /** True when the answer should be indented (`?pretty`, or dev mode, as Consul decides). */
  pretty(req: unknown): boolean;
  /** 200 (or `status`) JSON, pretty when the request asks for it. */
  sendJson(req: unknown, reply: unknown, value: unknown, status?: number): unknown;
  /** A plain-text answer (Consul's error bodies). */
  sendText(reply: unknown, status: number, text: string): unknown;
  /** An error that answers `status` with `message` as a plain-text body (and `headers`). Throw it. */
  error(status: number, message: string, headers?: Record<string, string>): Error;
  /** A uint64 for a response object: a number when exact, else the bigint (written exactly). */
  wireUint(v: bigint): number | bigint;
  /** Compact JSON text of a response value, bigints exact. */
  encodeJson(value: unknown): string;
  /**
   * Registers `url` with a handler per served method and Consul's OPTIONS/405 + Allow for the
   * rest. A method may carry route options: `bodyLimit` (bytes; over it is 413) and an
   * `onRequest` check that runs before the body is read (throw to refuse).
   */
  routes(server: unknown, url: string, handlers: Partial<Record<'GET' | 'PUT' | 'POST' | 'DELETE', HttpRouteHandler | HttpRouteSpec>>): void;
  /** The `*` part of a prefix route, percent-decoded. */
  rest(req: unknown): string;
  /** Query parameter present at all (Consul's presence flags: `?recurse`, `?raw`). */
  hasParam(req: unknown, name: string): boolean;
  /** First value of a query parameter (Go's Values.Get), undefined when absent. */
  param(req: unknown, name: string): string | undefined;
  /** Every query parameter in order of first appearance, with all its values (for Go's Values.Encode). */
  params(req: unknown): [string, string[]][];
  /** The raw request body (undefined when none). */
  body(req: unknown): Buffer | undefined;
  /** The body decoded as JSON (400 `Request decode failed: ...`); `allowEmpty` gives undefined for no body. */
  jsonBody(req: unknown, opts?: { allowEmpty?: boolean }): unknown;
  /** This agent's datacenter. */
  datacenter(): string;
}

/** A route handler: fastify's request and reply; returns the reply (or a promise of it). */
export type HttpRouteHandler = (req: unknown, reply: unknown) => unknown;

/** A handler with its route options (HttpToolkit.routes). */
export interface HttpRouteSpec {
  handler: HttpRouteHandler;
  bodyLimit?: number;
  onRequest?: (req: unknown) => void | Promise<void>;
}

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
  /**
   * A point-in-time snapshot of the whole replicated state (catalog and every plugin's) as a
   * gzipped archive in Consul's layout (src/catalog/snapshot-archive.ts), with the log index it
   * covers. Optional so hand-made test contexts need not stub it (the agent always has it).
   */
  snapshot?(): Promise<{ archive: Buffer; index: bigint }>;
  /**
   * Replaces all replicated state with an archive's, atomically: a bad archive (damaged, wrong
   * checksums, unknown plugin state) throws HeraldError SNAPSHOT_INVALID and changes nothing.
   * With a data dir the restored state is durable (a restart keeps it) before this resolves.
   * Every blocked query wakes (indexes may move backwards, as in Consul). Resolves with the
   * log index the restored state now sits at.
   */
  restore?(archive: Buffer): Promise<{ index: bigint }>;
  /**
   * The Raft cluster this agent serves in, when it is a server (`-server`); undefined on a
   * single-node agent, which is its own leader. Optional so hand-made test contexts need not stub it.
   */
  cluster?(): ClusterAccess | undefined;
  /**
   * How this agent's reads relate to the cluster: a server's (ServerRaft) or a client agent's
   * (ClientLink); undefined on a single-node agent, which is its own leader. Optional so
   * hand-made test contexts need not stub it.
   */
  reads?(): ReadAccess | undefined;
}

/** Consul's read modes as the HTTP API parses them (`X-Consul-Effective-Consistency`). */
export type ReadMode = 'leader' | 'stale' | 'consistent';

/** What a read on a clustered agent (server or client agent) must wait for, and how fresh it is. */
export interface ReadAccess {
  /**
   * X-Consul-KnownLeader (a leader is known now) and X-Consul-LastContact (ms since this agent's
   * state last heard from the leader, through its server on a client agent; 0 on the leader).
   */
  leaderInfo(): { knownLeader: boolean; lastContactMs: number };
  /**
   * Undefined when the local state may be read at once (`stale`; `leader` on the leader itself),
   * else a promise that resolves once the local state holds the read point: the leader's applied
   * index (`leader`) or a ReadIndex confirmed by a quorum (`consistent`). Rejects HeraldError
   * NO_CLUSTER_LEADER (`No cluster leader`) without a leader, NO_SERVERS (`No known Consul
   * servers`) on a client agent that has not reached a server yet, READ_POINT_TIMEOUT when the
   * local replica does not catch up in time.
   */
  readPoint(mode: ReadMode): Promise<void> | undefined;
  /**
   * The leader's server RPC address, `""` when none is known (`/v1/status/leader`; a client
   * agent reports what its server last told it, as Consul's client agents forward the call).
   */
  leaderAddress(): string;
  /** The voters' server RPC addresses (`/v1/status/peers`). */
  peers(): string[];
}

/** One server of the Raft configuration (`/v1/operator/raft/configuration`). */
export interface RaftServer {
  readonly id: string;
  /** Its node name. */
  readonly node: string;
  /** Its server RPC address, `ip:port`. */
  readonly address: string;
  readonly leader: boolean;
  readonly voter: boolean;
}

/** What a server agent tells the HTTP API about its Raft cluster (consul-compat.md §3.8, §3.10, §4). */
export interface ClusterAccess extends ReadAccess {
  configuration(): { servers: RaftServer[]; index: bigint };
  /** Removes a voter by id or by address; rejects when none matches or the change is refused. */
  removePeer(by: { id?: string; address?: string }): Promise<void>;
  /** Moves leadership to voter `id` (default: the most up-to-date other voter). */
  transferLeader(id?: string): Promise<void>;
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
  /**
   * `herald <name>` subcommands (src/cli/main.ts dispatches names it does not know to these).
   * Static, not registered in `setup`: a CLI process talks to an agent over HTTP and never runs
   * plugin setup, so it finds them on the exported object whether or not a host enables the
   * plugin.
   */
  cli?: readonly CliCommand[];
  setup(ctx: PluginContext): void | Promise<void>;
}
