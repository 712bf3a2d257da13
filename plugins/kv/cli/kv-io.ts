/**
 * What the `herald kv` commands read and write beyond text lines: values are bytes (not
 * necessarily UTF-8) printed as they are, and `put`/`import` read their data from an argument,
 * `@file` or stdin (`-`), as Consul's CLI does.
 */
import { readFileSync } from 'node:fs';
import { processIo, type CliIo } from '../../../src/plugin.ts';

/** A CliIo that can also print raw bytes and read stdin. */
export interface KvIo extends CliIo {
  /** Writes the bytes to stdout unchanged. */
  outBytes(bytes: Uint8Array): void;
  /** Everything on stdin, until EOF. */
  readStdin(): Promise<Buffer>;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** The real process. */
export const processKvIo: KvIo = {
  ...processIo,
  outBytes: (bytes) => void process.stdout.write(bytes),
  readStdin: () => readAll(process.stdin),
};

/** A KvIo over any CliIo: bytes are printed as UTF-8 text lines, stdin is empty unless given. */
export function kvIoFrom(io: CliIo, stdin: Buffer = Buffer.alloc(0)): KvIo {
  if ('outBytes' in io && 'readStdin' in io) return io as KvIo;
  return {
    ...io,
    outBytes: (bytes) => {
      const text = Buffer.from(bytes).toString('utf8');
      io.out(text.endsWith('\n') ? text.slice(0, -1) : text);
    },
    readStdin: async () => stdin,
  };
}

/** Prints `bytes` and a newline, as mitchellh/cli's Ui.Info does with `string(value)`. */
export function infoBytes(io: KvIo, bytes: Uint8Array): void {
  io.outBytes(Buffer.concat([bytes, Buffer.from('\n')]));
}

/**
 * The DATA argument of `kv put` / `kv import`: `@path` reads the file, `-` reads stdin,
 * anything else (including `-x`) is the data itself. Throws with Consul's wording
 * (`Failed to read file: ...`, `Failed to read stdin: ...`).
 */
export async function dataArgument(arg: string, io: KvIo): Promise<Buffer> {
  if (arg.startsWith('@')) {
    try {
      return readFileSync(arg.slice(1));
    } catch (err) {
      throw new Error(`Failed to read file: ${(err as Error).message}`);
    }
  }
  if (arg === '-') {
    try {
      return await io.readStdin();
    } catch (err) {
      throw new Error(`Failed to read stdin: ${(err as Error).message}`);
    }
  }
  return Buffer.from(arg, 'utf8');
}

/**
 * Go's text/tabwriter as `consul kv get -detailed` sets it up (minwidth 0, padding 6, spaces):
 * each name is padded to the longest name plus 6, then its value, which is bytes (a KV value
 * need not be text). No trailing newline.
 */
export function detailTable(rows: readonly (readonly [string, string | Uint8Array])[]): Buffer {
  const width = Math.max(0, ...rows.map(([name]) => [...name].length)) + 6;
  const parts: Buffer[] = [];
  rows.forEach(([name, value], i) => {
    if (i > 0) parts.push(Buffer.from('\n'));
    parts.push(Buffer.from(name + ' '.repeat(width - [...name].length)));
    parts.push(typeof value === 'string' ? Buffer.from(value) : Buffer.from(value));
  });
  return Buffer.concat(parts);
}

/**
 * The optional KEY (or PREFIX) argument of `kv get|delete|export`, without a leading "/" (keys
 * cannot start with one; users type "/foo" anyway, and Consul strips it); the exit code 1 after
 * Consul's message when more than one argument is given.
 */
export function keyArgument(args: readonly string[], io: CliIo): string | number {
  if (args.length > 1) {
    io.err(`Too many arguments (expected 1, got ${args.length})`);
    return 1;
  }
  const key = args[0] ?? '';
  return key.startsWith('/') ? key.slice(1) : key;
}
