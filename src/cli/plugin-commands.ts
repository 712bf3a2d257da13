/**
 * The `herald` subcommands that plugins ship (`HeraldPlugin.cli`): found by loading the
 * plugins' modules (never running their setup), for names the core CLI does not know, and
 * merged into the usage text. Every available plugin counts, enabled on some host or not: the
 * CLI talks to whichever agent -http-addr names. Only the plugins that PLUGIN_CLI_COMMANDS
 * lists as shipping commands are imported.
 */
import { ERR, HeraldError } from '../errors.ts';
import type { CliCommand, HeraldPlugin } from '../plugin.ts';
import { PLUGIN_CLI_COMMANDS, resolvePlugins } from '../plugins-available.ts';

/** The plugins that ship CLI commands; with `command`, only those that ship that one. */
export function pluginsWithCommands(command?: string): string[] {
  return Object.entries(PLUGIN_CLI_COMMANDS)
    .filter(([, names]) => command === undefined || names.includes(command))
    .map(([plugin]) => plugin);
}

/** A plugin's command, with the plugin that ships it. */
export interface PluginCommand {
  plugin: string;
  command: CliCommand;
}

/** What loading the available plugins gave: their commands, and the plugins that failed to load. */
export interface PluginCommandTable {
  commands: PluginCommand[];
  /** `<plugin>: <error>` for each plugin module that could not be imported. */
  broken: string[];
}

/**
 * Every available plugin's commands, sorted by name. A plugin that fails to load is listed in
 * `broken` and the others still count (one broken native binding must not hide `herald kv`).
 * Throws PLUGIN_DUPLICATE when two plugins ship the same name, or one ships a name in
 * `reserved` (the core's commands, which would shadow it).
 */
export async function loadPluginCommands(
  reserved: readonly string[],
  names: readonly string[] = pluginsWithCommands(),
  load: (name: string) => Promise<HeraldPlugin> = async (name) => (await resolvePlugins([name]))[0]!,
): Promise<PluginCommandTable> {
  const settled = await Promise.allSettled(names.map(load));
  const commands: PluginCommand[] = [];
  const broken: string[] = [];
  const owner = new Map<string, string>(reserved.map((r) => [r, 'the core']));
  settled.forEach((s, i) => {
    if (s.status === 'rejected') {
      broken.push(`${names[i]}: ${(s.reason as Error)?.message ?? String(s.reason)}`);
      return;
    }
    for (const command of s.value.cli ?? []) {
      const taken = owner.get(command.name);
      if (taken !== undefined) {
        throw new HeraldError(ERR.PLUGIN_DUPLICATE, `plugin ${s.value.name}: CLI command ${JSON.stringify(command.name)} is already provided by ${taken}`);
      }
      owner.set(command.name, `plugin ${s.value.name}`);
      commands.push({ plugin: s.value.name, command });
    }
  });
  commands.sort((a, b) => (a.command.name < b.command.name ? -1 : 1));
  return { commands, broken };
}

/** The command names listed in the `Commands:` block of a usage text (the core's commands). */
export function listedCommands(usage: string): string[] {
  return commandBlock(usage.split('\n')).names;
}

function commandBlock(lines: readonly string[]): { start: number; end: number; names: string[]; column: number } {
  const start = lines.indexOf('Commands:') + 1;
  if (start === 0) return { start: 0, end: 0, names: [], column: 0 };
  let end = start;
  const names: string[] = [];
  let column = 0;
  for (; end < lines.length && lines[end]!.trim() !== ''; end++) {
    const m = /^  (\S+)(\s+)/.exec(lines[end]!);
    if (m) {
      names.push(m[1]!);
      column = Math.max(column, m[0].length);
    }
  }
  return { start, end, names, column };
}

/**
 * `usage` with each plugin command as a line of its `Commands:` block (`  name  summary`, in the
 * block's column), the whole block sorted by name, and a note for plugins that failed to load.
 */
export function usageWithPluginCommands(usage: string, table: PluginCommandTable): string {
  const lines = usage.split('\n');
  const block = commandBlock(lines);
  if (block.start === 0) return usage;
  const column = Math.max(block.column, ...table.commands.map((c) => c.command.name.length + 4));
  const entries = lines.slice(block.start, block.end).map((l) => {
    const m = /^  (\S+)\s+(.*)$/.exec(l);
    return m ? { name: m[1]!, line: `  ${m[1]!.padEnd(column - 2)}${m[2]}` } : { name: '', line: l };
  });
  for (const { command } of table.commands) entries.push({ name: command.name, line: `  ${command.name.padEnd(column - 2)}${command.summary}` });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out = [...lines.slice(0, block.start), ...entries.map((e) => e.line), ...lines.slice(block.end)];
  if (table.broken.length > 0) {
    out.splice(block.start + entries.length, 0, '', 'Plugins whose commands could not be loaded:', ...table.broken.map((b) => `  ${b}`));
  }
  return out.join('\n');
}
