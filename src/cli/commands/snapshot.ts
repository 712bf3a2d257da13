/**
 * `herald snapshot save|restore|inspect` (consul-compat.md §7), as `consul snapshot` does them:
 * save GETs /v1/snapshot into `<file>.unverified` (mode 0600, fsync'd), verifies the archive
 * (gzip, tar, SHA256SUMS, meta) and only then renames it over `<file>`, printing `Saved and
 * verified snapshot to index N`; restore PUTs the file to /v1/snapshot (`Restored snapshot`);
 * inspect reads a file locally and prints its metadata in Consul's tabwriter layout, with a
 * Type/Count/Size table of what the state holds.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { readSnapshotArchive, parseArchiveState } from '../../catalog/snapshot-archive.ts';
import { dispatchSubcommand, FlagSet, parseOrExit, usageError } from '../flag-set.ts';
import { addHttpFlags, connectOrReport, type AgentClient } from '../http-client.ts';
import { processIo, type CliIo } from '../output.ts';

const HELP = `
Usage: herald snapshot <subcommand> [options] [args]

  Saves, restores and inspects snapshots of the agent's replicated state: the
  catalog and every plugin's state (key/value entries, sessions, ...).

      $ herald snapshot save backup.snap
      $ herald snapshot restore backup.snap
      $ herald snapshot inspect backup.snap

Subcommands:
    inspect    Displays information about a snapshot file
    restore    Restores snapshot of the agent's state
    save       Saves snapshot of the agent's state
`;

const SAVE_HELP = `
Usage: herald snapshot save [options] FILE

  Retrieves an atomic, point-in-time snapshot of the agent's replicated state
  (catalog, key/value entries, sessions and other plugin state) and saves it to
  FILE once it has been verified.

      $ herald snapshot save backup.snap
`;

const RESTORE_HELP = `
Usage: herald snapshot restore [options] FILE

  Restores a snapshot saved with "herald snapshot save", replacing all of the
  agent's replicated state. A damaged archive is refused and nothing changes.

      $ herald snapshot restore backup.snap
`;

const INSPECT_HELP = `
Usage: herald snapshot inspect FILE

  Displays information about a snapshot file on disk (no agent is contacted).

      $ herald snapshot inspect backup.snap
`;

/** Snapshots can be large; the CLI's usual 10 s deadline is for small answers. */
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;

/** `herald snapshot <subcommand> ...`; resolves with the exit code. */
export function runSnapshot(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  return dispatchSubcommand('snapshot', argv, { save, restore, inspect }, HELP, io);
}

/** The FILE argument, or the exit code after Consul's message. */
function oneFile(fs: FlagSet, argv: readonly string[], io: CliIo): string | number {
  const args = parseOrExit(fs, argv, io);
  if (typeof args === 'number') return args;
  if (args.length === 0) return usageError(fs, io, 'Missing FILE argument');
  if (args.length > 1) return usageError(fs, io, `Too many arguments (expected 1, got ${args.length})`);
  return args[0]!;
}

/** save and restore: the FILE argument and a client for the agent's HTTP API, or the exit code. */
function fileAndClient(help: string, argv: readonly string[], io: CliIo): { file: string; client: AgentClient } | number {
  const fs = new FlagSet(help);
  const http = addHttpFlags(fs, { server: true });
  const file = oneFile(fs, argv, io);
  if (typeof file === 'number') return file;
  const client = connectOrReport(http, io);
  return client ? { file, client } : 1;
}

