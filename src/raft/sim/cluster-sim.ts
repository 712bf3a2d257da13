/**
 * The deterministic cluster simulator (anchors §4, §4.1; FoundationDB / TigerBeetle VOPR in
 * miniature): whole Raft clusters, their disks, network and clients in one process, driven by
 * one seeded discrete-event queue. No real time, timers or randomness: a seed (plus the
 * options) replays a run exactly.
 *
 * A run:
 * 1. starts n voters (3 or 5) and one more server outside the configuration (for membership
 *    changes), clients, and the nemesis;
 * 2. fault phase: clients issue KV operations while the nemesis partitions, crashes, pauses,
 *    reconfigures and slows things down; after EVERY event the Raft invariants are checked
 *    (invariants.ts), and every write and apply is checked as it happens;
 * 3. heal: network whole, every server up, no loss; clients finish what they started;
 * 4. liveness: within `convergeWithin` a leader exists whose term's entry is committed and
 *    every voter has applied up to its commit index, with equal state machines;
 * 5. the client history must be linearizable (linearizability-kv.ts, per key).
 *
 * Any failure throws SimulationFailure: `HERALD_SIM_SEED=<seed>`, the property, the event
 * number and virtual time, and a transcript of the last events (describeMessage lines).
 * Exceptions thrown by the core itself (RAFT_INVARIANT, RAFT_DRIVER_MISUSE) are wrapped the
 * same way.
 */
import { ERR, HeraldError } from '../../errors.ts';
import { describeMessage } from '../core/index.ts';
import { logTerm, peek, votersOf } from './core-peek.ts';
import { EventQueue } from './event-queue.ts';
import { RaftInvariants } from './invariants.ts';
import { formatCheckResult } from './linearizability-format.ts';
import { checkVersionedKvHistory, versionedKvModel, type VersionedKvOperation } from './linearizability-kv.ts';
import { Nemesis, type NemesisStats } from './nemesis.ts';
import { Prng } from './prng.ts';
import { ServerProcess, type ServerEnv } from './server-process.ts';
import { SimClient, type ClientEnv } from './sim-client.ts';
import { SimDisk } from './sim-disk.ts';
import { SimNetwork, type Envelope, type NetworkStats } from './sim-network.ts';
import type { SimOptions } from './sim-options.ts';

/** What a finished run reports. */
export interface SimResult {
  readonly seed: number;
  readonly servers: number;
  readonly events: number;
  /** Virtual time at the end, µs. */
  readonly virtualTime: number;
  /** Distinct terms that had a leader. */
  readonly elections: number;
  readonly maxApplied: bigint;
  readonly nemesis: NemesisStats;
  readonly network: NetworkStats;
  readonly snapshotsTaken: number;
  readonly snapshotsInstalled: number;
  readonly writesLanded: number;
  readonly writesLost: number;
  readonly readsServed: number;
  readonly confChangesApplied: number;
  readonly ops: { readonly ok: number; readonly indeterminate: number; readonly failed: number; readonly retries: number };
  readonly historyLength: number;
  readonly checkerSteps: number;
}

/** A run broke something; the message starts with `HERALD_SIM_SEED=<seed>`. */
export class SimulationFailure extends HeraldError {
  constructor(
    readonly seed: number,
    readonly property: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(ERR.RAFT_SIM_FAILURE, message, options);
    this.name = 'SimulationFailure';
  }
}

interface SimEvent {
  readonly label: string | Envelope;
  readonly run: () => void;
}

interface Logged {
  n: number;
  time: number;
  label: string | Envelope;
}

/** Search budget for the checker: deterministic (steps, not time), far above what these histories need. */
const CHECKER_MAX_STEPS = 5_000_000;

/** Runs one simulation; returns its statistics or throws SimulationFailure. */
export function runSimulation(options: SimOptions): SimResult {
  return new ClusterSim(options).run();
}

class ClusterSim {
  private now = 0;
  private events = 0;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly ring: Logged[] = [];
  private readonly rng: Prng;
  private readonly servers: ServerProcess[] = [];
  private readonly byId = new Map<string, ServerProcess>();
  private readonly clients: SimClient[] = [];
  private readonly history: VersionedKvOperation[] = [];
  private readonly network: SimNetwork;
  private readonly checks: RaftInvariants;
  private readonly nemesis: Nemesis;
  private readonly counters = { snapshotsTaken: 0, snapshotsInstalled: 0, writesLanded: 0, writesLost: 0, readsServed: 0 };
  private readonly serverIds: string[];
  private converged = false;
  private phase: 'faults' | 'converging' = 'faults';
  private checkerSteps = 0;

