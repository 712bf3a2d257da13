/**
 * `herald kv get [options] [KEY_OR_PREFIX]`, as `consul kv get` (command/kv/get): the raw value
 * of one key, `-detailed` for its fields, `-recurse` for `key:value` lines under a prefix,
 * `-keys` (with `-separator`, default `/`) for key names only, `-base64` to encode values.
 */
import { addHttpFlags, connectOrReport, FlagSet, parseOrExit } from '../../../src/plugin.ts';
import { KvApi, type KvPair } from './kv-api.ts';
import { detailTable, infoBytes, keyArgument, type KvIo } from './kv-io.ts';

const HELP = `
Usage: herald kv get [options] [KEY_OR_PREFIX]

  Retrieves the value from the key-value store at the given key name. If no
  key exists with that name, an error is returned. If a key exists with that
  name but has no data, nothing is returned. If the name or prefix is omitted,
  it defaults to "" which is the root of the key-value store.

  To retrieve the value for the key named "foo" in the key-value store:

      $ herald kv get foo

  This will return the original, raw value stored. To view detailed
  information about the key, specify the "-detailed" flag. This will output all
  known metadata about the key including ModifyIndex and any user-supplied
  flags:

      $ herald kv get -detailed foo

  To treat the path as a prefix and list all keys which start with the given
  prefix, specify the "-recurse" flag:

      $ herald kv get -recurse foo

  This will return all key-value pairs. To just list the keys which start with
  the specified prefix, use the "-keys" option instead:

      $ herald kv get -keys foo
`;

/** The `-detailed` block of one entry (consul's prettyKVPair), without a trailing newline. */
export function detailedPair(pair: KvPair, base64: boolean): Buffer {
  return detailTable([
    ['CreateIndex', pair.CreateIndex.toString()],
    ['Flags', pair.Flags.toString()],
    ['Key', pair.Key],
    ['LockIndex', pair.LockIndex.toString()],
    ['ModifyIndex', pair.ModifyIndex.toString()],
    ['Session', pair.Session === '' ? '-' : pair.Session],
    ['Value', base64 ? pair.Value.toString('base64') : pair.Value],
  ]);
}

/** `herald kv get ...`; resolves with the exit code. */
export async function runKvGet(argv: readonly string[], io: KvIo): Promise<number> {
  const fs = new FlagSet(HELP);
  const http = addHttpFlags(fs, { server: true });
  const base64 = fs.bool('base64', 'Base64 encode the value. The default value is false.');
  const detailed = fs.bool(
    'detailed',
    'Provide additional metadata about the key in addition to the value such as the ModifyIndex and any flags that may have been set on the key. The default value is false.',
  );
  const keys = fs.bool(
    'keys',
    'List keys which start with the given prefix, but not their values. This is especially useful if you only need the key names themselves. This option is commonly combined with the -separator option. The default value is false.',
  );
  const recurse = fs.bool('recurse', 'Recursively look at all keys prefixed with the given path. The default value is false.');
  const separator = fs.string(
    'separator',
    'String to use as a separator between keys. The default value is "/", but this option is only taken into account when paired with the -keys flag.',
    { default: '/' },
  );
  const args = parseOrExit(fs, argv, io);
  if (typeof args === 'number') return args;
  const key = keyArgument(args, io);
  if (typeof key === 'number') return key;
  if (key === '' && !(recurse.value || keys.value)) {
    io.err('Error! Missing KEY argument');
    return 1;
  }
  const client = connectOrReport(http, io);
  if (!client) return 1;
  const kv = new KvApi(client);

  try {
    if (keys.value) {
      for (const k of await kv.keys(key, separator.value)) io.out(k);
      return 0;
    }
    if (recurse.value) {
      const { value: pairs } = await kv.list(key);
      pairs.forEach((pair, i) => {
        if (detailed.value) {
          infoBytes(io, detailedPair(pair, base64.value));
          if (i < pairs.length - 1) io.out('');
        } else {
          infoBytes(io, Buffer.concat([Buffer.from(`${pair.Key}:`), base64.value ? Buffer.from(pair.Value.toString('base64')) : pair.Value]));
        }
      });
      return 0;
    }
    const { value: pair } = await kv.get(key);
    if (!pair) {
      io.err(`Error! No key exists at: ${key}`);
      return 1;
    }
    if (detailed.value) infoBytes(io, detailedPair(pair, base64.value));
    // Consul prints the raw value even with -base64 when not -detailed.
    else infoBytes(io, pair.Value);
    return 0;
  } catch (err) {
    io.err(`Error querying agent: ${(err as Error).message}`);
    return 1;
  }
}
