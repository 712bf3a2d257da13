/**
 * The core's view of the Raft log (etcd-io/raft's raftLog + unstable): the durable part read
 * through the driver's LogView, plus an in-memory `unstable` tail — entries (or a snapshot)
 * the core has accepted but the driver has not yet confirmed durable via advance().
 *
 *     storage (durable)            unstable (to persist in the next Ready)
 *   [firstIndex ... offset-1]    [offset ... lastIndex]
 *
 * When a leader's entries conflict with stable ones, `offset` moves below the durable last
 * index: the unstable entries shadow the stale durable ones, and the next Ready tells the
 * driver to truncate them (Ready.truncateAfter).
 */
import { ERR, HeraldError } from '../../errors.ts';
import { limitSize, type LogView } from './log-view.ts';
import type { Entry, Snapshot } from './types.ts';

/** Entries and/or a snapshot not yet durable. */
class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  /** Index of entries[0] (or where the next one would go). */
  offset: bigint;

  constructor(offset: bigint) {
    this.offset = offset;
  }

  firstIndex(): bigint | undefined {
    return this.snapshot ? this.snapshot.index + 1n : undefined;
  }

  lastIndex(): bigint | undefined {
    if (this.entries.length > 0) return this.offset + BigInt(this.entries.length) - 1n;
    return this.snapshot?.index;
  }

  term(i: bigint): bigint | undefined {
    if (i < this.offset) return this.snapshot && this.snapshot.index === i ? this.snapshot.term : undefined;
    const last = this.lastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[Number(i - this.offset)]!.term;
  }

  /** Entries up to (i, t) are durable: drop them (unless the entry was replaced meanwhile). */
  stableTo(i: bigint, t: bigint): void {
    if (i < this.offset || this.term(i) !== t) return;
    this.entries = this.entries.slice(Number(i - this.offset + 1n));
    this.offset = i + 1n;
  }

  stableSnapTo(i: bigint): void {
    if (this.snapshot && this.snapshot.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.index + 1n;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + BigInt(this.entries.length)) {
      this.entries.push(...ents);
    } else if (after <= this.offset) {
      // Replaces everything unstable and shadows durable entries from `after` on.
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, Number(after - this.offset)).concat(ents);
    }
  }

  slice(lo: bigint, hi: bigint): Entry[] {
    return this.entries.slice(Number(lo - this.offset), Number(hi - this.offset));
  }
}

