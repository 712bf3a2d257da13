/**
 * Snapshot archives: what `GET /v1/snapshot` sends and `PUT /v1/snapshot` takes, in the shape of
 * Consul's (a gzipped POSIX ustar archive holding `meta.json`, the state, and `SHA256SUMS` over
 * both, in that order). The state file is `state.json`, the state machine's canonical snapshot
 * JSON (Consul's is `state.bin`, msgpack of its own FSM: the two are not interchangeable, and a
 * Consul archive is refused with a message saying so).
 *
 * `meta.json` follows hashicorp/raft's SnapshotMeta: `{"Version":1,"ID":"<term>-<index>-<ms>",
 * "Index":N,"Term":N,"Size":<state bytes>}` plus Herald's `Format` and `HeraldVersion`. Index
 * and Term are uint64 JSON numbers written and read exactly (consul-compat.md §0).
 *
 * Reading checks everything before returning anything: gzip, every tar header checksum, the
 * member sizes, and the SHA-256 of meta.json and state.json against SHA256SUMS. A bad archive
 * throws SNAPSHOT_INVALID naming what is wrong, so a restore never starts on one. The tar
 * writer and reader are the few lines ustar needs (no dependency).
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ERR, HeraldError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { SNAPSHOT_FORMAT } from './snapshot.ts';

/** hashicorp/raft's SnapshotVersion, which Consul's meta.json carries. */
export const ARCHIVE_VERSION = 1;
/** Refuse archives that inflate beyond this (a gzip bomb must not take the agent down). */
export const MAX_ARCHIVE_STATE_BYTES = 1 << 30;

const BLOCK = 512;
const META = 'meta.json';
const STATE = 'state.json';
const SUMS = 'SHA256SUMS';

/** What meta.json says. */
export interface ArchiveMeta {
  id: string;
  index: bigint;
  term: bigint;
  version: number;
  /** Bytes of state.json. */
  size: number;
  /** The producer's snapshot format (`herald-catalog`). */
  format: string;
  heraldVersion?: string;
}

function invalid(message: string): HeraldError {
  return new HeraldError(ERR.SNAPSHOT_INVALID, `snapshot archive: ${message}`);
}

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  // length-1 octal digits, zero-padded, then NUL (ustar numeric fields).
  buf.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'ascii');
}