  constructor(private readonly o: SimOptions) {
    this.rng = new Prng(o.seed);
    this.checks = new RaftInvariants((property, detail) => this.fail(property, detail));
    this.network = new SimNetwork(this.rng.fork('network'), o.net, (delay, env) => this.push(delay, { label: env, run: () => this.deliver(env) }));
    const n = o.servers;
    const voters = Array.from({ length: n }, (_, i) => String(i + 1));
    this.serverIds = [...voters, String(n + 1)];
    const serverEnv: ServerEnv = {
      options: o,
      checks: this.checks,
      now: () => this.now,
      schedule: (delay, label, run) => this.push(delay, { label, run }),
      sendRaft: (msgs) => {
        for (const m of msgs) {
          if (o.checkSends) this.checks.onSend(m.from, this.byId.get(m.from)!.disk, m);
          this.network.send({ from: m.from, to: m.to, payload: { t: 'raft', msg: m } });
        }
      },
      reply: (from, resp) => this.network.send({ from, to: `c${resp.client}`, payload: { t: 'resp', resp } }),
      count: (what) => this.counters[what]++,
      fail: (property, detail) => this.fail(property, detail),
    };
    for (const id of this.serverIds) {
      // The extra server starts outside the configuration: it cannot campaign until added.
      const disk = new SimDisk(id === String(n + 1) ? [] : voters, o.diskFault);
      const s = new ServerProcess(id, disk, this.rng.fork(`server-${id}`), serverEnv);
      this.servers.push(s);
      this.byId.set(id, s);
    }
    const clientEnv: ClientEnv = {
      options: o,
      now: () => this.now,
      schedule: (delay, label, run) => this.push(delay, { label, run }),
      send: (to, req) => this.network.send({ from: `c${req.client}`, to, payload: { t: 'req', req } }),
      servers: () => this.serverIds,
    };
    for (let i = 1; i <= o.clients; i++) this.clients.push(new SimClient(i, this.rng.fork(`client-${i}`), clientEnv, this.history));
    this.nemesis = new Nemesis(this.rng.fork('nemesis'), o.faults, {
      servers: this.servers,
      initialVoters: n,
      network: this.network,
      now: () => this.now,
      schedule: (delay, label, run) => this.push(delay, { label, run }),
    });
  }

  run(): SimResult {
    const o = this.o;
    try {
      const phases = this.rng.fork('tick-phases');
      for (const s of this.servers) {
        s.start();
        this.scheduleTick(s, phases.between(1, o.tick));
      }
      for (const c of this.clients) c.begin();
      this.nemesis.start();
      this.push(o.faultPhase, { label: 'heal everything', run: () => this.heal() });
      while (!this.converged) {
        const next = this.queue.pop();
        if (next === undefined) this.fail('liveness', 'the event queue ran dry');
        this.now = next.time;
        this.events++;
        this.log(next.event.label);
        next.event.run();
        this.checks.afterEvent(this.liveServers());
      }
    } catch (err) {
      if (err instanceof SimulationFailure) throw err;
      // The core (or the simulator) threw: report it with the seed and the transcript.
      const e = err as Error;
      const code = err instanceof HeraldError ? `${err.code}: ` : '';
      this.fail('no exception', `${code}${e.message}\n${e.stack ?? ''}`, err);
    }
    this.checkHistory();
    return this.result();
  }

  // ---- events --------------------------------------------------------------------------

  private push(delay: number, event: SimEvent): void {
    this.queue.push(this.now + delay, event);
  }

  private scheduleTick(s: ServerProcess, delay: number): void {
    const label = `tick ${s.id}`;
    const run = () => {
      s.tick();
      this.push(this.o.tick, { label, run });
    };
    this.push(delay, { label, run });
  }

  private deliver(env: Envelope): void {
    const p = env.payload;
    if (p.t === 'resp') {
      this.clients[p.resp.client - 1]?.receive(p.resp);
      return;
    }
    const s = this.byId.get(env.to);
    if (!s) return;
    if (p.t === 'raft') {
      if (this.network.isCut(env.from, env.to)) {
        this.network.stats.cut++;
        return;
      }
      s.receive(p.msg);
    } else s.request(p.req);
  }

  private liveServers(): { id: string; node: NonNullable<ServerProcess['node']> }[] {
    const out: { id: string; node: NonNullable<ServerProcess['node']> }[] = [];
    for (const s of this.servers) if (s.node !== undefined) out.push({ id: s.id, node: s.node });
    return out;
  }

  // ---- heal and converge ---------------------------------------------------------------

  private heal(): void {
    this.phase = 'converging';
    this.nemesis.stop();
    this.nemesis.healAll();
    this.network.faults = { ...this.o.net, loss: 0, duplicate: 0, slow: 0 };
    for (const c of this.clients) c.stop();
    const deadline = this.now + this.o.convergeWithin;
    const poll = () => {
      if (this.isConverged()) {
        this.converged = true;
        return;
      }
      if (this.now >= deadline) this.fail('liveness', `no convergence ${this.o.convergeWithin / 1000} ms after healing: ${this.describeServers()}`);
      this.push(20_000, { label: 'converged?', run: poll });
    };
    this.push(20_000, { label: 'converged?', run: poll });
  }