/** The log as the protocol sees it. Indexes are bigint; all methods are synchronous. */
export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known committed. */
  committed: bigint;
  /** Highest index the driver has applied (confirmed through advance()). */
  applied: bigint;

  constructor(readonly storage: LogView) {
    this.unstable = new Unstable(storage.lastIndex() + 1n);
    const hs = storage.hardState();
    const snapIndex = storage.snapshotMeta().index;
    this.committed = hs.commit > snapIndex ? hs.commit : snapIndex;
    if (this.committed > storage.lastIndex()) {
      throw new HeraldError(
        ERR.RAFT_DRIVER_MISUSE,
        `hard state commit ${hs.commit} is past the last stored entry ${storage.lastIndex()}`,
      );
    }
    this.applied = snapIndex;
  }

  firstIndex(): bigint {
    return this.unstable.firstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): bigint {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  /** Term of entry `i`, or undefined when it is compacted away or beyond the log. */
  term(i: bigint): bigint | undefined {
    if (i < this.firstIndex() - 1n || i > this.lastIndex()) return undefined;
    return this.unstable.term(i) ?? this.storage.term(i);
  }

  lastTerm(): bigint {
    return this.term(this.lastIndex()) ?? 0n;
  }

  matchTerm(i: bigint, t: bigint): boolean {
    return this.term(i) === t;
  }

  /** §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: bigint, lastTerm: bigint): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the durable prefix that agrees with the current log (what a leader may count as its own ack). */
  persistedIndex(): bigint {
    if (this.unstable.snapshot) return 0n;
    return this.unstable.offset - 1n;
  }

  /** First index in `ents` whose term differs from ours (or that we lack), or 0n when all match. */
  findConflict(ents: readonly Entry[]): bigint {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0n;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term (etcd's
   * findConflictByTerm). Terms only grow along a log, so no entry above the result can match
   * an entry of term <= `term` in another log: this skips a whole divergent term per probe.
   * Returns [i, 0n] when the term at i is unknown (compacted), which is still a safe guess.
   */
  findConflictByTerm(index: bigint, term: bigint): [bigint, bigint] {
    for (let i = index; ; i--) {
      const t = this.term(i);
      if (t === undefined) return [i, 0n];
      if (t <= term) return [i, t];
    }
  }

  /**
   * The follower side of AppendEntries: if our entry `index` has `logTerm`, append `ents`
   * (replacing any conflicting suffix) and advance commit to min(commit, last new index).
   * Returns the last index now known to match the leader, or undefined to reject.
   */
  maybeAppend(index: bigint, logTerm: bigint, commit: bigint, ents: readonly Entry[]): bigint | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + BigInt(ents.length);
    const ci = this.findConflict(ents);
    if (ci !== 0n) {
      if (ci <= this.committed) {
        throw new HeraldError(ERR.RAFT_INVARIANT, `entry ${ci} conflicts with the committed log (commit ${this.committed})`);
      }
      this.append(ents.slice(Number(ci - index - 1n)));
    }
    this.commitTo(commit < lastNew ? commit : lastNew);
    return lastNew;
  }

  /** Appends (possibly replacing an uncommitted suffix); returns the new last index. */
  append(ents: readonly Entry[]): bigint {
    if (ents.length === 0) return this.lastIndex();
    if (ents[0]!.index - 1n < this.committed) {
      throw new HeraldError(ERR.RAFT_INVARIANT, `append at ${ents[0]!.index} would overwrite committed ${this.committed}`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * Entries [lo, hi) within `maxBytes` (at least one), or undefined when lo is compacted.
   * Reads the durable part from storage and the rest from the unstable tail.
   */
  slice(lo: bigint, hi: bigint, maxBytes?: number): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    const last = this.lastIndex();
    if (hi > last + 1n) hi = last + 1n;
    if (lo >= hi) return [];
    let out: Entry[] = [];
    const off = this.unstable.offset;
    if (lo < off) {
      const stableHi = hi < off ? hi : off;
      out = this.storage.entries(lo, stableHi, maxBytes);
      if (BigInt(out.length) < stableHi - lo) return out; // hit the size limit
    }
    if (hi > off) {
      const from = lo > off ? lo : off;
      out = out.length === 0 ? this.unstable.slice(from, hi) : out.concat(this.unstable.slice(from, hi));
    }
    return limitSize(out, maxBytes);
  }

  /** Committed entries not yet handed out for applying; none while a snapshot is pending. */
  nextCommittedEntries(maxBytes?: number): Entry[] {
    if (this.unstable.snapshot) return [];
    const fi = this.firstIndex();
    const lo = this.applied + 1n > fi ? this.applied + 1n : fi;
    if (this.committed < lo) return [];
    return this.slice(lo, this.committed + 1n, maxBytes) ?? [];
  }

  hasNextCommittedEntries(): boolean {
    if (this.unstable.snapshot) return false;
    const fi = this.firstIndex();
    const lo = this.applied + 1n > fi ? this.applied + 1n : fi;
    return this.committed >= lo;
  }

  commitTo(c: bigint): void {
    if (c <= this.committed) return;
    if (c > this.lastIndex()) {
      throw new HeraldError(ERR.RAFT_INVARIANT, `commit ${c} is past the last index ${this.lastIndex()}`);
    }
    this.committed = c;
  }

  appliedTo(i: bigint): void {
    if (i === 0n || i <= this.applied) return;
    if (i > this.committed) {
      throw new HeraldError(ERR.RAFT_INVARIANT, `applied ${i} is past commit ${this.committed}`);
    }
    this.applied = i;
  }

  /** Replaces the log with a snapshot (follower install); commit jumps to it. */
  restore(s: Snapshot): void {
    this.committed = s.index;
    this.unstable.restore(s);
  }
}
