/**
 * `herald info`: the agent's runtime statistics (GET /v1/agent/self, its `Stats` object) as
 * `consul info` prints them: one `section:` line per top-level key, then a tab-indented
 * `key = value` line per entry, both in sorted order.
 */
import { FlagSet, parseNoArgs } from '../flag-set.ts';
import { addHttpFlags, connectOrReport } from '../http-client.ts';
import { byteOrder, plainText, processIo, type CliIo } from '../output.ts';

const HELP = `
Usage: herald info [options]

  Provides debugging information for operators. The output is grouped by
  subsystem (agent, build, runtime, ...), one "key = value" line per entry.
`;

/**
 * The `consul info` lines for an /v1/agent/self answer, or an error message when it has no
 * Stats object or a section that is not an object.
 */
export function infoLines(self: unknown): { lines: string[] } | { error: string } {
  const stats = self !== null && typeof self === 'object' ? (self as Record<string, unknown>).Stats : undefined;
  if (stats === null || typeof stats !== 'object' || Array.isArray(stats)) {
    return { error: `Agent response did not contain 'Stats' key: ${JSON.stringify(self)}` };
  }
  const lines: string[] = [];
  for (const section of Object.keys(stats).sort(byteOrder)) {
    const values = (stats as Record<string, unknown>)[section];
    if (values === null || typeof values !== 'object' || Array.isArray(values)) {
      return { error: `Got invalid subkey in stats: ${JSON.stringify(values)}` };
    }
    lines.push(`${section}:`);
    for (const key of Object.keys(values).sort(byteOrder)) {
      lines.push(`\t${key} = ${plainText((values as Record<string, unknown>)[key])}`);
    }
  }
  return { lines };
}

/** `herald info [options]`; resolves with the exit code. */
export async function runInfo(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const fs = new FlagSet(HELP);
  const http = addHttpFlags(fs);
  const stop = parseNoArgs(fs, argv, io);
  if (stop !== undefined) return stop;
  const client = connectOrReport(http, io);
  if (!client) return 1;
  let self: unknown;
  try {
    ({ value: self } = await client.getJson('/v1/agent/self'));
  } catch (err) {
    io.err(`Error querying agent: ${(err as Error).message}`);
    return 1;
  }
  const result = infoLines(self);
  if ('error' in result) {
    io.err(result.error);
    return 1;
  }
  for (const line of result.lines) io.out(line);
  return 0;
}
