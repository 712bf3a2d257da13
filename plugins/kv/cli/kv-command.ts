/**
 * `herald kv <subcommand>`: the key-value store from the command line, as `consul kv`
 * (consul-compat.md §7). Each subcommand talks to an agent's `/v1/kv` over HTTP.
 */
import { dispatchSubcommand, type CliIo } from '../../../src/plugin.ts';
import { runKvDelete } from './kv-delete.ts';
import { runKvGet } from './kv-get.ts';
import { kvIoFrom, processKvIo, type KvIo } from './kv-io.ts';
import { runKvPut } from './kv-put.ts';
import { runKvExport, runKvImport } from './kv-transfer.ts';

const HELP = `
Usage: herald kv <subcommand> [options] [args]

  This command has subcommands for interacting with the key-value store
  (Consul's /v1/kv API). Here are some simple examples, and more detailed
  examples are available in the subcommands.

  Create or update the key named "redis/config/connections" with the value "5":

      $ herald kv put redis/config/connections 5

  Read this value back:

      $ herald kv get redis/config/connections

  Or get detailed key information:

      $ herald kv get -detailed redis/config/connections

  Finally, delete the key:

      $ herald kv delete redis/config/connections

Subcommands:
    delete    Removes data from the KV store
    export    Exports a tree from the KV store as JSON
    get       Retrieves or lists data from the KV store
    import    Imports a tree stored as JSON to the KV store
    put       Sets or updates data in the KV store
`;

/** `herald kv ...`; resolves with the exit code. */
export async function runKv(argv: readonly string[], io: CliIo | KvIo = processKvIo): Promise<number> {
  const kio = kvIoFrom(io);
  const sub = (run: (argv: readonly string[], io: KvIo) => Promise<number>) => (rest: string[]) => run(rest, kio);
  return dispatchSubcommand(
    'kv',
    argv,
    { get: sub(runKvGet), put: sub(runKvPut), delete: sub(runKvDelete), export: sub(runKvExport), import: sub(runKvImport) },
    HELP,
    kio,
  );
}
