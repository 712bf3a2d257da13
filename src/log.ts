/**
 * A small leveled logger writing one line per event to stderr, in Consul's
 * `[LEVEL] subsystem: message` shape. Nothing on the DNS hot path logs.
 */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

export interface Logger {
  trace(msg: string): void;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** A logger for a subsystem (`agent.dns`). */
  named(name: string): Logger;
}

export function createLogger(
  level: LogLevel = 'info',
  name = 'agent',
  write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Logger {
  const min = RANK[level];
  const at = (l: LogLevel) => (msg: string) => {
    if (RANK[l] < min) return;
    write(`${new Date().toISOString()} [${l.toUpperCase()}] ${name}: ${msg}`);
  };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    named: (sub) => createLogger(level, `${name}.${sub}`, write),
  };
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  named: () => silentLogger,
};
