/**
 * The Raft driver's use of src/storage: what it writes for each Ready and what it reads back at
 * start-up (the core's storage-codec.ts maps the values; core README "Storage").
 *
 * Write order for one Ready (persistReady):
 * 1. a received snapshot is saved, and that save completes, before anything else;
 * 2. then, issued together and awaited together: drop the stored log (after a snapshot) or its
 *    conflicting suffix, append the new entries with the hard state in the same synced batch
 *    (one group-committed sync); without entries, the hard state alone, and only when its term
 *    or vote changed (a commit-only change waits for the next write: see persistReady).
 * The log and the hard state live in different stores, so step 2 is not atomic: after a crash
 * the hard state may be newer or older than the log. Both cases are repaired on load, and both
 * are safe because nothing of step 2 was promised to anyone until all of it completed (the
 * driver sends only after): a commit index past the stored log is lowered to it (commit is a
 * hint the leader repeats), and a last entry whose term is above the stored term raises the
 * term with no vote (no vote of that term was ever sent: it would have been durable first).
 */
import { ERR, HeraldError } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';
import {
  HARD_STATE_KEY,
  decodeHardState,
  encodeHardState,
  entryFromLogEntry,
  entryToLogEntry,
  snapshotFromStored,
  snapshotToStored,
  type Entry,
  type HardState,
  type MemoryLogViewInit,
  type Ready,
  type Snapshot,
} from './core/index.ts';
import type { Peers } from './peer-book.ts';

/** StableStore key of the bootstrap peers a brand-new cluster member started with. */
export const BOOTSTRAP_KEY = 'raft/bootstrap';

/** Bytes of log read per chunk at start-up. */
const LOAD_CHUNK_BYTES = 4 << 20;

/** What start-up found in storage. */
export interface StoredRaftState {
  /** Nothing at all is stored: a brand-new server. */
  readonly fresh: boolean;
  /** The bootstrap peers recorded at first start, if this server was a bootstrap member. */
  readonly bootstrap: Peers | undefined;
  readonly hardState: HardState;
  readonly snapshot: Snapshot | undefined;
  /** Stored entries (possibly starting at or below the snapshot), ascending and contiguous. */
  readonly entries: Entry[];
  /** Repairs made while loading, one line each, for the start-up log. */
  readonly repairs: string[];
}

/** Reads the hard state, the latest snapshot and the whole stored log, repairing as described above. */
export async function loadRaftState(storage: Storage): Promise<StoredRaftState> {
  const repairs: string[] = [];
  const hsBuf = await storage.stable.get(HARD_STATE_KEY);
  const bootBuf = await storage.stable.get(BOOTSTRAP_KEY);
  const stored = await storage.snapshots.latest();
  const snapshot = stored ? snapshotFromStored(stored.meta, stored.data) : undefined;
  let hardState: HardState = hsBuf ? decodeHardState(hsBuf) : { term: 0n, vote: undefined, commit: 0n };
  let bootstrap: Peers | undefined;
  if (bootBuf) {
    try {
      bootstrap = JSON.parse(bootBuf.toString('utf8')) as Peers;
    } catch (err) {
      throw new HeraldError(ERR.STORAGE_CORRUPT, `raft: stored bootstrap peers are not JSON`, { cause: err });
    }
  }

  let entries: Entry[] = [];
  const first = await storage.log.firstIndex();
  const last = await storage.log.lastIndex();
  for (let next = first; first > 0n && next <= last; ) {
    const chunk = await storage.log.range(next, last, LOAD_CHUNK_BYTES);
    if (chunk.length === 0) break;
    for (const le of chunk) entries.push(entryFromLogEntry(le));
    next = chunk[chunk.length - 1]!.index + 1n;
  }

  if (snapshot && entries.length > 0) {
    const f = entries[0]!.index;
    const l = entries[entries.length - 1]!.index;
    if (f > snapshot.index + 1n) {
      throw new HeraldError(ERR.STORAGE_CORRUPT, `raft: the log holds ${f}..${l} but the snapshot ends at ${snapshot.index}: entries are missing`);
    }
    const atSnap = f <= snapshot.index && l >= snapshot.index ? entries[Number(snapshot.index - f)]! : undefined;
    const continues = f === snapshot.index + 1n || (atSnap !== undefined && atSnap.term === snapshot.term);
    if (!continues) {
      // A snapshot received from the leader, saved, then a crash before the old log was dropped:
      // that log does not continue the snapshot, so none of it is ours to keep (log matching).
      await storage.log.truncateAfter(0n);
      repairs.push(`dropped stored entries ${f}..${l}: they do not continue snapshot ${snapshot.term}/${snapshot.index}`);
      entries = [];
    }
  }

  const end = entries.length > 0 ? entries[entries.length - 1]! : undefined;
  const lastIndex = end ? end.index : (snapshot?.index ?? 0n);
  const floor = snapshot?.index ?? 0n;
  if (hardState.commit > lastIndex) {
    const commit = lastIndex > floor ? lastIndex : floor;
    repairs.push(`commit ${hardState.commit} lowered to ${commit}, the end of the stored log`);
    hardState = { ...hardState, commit };
  }
  const lastTerm = end ? end.term : (snapshot?.term ?? 0n);
  if (lastTerm > hardState.term) {
    repairs.push(`term ${hardState.term} raised to ${lastTerm}, the term of the last stored entry`);
    hardState = { term: lastTerm, vote: undefined, commit: hardState.commit };
  }
  const fresh = !hsBuf && !stored && entries.length === 0 && !bootBuf;
  return { fresh, bootstrap, hardState, snapshot, entries, repairs };
}