function tarHeader(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h.write('0', 156, 1, 'ascii'); // regular file
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

function tar(files: ReadonlyArray<[string, Buffer]>, mtime: number): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of files) {
    parts.push(tarHeader(name, data.length, mtime), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(2 * BLOCK)); // end of archive
  return Buffer.concat(parts);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * A gzipped snapshot archive of `state` (the state machine's snapshot JSON, as bytes) at log
 * position `index`/`term`. `now` (ms) stamps the ID and the tar entries.
 */
export function writeSnapshotArchive(opts: { index: bigint; term: bigint; state: Buffer; now?: number }): Buffer {
  const now = opts.now ?? Date.now();
  const id = `${opts.term}-${opts.index}-${now}`;
  // Written by hand so Index and Term stay exact beyond 2^53.
  const meta = Buffer.from(
    `{"Version":${ARCHIVE_VERSION},"ID":${JSON.stringify(id)},"Index":${opts.index},"Term":${opts.term},` +
      `"Size":${opts.state.length},"Format":${JSON.stringify(SNAPSHOT_FORMAT)},"HeraldVersion":${JSON.stringify(VERSION)}}`,
  );
  const sums = Buffer.from(`${sha256(meta)}  ${META}\n${sha256(opts.state)}  ${STATE}\n`);
  return gzipSync(tar([[META, meta], [STATE, opts.state], [SUMS, sums]], Math.floor(now / 1000)));
}

function cstring(buf: Buffer, offset: number, length: number): string {
  const raw = buf.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8');
}

function readOctal(buf: Buffer, offset: number, length: number, what: string): number {
  const text = cstring(buf, offset, length).trim();
  if (!/^[0-7]+$/.test(text)) throw invalid(`tar header: ${what} ${JSON.stringify(text)} is not an octal number`);
  return parseInt(text, 8);
}

/** Regular files of a tar archive by name. Throws SNAPSHOT_INVALID on a damaged archive. */
function untar(data: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let at = 0;
  for (;;) {
    if (at + BLOCK > data.length) throw invalid('tar: ends without its end-of-archive blocks (truncated?)');
    const h = data.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    const stored = readOctal(h, 148, 8, 'checksum');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== stored) throw invalid(`tar: header checksum mismatch at offset ${at} (damaged archive)`);
    const name = cstring(h, 0, 100);
    const prefix = h.toString('ascii', 257, 262) === 'ustar' ? cstring(h, 345, 155) : '';
    const full = prefix ? `${prefix}/${name}` : name;
    const size = readOctal(h, 124, 12, `size of ${full}`);
    const type = h[156];
    const start = at + BLOCK;
    if (start + size > data.length) throw invalid(`tar: ${full} is cut short (truncated archive)`);
    // '0' and NUL are regular files; directories and pax/GNU metadata carry nothing we read.
    if (type === 0x30 || type === 0) {
      if (files.has(full)) throw invalid(`tar: ${full} appears twice`);
      files.set(full, data.subarray(start, start + size));
    }
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}

/** The decimal digits of `"key": <uint>` in `text`, exactly. */
function exactUint(text: string, key: string): bigint {
  const m = new RegExp(`"${key}"\\s*:\\s*(\\d+)`).exec(text);
  if (!m) throw invalid(`meta.json: ${key} is missing or not a non-negative integer`);
  return BigInt(m[1]!);
}

/**
 * Opens and verifies an archive: gzip, tar, SHA256SUMS, meta.json. Returns the meta and the
 * state bytes (state.json, not yet parsed). Throws SNAPSHOT_INVALID naming the problem.
 */
export function readSnapshotArchive(archive: Buffer): { meta: ArchiveMeta; state: Buffer } {
  if (archive.length === 0) throw invalid('empty (no archive was sent)');
  let data: Buffer;
  try {
    data = gunzipSync(archive, { maxOutputLength: MAX_ARCHIVE_STATE_BYTES });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw invalid(`expands beyond ${MAX_ARCHIVE_STATE_BYTES} bytes`);
    }
    throw invalid(`not a gzip file or damaged: ${(err as Error).message}`);
  }
  const files = untar(data);
  const sumsFile = files.get(SUMS);
  if (!sumsFile) throw invalid(`no ${SUMS} in the archive`);
  const sums = new Map<string, string>();
  for (const line of sumsFile.toString('utf8').split('\n')) {
    if (line === '') continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw invalid(`${SUMS}: malformed line ${JSON.stringify(line)}`);
    sums.set(m[2]!, m[1]!);
  }
  const meta = files.get(META);
  if (!meta) throw invalid(`no ${META} in the archive`);
  const state = files.get(STATE);
  if (!state) {
    const hint = files.has('state.bin') ? ' (this looks like a Consul snapshot: Herald cannot restore Consul\'s state.bin)' : '';
    throw invalid(`no ${STATE} in the archive${hint}`);
  }
  for (const [name, body] of [[META, meta], [STATE, state]] as const) {
    const want = sums.get(name);
    if (!want) throw invalid(`${SUMS} does not list ${name}`);
    if (sha256(body) !== want) throw invalid(`${name} does not match its SHA-256 in ${SUMS} (damaged archive)`);
  }
  const metaText = meta.toString('utf8');
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(metaText) as Record<string, unknown>;
  } catch (err) {
    throw invalid(`meta.json is not JSON: ${(err as Error).message}`);
  }
  if (parsed.Version !== ARCHIVE_VERSION) throw invalid(`meta.json: Version ${JSON.stringify(parsed.Version)} is not ${ARCHIVE_VERSION}`);
  if (typeof parsed.ID !== 'string') throw invalid('meta.json: ID is missing');
  const format = typeof parsed.Format === 'string' ? parsed.Format : '';
  if (format !== SNAPSHOT_FORMAT) throw invalid(`meta.json: Format ${JSON.stringify(parsed.Format)} is not ${JSON.stringify(SNAPSHOT_FORMAT)}`);
  return {
    meta: {
      id: parsed.ID,
      index: exactUint(metaText, 'Index'),
      term: exactUint(metaText, 'Term'),
      version: ARCHIVE_VERSION,
      size: state.length,
      format,
      ...(typeof parsed.HeraldVersion === 'string' ? { heraldVersion: parsed.HeraldVersion } : {}),
    },
    state,
  };
}

/** Parses a verified archive's state.json; throws SNAPSHOT_INVALID when it is not JSON. */
export function parseArchiveState(state: Buffer): unknown {
  try {
    return JSON.parse(state.toString('utf8'));
  } catch (err) {
    throw invalid(`state.json is not JSON: ${(err as Error).message}`);
  }
}
