/**
 * The simulated network (etcd-io/raft rafttest/network.go, grown up): every message gets a
 * random delay (overlapping delays reorder), may be lost, duplicated or held back for long,
 * and is dropped at delivery time if its link is cut. Partitions are sets of cut directed
 * links, so one-way partitions are as easy as symmetric ones. Clients reach servers over
 * lossy, delayed links that partitions do not cut (they model the servers' own network).
 *
 * The network decides only whether and when; what happens at the receiver (a crashed server
 * drops, a paused one holds) is the cluster's business.
 */
import type { Message } from '../core/index.ts';
import type { KvCommand, KvResult } from './kv-state-machine.ts';
import type { NetworkFaults } from './sim-options.ts';
import type { Prng } from './prng.ts';

/** A client's request to a server. `attempt` numbers tries of one operation (same `seq`). */
export interface ClientRequest {
  readonly client: number;
  readonly seq: number;
  readonly attempt: number;
  readonly cmd: KvCommand;
  /** Serve this get through ReadIndex (not the log). */
  readonly readIndex: boolean;
}

/**
 * A server's answer: `ok` with the command's result; `redirect` when it could not take the
 * request at all (nothing was appended: no effect), with the leader it knows of; `lost` when
 * the entry it appended was replaced by another one (it never takes effect).
 */
export type ClientResponse =
  | { readonly client: number; readonly seq: number; readonly attempt: number; readonly kind: 'ok'; readonly result: KvResult }
  | { readonly client: number; readonly seq: number; readonly attempt: number; readonly kind: 'redirect'; readonly leader?: string }
  | { readonly client: number; readonly seq: number; readonly attempt: number; readonly kind: 'lost' };

export type Payload =
  | { readonly t: 'raft'; readonly msg: Message }
  | { readonly t: 'req'; readonly req: ClientRequest }
  | { readonly t: 'resp'; readonly resp: ClientResponse };

export interface Envelope {
  readonly from: string;
  readonly to: string;
  readonly payload: Payload;
}

/** Counters for the run's statistics. */
export interface NetworkStats {
  sent: number;
  lost: number;
  duplicated: number;
  slow: number;
  cut: number;
}

export class SimNetwork {
  private readonly cutLinks = new Set<string>();
  readonly stats: NetworkStats = { sent: 0, lost: 0, duplicated: 0, slow: 0, cut: 0 };
  faults: NetworkFaults;

  constructor(
    private readonly rng: Prng,
    faults: NetworkFaults,
    /** Schedules delivery of `env` after `delay` µs. */
    private readonly schedule: (delay: number, env: Envelope) => void,
  ) {
    this.faults = faults;
  }

  /** Sends `env`: lost, delivered once or twice, each copy after its own delay. */
  send(env: Envelope): void {
    this.stats.sent++;
    const f = this.faults;
    if (this.rng.chance(f.loss)) {
      this.stats.lost++;
      return;
    }
    const copies = this.rng.chance(f.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let delay = this.rng.between(f.delayMin, f.delayMax);
      if (this.rng.chance(f.slow)) {
        this.stats.slow++;
        delay = this.rng.between(f.delayMax, f.slowMax);
      }
      this.schedule(delay, env);
    }
  }

  /** Whether the link from → to is cut now (only server links are ever cut). */
  isCut(from: string, to: string): boolean {
    return this.cutLinks.size > 0 && this.cutLinks.has(`${from}>${to}`);
  }

  /** Cuts the one-way link from → to. */
  cut(from: string, to: string): void {
    this.cutLinks.add(`${from}>${to}`);
  }

  /** Restores every link. */
  heal(): void {
    this.cutLinks.clear();
  }

  /** The cut links, sorted, for the transcript. */
  describeCuts(): string {
    return [...this.cutLinks].sort().join(' ');
  }
}
