/**
 * How core values map onto src/storage's records, for a driver that persists Ready values in a
 * Storage engine and loads them back into a MemoryLogView at start-up:
 * - a core Entry -> LogStore LogEntry: data = [u8 kind][entry data] (storage keeps data opaque);
 * - HardState -> StableStore value under HARD_STATE_KEY: [u64 term][u64 commit][vote UTF-8, empty = none];
 * - Snapshot -> SnapshotStore (meta {index, term}, data = [u32 n][n bytes JSON voters][state bytes]).
 */
import { ERR, HeraldError } from '../../errors.ts';
import type { LogEntry, SnapshotMeta as StoredSnapshotMeta } from '../../storage/storage.ts';
import { sortVoters } from './conf-change.ts';
import type { Entry, EntryKind, HardState, Snapshot } from './types.ts';

/** StableStore key for the hard state. */
export const HARD_STATE_KEY = 'raft/hard-state';

const KIND_BYTE: Record<EntryKind, number> = { normal: 0, noop: 1, conf: 2 };
const KINDS: EntryKind[] = ['normal', 'noop', 'conf'];

export function entryToLogEntry(e: Entry): LogEntry {
  const data = Buffer.allocUnsafe(1 + e.data.length);
  data[0] = KIND_BYTE[e.kind];
  data.set(e.data, 1);
  return { index: e.index, term: e.term, data };
}

export function entryFromLogEntry(le: LogEntry): Entry {
  const kind = KINDS[le.data[0] ?? 255];
  if (!kind) throw new HeraldError(ERR.STORAGE_CORRUPT, `log entry ${le.index} has no valid kind byte`);
  return { index: le.index, term: le.term, kind, data: le.data.subarray(1) };
}

export function encodeHardState(hs: HardState): Buffer {
  const vote = Buffer.from(hs.vote ?? '', 'utf8');
  const out = Buffer.allocUnsafe(16 + vote.length);
  out.writeBigUInt64BE(hs.term, 0);
  out.writeBigUInt64BE(hs.commit, 8);
  vote.copy(out, 16);
  return out;
}

export function decodeHardState(buf: Buffer): HardState {
  if (buf.length < 16) throw new HeraldError(ERR.STORAGE_CORRUPT, `hard state of ${buf.length} bytes is too short`);
  const vote = buf.subarray(16).toString('utf8');
  return { term: buf.readBigUInt64BE(0), commit: buf.readBigUInt64BE(8), vote: vote === '' ? undefined : vote };
}

export function snapshotToStored(s: Snapshot): { meta: StoredSnapshotMeta; data: Buffer } {
  const voters = Buffer.from(JSON.stringify(s.voters), 'utf8');
  const data = Buffer.allocUnsafe(4 + voters.length + s.data.length);
  data.writeUInt32BE(voters.length, 0);
  voters.copy(data, 4);
  s.data.copy(data, 4 + voters.length);
  return { meta: { index: s.index, term: s.term }, data };
}

export function snapshotFromStored(meta: StoredSnapshotMeta, data: Buffer): Snapshot {
  const bad = (why: string) => new HeraldError(ERR.STORAGE_CORRUPT, `snapshot ${meta.index}: ${why}`);
  if (data.length < 4) throw bad('too short');
  const n = data.readUInt32BE(0);
  if (4 + n > data.length) throw bad('voter list runs past the end');
  let voters: unknown;
  try {
    voters = JSON.parse(data.subarray(4, 4 + n).toString('utf8'));
  } catch {
    throw bad('voter list is not JSON');
  }
  if (!Array.isArray(voters) || !voters.every((v) => typeof v === 'string')) throw bad('voter list is not strings');
  return { index: meta.index, term: meta.term, voters: sortVoters(voters as string[]), data: data.subarray(4 + n) };
}
