/**
 * Plugin CLI commands: found on the plugins' exports (never through setup), refused when two
 * plugins (or a plugin and the core) claim one name, listed in the usage beside the core's, and
 * dispatched by the real `herald` binary.
 */
import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import type { CliCommand, HeraldPlugin } from '../plugin.ts';
import { runCli } from './commands/cli-harness.ts';
import { availablePluginNames, PLUGIN_CLI_COMMANDS, resolvePlugins } from '../plugins-available.ts';
import { listedCommands, loadPluginCommands, pluginsWithCommands, usageWithPluginCommands } from './plugin-commands.ts';

const command = (name: string, summary = `${name} things`): CliCommand => ({ name, summary, run: async () => 0 });
const plugin = (name: string, cli?: CliCommand[]): HeraldPlugin => ({
  name,
  cli,
  setup: () => {
    throw new Error('a CLI process must not run plugin setup');
  },
});

const USAGE = `Usage: herald <command> [args]

Commands:
  agent      Run a Herald agent
  members    Lists the members of the cluster
  version    Print the Herald version

Run "herald <command> -h".
`;

describe('plugin CLI commands', () => {
  it('collects every loaded plugin\'s commands, sorted, without running setup', async () => {
    const plugins: Record<string, HeraldPlugin> = { a: plugin('a', [command('zeta'), command('kv')]), b: plugin('b'), c: plugin('c', [command('lock')]) };
    const table = await loadPluginCommands(['agent'], Object.keys(plugins), async (n) => plugins[n]!);
    expect(table.commands.map((c) => [c.plugin, c.command.name])).toEqual([['a', 'kv'], ['c', 'lock'], ['a', 'zeta']]);
    expect(table.broken).toEqual([]);
  });

  it('refuses a name claimed twice, or a core name', async () => {
    const twice = { a: plugin('a', [command('kv')]), b: plugin('b', [command('kv')]) };
    await expect(loadPluginCommands([], ['a', 'b'], async (n) => twice[n as 'a']!)).rejects.toMatchObject({
      code: ERR.PLUGIN_DUPLICATE,
      message: 'plugin b: CLI command "kv" is already provided by plugin a',
    });
    await expect(loadPluginCommands(['members'], ['a'], async () => plugin('a', [command('members')]))).rejects.toMatchObject({
      code: ERR.PLUGIN_DUPLICATE,
      message: 'plugin a: CLI command "members" is already provided by the core',
    });
  });

  it('keeps the other plugins\' commands when one plugin cannot load, and says which', async () => {
    const table = await loadPluginCommands([], ['good', 'bad'], async (n) => {
      if (n === 'bad') throw new Error('native binding missing');
      return plugin('good', [command('kv')]);
    });
    expect(table.commands.map((c) => c.command.name)).toEqual(['kv']);
    expect(table.broken).toEqual(['bad: native binding missing']);
    expect(usageWithPluginCommands(USAGE, table)).toContain('Plugins whose commands could not be loaded:\n  bad: native binding missing');
  });

  it('merges plugin commands into the usage list in name order, in the same column', () => {
    expect(listedCommands(USAGE)).toEqual(['agent', 'members', 'version']);
    const text = usageWithPluginCommands(USAGE, { commands: [{ plugin: 'kv', command: command('kv', 'Interact with the key-value store') }, { plugin: 'kv', command: command('lock', 'Execute a command holding a lock') }], broken: [] });
    expect(text).toBe(`Usage: herald <command> [args]

Commands:
  agent      Run a Herald agent
  kv         Interact with the key-value store
  lock       Execute a command holding a lock
  members    Lists the members of the cluster
  version    Print the Herald version

Run "herald <command> -h".
`);
  });
});

describe('PLUGIN_CLI_COMMANDS', () => {
  it("names exactly the commands each available plugin's export ships", async () => {
    for (const name of availablePluginNames()) {
      const [p] = await resolvePlugins([name]);
      expect({ plugin: name, commands: (p!.cli ?? []).map((c) => c.name) }).toEqual({ plugin: name, commands: [...(PLUGIN_CLI_COMMANDS[name] ?? [])] });
    }
    expect(pluginsWithCommands('lock')).toEqual(['kv']);
    expect(pluginsWithCommands('no-such')).toEqual([]);
  }, 20_000);
});

describe('the herald binary', { timeout: 30_000 }, () => {
  it('lists the available plugins\' commands in its usage, none shadowing a core command', async () => {
    const r = await runCli(['help']);
    expect(r.code).toBe(0);
    const listed = listedCommands(r.stdout);
    expect(listed).toContain('agent');
    expect(new Set(listed).size).toBe(listed.length);
    expect(r.stdout).not.toContain('could not be loaded');
  });

  it('still refuses an unknown command with the usage, exit 1', async () => {
    const r = await runCli(['no-such-command']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Unknown command: "no-such-command"\n\nUsage: herald <command>/);
  });
});
