/**
 * Raft's safety properties (Raft paper Figure 3, plus the durability ones a driver can break),
 * checked by the simulator after every event and at every write and apply. Each check is
 * incremental, so checking after every event stays cheap:
 *
 * - Election safety: at most one leader per term, over all servers and the whole run.
 * - Log matching: an (index, term) pair names one entry everywhere, with one predecessor term;
 *   by induction two logs holding the same (index, term) agree on the whole prefix. Checked on
 *   every entry a server makes durable.
 * - Leader completeness: an entry committed in term t is in the log of every leader of a term
 *   above t. An entry's commit term is bounded by the term of the first server seen holding it
 *   committed (the committing leader itself, when it is seen first).
 * - State-machine safety: no two servers apply different entries at one index; each server
 *   applies indexes in order, without gaps (a snapshot restore moves it forward).
 * - Monotonic commit: a server's commit index never decreases while it runs; the commit index
 *   on its disk never decreases; after a restart it is at least what the disk holds.
 * - applied <= committed, in the core and in the state machine.
 * - Votes: the disk's vote for a term never changes to another server.
 * - Persist before send: a vote grant or append acknowledgement leaves only once the disk
 *   holds what it promises.
 * - Committed entries never change: once an index is seen committed with some term, every
 *   server that later sees it committed has that term there.
 */
import type { Entry, Message, RaftNode, Ready, Snapshot } from '../core/index.ts';
import { logTerm, peek } from './core-peek.ts';
import type { SimDisk } from './sim-disk.ts';

/** Thrown (through the simulator's `fail`) with the property that broke. */
export type Fail = (property: string, detail: string) => never;

interface Committed {
  readonly term: bigint;
  /** Lowest term of a server seen holding it committed: it was committed in this term or earlier. */
  at: bigint;
}

/** A live server as the checks see it. */
export interface CheckedServer {
  readonly id: string;
  readonly node: RaftNode;
}

export class RaftInvariants {
  /** term -> the server that led it. */
  readonly leaders = new Map<bigint, string>();
  private readonly entries = new Map<string, { prevTerm: bigint | undefined; data: string }>();
  private readonly committed = new Map<bigint, Committed>();
  private readonly applied = new Map<bigint, string>();
  private readonly lastApplied = new Map<string, bigint>();
  private readonly lastCommit = new Map<string, bigint>();
  /** Membership changes applied (by at least one server). */
  confChangesApplied = 0;
  /** Leaders seen in the current event pass (reused to avoid allocation). */
  private liveLeaders: { id: string; node: RaftNode; term: bigint }[] = [];

  constructor(private readonly fail: Fail) {}

  /** Checks the hard state a server is about to store against what its disk holds. Call before `disk.persist(rd)`. */
  beforePersist(id: string, disk: SimDisk, rd: Ready): void {
    const hs = rd.hardState;
    if (!hs) return;
    const old = disk.hardState();
    if (hs.term < old.term) this.fail('monotonic term', `${id} stores term ${hs.term} over ${old.term}`);
    if (hs.commit < old.commit) this.fail('monotonic commit', `${id} stores commit ${hs.commit} over ${old.commit} on disk`);
    if (hs.term === old.term && old.vote !== undefined && hs.vote !== old.vote) {
      this.fail('one vote per term', `${id} changes its stored vote in term ${hs.term} from ${old.vote} to ${String(hs.vote)}`);
    }
  }

  /**
   * Persist before send: a message that promises something about the sender's durable state
   * must find it on the sender's disk when it leaves. A vote grant needs the vote (or a later
   * term) stored; an append acknowledgement needs the acknowledged index stored. `early` marks
   * a leader's MsgApp sent in parallel with its own write, which the contract allows.
   */
  onSend(id: string, disk: SimDisk, m: Message): void {
    if (m.type === 'MsgVoteResp' && !m.reject) {
      const hs = disk.hardState();
      if (hs.term < m.term || (hs.term === m.term && hs.vote !== m.to)) {
        this.fail('persist before send', `${id} grants its vote in term ${m.term} to ${m.to}, but its disk holds term ${hs.term} vote ${String(hs.vote)}`);
      }
    } else if (m.type === 'MsgAppResp' && !m.reject && m.index !== undefined) {
      if (disk.lastIndex() < m.index) {
        this.fail('persist before send', `${id} acknowledges index ${m.index} to ${m.to}, but its disk ends at ${disk.lastIndex()}`);
      }
    }
  }

  /** Registers the entries a server just made durable (log matching). Call after `disk.persist(rd)`. */
  afterPersist(id: string, disk: SimDisk, rd: Ready): void {
    let prev: bigint | undefined = rd.entries.length > 0 ? disk.term(rd.entries[0]!.index - 1n) : undefined;
    for (const e of rd.entries) {
      const key = `${e.index}/${e.term}`;
      const data = entryKey(e);
      const known = this.entries.get(key);
      if (known === undefined) this.entries.set(key, { prevTerm: prev, data });
      else {
        if (known.data !== data) this.fail('log matching', `${id} stores entry ${key} as ${data}, elsewhere it is ${known.data}`);
        if (prev !== undefined && known.prevTerm !== undefined && prev !== known.prevTerm) {
          this.fail('log matching', `${id} stores entry ${key} after term ${prev}, elsewhere it follows term ${known.prevTerm}`);
        }
        if (known.prevTerm === undefined && prev !== undefined) known.prevTerm = prev;
      }
      prev = e.term;
    }
  }

