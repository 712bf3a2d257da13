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
  /** HTTP API: `?dc=` names a datacenter this agent cannot reach (`No path to datacenter`, 500). */
  HTTP_API_NO_PATH_TO_DC: 'HERALD_ERR_HTTP_API_NO_PATH_TO_DC',
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
