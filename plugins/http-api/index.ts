/**
 * http-api: Consul's `/v1` HTTP API (agent, catalog, health, status) on fastify, and the
 * server other plugins mount their routes on. See README.md.
 *
 * The server is built when the agent starts (after every plugin's setup, so their route groups
 * are known) and listens on `client_addr:ports.http` unless `ports.http` is negative; it is
 * closed when the agent stops, after answering every parked blocking query.
 */
import { ERR, HeraldError, type HeraldPlugin, type RuntimeConfig } from '../../src/plugin.ts';
import { buildHttpApi, type HttpApi, type HttpApiOptions } from './server.ts';

export { buildHttpApi, type HttpApi, type HttpApiOptions } from './server.ts';
export type { HttpApiDeps } from './route-context.ts';

/** The running API of each agent, keyed by the config object the agent was started with. */
const running = new WeakMap<RuntimeConfig, HttpApi>();

/**
 * The HTTP API an agent started with `config` runs (tests: `runningHttpApi(agent.config)` for
 * inject() and `.port` for the bound port). Undefined before start and after stop.
 */
export function runningHttpApi(config: RuntimeConfig): HttpApi | undefined {
  return running.get(config);
}

/** Reads `plugin_config["http-api"]`: `max_body_bytes` (positive integer). Unknown keys are refused. */
export function httpApiOptions(options: Record<string, unknown>): HttpApiOptions {
  const out: HttpApiOptions = {};
  for (const [k, v] of Object.entries(options)) {
    if (k === 'max_body_bytes') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
        throw new HeraldError(ERR.CONFIG_INVALID, `plugin_config.http-api.max_body_bytes: must be a positive integer, not ${JSON.stringify(v)}`);
      }
      out.maxBodyBytes = v;
    } else {
      throw new HeraldError(ERR.CONFIG_INVALID, `plugin_config.http-api: unknown option ${JSON.stringify(k)}`);
    }
  }
  return out;
}

const plugin: HeraldPlugin = {
  name: 'http-api',
  setup(ctx) {
    const options = httpApiOptions(ctx.options);
    let api: HttpApi | undefined;
    ctx.onStart(async () => {
      api = await buildHttpApi(ctx, options);
      running.set(ctx.config, api);
      const { clientAddr: host, ports } = ctx.config;
      if (ports.http < 0) {
        ctx.log.info('HTTP API not listening (ports.http < 0)');
        return;
      }
      try {
        const addr = await api.listen(host, ports.http);
        ctx.log.info(`HTTP API listening on ${host}:${addr.port}`);
      } catch (err) {
        throw new HeraldError(ERR.LISTEN, `cannot listen for HTTP on ${host}:${ports.http}: ${(err as Error).message}`, { cause: err });
      }
    });
    ctx.onStop(async () => {
      running.delete(ctx.config);
      await api?.close();
      api = undefined;
    });
    ctx.onReload((next) => {
      httpApiOptions(next.pluginConfig['http-api'] ?? {});
      if (next.ports.http !== ctx.config.ports.http || next.clientAddr !== ctx.config.clientAddr) {
        ctx.log.warn('HTTP port and client address changes take effect on restart');
      }
    });
  },
};

export default plugin;
