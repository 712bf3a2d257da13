/**
 * `herald agent`: load and validate the whole config before anything starts, run the agent,
 * reload on SIGHUP (a bad config is refused and the running one stays), leave on
 * SIGINT/SIGTERM.
 */
import { Agent } from '../agent/agent.ts';
import type { RuntimeConfig } from '../agent/config-types.ts';
import { loadConfig } from '../agent/config.ts';
import { createLogger } from '../log.ts';
import { DEFAULT_PLUGINS } from '../plugins-available.ts';
import { VERSION } from '../version.ts';

/** `-plugin none` runs the bare core; no `plugins` at all means the default set. */
export function effectivePlugins(config: RuntimeConfig): RuntimeConfig {
  if (config.plugins.length === 0) return { ...config, plugins: [...DEFAULT_PLUGINS] };
  if (config.plugins.includes('none')) return { ...config, plugins: config.plugins.filter((p) => p !== 'none') };
  return config;
}

async function load(argv: string[]): Promise<RuntimeConfig> {
  return effectivePlugins(await loadConfig({ flags: argv }));
}

export async function runAgent(argv: string[]): Promise<number> {
  let config: RuntimeConfig;
  try {
    config = await load(argv);
  } catch (err) {
    process.stderr.write(`==> ${(err as Error).message}\n`);
    return 1;
  }
  const log = createLogger(config.logLevel);
  let agent: Agent;
  // Reloads are serialised: SIGHUP and /v1/agent/reload share one queue.
  let reloading: Promise<void> = Promise.resolve();
  const reload = (): Promise<void> => {
    const next = reloading.then(async () => agent.reload(await load(argv)));
    reloading = next.catch(() => {});
    return next;
  };
  let leave: () => void = () => {};
  // A fatal error can come while start-up still runs: kept until the exit path below exists.
  let early: Error | undefined;
  let fatal: (err: Error) => void = (err) => (early ??= err);
  try {
    agent = await Agent.start(config, { log, reload, leave: async () => leave(), fatal: (err) => fatal(err) });
  } catch (err) {
    process.stderr.write(`==> ${(err as Error).message}\n`);
    return 1;
  }
  log.info(
    `Herald v${VERSION} agent running: node=${config.nodeName} dc=${config.datacenter} dns=${config.clientAddr}:${agent.dnsPort} plugins=${config.plugins.join(',') || '(none)'}`,
  );

  const onHup = (): void => {
    log.info('caught SIGHUP, reloading configuration');
    reload().catch((err) => log.error(`reload refused, keeping the running configuration: ${(err as Error).message}`));
  };
  process.on('SIGHUP', onHup);

  return new Promise<number>((resolve) => {
    const shutdown = (signal: string): void => {
      log.info(`caught ${signal}, shutting down`);
      process.off('SIGHUP', onHup);
      // A server leaves the Raft voters gracefully (leadership handed off first); others just stop.
      void agent.leave().then(() => resolve(0));
    };
    // The HTTP API's /v1/agent/leave answers first, then the agent leaves.
    leave = () => setImmediate(() => shutdown('leave request'));
    // Consul exits 1 when retry_join gives up (retry_max); so does a refused client agent.
    fatal = (err) => {
      log.error(`${(err as Error).message}; shutting down`);
      process.off('SIGHUP', onHup);
      void agent.stop().then(() => resolve(1));
    };
    if (early) fatal(early);
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
}
