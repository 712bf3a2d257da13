/**
 * A server's simulated disk: exactly what its driver made durable — the hard state, the latest
 * snapshot and the stored log entries — and nothing else. It outlives crashes; everything else
 * about a server (the RaftNode, its LogView, the state machine, unsent messages, a write still
 * in flight) is volatile and lost.
 *
 * The operations are the ones src/storage's LogStore / StableStore / SnapshotStore offer a
 * driver (append with a conflicting suffix truncated, save a snapshot, compact, set the hard
 * state), and `load()` is what a driver reads at start-up to build its MemoryLogView, so the
 * simulated start-up path is the production one.
 */
import { ERR, HeraldError } from '../../errors.ts';
import type { Entry, HardState, MemoryLogViewInit, Ready, Snapshot } from '../core/index.ts';

/** A deliberately broken disk, for the simulator's self-test (it must catch what this causes). */
export type DiskFault =
  /** The vote is never stored: a restarted server may vote twice in one term. */
  'forget-vote';

export class SimDisk {
  private hs: HardState = { term: 0n, vote: undefined, commit: 0n };
  private snap: Snapshot | undefined;
  /** Stored entries, ascending and contiguous. */
  private ents: Entry[] = [];
  /** Counts, for the run's statistics. */
  writes = 0;

  constructor(
    /** Bootstrap voters of a brand-new server ([] for one added later); used until a snapshot exists. */
    readonly bootstrapVoters: readonly string[],
    private readonly fault?: DiskFault,
  ) {}

  /** What a driver loads at start-up (see MemoryLogView). */
  load(): MemoryLogViewInit {
    return {
      voters: this.bootstrapVoters,
      hardState: this.hs,
      ...(this.snap ? { snapshot: this.snap } : {}),
      entries: this.ents.slice(),
    };
  }

  hardState(): HardState {
    return this.hs;
  }

  snapshotIndex(): bigint {
    return this.snap?.index ?? 0n;
  }

  /** Term of stored entry `index` (or of the snapshot at `index`), else undefined. */
  term(index: bigint): bigint | undefined {
    const first = this.ents[0]?.index;
    if (first !== undefined && index >= first && index < first + BigInt(this.ents.length)) {
      return this.ents[Number(index - first)]!.term;
    }
    if (this.snap && this.snap.index === index) return this.snap.term;
    if (index === 0n) return 0n;
    return undefined;
  }

  lastIndex(): bigint {
    if (this.ents.length > 0) return this.ents[this.ents.length - 1]!.index;
    return this.snap?.index ?? 0n;
  }

  /** Stores the durable part of a Ready, in the contract's order: snapshot, truncate + append, hard state. */
  persist(rd: Ready): void {
    this.writes++;
    if (rd.snapshot) {
      this.snap = rd.snapshot;
      this.ents = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      if (rd.truncateAfter !== undefined) this.truncateAfter(rd.truncateAfter);
      const next = this.lastIndex() + 1n;
      if (first !== next) {
        throw new HeraldError(ERR.RAFT_INVARIANT, `disk: append at ${first} does not continue the log at ${next} (truncateAfter ${String(rd.truncateAfter)})`);
      }
      this.ents.push(...rd.entries);
    }
    if (rd.hardState) this.hs = this.fault === 'forget-vote' ? { ...rd.hardState, vote: undefined } : rd.hardState;
  }

  private truncateAfter(index: bigint): void {
    const first = this.ents[0]?.index;
    if (first === undefined) return;
    if (index < first) this.ents = [];
    else this.ents = this.ents.slice(0, Number(index - first + 1n));
  }

  /** The application snapshotted its state machine: store the snapshot (entries stay until compact). */
  saveSnapshot(s: Snapshot): void {
    this.writes++;
    this.snap = s;
  }

  /** Drops stored entries up to and including `index` (<= the snapshot's index). */
  compactUpTo(index: bigint): void {
    const first = this.ents[0]?.index;
    if (first === undefined || index < first) return;
    this.ents = this.ents.slice(Number(index - first + 1n));
  }
}
