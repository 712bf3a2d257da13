/**
 * The plugins this build ships, by name. A host runs the ones its config names (`plugins`,
 * `-plugin`); the core runs with none.
 */
import { ERR, HeraldError } from './errors.ts';
import type { HeraldPlugin } from './plugin.ts';

const AVAILABLE: Record<string, () => Promise<{ default: HeraldPlugin }>> = {
  zones: () => import('../plugins/zones/index.ts'),
  forward: () => import('../plugins/forward/index.ts'),
  'http-api': () => import('../plugins/http-api/index.ts'),
  kv: () => import('../plugins/kv/index.ts'),
};

/**
 * The `herald` subcommands each plugin ships (its `HeraldPlugin.cli`, by name), so the CLI
 * imports only the plugin that has the command asked for: importing every plugin would cost a
 * CLI call the fastify load of http-api (~0.3 s) for nothing. src/cli/plugin-commands.test.ts
 * checks this table against the plugins' exports.
 */
export const PLUGIN_CLI_COMMANDS: Readonly<Record<string, readonly string[]>> = {
  kv: ['kv', 'lock'],
};

/** Plugins a host runs when its config names none. */
export const DEFAULT_PLUGINS: readonly string[] = ['zones', 'forward', 'http-api', 'kv'];

export function availablePluginNames(): string[] {
  return Object.keys(AVAILABLE);
}

/** Import the named plugins, in order. Unknown names fail with the list of known ones. */
export async function resolvePlugins(names: readonly string[]): Promise<HeraldPlugin[]> {
  const out: HeraldPlugin[] = [];
  for (const name of names) {
    const load = AVAILABLE[name];
    if (!load) {
      throw new HeraldError(ERR.PLUGIN_UNKNOWN, `unknown plugin "${name}" (available: ${availablePluginNames().join(', ')})`);
    }
    out.push((await load()).default);
  }
  return out;
}