async function save(argv: readonly string[], io: CliIo): Promise<number> {
  const target = fileAndClient(SAVE_HELP, argv, io);
  if (typeof target === 'number') return target;
  const { file, client } = target;
  let archive: Buffer;
  let index: string;
  try {
    const res = await client.request('GET', '/v1/snapshot', { binary: true, timeoutMs: SNAPSHOT_TIMEOUT_MS });
    archive = res.bytes ?? Buffer.alloc(0);
    index = res.headers.get('x-consul-index') ?? '0';
  } catch (err) {
    io.err(`Error saving snapshot: ${(err as Error).message}`);
    return 1;
  }
  const unverified = `${file}.unverified`;
  try {
    const fd = openSync(unverified, 'w', 0o600);
    try {
      writeSync(fd, archive);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    io.err(`Error writing unverified snapshot file: ${(err as Error).message}`);
    return 1;
  }
  try {
    try {
      readSnapshotArchive(readFileSync(unverified));
    } catch (err) {
      io.err(`Error verifying snapshot file: ${(err as Error).message}`);
      return 1;
    }
    try {
      renameSync(unverified, file);
    } catch (err) {
      io.err(`Error renaming ${JSON.stringify(unverified)} to ${JSON.stringify(file)}: ${(err as Error).message}`);
      return 1;
    }
  } finally {
    rmSync(unverified, { force: true });
  }
  io.out(`Saved and verified snapshot to index ${index}`);
  return 0;
}

async function restore(argv: readonly string[], io: CliIo): Promise<number> {
  const target = fileAndClient(RESTORE_HELP, argv, io);
  if (typeof target === 'number') return target;
  const { file, client } = target;
  let archive: Buffer;
  try {
    archive = readFileSync(file);
  } catch (err) {
    io.err(`Error opening snapshot file: ${(err as Error).message}`);
    return 1;
  }
  try {
    await client.request('PUT', '/v1/snapshot', { rawBody: archive, timeoutMs: SNAPSHOT_TIMEOUT_MS });
  } catch (err) {
    io.err(`Error restoring snapshot: ${(err as Error).message}`);
    return 1;
  }
  io.out('Restored snapshot');
  return 0;
}

/** Consul's ByteSize: 1 decimal, `.0` trimmed, B/KB/MB/GB/TB. */
export function byteSize(bytes: number): string {
  const units: Array<[number, string]> = [
    [2 ** 40, 'TB'],
    [2 ** 30, 'GB'],
    [2 ** 20, 'MB'],
    [2 ** 10, 'KB'],
    [1, 'B'],
  ];
  if (bytes === 0) return '0';
  const [div, unit] = units.find(([d]) => bytes >= d)!;
  return (bytes / div).toFixed(1).replace(/\.0$/, '') + unit;
}

/**
 * Go's text/tabwriter over tab-terminated cells, as Consul's inspect uses it (minwidth 8,
 * padding 6, blanks): a column is aligned across a run of consecutive lines that have it.
 */
export function tabwrite(lines: string[][], minwidth = 8, padding = 6): string {
  const out = lines.map((cells) => [...cells]);
  const widthOf = (col: number, from: number): { width: number; to: number } => {
    let to = from;
    let width = 0;
    while (to < lines.length && lines[to]!.length > col + 1) {
      width = Math.max(width, lines[to]![col]!.length + padding, minwidth);
      to++;
    }
    return { width, to };
  };
  const maxCols = Math.max(...lines.map((l) => l.length));
  for (let col = 0; col < maxCols; col++) {
    // Cells followed by another cell on the same line are tab-terminated: pad them.
    let i = 0;
    while (i < lines.length) {
      if (lines[i]!.length <= col + 1) {
        i++;
        continue;
      }
      const { width, to } = widthOf(col, i);
      for (let j = i; j < to; j++) out[j]![col] = out[j]![col]!.padEnd(width);
      i = to;
    }
  }
  return out.map((cells) => cells.join('')).join('\n');
}

async function inspect(argv: readonly string[], io: CliIo): Promise<number> {
  const fs = new FlagSet(INSPECT_HELP);
  const file = oneFile(fs, argv, io);
  if (typeof file === 'number') return file;
  let meta;
  let state: Record<string, unknown>;
  try {
    const read = readSnapshotArchive(readFileSync(file));
    meta = read.meta;
    state = parseArchiveState(read.state) as Record<string, unknown>;
  } catch (err) {
    io.err(`Error inspecting snapshot: ${(err as Error).message}`);
    return 1;
  }
  const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? '');
  const count = (v: unknown) => (Array.isArray(v) ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0);
  const rows: Array<[string, number, number]> = [];
  for (const [table, name] of [['nodes', 'Nodes'], ['services', 'Services'], ['checks', 'Checks']] as const) {
    rows.push([name, count(state[table]), size(state[table])]);
  }
  const extensions = (state.extensions ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(extensions).sort()) rows.push([`${name} (plugin)`, count(extensions[name]), size(extensions[name])]);
  const total = rows.reduce((n, r) => n + r[2], 0);
  const text = tabwrite([
    [' ID', meta.id],
    [' Size', String(meta.size)],
    [' Index', String(meta.index)],
    [' Term', String(meta.term)],
    [' Version', String(meta.version)],
    [],
    [' Type', 'Count', 'Size', ''],
    [' ----', '----', '----', ''],
    ...rows.map(([n, c, s]) => [` ${n}`, String(c), byteSize(s), '']),
    [' ----', '----', '----', ''],
    [' Total', '', byteSize(total), ''],
  ]);
  io.out(text);
  return 0;
}
