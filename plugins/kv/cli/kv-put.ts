/**
 * `herald kv put [options] KEY [DATA]`, as `consul kv put` (command/kv/put): DATA is the value,
 * `@file`, or `-` for stdin; `-base64` decodes it; `-flags`; `-cas -modify-index=N`;
 * `-acquire`/`-release` with `-session`. Messages and exit codes are Consul's.
 */
import { addHttpFlags, connectOrReport, FlagSet, parseOrExit } from '../../../src/plugin.ts';
import { KvApi } from './kv-api.ts';
import { dataArgument, type KvIo } from './kv-io.ts';

const HELP = `
Usage: herald kv put [options] KEY [DATA]

  Writes the data to the given path in the key-value store. The data can be of
  any type.

      $ herald kv put config/redis/maxconns 5

  The data can also be consumed from a file on disk by prefixing with the "@"
  symbol. For example:

      $ herald kv put config/program/license @license.lic

  Or it can be read from stdin using the "-" symbol:

      $ echo "abcd1234" | herald kv put config/program/license -

  The DATA argument itself is optional. If omitted, this will create an empty
  key-value pair at the specified path:

      $ herald kv put webapp/beta/active

  If the -base64 flag is specified, the data will be treated as base 64
  encoded.

  To perform a Check-And-Set operation, specify the -cas flag with the
  appropriate -modify-index flag corresponding to the key you want to perform
  the CAS operation on:

      $ herald kv put -cas -modify-index=844 config/redis/maxconns 5

  Additional flags and more advanced use cases are detailed below.
`;

/** Go's base64.StdEncoding.DecodeString: padded standard alphabet only. */
export function decodeStdBase64(text: string): Buffer {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new Error('illegal base64 data');
  return Buffer.from(text, 'base64');
}

/** `herald kv put ...`; resolves with the exit code. */
export async function runKvPut(argv: readonly string[], io: KvIo): Promise<number> {
  const fs = new FlagSet(HELP);
  const http = addHttpFlags(fs, { server: true });
  const cas = fs.bool('cas', 'Perform a Check-And-Set operation. Specifying this value also requires the -modify-index flag to be set. The default value is false.');
  const flags = fs.uint64(
    'flags',
    'Unsigned integer value to assign to this key-value pair. This value is not read by Herald, so clients can use this value however makes sense for their use case. The default value is 0 (no flags).',
  );
  const base64 = fs.bool('base64', 'Treat the data as base 64 encoded. The default value is false.');
  const modifyIndex = fs.uint64('modify-index', 'Unsigned integer representing the ModifyIndex of the key. This is used in combination with the -cas flag.');
  const session = fs.string(
    'session',
    'User-defined identifer for this session as a string. This is commonly used with the -acquire and -release operations to build robust locking, but it can be set on any key. The default value is empty (no session).',
  );
  const acquire = fs.bool(
    'acquire',
    'Obtain a lock on the key. If the key does not exist, this operation will create the key and obtain the lock. The session must already exist and be specified via the -session flag. The default value is false.',
  );
  const release = fs.bool(
    'release',
    'Forfeit the lock on the key at the given path. This requires the -session flag to be set. The key must be held by the session in order to be unlocked. The default value is false.',
  );
  const args = parseOrExit(fs, argv, io);
  if (typeof args === 'number') return args;
  if (args.length === 0) {
    io.err('Error! Missing KEY argument');
    return 1;
  }
  if (args.length > 2) {
    io.err(`Error! Too many arguments (expected 1 or 2, got ${args.length})`);
    return 1;
  }
  const key = args[0]!;
  let data: Buffer;
  try {
    // An empty DATA (a quoted empty shell word) is an empty value, like no DATA at all.
    data = args[1] === undefined || args[1] === '' ? Buffer.alloc(0) : await dataArgument(args[1], io);
  } catch (err) {
    io.err(`Error! ${(err as Error).message}`);
    return 1;
  }
  if (base64.value) {
    try {
      data = decodeStdBase64(data.toString('latin1'));
    } catch (err) {
      // Consul prints this and writes an empty value anyway; stopping is the safer reading.
      io.err(`Error! Cannot base 64 decode data: ${(err as Error).message}`);
      return 1;
    }
  }
  if ((release.value || acquire.value) && session.value === '') {
    io.err('Error! Missing -session (required with -acquire and -release)');
    return 1;
  }
  if (cas.value && modifyIndex.value === 0n) {
    io.err('Must specify -modify-index with -cas!');
    return 1;
  }
  const client = connectOrReport(http, io);
  if (!client) return 1;
  const kv = new KvApi(client);

  // The cases in Consul's order: -cas wins over -acquire, which wins over -release.
  if (cas.value) {
    let ok: boolean;
    try {
      ok = await kv.put(key, data, { flags: flags.value, cas: modifyIndex.value });
    } catch (err) {
      io.err(`Error! Did not write to ${key}: ${(err as Error).message}`);
      return 1;
    }
    if (!ok) {
      io.err(`Error! Did not write to ${key}: CAS failed`);
      return 1;
    }
    io.out(`Success! Data written to: ${key}`);
    return 0;
  }
  if (acquire.value || release.value) {
    const verb = acquire.value ? 'acquire' : 'release';
    let ok: boolean;
    try {
      ok = await kv.put(key, data, acquire.value ? { flags: flags.value, acquire: session.value } : { flags: flags.value, release: session.value });
    } catch (err) {
      io.err(`Error! Failed writing data: ${(err as Error).message}`);
      return 1;
    }
    if (!ok) {
      io.err(`Error! Did not ${verb} lock`);
      return 1;
    }
    io.out(`Success! Lock ${verb === 'acquire' ? 'acquired' : 'released'} on: ${key}`);
    return 0;
  }
  try {
    await kv.put(key, data, { flags: flags.value });
  } catch (err) {
    io.err(`Error! Failed writing data: ${(err as Error).message}`);
    return 1;
  }
  io.out(`Success! Data written to: ${key}`);
  return 0;
}