  /**
   * A leader whose commit index is an entry of its own term, every voter of its configuration
   * up and applied to that index with the same state, and no client still waiting.
   */
  private isConverged(): boolean {
    if (this.clients.some((c) => c.busy)) return false;
    let leader: ServerProcess | undefined;
    let term = -1n;
    for (const s of this.servers) {
      if (s.state !== 'up') return false;
      const p = peek(s.node!);
      if (p.role === 'leader' && p.term > term) {
        leader = s;
        term = p.term;
      }
    }
    if (!leader) return false;
    const lp = peek(leader.node!);
    if (logTerm(leader.node!, lp.commit) !== lp.term || lp.applied !== lp.commit) return false;
    const voters = votersOf(leader.node!);
    for (const v of voters) {
      const s = this.byId.get(v)!;
      const p = peek(s.node!);
      if (p.applied !== lp.commit || p.term !== lp.term || s.sm!.applied !== lp.commit) return false;
    }
    const prints = new Set(voters.map((v) => this.byId.get(v)!.sm!.fingerprint()));
    if (prints.size !== 1) this.fail('state-machine convergence', `voters ${voters.join(',')} applied up to ${lp.commit} but their states differ`);
    return true;
  }

  private describeServers(): string {
    return this.servers
      .map((s) => {
        if (!s.node) return `${s.id}:${s.state}`;
        const p = peek(s.node);
        return `${s.id}:${s.state} ${p.role} term=${p.term} commit=${p.commit} applied=${p.applied} last=${p.lastIndex} voters=${votersOf(s.node).join(',')}`;
      })
      .join('; ');
  }

  // ---- linearizability -----------------------------------------------------------------

  private checkHistory(): void {
    let result;
    try {
      result = checkVersionedKvHistory(this.history, { maxSteps: CHECKER_MAX_STEPS });
    } catch (err) {
      this.fail('linearizability', `the checker refused the history: ${(err as Error).message}`, err, false);
    }
    if (result.ok === true) {
      this.checkerSteps = result.steps;
      return;
    }
    this.fail('linearizability', formatCheckResult(versionedKvModel, result), undefined, false);
  }

  // ---- reporting -----------------------------------------------------------------------

  private log(label: string | Envelope): void {
    const cap = this.o.transcriptLength;
    if (cap <= 0) return;
    if (this.ring.length < cap) this.ring.push({ n: this.events, time: this.now, label });
    else {
      const slot = this.ring[(this.events - 1) % cap]!;
      slot.n = this.events;
      slot.time = this.now;
      slot.label = label;
    }
  }

  private transcript(): string {
    const lines = this.ring
      .slice()
      .sort((a, b) => a.n - b.n)
      .map((l) => `  #${l.n} t=${(l.time / 1000).toFixed(3)}ms ${describeLabel(l.label)}`);
    return lines.join('\n');
  }

  private fail(property: string, detail: string, cause?: unknown, withTranscript = true): never {
    const o = this.o;
    const head =
      `HERALD_SIM_SEED=${o.seed} (servers=${o.servers}): ${property} violated at event #${this.events} ` +
      `(t=${(this.now / 1000).toFixed(3)}ms, ${this.phase})`;
    const body = withTranscript ? `${detail}\nservers: ${this.describeServers()}\nlast ${this.ring.length} events:\n${this.transcript()}` : detail;
    throw new SimulationFailure(o.seed, property, `${head}: ${body}`, cause !== undefined ? { cause } : undefined);
  }

  private result(): SimResult {
    const ops = { ok: 0, indeterminate: 0, failed: 0, retries: 0 };
    for (const c of this.clients) {
      ops.ok += c.stats.ok;
      ops.indeterminate += c.stats.indeterminate;
      ops.failed += c.stats.failed;
      ops.retries += c.stats.retries;
    }
    return {
      seed: this.o.seed,
      servers: this.o.servers,
      events: this.events,
      virtualTime: this.now,
      elections: this.checks.elections,
      maxApplied: this.checks.maxApplied,
      nemesis: { ...this.nemesis.stats },
      network: { ...this.network.stats },
      ...this.counters,
      confChangesApplied: this.checks.confChangesApplied,
      ops,
      historyLength: this.history.length,
      checkerSteps: this.checkerSteps,
    };
  }
}

function describeLabel(label: string | Envelope): string {
  if (typeof label === 'string') return label;
  const p = label.payload;
  switch (p.t) {
    case 'raft':
      return describeMessage(p.msg);
    case 'req': {
      const r = p.req;
      return `${label.from}->${label.to} request #${r.seq}.${r.attempt} ${JSON.stringify(r.cmd)}${r.cmd.op === 'get' && r.readIndex ? ' (ReadIndex)' : ''}`;
    }
    case 'resp': {
      const r = p.resp;
      const what = r.kind === 'ok' ? `ok ${JSON.stringify(r.result)}` : r.kind === 'redirect' ? `redirect leader=${r.leader ?? '-'}` : 'lost';
      return `${label.from}->${label.to} answer #${r.seq}.${r.attempt} ${what}`;
    }
  }
}
