/**
 * `herald <command> [args]`: dispatches to the subcommands. Exit codes follow Consul's CLI:
 * 0 success, 1 error (`members` returns 2 when no member matches -status, as Consul does).
 * Each command's module is imported only when it runs, so the client commands start without
 * loading the agent. Names the core does not know go to the plugins' commands (HeraldPlugin.cli,
 * src/cli/plugin-commands.ts), which the usage lists with the core's.
 */

const USAGE = `Usage: herald <command> [args]

Commands:
  agent      Run a Herald agent (herald agent -dev for a local dev agent)
  catalog    Interact with the catalog (services, nodes, datacenters)
  info       Provides debugging information for operators
  leave      Gracefully leaves the cluster and shuts down the agent
  members    Lists the members of the cluster
  operator   Raft peers: list-peers, remove-peer, transfer-leader
  reload     Triggers the agent to reload configuration files
  services   Register and deregister services with the local agent
  snapshot   Saves, restores and inspects snapshots of the agent's state
  version    Print the Herald version

The client commands talk to an agent's HTTP API: -http-addr (or HERALD_HTTP_ADDR,
CONSUL_HTTP_ADDR; default 127.0.0.1:8500) and -token (or HERALD_HTTP_TOKEN,
CONSUL_HTTP_TOKEN). Run "herald <command> -h" for a command's options.
`;

/** Runs `herald` with `argv` (without the node and script paths); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'agent':
      return (await import('./agent-command.ts')).runAgent(rest);
    case 'members':
      return (await import('./commands/members.ts')).runMembers(rest);
    case 'operator':
      return (await import('./commands/operator.ts')).runOperator(rest);
    case 'catalog':
      return (await import('./commands/catalog.ts')).runCatalog(rest);
    case 'services':
      return (await import('./commands/services.ts')).runServices(rest);
    case 'snapshot':
      return (await import('./commands/snapshot.ts')).runSnapshot(rest);
    case 'reload':
      return (await import('./commands/reload.ts')).runReload(rest);
    case 'leave':
      return (await import('./commands/leave.ts')).runLeave(rest);
    case 'info':
      return (await import('./commands/info.ts')).runInfo(rest);
    case 'version':
      return (await import('./commands/version.ts')).runVersion(rest);
    case '-version':
    case '--version':
      return (await import('./commands/version.ts')).runVersion([]);
    case undefined:
    case 'help':
    case '-h':
    case '-help':
    case '--help':
      process.stdout.write(await usageText());
      return command === undefined ? 1 : 0;
    default: {
      // Not a core command: a plugin's (HeraldPlugin.cli), or unknown.
      const { listedCommands, loadPluginCommands, pluginsWithCommands, usageWithPluginCommands } = await import('./plugin-commands.ts');
      const owners = pluginsWithCommands(command);
      if (owners.length > 0) {
        const found = (await loadPluginCommands(listedCommands(USAGE), owners)).commands.find((c) => c.command.name === command);
        if (found) return found.command.run(rest);
      }
      process.stderr.write(`Unknown command: "${command}"\n\n${usageWithPluginCommands(USAGE, await loadPluginCommands(listedCommands(USAGE)))}`);
      return 1;
    }
  }
}

/** The usage with the plugins' commands merged into the list. */
async function usageText(): Promise<string> {
  const { listedCommands, loadPluginCommands, usageWithPluginCommands } = await import('./plugin-commands.ts');
  return usageWithPluginCommands(USAGE, await loadPluginCommands(listedCommands(USAGE)));
}
