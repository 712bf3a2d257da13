/**
 * Stable error codes. Anything a user can see (a refused config, a bad flag, a plugin that
 * cannot load) carries one of these, so scripts and tests match on the code, not the prose.
 * A plugin's own codes are prefixed with its name (HERALD_ERR_ZONES_*).
 */
export const ERR = {
  CONFIG_INVALID: 'HERALD_ERR_CONFIG_INVALID',
  CONFIG_PARSE: 'HERALD_ERR_CONFIG_PARSE',
  CONFIG_READ: 'HERALD_ERR_CONFIG_READ',
  FLAG_INVALID: 'HERALD_ERR_FLAG_INVALID',
  DURATION_INVALID: 'HERALD_ERR_DURATION_INVALID',
  PLUGIN_INVALID: 'HERALD_ERR_PLUGIN_INVALID',
  PLUGIN_DUPLICATE: 'HERALD_ERR_PLUGIN_DUPLICATE',
  PLUGIN_DEPENDENCY: 'HERALD_ERR_PLUGIN_DEPENDENCY',
  PLUGIN_UNKNOWN: 'HERALD_ERR_PLUGIN_UNKNOWN',
  COMMAND_UNKNOWN: 'HERALD_ERR_COMMAND_UNKNOWN',
  CHECK_UNKNOWN: 'HERALD_ERR_CHECK_UNKNOWN',
  CHECK_NOT_TTL: 'HERALD_ERR_CHECK_NOT_TTL',
  CHECK_INVALID: 'HERALD_ERR_CHECK_INVALID',
  SCRIPT_CHECKS_DISABLED: 'HERALD_ERR_SCRIPT_CHECKS_DISABLED',
  LISTEN: 'HERALD_ERR_LISTEN',
  ZONES_PARSE: 'HERALD_ERR_ZONES_PARSE',
  HTTP_API_FILTER: 'HERALD_ERR_HTTP_API_FILTER',
  /** HTTP API: a request Herald refuses (malformed body, bad parameter); sent as 400 plain text. */
  HTTP_API_BAD_REQUEST: 'HERALD_ERR_HTTP_API_BAD_REQUEST',
  /** HTTP API: the named service, check or node is not known to the agent; sent as 404. */
  HTTP_API_NOT_FOUND: 'HERALD_ERR_HTTP_API_NOT_FOUND',
  /** HTTP API: the request body is over the configured limit; sent as 413. */
  HTTP_API_BODY_TOO_LARGE: 'HERALD_ERR_HTTP_API_BODY_TOO_LARGE',
  /** HTTP API: the method is not one the route serves; sent as 405 with `Allow`. */
  HTTP_API_METHOD_NOT_ALLOWED: 'HERALD_ERR_HTTP_API_METHOD_NOT_ALLOWED',
  /** HTTP API: any other status a route answers with a plain-text reason (HttpToolkit.error). */
  HTTP_API_ERROR: 'HERALD_ERR_HTTP_API_ERROR',
  /** HTTP API: `?dc=` names a datacenter this agent cannot reach (`No path to datacenter`, 500). */
  HTTP_API_NO_PATH_TO_DC: 'HERALD_ERR_HTTP_API_NO_PATH_TO_DC',
  /**
   * KV: the store refused a write as Consul's state store does (unknown or malformed session,
   * session on a missing node or check); HTTP answers 500 with Consul's text.
   */
  KV_REFUSED: 'HERALD_ERR_KV_REFUSED',
  /** A record or name cannot be put on the wire (bad name, address or oversize RDATA). */
  DNS_ENCODE: 'HERALD_ERR_DNS_ENCODE',
  /** A state-machine entry arrived with an index not above the last applied one. */
  INDEX_NOT_INCREASING: 'HERALD_ERR_INDEX_NOT_INCREASING',
  /** A command is malformed (missing or mistyped field); the message names the field. */
  COMMAND_INVALID: 'HERALD_ERR_COMMAND_INVALID',
  /** Two state extensions claim the same command type (or plugin prefix). */
  COMMAND_DUPLICATE: 'HERALD_ERR_COMMAND_DUPLICATE',
  /** A check names a service ID the node does not have. */
  SERVICE_UNKNOWN: 'HERALD_ERR_SERVICE_UNKNOWN',
  /** A state snapshot cannot be restored (wrong format, bad row, unknown extension). */
  SNAPSHOT_INVALID: 'HERALD_ERR_SNAPSHOT_INVALID',
  /** CLI: `-http-addr` / HERALD_HTTP_ADDR / CONSUL_HTTP_ADDR is not `[http[s]://]host[:port]`. */
  CLI_HTTP_ADDR_INVALID: 'HERALD_ERR_CLI_HTTP_ADDR_INVALID',
  /** CLI: the agent's HTTP API could not be reached (refused, unresolvable, reset, timed out). */
  CLI_AGENT_UNREACHABLE: 'HERALD_ERR_CLI_AGENT_UNREACHABLE',
  /** CLI: the agent answered with a non-2xx status; the message carries the status and body. */
  CLI_AGENT_STATUS: 'HERALD_ERR_CLI_AGENT_STATUS',
  /** CLI: the agent answered 2xx with a body that is not the JSON the endpoint documents. */
  CLI_AGENT_RESPONSE: 'HERALD_ERR_CLI_AGENT_RESPONSE',
  /** CLI: a service-definition file given to `services register|deregister` is unusable. */
  CLI_SERVICE_FILE: 'HERALD_ERR_CLI_SERVICE_FILE',
  /** Storage: the engine could not be opened (locked by another process, bad path, unknown format). */
  STORAGE_OPEN: 'HERALD_ERR_STORAGE_OPEN',
  /** Storage: a read or sync write failed; after a failed sync the store refuses all further writes. */
  STORAGE_IO: 'HERALD_ERR_STORAGE_IO',
  /** Storage: a record's length or checksum does not match (bit rot, torn write). */
  STORAGE_CORRUPT: 'HERALD_ERR_STORAGE_CORRUPT',
  /** Storage: appended entries do not continue the log (gap, overlap, or not ascending by one). */
  STORAGE_NOT_CONTIGUOUS: 'HERALD_ERR_STORAGE_NOT_CONTIGUOUS',
  /** Storage: a range starts below the first index still held (the prefix went into a snapshot). */
  STORAGE_COMPACTED: 'HERALD_ERR_STORAGE_COMPACTED',
  /** Storage: an argument is out of its domain (index 0 or above 2^64-1, negative maxBytes). */
  STORAGE_INVALID: 'HERALD_ERR_STORAGE_INVALID',
  /** Storage: the store was used after close(). */
  STORAGE_CLOSED: 'HERALD_ERR_STORAGE_CLOSED',
  /** Storage: a write failed because the disk is full (ENOSPC); nothing of it was acknowledged. */
  STORAGE_NO_SPACE: 'HERALD_ERR_STORAGE_NO_SPACE',
  /** Raft core: a RaftConfig value is out of range (e.g. lease not below the election timeout). */
  RAFT_CONFIG_INVALID: 'HERALD_ERR_RAFT_CONFIG_INVALID',
  /** Raft core: the driver broke the Ready contract (ready() twice, advance() without persisting, bad LogView use). */
  RAFT_DRIVER_MISUSE: 'HERALD_ERR_RAFT_DRIVER_MISUSE',
  /** Raft core: a safety invariant would be violated (commit past the log, truncating committed entries). */
  RAFT_INVARIANT: 'HERALD_ERR_RAFT_INVARIANT',
  /** Raft driver: this server is not the leader (the error names the leader's id and address when known). */
  RAFT_NOT_LEADER: 'HERALD_ERR_RAFT_NOT_LEADER',
  /** No Raft leader is known: writes and `?consistent` reads answer Consul's 500 `No cluster leader`. */
  NO_CLUSTER_LEADER: 'HERALD_ERR_NO_CLUSTER_LEADER',
  /**
   * A default or `?consistent` read on a follower server or a client agent: the local replica did
   * not reach the read point a server gave within the read timeout (HTTP 500; `?stale` still answers).
   */
  READ_POINT_TIMEOUT: 'HERALD_ERR_READ_POINT_TIMEOUT',
  /** A client agent has not reached any server yet: writes and non-stale reads answer Consul's 500 `No known Consul servers`. */
  NO_SERVERS: 'HERALD_ERR_NO_SERVERS',
  /** A client agent reached no server within `retry_max` join attempts (Consul's retry_max): the agent exits 1. */
  CLIENT_JOIN_FAILED: 'HERALD_ERR_CLIENT_JOIN_FAILED',
  /** A server refused another's join (different replicated-state plugins, or the cluster refused it). */
  SERVER_JOIN_REFUSED: 'HERALD_ERR_SERVER_JOIN_REFUSED',
  /** Raft driver: the leader refused a request (a membership change already pending, a transfer in progress, a change that changes nothing). */
  RAFT_REFUSED: 'HERALD_ERR_RAFT_REFUSED',
  /** Raft driver: a proposal was definitely not committed (another entry took its index); safe to retry. */
  RAFT_PROPOSAL_DROPPED: 'HERALD_ERR_RAFT_PROPOSAL_DROPPED',
  /** Raft driver: a proposal's outcome is unknown (leadership lost, timed out, covered by a received snapshot); it may still apply. */
  RAFT_PROPOSAL_INDETERMINATE: 'HERALD_ERR_RAFT_PROPOSAL_INDETERMINATE',
  /** Raft driver: a linearizable read or a leadership transfer was not confirmed in time (deposed or partitioned leader, election). */
  RAFT_TIMEOUT: 'HERALD_ERR_RAFT_TIMEOUT',
  /** Raft driver: the driver is stopped (or stopped with the request pending), or storage failed under it. */
  RAFT_STOPPED: 'HERALD_ERR_RAFT_STOPPED',
  /** A value sent in chunks (a Raft InstallSnapshot, the change stream's snapshot) arrived out of order, overflowing, stale or malformed; the sender starts over. */
  CHUNK_SEQUENCE: 'HERALD_ERR_CHUNK_SEQUENCE',
  /** Test tooling: a history given to the linearizability checker is malformed (bad times, ids, outputs). */
  LINEARIZABILITY_HISTORY_INVALID: 'HERALD_ERR_LINEARIZABILITY_HISTORY_INVALID',
  /** Test tooling: a seeded cluster simulation broke a Raft invariant, liveness or linearizability (the message names the seed). */
  RAFT_SIM_FAILURE: 'HERALD_ERR_RAFT_SIM_FAILURE',
  /** RPC: a frame is over the size limit (refused before sending, or the connection that sent it is closed). */
  RPC_FRAME_TOO_LARGE: 'HERALD_ERR_RPC_FRAME_TOO_LARGE',
  /** RPC: the peer broke the wire protocol (bad frame type, undecodable payload, frame out of place); the connection is closed. */
  RPC_PROTOCOL: 'HERALD_ERR_RPC_PROTOCOL',
  /** RPC: a value cannot be encoded (function, Map, class instance, bigint beyond 64 bits, too deep or cyclic). */
  RPC_ENCODE: 'HERALD_ERR_RPC_ENCODE',
  /** RPC: the handshake was refused (cluster id, node id or protocol version mismatch); the message has the reason. */
  RPC_HANDSHAKE_REFUSED: 'HERALD_ERR_RPC_HANDSHAKE_REFUSED',
  /** RPC: the connection went away with the request or stream in flight; a request's outcome is unknown. */
  RPC_CONNECTION_LOST: 'HERALD_ERR_RPC_CONNECTION_LOST',
  /** RPC: no answer within the request timeout; if it was sent, its outcome is unknown. */
  RPC_TIMEOUT: 'HERALD_ERR_RPC_TIMEOUT',
  /** RPC: the peer's outbound queue is over its bound (or the peer has too many requests in flight); nothing was sent. */
  RPC_BACKPRESSURE: 'HERALD_ERR_RPC_BACKPRESSURE',
  /** RPC: the destination is not a known peer and has no connection to this node. */
  RPC_NO_ROUTE: 'HERALD_ERR_RPC_NO_ROUTE',
  /** RPC: the remote handler failed; `remoteCode` on the error carries the peer's code. */
  RPC_REMOTE: 'HERALD_ERR_RPC_REMOTE',
  /** RPC: the peer has no handler for the request method or stream topic. */
  RPC_UNKNOWN_METHOD: 'HERALD_ERR_RPC_UNKNOWN_METHOD',
  /** RPC: the caller cancelled the request or stream (AbortSignal, close()). */
  RPC_CANCELLED: 'HERALD_ERR_RPC_CANCELLED',
  /** RPC: the transport (or this peer link) was closed locally. */
  RPC_CLOSED: 'HERALD_ERR_RPC_CLOSED',
} as const;

export type ErrorCode = (typeof ERR)[keyof typeof ERR];

export class HeraldError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'HeraldError';
  }
}
