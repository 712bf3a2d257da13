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