  /** A server (re)started from its disk; its state machine holds the snapshot. */
  onStart(id: string, node: RaftNode, disk: SimDisk): void {
    const p = peek(node);
    const stored = disk.hardState().commit > disk.snapshotIndex() ? disk.hardState().commit : disk.snapshotIndex();
    if (p.commit < stored) this.fail('monotonic commit', `${id} restarts with commit ${p.commit} below ${stored} on its disk`);
    this.lastCommit.set(id, p.commit);
    this.lastApplied.set(id, disk.snapshotIndex());
  }

  /** A server restored its state machine from a snapshot the leader sent. */
  onRestore(id: string, s: Snapshot): void {
    const last = this.lastApplied.get(id) ?? 0n;
    if (s.index <= last) this.fail('state-machine safety', `${id} restores snapshot ${s.index} at or below applied ${last}`);
    const c = this.committed.get(s.index);
    if (c !== undefined && c.term !== s.term) {
      this.fail('state-machine safety', `${id} restores snapshot ${s.term}/${s.index}; committed entry there has term ${c.term}`);
    }
    this.lastApplied.set(id, s.index);
  }

  /** A server applied committed entry `e`. */
  onApply(id: string, e: Entry): void {
    const last = this.lastApplied.get(id) ?? 0n;
    if (e.index !== last + 1n) this.fail('state-machine safety', `${id} applies ${e.index} after ${last}`);
    this.lastApplied.set(id, e.index);
    const key = `${e.term}/${entryKey(e)}`;
    const prev = this.applied.get(e.index);
    if (prev === undefined) {
      this.applied.set(e.index, key);
      if (e.kind === 'conf') this.confChangesApplied++;
    } else if (prev !== key) this.fail('state-machine safety', `${id} applies ${e.index} as ${key}; another server applied ${prev}`);
  }

  /** After every event: the checks over live servers' protocol state. */
  afterEvent(servers: readonly CheckedServer[]): void {
    // Leaders first, so entries seen committed below are checked against every live leader.
    this.liveLeaders.length = 0;
    for (const s of servers) {
      const p = peek(s.node);
      if (p.role !== 'leader') continue;
      const prev = this.leaders.get(p.term);
      if (prev === undefined) {
        this.leaders.set(p.term, s.id);
        this.checkNewLeader(s.id, s.node, p.term);
      } else if (prev !== s.id) this.fail('election safety', `${prev} and ${s.id} both lead term ${p.term}`);
      this.liveLeaders.push({ id: s.id, node: s.node, term: p.term });
    }
    for (const s of servers) {
      const p = peek(s.node);
      if (p.applied > p.commit) this.fail('applied <= committed', `${s.id} applied ${p.applied} past commit ${p.commit}`);
      const smApplied = this.lastApplied.get(s.id) ?? 0n;
      if (smApplied > p.commit) this.fail('applied <= committed', `${s.id}'s state machine is at ${smApplied}, past commit ${p.commit}`);
      const before = this.lastCommit.get(s.id) ?? 0n;
      if (p.commit < before) this.fail('monotonic commit', `${s.id} commit went from ${before} to ${p.commit}`);
      if (p.commit > before) {
        this.lastCommit.set(s.id, p.commit);
        this.registerCommitted(s.id, s.node, before, p.commit, p.term, p.firstIndex);
      }
    }
  }

  /** Entries (from, to] are committed on `id`, seen in its term `term`. */
  private registerCommitted(id: string, node: RaftNode, from: bigint, to: bigint, term: bigint, firstIndex: bigint): void {
    const lo = from + 1n > firstIndex - 1n ? from + 1n : firstIndex - 1n;
    for (let i = lo; i <= to; i++) {
      const t = logTerm(node, i);
      if (t === undefined) continue;
      const c = this.committed.get(i);
      if (c === undefined) {
        this.committed.set(i, { term: t, at: term });
        // Leaders of later terms must already hold it.
        for (const l of this.liveLeaders) {
          if (l.term > term && l.id !== id) this.checkHolds(l.id, l.node, l.term, i, t);
        }
      } else {
        if (c.term !== t) this.fail('committed entries never change', `${id} has ${t}/${i} committed; it was committed as ${c.term}/${i}`);
        if (term < c.at) c.at = term;
      }
    }
  }

  private checkNewLeader(id: string, node: RaftNode, term: bigint): void {
    for (const [i, c] of this.committed) if (c.at < term) this.checkHolds(id, node, term, i, c.term);
  }

  private checkHolds(id: string, node: RaftNode, leaderTerm: bigint, index: bigint, term: bigint): void {
    const p = peek(node);
    if (index < p.firstIndex - 1n) return; // compacted into its snapshot
    const t = index <= p.lastIndex ? logTerm(node, index) : undefined;
    if (t !== term) {
      this.fail('leader completeness', `${id} leads term ${leaderTerm} without committed entry ${term}/${index} (has ${t === undefined ? 'nothing' : `term ${t}`} there)`);
    }
  }

  /** Distinct terms that had a leader (elections won). */
  get elections(): number {
    return this.leaders.size;
  }

  /** Highest index applied anywhere. */
  get maxApplied(): bigint {
    let m = 0n;
    for (const i of this.applied.keys()) if (i > m) m = i;
    return m;
  }
}

function entryKey(e: Entry): string {
  return `${e.kind}:${e.data.toString('latin1')}`;
}
