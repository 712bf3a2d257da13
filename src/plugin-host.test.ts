import { describe, expect, it } from 'vitest';
import { checkPlugins, PluginHost } from './plugin-host.ts';
import { ERR } from './errors.ts';
import { silentLogger } from './log.ts';
import type { AgentAccess, CatalogReader, HeraldPlugin, CoreAccess, RuntimeConfig } from './plugin.ts';

const plugin = (name: string, dependencies?: string[], setup: HeraldPlugin['setup'] = () => {}): HeraldPlugin => ({
  name,
  dependencies,
  setup,
});

const core: CoreAccess = {
  propose: async () => ({ index: 1n }),
  onChange: () => () => {},
  invalidateDns: () => {},
};
const config = { pluginConfig: { b: { answer: 42 } } } as unknown as RuntimeConfig;

describe('plugin registration checks', () => {
  it('accepts dependencies registered earlier', () => {
    expect(() => checkPlugins([plugin('a'), plugin('b', ['a'])])).not.toThrow();
  });
  it.each([
    [[plugin('b', ['a']), plugin('a')], ERR.PLUGIN_DEPENDENCY],
    [[plugin('b', ['missing'])], ERR.PLUGIN_DEPENDENCY],
    [[plugin('a'), plugin('a')], ERR.PLUGIN_DUPLICATE],
    [[plugin('Bad_Name')], ERR.PLUGIN_INVALID],
    [[{ name: 'x' } as unknown as HeraldPlugin], ERR.PLUGIN_INVALID],
  ])('refuses bad sets (%#)', (plugins, code) => {
    expect(() => checkPlugins(plugins as HeraldPlugin[])).toThrow(expect.objectContaining({ code }));
  });
  it('runs no setup when a later plugin is invalid', async () => {
    let ran = false;
    const host = new PluginHost(config, silentLogger, core, {} as CatalogReader, {} as AgentAccess);
    await expect(host.load([plugin('a', [], () => void (ran = true)), plugin('a')])).rejects.toMatchObject({ code: ERR.PLUGIN_DUPLICATE });
    expect(ran).toBe(false);
  });
});

describe('plugin host', () => {
  it('collects hooks and passes each plugin its own options', async () => {
    const host = new PluginHost(config, silentLogger, core, {} as CatalogReader, {} as AgentAccess);
    let seen: unknown;
    const order: string[] = [];
    await host.load([
      plugin('a', [], (ctx) => {
        ctx.dnsHook({ name: 'a', resolve: () => undefined });
        ctx.onStart(() => void order.push('start a'));
        ctx.onStop(() => void order.push('stop a'));
      }),
      plugin('b', ['a'], (ctx) => {
        seen = ctx.options;
        ctx.stateExtension({ commands: ['b.set'], apply: () => ({ tables: ['b'] }), snapshot: () => null, restore: () => {} });
        ctx.onStart(() => void order.push('start b'));
        ctx.onStop(() => void order.push('stop b'));
      }),
    ]);
    expect(host.names).toEqual(['a', 'b']);
    expect(host.dnsHooks.map((h) => h.name)).toEqual(['a']);
    expect(host.stateExtensions).toHaveLength(1);
    expect(seen).toEqual({ answer: 42 });
    await host.start();
    await host.stop();
    expect(order).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });
  it('refuses state commands outside the plugin prefix', async () => {
    const host = new PluginHost(config, silentLogger, core, {} as CatalogReader, {} as AgentAccess);
    await expect(
      host.load([plugin('kv', [], (ctx) => ctx.stateExtension({ commands: ['catalog.register'], apply: () => ({ tables: [] }), snapshot: () => null, restore: () => {} }))]),
    ).rejects.toMatchObject({ code: ERR.PLUGIN_INVALID });
  });
  it('a reload refused by a plugin reports which one', async () => {
    const host = new PluginHost(config, silentLogger, core, {} as CatalogReader, {} as AgentAccess);
    await host.load([plugin('zones', [], (ctx) => ctx.onReload(() => { throw new Error('bad zone file'); }))]);
    await expect(host.reload(config)).rejects.toThrow(/plugin zones refused the reload: bad zone file/);
  });
});
