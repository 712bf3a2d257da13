/**
 * `herald kv delete [options] KEY_OR_PREFIX`, as `consul kv delete` (command/kv/del): one key,
 * `-recurse` for a prefix, `-cas -modify-index=N` to delete only an unchanged key.
 */
import { addHttpFlags, connectOrReport, FlagSet, parseOrExit } from '../../../src/plugin.ts';
import { KvApi } from './kv-api.ts';
import { keyArgument, type KvIo } from './kv-io.ts';

const HELP = `
Usage: herald kv delete [options] KEY_OR_PREFIX

  Removes the value from the key-value store at the given path. If no key
  exists at the path, no action is taken.

  To delete the value for the key named "foo" in the key-value store:

      $ herald kv delete foo

  To delete all keys which start with "foo", specify the -recurse option:

      $ herald kv delete -recurse foo

  This will delete the keys named "foo", "food", and "foo/bar/zip" if they
  existed.
`;

/** `herald kv delete ...`; resolves with the exit code. */
export async function runKvDelete(argv: readonly string[], io: KvIo): Promise<number> {
  const fs = new FlagSet(HELP);
  const http = addHttpFlags(fs, { server: true });
  const cas = fs.bool('cas', 'Perform a Check-And-Set operation. Specifying this value also requires the -modify-index flag to be set. The default value is false.');
  const modifyIndex = fs.uint64('modify-index', 'Unsigned integer representing the ModifyIndex of the key. This is used in combination with the -cas flag.');
  const recurse = fs.bool('recurse', 'Recursively delete all keys with the path. The default value is false.');
  const args = parseOrExit(fs, argv, io);
  if (typeof args === 'number') return args;
  const key = keyArgument(args, io);
  if (typeof key === 'number') return key;
  if (key === '' && !recurse.value) {
    io.err('Error! Missing KEY argument');
    return 1;
  }
  if (cas.value && modifyIndex.value === 0n) {
    // Consul's wording, "than than" included: scripts may match it.
    io.err('Cannot delete a key that does not exist. Provide a -modify-index greater than than 0.');
    return 1;
  }
  if (modifyIndex.value !== 0n && !cas.value) {
    io.err('Cannot specify -modify-index without -cas!');
    return 1;
  }
  if (recurse.value && cas.value) {
    io.err('Cannot specify both -cas and -recurse!');
    return 1;
  }
  const client = connectOrReport(http, io);
  if (!client) return 1;
  const kv = new KvApi(client);

  if (recurse.value) {
    try {
      await kv.delete(key, { recurse: true });
    } catch (err) {
      io.err(`Error! Did not delete prefix ${key}: ${(err as Error).message}`);
      return 1;
    }
    io.out(`Success! Deleted keys with prefix: ${key}`);
    return 0;
  }
  if (cas.value) {
    let ok: boolean;
    try {
      ok = await kv.delete(key, { cas: modifyIndex.value });
    } catch (err) {
      io.err(`Error! Did not delete key ${key}: ${(err as Error).message}`);
      return 1;
    }
    if (!ok) {
      io.err(`Error! Did not delete key ${key}: CAS failed`);
      return 1;
    }
    io.out(`Success! Deleted key: ${key}`);
    return 0;
  }
  try {
    await kv.delete(key);
  } catch (err) {
    io.err(`Error deleting key ${key}: ${(err as Error).message}`);
    return 1;
  }
  io.out(`Success! Deleted key: ${key}`);
  return 0;
}
