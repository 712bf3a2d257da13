/**
 * The core's synchronous window onto stable storage (etcd-io/raft's `Storage` interface).
 *
 * The core must stay synchronous, but src/storage's LogStore is async. So the driver keeps an
 * in-memory copy of the durable log tail — everything after the newest point it compacted to —
 * and the core reads only that copy. `MemoryLogView` is that copy. The driver:
 * - at start-up, loads the latest snapshot, the stored entries after it and the hard state
 *   into a MemoryLogView (constructor `init`), then constructs the RaftNode over it;
 * - after persisting each Ready (never before), mirrors it: `applySnapshot`, `append`,
 *   `setHardState` (see `Ready` for the order);
 * - to compact, saves a snapshot of its state machine at some applied index i, calls
 *   `createSnapshot` with `RaftNode.snapshotMetaAt(i)` and the bytes, and later `compact(j)`
 *   for any j <= i (keeping a few trailing entries lets slightly-lagging followers catch up
 *   without a snapshot), then LogStore.compactUpTo(j).
 * The core never writes to the view.
 */
import { ERR, HeraldError } from '../../errors.ts';
import { sortVoters } from './conf-change.ts';
import type { Entry, HardState, NodeId, Snapshot, SnapshotMeta } from './types.ts';

/**
 * What the core reads from stable storage. Every method is synchronous and must reflect
 * exactly what the driver has made durable.
 */
export interface LogView {
  /** The persisted hard state; read once, when the node is constructed. */
  hardState(): HardState;
  /** Meta of the latest snapshot (index 0, term 0 and the bootstrap voters before any). */
  snapshotMeta(): SnapshotMeta;
  /** The latest snapshot with its data; read when a follower needs InstallSnapshot. */
  snapshot(): Snapshot;
  /** Index of the first entry held; entries below it are only in the snapshot. */
  firstIndex(): bigint;
  /** Index of the last entry held (firstIndex() - 1 when none is). */
  lastIndex(): bigint;
  /** Term of entry `index` for firstIndex()-1 <= index <= lastIndex(), else undefined. */
  term(index: bigint): bigint | undefined;
  /**
   * Entries `lo` (inclusive) to `hi` (exclusive), with firstIndex() <= lo <= hi <= lastIndex()+1.
   * With `maxBytes`, stops before the entry that would take the summed data length over it,
   * but returns at least one entry when the range is non-empty.
   */
  entries(lo: bigint, hi: bigint, maxBytes?: number): Entry[];
}

