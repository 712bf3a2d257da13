/**
 * `herald version`: this build's version and the Consul version whose wire formats it speaks
 * (src/version.ts). Local only: like `consul version`, it does not contact an agent.
 */
import { CONSUL_COMPAT_VERSION, VERSION } from '../../version.ts';
import { FlagSet, parseNoArgs } from '../flag-set.ts';
import { processIo, type CliIo } from '../output.ts';

const HELP = `
Usage: herald version

  Prints the Herald version and the Consul version it is compatible with.
`;

/** The lines `herald version` prints: `Herald v<version>`, then the Consul compatibility line. */
export function versionLines(): string[] {
  return [`Herald v${VERSION}`, `Protocol: Consul v${CONSUL_COMPAT_VERSION} compatible (DNS interface, HTTP API /v1, service definitions)`];
}

/** `herald version`; resolves with the exit code. */
export async function runVersion(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const fs = new FlagSet(HELP);
  const stop = parseNoArgs(fs, argv, io);
  if (stop !== undefined) return stop;
  for (const line of versionLines()) io.out(line);
  return 0;
}
