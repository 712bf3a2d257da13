/**
 * `herald <command> [args]`: dispatches to the subcommands. Exit codes follow Consul's CLI:
 * 0 success, 1 error.
 */
import { runAgent } from './agent-command.ts';
import { VERSION } from '../version.ts';

const USAGE = `Usage: herald <command> [args]

Commands:
  agent      Run a Herald agent (herald agent -dev for a local dev agent)
  version    Print the Herald version
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'agent':
      return runAgent(rest);
    case 'version':
    case '-version':
    case '--version':
      process.stdout.write(`Herald v${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '-h':
    case '-help':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`Unknown command: "${command}"\n\n${USAGE}`);
      return 1;
  }
}
