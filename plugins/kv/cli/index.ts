/**
 * The KV plugin's CLI commands (HeraldPlugin.cli): `herald kv` and `herald lock`. Each `run`
 * imports its implementation only when it runs, so listing the commands stays cheap.
 */
import type { CliCommand } from '../../../src/plugin.ts';

export const kvCliCommands: readonly CliCommand[] = [
  {
    name: 'kv',
    summary: 'Interact with the key-value store',
    run: async (argv) => (await import('./kv-command.ts')).runKv(argv),
  },
  {
    name: 'lock',
    summary: 'Execute a command holding a lock',
    run: async (argv) => (await import('./lock-command.ts')).runLock(argv),
  },
];