/** The MemoryLogView contents for `state` (`voters`: the bootstrap voters, used until a snapshot exists). */
export function viewInit(state: StoredRaftState, voters: readonly string[]): MemoryLogViewInit {
  return {
    voters,
    hardState: state.hardState,
    ...(state.snapshot ? { snapshot: state.snapshot } : {}),
    entries: state.entries,
  };
}

/** Records the bootstrap peers of a brand-new member; durable when it resolves. */
export async function saveBootstrap(storage: Storage, peers: Peers): Promise<void> {
  await storage.stable.set(BOOTSTRAP_KEY, Buffer.from(JSON.stringify(peers), 'utf8'));
}

/**
 * Makes the durable part of `rd` durable, in the order described at the top. Resolves once
 * all of it is; rejects with the storage's error (the driver then stops: after a failed sync
 * it cannot tell what reached the disk).
 */
export async function persistReady(storage: Storage, rd: Ready): Promise<void> {
  if (rd.snapshot) {
    const { meta, data } = snapshotToStored(rd.snapshot);
    await storage.snapshots.save(meta, data);
  }
  const ops: Promise<void>[] = [];
  if (rd.snapshot) ops.push(storage.log.truncateAfter(0n));
  else if (rd.truncateAfter !== undefined && rd.entries.length > 0) ops.push(storage.log.truncateAfter(rd.truncateAfter));
  const hs = rd.hardState ? [{ key: HARD_STATE_KEY, value: encodeHardState(rd.hardState) }] : [];
  // The hard state rides in the entries' synced batch: one fsync per Ready, not two.
  if (rd.entries.length > 0) ops.push(storage.log.append(rd.entries.map(entryToLogEntry), hs));
  else if (rd.hardState && rd.mustSync) ops.push(storage.stable.set(HARD_STATE_KEY, hs[0]!.value));
  // Otherwise only the commit index moved (every commit, on every server) and it is not written
  // at all until the next entries or term change carry it: the commit index is volatile state
  // in Raft (Figure 2), it promises nothing to anyone, and a restart with an older one relearns
  // it from the leader (loadRaftState lowers one past the stored log). The core's rd.mustSync
  // (etcd's MustSync) says when the hard state must be durable first: a term or vote change.
  await Promise.all(ops);
}

/** Saves a snapshot the driver took of its own state machine (the log is compacted separately). */
export async function saveSnapshot(storage: Storage, snapshot: Snapshot): Promise<void> {
  const { meta, data } = snapshotToStored(snapshot);
  await storage.snapshots.save(meta, data);
}