/** Sums entry data sizes, stopping before `maxBytes` is exceeded but keeping at least one entry. */
export function limitSize<T extends { readonly data: Uint8Array }>(ents: T[], maxBytes: number | undefined): T[] {
  if (maxBytes === undefined || ents.length === 0) return ents;
  let size = ents[0]!.data.length;
  let n = 1;
  for (; n < ents.length; n++) {
    size += ents[n]!.data.length;
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

const EMPTY = Buffer.alloc(0);

/** What a driver loads at start-up to rebuild the view. */
export interface MemoryLogViewInit {
  /** Bootstrap voters for a brand-new cluster member (ignored when `snapshot` is given); [] for a server that will be added later. */
  voters?: readonly NodeId[];
  hardState?: HardState;
  snapshot?: Snapshot;
  /** Stored entries, ascending and contiguous; they may start at or below snapshot.index + 1 (trailing entries kept after compaction). */
  entries?: readonly Entry[];
}

/**
 * An in-memory LogView (etcd's MemoryStorage). Holds entries `base+1 .. last`, where `base`
 * is the newest compaction point (its term is kept so the entry after it can be matched).
 */
export class MemoryLogView implements LogView {
  private hs: HardState = { term: 0n, vote: undefined, commit: 0n };
  private snap: Snapshot;
  private baseIndex: bigint;
  private baseTerm: bigint;
  private ents: Entry[] = [];

  constructor(init: MemoryLogViewInit = {}) {
    this.snap = init.snapshot ?? { index: 0n, term: 0n, voters: sortVoters(init.voters ?? []), data: EMPTY };
    this.baseIndex = this.snap.index;
    this.baseTerm = this.snap.term;
    if (init.hardState) this.hs = init.hardState;
    const ents = init.entries ?? [];
    if (ents.length > 0) {
      const first = ents[0]!;
      if (first.index > this.snap.index + 1n) {
        throw misuse(`stored entries start at ${first.index}, after a gap from snapshot ${this.snap.index}`);
      }
      checkContiguous(ents);
      const atSnap = ents.find((e) => e.index === this.snap.index);
      if (atSnap && atSnap.term !== this.snap.term) {
        throw misuse(`stored entry ${atSnap.index} has term ${atSnap.term}, snapshot says ${this.snap.term}`);
      }
      if (first.index <= this.snap.index) {
        // Trailing entries kept below the snapshot: the first one becomes the base (its term is
        // the one we need to match the entry after it).
        this.baseIndex = first.index;
        this.baseTerm = first.term;
        this.ents = ents.slice(1);
      } else {
        this.ents = ents.slice();
      }
    }
    if (this.hs.commit < this.snap.index) this.hs = { ...this.hs, commit: this.snap.index };
  }

  hardState(): HardState {
    return this.hs;
  }

  /** Records the hard state the driver has just persisted. */
  setHardState(hs: HardState): void {
    this.hs = hs;
  }

  snapshotMeta(): SnapshotMeta {
    return { index: this.snap.index, term: this.snap.term, voters: this.snap.voters };
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  firstIndex(): bigint {
    return this.baseIndex + 1n;
  }

  lastIndex(): bigint {
    return this.baseIndex + BigInt(this.ents.length);
  }

  term(index: bigint): bigint | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex || index > this.lastIndex()) return undefined;
    return this.ents[Number(index - this.baseIndex - 1n)]!.term;
  }

  entries(lo: bigint, hi: bigint, maxBytes?: number): Entry[] {
    if (lo < this.firstIndex() || hi > this.lastIndex() + 1n || lo > hi) {
      throw misuse(`entries(${lo}, ${hi}) outside ${this.firstIndex()}..${this.lastIndex()}`);
    }
    const from = Number(lo - this.baseIndex - 1n);
    let to = from + Number(hi - lo);
    if (maxBytes !== undefined && to > from) {
      // Find the end before copying: a lagging follower's range may span the whole log.
      let size = this.ents[from]!.data.length;
      let end = from + 1;
      for (; end < to; end++) {
        size += this.ents[end]!.data.length;
        if (size > maxBytes) break;
      }
      to = end;
    }
    return this.ents.slice(from, to);
  }

  /**
   * Appends persisted entries; entries at or below the base are ignored, and entries that
   * overlap the tail replace it from their first index (the conflicting suffix, §5.3).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    checkContiguous(entries);
    let ents = entries;
    if (ents[ents.length - 1]!.index <= this.baseIndex) return;
    if (ents[0]!.index <= this.baseIndex) ents = ents.slice(Number(this.baseIndex + 1n - ents[0]!.index));
    const first = ents[0]!.index;
    if (first > this.lastIndex() + 1n) throw misuse(`append at ${first} leaves a gap after ${this.lastIndex()}`);
    // In place: a copy per append made every Ready O(log length) (it showed as 10 % of a
    // leader's time under load with a 30,000-entry log). A conflicting suffix is cut first.
    const keep = Number(first - this.baseIndex - 1n);
    if (keep < this.ents.length) this.ents.length = keep;
    for (const e of ents) this.ents.push(e);
  }

  /** Replaces the whole log with a snapshot received from the leader (after persisting it). */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.snap.index && this.snap.index > 0n) {
      throw misuse(`snapshot ${snapshot.index} is not newer than ${this.snap.index}`);
    }
    this.snap = snapshot;
    this.baseIndex = snapshot.index;
    this.baseTerm = snapshot.term;
    this.ents = [];
    if (this.hs.commit < snapshot.index) this.hs = { ...this.hs, commit: snapshot.index };
  }

  /**
   * Records a snapshot the application took of its own state machine (at an applied index).
   * Does not drop entries; see `compact`. `snapshot.term` must match the log.
   */
  createSnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.snap.index) throw misuse(`snapshot ${snapshot.index} is not newer than ${this.snap.index}`);
    const t = this.term(snapshot.index);
    if (t === undefined || t !== snapshot.term) {
      throw misuse(`snapshot ${snapshot.term}/${snapshot.index} does not match the log (term ${String(t)})`);
    }
    this.snap = snapshot;
  }

  /** Drops entries up to and including `index`, which the latest snapshot must cover. */
  compact(index: bigint): void {
    if (index <= this.baseIndex) return;
    if (index > this.snap.index) throw misuse(`compact(${index}) is past the latest snapshot ${this.snap.index}`);
    this.baseTerm = this.term(index)!;
    this.ents = this.ents.slice(Number(index - this.baseIndex));
    this.baseIndex = index;
  }
}

function checkContiguous(ents: readonly Entry[]): void {
  for (let i = 1; i < ents.length; i++) {
    if (ents[i]!.index !== ents[i - 1]!.index + 1n) {
      throw misuse(`entries not contiguous at ${ents[i - 1]!.index} -> ${ents[i]!.index}`);
    }
  }
}

function misuse(msg: string): HeraldError {
  return new HeraldError(ERR.RAFT_DRIVER_MISUSE, `log view: ${msg}`);
}
