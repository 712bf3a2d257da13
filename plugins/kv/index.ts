/**
 * kv: Consul's key/value store, sessions (locks) and transactions as a plugin with replicated
 * state. See README.md.
 *
 * The state (kv-state.ts) is a StateExtension: every write is a command through the log,
 * applied deterministically on every replica. The runtime (kv-runtime.ts) stamps the clock
 * into commands, wakes exactly the blocking readers a change concerns, and runs the session
 * TTL timers and the tombstone GC. Routes mount on the http-api server through the HttpToolkit.
 */
import type { HeraldPlugin, HttpToolkit } from '../../src/plugin.ts';
import { kvCliCommands } from './cli/index.ts';
import { kvOptions } from './kv-options.ts';
import { KvRuntime } from './kv-runtime.ts';
import { KvState } from './kv-state.ts';
import { kvRoutes } from './routes/kv.ts';
import { sessionRoutes } from './routes/session.ts';
import { txnRoutes } from './routes/txn.ts';

export { KvState } from './kv-state.ts';
export { kvOptions, type KvOptions } from './kv-options.ts';

/** The runtime of each running kv plugin, by the config object its agent started with (tests). */
const running = new WeakMap<object, KvRuntime>();

/** The kv runtime an agent started with `config` runs (tests: state, timers, clock). */
export function runningKv(config: object): KvRuntime | undefined {
  return running.get(config);
}

const plugin: HeraldPlugin = {
  name: 'kv',
  dependencies: ['http-api'],
  replicatedState: true,
  cli: kvCliCommands,
  setup(ctx) {
    const options = kvOptions(ctx.options, ctx.config);
    const state = new KvState(ctx.catalog);
    ctx.stateExtension(state);
    const rt = new KvRuntime(state, ctx.core, options, ctx.log);
    running.set(ctx.config, rt);
    const unsubscribe = ctx.core.onChange((change) => rt.onChange(change));
    ctx.httpRoutes((server: unknown, kit: HttpToolkit) => {
      rt.attach(kit);
      kvRoutes(server, kit, rt);
      sessionRoutes(server, kit, rt, ctx.agent);
      txnRoutes(server, kit, rt);
    });
    ctx.onStart(() => rt.start());
    ctx.onStop(() => {
      unsubscribe();
      rt.stop();
      running.delete(ctx.config);
    });
    ctx.onReload((next) => {
      kvOptions(next.pluginConfig.kv ?? {}, next);
    });
  },
};

export default plugin;
