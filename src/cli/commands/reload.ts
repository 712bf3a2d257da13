/**
 * `herald reload`: asks the agent to re-read its configuration files (PUT /v1/agent/reload),
 * as `consul reload` and SIGHUP do (spec 2.4). The agent refuses a bad configuration and keeps
 * the running one; that refusal comes back as the error status and body.
 */
import { FlagSet, parseNoArgs } from '../flag-set.ts';
import { addHttpFlags, connectOrReport } from '../http-client.ts';
import { processIo, type CliIo } from '../output.ts';

const HELP = `
Usage: herald reload [options]

  Causes the agent to reload its configuration files: services, checks and the
  other reloadable settings. A configuration with errors is refused and the
  running one is kept. This is the same as sending the agent SIGHUP.
`;

/** `herald reload [options]`; resolves with the exit code. */
export async function runReload(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const fs = new FlagSet(HELP);
  const http = addHttpFlags(fs);
  const stop = parseNoArgs(fs, argv, io);
  if (stop !== undefined) return stop;
  const client = connectOrReport(http, io);
  if (!client) return 1;
  try {
    await client.put('/v1/agent/reload');
  } catch (err) {
    io.err(`Error reloading: ${(err as Error).message}`);
    return 1;
  }
  io.out('Configuration reload triggered');
  return 0;
}
