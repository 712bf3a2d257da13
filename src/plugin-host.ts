/**
 * Loads plugins and holds what they registered. Metadata is checked before any setup runs
 * (fastify's plugin-utils style): a bad name, a duplicate, or a dependency that is missing or
 * registered later stops start-up with a stable error code.
 */
import type { RuntimeConfig } from './agent/config-types.ts';
import { ERR, HeraldError } from './errors.ts';
import type { Logger } from './log.ts';
import type {
  AgentAccess,
  CatalogReader,
  CoreAccess,
  DnsHook,
  HeraldPlugin,
  HttpRoutes,
  PluginContext,
  StateExtension,
} from './plugin.ts';

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

type Hook = () => void | Promise<void>;

export class PluginHost {
  readonly dnsHooks: DnsHook[] = [];
  readonly stateExtensions: StateExtension[] = [];
  readonly httpRoutes: { plugin: string; routes: HttpRoutes }[] = [];
  private readonly startHooks: Hook[] = [];
  private readonly stopHooks: Hook[] = [];
  private readonly reloadHooks: { plugin: string; fn: (c: RuntimeConfig) => void | Promise<void> }[] = [];
  private readonly loaded: string[] = [];

  constructor(
    private readonly config: RuntimeConfig,
    private readonly log: Logger,
    private readonly core: CoreAccess,
    private readonly catalog: CatalogReader,
    private readonly agent: AgentAccess,
  ) {}

  /** Names of the loaded plugins, in load order. */
  get names(): readonly string[] {
    return this.loaded;
  }

  /** Check every plugin's metadata, then run their setups in order. */
  async load(plugins: readonly HeraldPlugin[]): Promise<void> {
    checkPlugins(plugins);
    for (const plugin of plugins) {
      await plugin.setup(this.context(plugin));
      this.loaded.push(plugin.name);
      this.log.debug(`plugin ${plugin.name} loaded`);
    }
  }

  private context(plugin: HeraldPlugin): PluginContext {
    const name = plugin.name;
    return {
      config: this.config,
      catalog: this.catalog,
      agent: this.agent,
      options: this.config.pluginConfig[name] ?? {},
      log: this.log.named(name),
      core: this.core,
      dnsHook: (hook) => {
        if (this.dnsHooks.some((h) => h.name === hook.name)) {
          throw new HeraldError(ERR.PLUGIN_DUPLICATE, `plugin ${name}: DNS hook ${hook.name} is already registered`);
        }
        this.dnsHooks.push(hook);
      },
      stateExtension: (ext) => {
        for (const type of ext.commands) {
          if (!type.startsWith(`${name}.`)) {
            throw new HeraldError(ERR.PLUGIN_INVALID, `plugin ${name}: command ${type} must be prefixed "${name}."`);
          }
        }
        this.stateExtensions.push(ext);
      },
      httpRoutes: (routes) => this.httpRoutes.push({ plugin: name, routes }),
      onStart: (fn) => this.startHooks.push(fn),
      onStop: (fn) => this.stopHooks.push(fn),
      onReload: (fn) => this.reloadHooks.push({ plugin: name, fn }),
    };
  }

  async start(): Promise<void> {
    for (const fn of this.startHooks) await fn();
  }

  /** Stop hooks run in reverse registration order; one failing does not skip the rest. */
  async stop(): Promise<void> {
    for (const fn of [...this.stopHooks].reverse()) {
      try {
        await fn();
      } catch (err) {
        this.log.error(`stop hook failed: ${(err as Error).message}`);
      }
    }
  }

  /** Hand a validated config to every plugin; the first to throw refuses the reload. */
  async reload(config: RuntimeConfig): Promise<void> {
    for (const { plugin, fn } of this.reloadHooks) {
      try {
        await fn(config);
      } catch (err) {
        throw new HeraldError(ERR.CONFIG_INVALID, `plugin ${plugin} refused the reload: ${(err as Error).message}`, { cause: err });
      }
    }
  }
}

/** Validate names, uniqueness and dependency order before anything is set up. */
export function checkPlugins(plugins: readonly HeraldPlugin[]): void {
  const seen = new Set<string>();
  for (const p of plugins) {
    if (typeof p !== 'object' || p === null || typeof p.setup !== 'function') {
      throw new HeraldError(ERR.PLUGIN_INVALID, `plugin ${String((p as { name?: unknown })?.name)} has no setup function`);
    }
    if (typeof p.name !== 'string' || !NAME.test(p.name)) {
      throw new HeraldError(ERR.PLUGIN_INVALID, `plugin name ${JSON.stringify(p.name)} must match ${NAME}`);
    }
    if (seen.has(p.name)) throw new HeraldError(ERR.PLUGIN_DUPLICATE, `plugin ${p.name} is registered twice`);
    for (const dep of p.dependencies ?? []) {
      if (!seen.has(dep)) {
        throw new HeraldError(ERR.PLUGIN_DEPENDENCY, `plugin ${p.name} depends on ${dep}, which is not registered before it`);
      }
    }
    seen.add(p.name);
  }
}
