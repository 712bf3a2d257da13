/**
 * The leader's view of each follower's log (etcd-io/raft tracker/progress.go, inflights.go):
 * flow control for replication.
 *
 * - `probe`: we do not know where the follower's log ends. Send one MsgApp, then wait for its
 *   answer (or a heartbeat response) before sending another.
 * - `replicate`: the follower is keeping up. Send optimistically (pipelining): `next` moves past
 *   what was sent before it is acknowledged, bounded by the inflight window.
 * - `snapshot`: the entries it needs are compacted; a snapshot is on its way. Send nothing
 *   until the follower answers (or the snapshot is reported failed/timed out).
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded window of MsgApp messages sent but not acknowledged, by last index and bytes. */
export class Inflights {
  private readonly items: { index: bigint; bytes: number }[] = [];
  private bytes = 0;

  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {}

  add(index: bigint, bytes: number): void {
    this.items.push({ index, bytes });
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `index` (acknowledged). */
  freeLE(index: bigint): void {
    let n = 0;
    while (n < this.items.length && this.items[n]!.index <= index) this.bytes -= this.items[n++]!.bytes;
    if (n > 0) this.items.splice(0, n);
  }

  freeFirstOne(): void {
    const first = this.items.shift();
    if (first) this.bytes -= first.bytes;
  }

  full(): boolean {
    return this.items.length >= this.maxCount || this.bytes >= this.maxBytes;
  }

  get count(): number {
    return this.items.length;
  }

  reset(): void {
    this.items.length = 0;
    this.bytes = 0;
  }
}

/** One follower's replication state, as the leader tracks it. */
export class Progress {
  /** Highest index known to be replicated on the follower. */
  match = 0n;
  /** Next index to send. Invariant: match < next. */
  next: bigint;
  state: ProgressState = 'probe';
  /** In `snapshot` state: the index of the snapshot sent. */
  pendingSnapshot = 0n;
  /** Ticks spent in `snapshot` state (a lost snapshot is retried after a while). */
  snapshotTicks = 0;
  /** In `probe` state: a MsgApp is out and unanswered. */
  probeSent = false;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Highest commit index the follower may have learned from a MsgApp sent to it. */
  pendingCommit = 0n;
  /** Highest leader tick echoed in a heartbeat response: the follower heard us at or after it (leases). */
  ackedTick = Number.NEGATIVE_INFINITY;
  readonly inflights: Inflights;

  constructor(next: bigint, maxInflight: number, maxInflightBytes: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0n;
    this.snapshotTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      // The snapshot may have been installed; probe from past it if so.
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = this.match + 1n > pending + 1n ? this.match + 1n : pending + 1n;
    } else {
      this.resetState('probe');
      this.next = this.match + 1n;
      this.capPendingCommit();
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1n;
    this.capPendingCommit();
  }

  private capPendingCommit(): void {
    if (this.pendingCommit > this.next - 1n) this.pendingCommit = this.next - 1n;
  }

  becomeSnapshot(index: bigint): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
  }

  /** An ack for `n`; false when it tells nothing new (stale or duplicate). */
  maybeUpdate(n: bigint): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1n) this.next = n + 1n;
    return updated;
  }

  /**
   * A rejection of the MsgApp at `rejected`, with the leader's best guess `matchHint` of where
   * the logs agree. False when the rejection is stale (reordered or duplicated).
   */
  maybeDecrTo(rejected: bigint, matchHint: bigint): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1n;
      this.capPendingCommit();
      return true;
    }
    // Probes go one at a time, so a genuine rejection is of next - 1.
    if (this.next - 1n !== rejected) return false;
    const guess = rejected < matchHint + 1n ? rejected : matchHint + 1n;
    this.next = guess > this.match + 1n ? guess : this.match + 1n;
    this.capPendingCommit();
    this.probeSent = false;
    return true;
  }

  /** Whether sending `commit` could move the follower's commit index (etcd's CanBumpCommit). */
  canBumpCommit(commit: bigint): boolean {
    const cap = commit < this.next - 1n ? commit : this.next - 1n;
    return this.pendingCommit < cap;
  }

  /** Records a MsgApp sent with entries up to `lastIndex` (or none) and commit index `commit`. */
  sentEntries(count: number, lastIndex: bigint, bytes: number, commit: bigint): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1n;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
    // A follower that accepts this message sets its commit to min(commit, last index sent).
    const reach = commit < lastIndex ? commit : lastIndex;
    if (reach > this.pendingCommit) this.pendingCommit = reach;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
