/**
 * `herald leave`: asks the agent to leave the cluster gracefully and shut down
 * (PUT /v1/agent/leave), as `consul leave` does. The agent answers first, then stops.
 */
import { FlagSet, parseOrExit, usageError } from '../flag-set.ts';
import { addHttpFlags, connectOrReport } from '../http-client.ts';
import { processIo, type CliIo } from '../output.ts';

const HELP = `
Usage: herald leave [options]

  Causes the agent to gracefully leave the cluster and shut down.
`;

/** `herald leave [options]`; resolves with the exit code. */
export async function runLeave(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const fs = new FlagSet(HELP);
  const http = addHttpFlags(fs);
  const args = parseOrExit(fs, argv, io);
  if (typeof args === 'number') return args;
  // Consul's wording prints the arguments the way Go prints a []string.
  if (args.length > 0) return usageError(fs, io, `Error found unexpected args: [${args.join(' ')}]`);
  const client = connectOrReport(http, io);
  if (!client) return 1;
  try {
    await client.put('/v1/agent/leave');
  } catch (err) {
    io.err(`Error leaving: ${(err as Error).message}`);
    return 1;
  }
  io.out('Graceful leave complete');
  return 0;
}
