/**
 * A client agent's link to the servers (no -server, with -retry-join): its StateMachine is fed
 * only by a server's change stream (client-feed.ts), and its writes go to a server over RPC.
 *
 * Reads stay local (DESIGN "Reads are local"): the view, DNS and every HTTP read answer from
 * the replica this link keeps. `?stale` reads answer at once; default and `?consistent` reads
 * first ask a server for a read point (read-point.ts: the leader's applied index, or a
 * quorum-confirmed ReadIndex) and wait until the replica has applied that far, so they see
 * every write acknowledged before they started, on any agent, without proxying HTTP. A write
 * resolves once the local replica has applied the write's index (read-your-writes). On a
 * broken stream the link resubscribes from the last applied index, to the next known server,
 * with backoff; it learns the voters' addresses from every subscription, so it can move past
 * the retry_join list. The stream's keepalives carry the server's leader facts, so the
 * replica's X-Consul-KnownLeader / LastContact say what the server knew, and how long ago.
 *
 * Start-up (Consul's retry_join on a client agent): `start()` waits for the first catch-up
 * only while some server may still answer; once every known server failed once it returns
 * and the agent serves DNS and HTTP from the (empty) replica while the link keeps retrying in
 * the background, for ever, or until `retryMax` rounds over the servers failed (`ready`
 * then rejects CLIENT_JOIN_FAILED and the agent exits 1, like Consul's retry_max).
 */
import { performance } from 'node:perf_hooks';
import type { StateMachine } from '../catalog/state-machine.ts';
import type { Command } from '../catalog/types.ts';
import { ERR, HeraldError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ReplicatedLog } from '../raft/local-log.ts';
import { decodeCommand, encodeCommand } from '../raft/command-codec.ts';
import { backoffDelay } from '../rpc/backoff.ts';
import { ChunkAssembler } from '../rpc/byte-chunks.ts';
import { RpcError } from '../rpc/rpc-error.ts';
import { TcpTransport } from '../rpc/tcp-transport.ts';
import { anyPeerAt, type RpcStream } from '../rpc/transport.ts';
import { CLIENT_RPC, type FeedItem } from './client-feed.ts';
import { pluginMismatch } from './server-bootstrap.ts';
import { READ_POINT_METHOD, readPointIndex, readPointTimeout, type LeaderFacts, type ReadPointRequest } from './read-point.ts';
import type { ReadMode } from '../plugin.ts';

export interface ClientLinkOptions {
  /** Unique among the cluster's transports (the agent's node id). */
  readonly nodeId: string;
  readonly datacenter: string;
  /** retry_join: the server RPC addresses tried first. */
  readonly servers: readonly string[];
  readonly sm: StateMachine;
  /** This agent's replicated-state plugins: they must be the servers' (else their state cannot be applied here). */
  readonly plugins: readonly string[];
  readonly log: Logger;
  /** How long a write may wait for a reachable server (default 15 s). */
  readonly writeTimeoutMs?: number;
  /** How long a default or `?consistent` read may take to get its read point and reach it here (default READ_TIMEOUT_MS). */
  readonly readTimeoutMs?: number;
  /** Rounds over the known servers that may fail before the first catch-up; 0 (the default) retries for ever (Consul's retry_max). */
  readonly retryMax?: number;
}

const STREAM_BACKOFF = { baseMs: 50, maxMs: 2_000 };
/** How long a write waits for its entry to reach the local replica before it is acknowledged anyway. */
const APPLY_WAIT_MS = 10_000;
/**
 * A read's budget for its read point and the replica's catch-up. 10 s: above a server's own
 * worst case (an election's wait, then a ReadIndex timing out: read-point.ts), so a server's
 * `No cluster leader` arrives as such rather than as this link's timeout.
 */
export const READ_TIMEOUT_MS = 10_000;
/**
 * A subscription that has delivered nothing after this long counts as a failed attempt (a
 * blackholed address: TCP would wait minutes). A refused or unreachable address fails sooner,
 * on its first dial error. 5 s: the RPC handshake timeout.
 */
const FIRST_ITEM_MS = 5_000;
/** How often a subscription that has delivered nothing yet checks its link for a dial error. */
const DIAL_CHECK_MS = 50;

/** A server's answers that mean "not applied, ask again" (possibly another server). */
const RETRY_REMOTE = new Set<string>([ERR.RAFT_NOT_LEADER, ERR.NO_CLUSTER_LEADER, ERR.RAFT_PROPOSAL_DROPPED, ERR.RAFT_STOPPED]);

interface Waiter {
  readonly index: bigint;
  /** True once the index is applied; false when the link stops first. */
  readonly resolve: (applied: boolean) => void;
}

export class ClientLink implements ReplicatedLog {
  private readonly transport: TcpTransport;
  private readonly servers: string[];
  /** Index into `servers` of the server streamed from (and written to first). */
  private current = 0;
  private applied_ = 0n;
  private waiters: Waiter[] = [];
  private stream?: RpcStream;
  private stopped = false;
  private closed = false;
  private loop?: Promise<void>;
  private caughtUp?: () => void;
  private refused?: (err: Error) => void;
  /** Called when a whole round over the known servers failed (start() stops waiting). */
  private roundFailed?: () => void;
  /**
   * Resolves when the replica first caught up with a server. Rejects SERVER_JOIN_REFUSED (the
   * servers run other replicated-state plugins), CLIENT_JOIN_FAILED (retryMax rounds failed
   * first) or RAFT_STOPPED (stopped first); the link has stopped following then.
   */
  readonly ready: Promise<void>;
  private readonly log: Logger;
  private readonly startedAt = performance.now();
  /** performance.now() of the last keepalive from a server; 0 before any. */
  private heardAt = 0;
  /** The server's leader facts in that keepalive. */
  private serverFacts: LeaderFacts = { knownLeader: false, lastContactMs: 0 };
  /** The leader's server RPC address in that keepalive (`""`: none known). */
  private leaderAddr = '';
  /** The voters' server RPC addresses, as the last subscription reported them. */
  private voters: string[] = [];
  /** A stream is delivering items now. */
  private following = false;

  constructor(private readonly opts: ClientLinkOptions) {
    if (opts.servers.length === 0) throw new HeraldError(ERR.CONFIG_INVALID, 'a client agent needs at least one server address (retry_join)');
    this.servers = [...opts.servers];
    this.log = opts.log;
    this.transport = new TcpTransport({ nodeId: `${opts.nodeId}/client`, clusterId: `herald/${opts.datacenter}`, logger: opts.log.named('rpc') });
    this.ready = new Promise<void>((resolve, reject) => {
      this.caughtUp = resolve;
      this.refused = reject;
    });
    // Handled here so a rejection nobody awaits is not an unhandled one; callers still see it.
    this.ready.catch(() => undefined);
  }

  /**
   * Starts following. Resolves true once the replica has caught up with a server, or false
   * once every known server failed once first (the link keeps trying in the background:
   * `ready` says when it catches up or gives up). Rejects as `ready` does when that comes first
   * (SERVER_JOIN_REFUSED: the servers run other replicated-state plugins).
   */
  async start(): Promise<boolean> {
    const background = new Promise<boolean>((resolve) => (this.roundFailed = () => resolve(false)));
    this.loop = this.follow();
    return Promise.race([this.ready.then(() => true), background]);
  }

  /** The index the local replica has applied up to (entries the state machine refused included). */
  get appliedIndex(): bigint {
    return this.applied_;
  }

  get lastIndex(): bigint {
    return this.applied_;
  }

  /** The server address currently streamed from. */
  get server(): string {
    return this.servers[this.current]!;
  }

  private async follow(): Promise<void> {
    let attempt = 0;
    /** Attempts in a row in which no server delivered anything. */
    let failures = 0;
    while (!this.stopped) {
      const address = this.servers[this.current]!;
      const peer = anyPeerAt(address);
      this.transport.setPeer(peer, address);
      let got = false;
      const abort = new AbortController();
      const watchdog = this.firstItemWatchdog(peer, abort);
      try {
        const stream = this.transport.subscribe(peer, CLIENT_RPC.changes, { fromIndex: this.applied_ }, { signal: abort.signal });
        this.stream = stream;
        let target = -1n;
        /** A snapshot arriving in chunks (FeedItem); dropped with the stream if it breaks midway. */
        let snapshot: { index: bigint; asm: ChunkAssembler } | undefined;
        for await (const raw of stream) {
          const item = raw as FeedItem;
          if (!got) {
            got = true;
            attempt = 0;
            failures = 0;
            watchdog();
            this.following = true;
            this.log.info(`following the catalog from ${address} (from index ${this.applied_})`);
          }
          if (item.kind === 'servers') {
            const mm = pluginMismatch(this.opts.plugins, Array.isArray(item.plugins) ? item.plugins : []);
            if (mm) {
              const list = (xs: string[]) => (xs.length ? xs.join(', ') : '(none)');
              const err = new HeraldError(
                ERR.SERVER_JOIN_REFUSED,
                `server ${address} runs different replicated-state plugins than this client agent: only here: ${list(mm.onlyHere)}; only on the server: ${list(mm.onlyThere)}. Client agents must run the servers' replicated-state plugins`,
              );
              // Before the first catch-up: the agent cannot start. Later (one odd server): try another.
              if (!this.refused) throw err;
              this.log.error(err.message);
              this.stopped = true;
              this.refused(err);
              return;
            }
            for (const a of item.addresses) if (a && !this.servers.includes(a)) this.servers.push(a);
            this.voters = item.addresses.filter((a) => a !== '');
            target = item.lastIndex;
          } else if (item.kind === 'snapshot') {
            if (item.offset === 0) snapshot = { index: item.index, asm: new ChunkAssembler(item.total) };
            if (snapshot?.index !== item.index) throw new HeraldError(ERR.CHUNK_SEQUENCE, `snapshot chunk at offset ${item.offset} for index ${item.index} continues no snapshot`);
            const whole = snapshot.asm.add(item.offset, item.data);
            if (whole) {
              snapshot = undefined;
              this.opts.sm.restore(JSON.parse(whole.toString('utf8')));
              this.advance(item.index);
            }
          } else if (item.kind === 'entry') {
            this.applyEntry(item.index, item.data);
          } else if (item.kind === 'keepalive') {
            this.heardAt = performance.now();
            this.serverFacts = { knownLeader: item.knownLeader === true, lastContactMs: typeof item.lastContactMs === 'number' ? item.lastContactMs : 0 };
            this.leaderAddr = typeof item.leader === 'string' ? item.leader : '';
          }
          if (this.caughtUp && target >= 0n && this.applied_ >= target) {
            this.caughtUp();
            this.caughtUp = undefined;
            this.refused = undefined;
          }
        }
        if (!this.stopped) this.log.warn(`the change stream from ${address} ended; resubscribing`);
      } catch (err) {
        if (this.stopped) break;
        if (abort.signal.aborted && !got) this.log.warn(`cannot reach server ${address} (${abort.signal.reason}); trying the next one`);
        else this.log.warn(`the change stream from ${address} failed: ${(err as Error).message}; resubscribing from index ${this.applied_}`);
      } finally {
        watchdog();
        this.stream = undefined;
        this.following = false;
      }
      if (this.stopped) break;
      if (!got) this.attemptFailed(++failures);
      if (this.stopped) break;
      // The next server; the same one again only after going round the list.
      this.transport.removePeer(peer);
      this.current = (this.current + 1) % this.servers.length;
      // Referenced: while no server answers at start-up nothing else (no socket, no listener
      // yet) keeps the process alive, and Node would exit under the pending start().
      await sleep(backoffDelay(attempt++, { ...STREAM_BACKOFF, random: Math.random }), true);
    }
  }

  private applyEntry(index: bigint, data: Buffer): void {
    if (index <= this.applied_) return;
    const d = decodeCommand(data);
    if (!d.ok) this.log.error(`entry ${index}: ${d.reason}; skipped`);
    else {
      try {
        this.opts.sm.apply(index, d.command);
      } catch {
        // Refused here exactly as on the servers (the state machine is deterministic).
      }
    }
    this.advance(index);
  }

  /**
   * Aborts a subscription that delivers nothing: at once when its link failed to dial (the
   * transport would redial the same address for ever), else after FIRST_ITEM_MS. Returns the
   * function that disarms it (idempotent).
   */
  private firstItemWatchdog(peer: string, abort: AbortController): () => void {
    const since = performance.now();
    const timer = setInterval(() => {
      const state = this.transport.stats().peers[peer];
      if (state?.state === 'backoff') abort.abort(state.lastError ?? 'connection failed');
      else if (performance.now() - since >= FIRST_ITEM_MS) abort.abort(`nothing received in ${FIRST_ITEM_MS} ms`);
    }, DIAL_CHECK_MS);
    // Referenced, like the backoff between attempts: it is all that runs while the link redials.
    return () => clearInterval(timer);
  }

  /**
   * After the `failures`-th attempt in a row that reached no server: a whole round over the
   * known servers ends start()'s wait; before the first catch-up, `retryMax` rounds end the
   * link (Consul's retry_max).
   */
  private attemptFailed(failures: number): void {
    if (failures % this.servers.length !== 0) return;
    this.roundFailed?.();
    this.roundFailed = undefined;
    const rounds = failures / this.servers.length;
    const max = this.opts.retryMax ?? 0;
    if (!this.refused || max <= 0 || rounds < max) return;
    const err = new HeraldError(ERR.CLIENT_JOIN_FAILED, `no server reached after ${rounds} attempts (retry_max ${max}) at ${this.servers.join(', ')}`);
    this.log.error(err.message);
    this.stopped = true;
    this.refused(err);
  }

  private advance(index: bigint): void {
    this.applied_ = index;
    if (this.waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const w of this.waiters) (w.index <= index ? w.resolve(true) : keep.push(w));
    this.waiters = keep;
  }

  /** True once the replica has applied `index`; false after `ms`, or when the link stops first. */
  private waitApplied(index: bigint, ms: number): Promise<boolean> {
    if (this.applied_ >= index) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, Math.max(0, ms));
      const waiter: Waiter = {
        index,
        resolve: (applied) => {
          clearTimeout(t);
          resolve(applied);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * X-Consul-KnownLeader: the server streamed from said, in its last keepalive, that it knows
   * a leader, and that stream is still up. X-Consul-LastContact: how old the replica's news of
   * the leader is: the server's own last contact then plus the keepalive's age (before any,
   * the time since this link started).
   */
  leaderInfo(): LeaderFacts {
    const now = performance.now();
    if (this.heardAt === 0) return { knownLeader: false, lastContactMs: Math.round(now - this.startedAt) };
    return { knownLeader: this.following && this.serverFacts.knownLeader, lastContactMs: Math.round(now - this.heardAt + this.serverFacts.lastContactMs) };
  }

  /** `/v1/status/leader` on a client agent: the leader its server named, while leaderInfo says one is known. */
  leaderAddress(): string {
    return this.leaderInfo().knownLeader ? this.leaderAddr : '';
  }

  /** `/v1/status/peers` on a client agent: the voters its server last reported. */
  peers(): string[] {
    return [...this.voters];
  }

  /**
   * ReadAccess.readPoint: undefined for `stale` (the replica as it is); else asks a server for
   * the read point (read-point.ts) and resolves once the replica has applied it. Rejects with
   * the server's refusal (NO_CLUSTER_LEADER: `No cluster leader`), NO_SERVERS before the first
   * catch-up, or READ_POINT_TIMEOUT when the whole takes longer than the read timeout.
   */
  readPoint(mode: ReadMode): Promise<void> | undefined {
    return mode === 'stale' ? undefined : this.reachReadPoint(mode === 'consistent');
  }

  private async reachReadPoint(consistent: boolean): Promise<void> {
    // Still looking for a first server (start-up went on without one): Consul's client answers so at once.
    if (this.refused) throw new HeraldError(ERR.NO_SERVERS, 'No known Consul servers');
    const ms = this.opts.readTimeoutMs ?? READ_TIMEOUT_MS;
    const deadline = performance.now() + ms;
    const index = readPointIndex(await this.askReadPoint({ consistent }, deadline));
    if (await this.waitApplied(index, deadline - performance.now())) return;
    if (this.stopped) throw new HeraldError(ERR.RAFT_STOPPED, 'client agent stopped');
    throw readPointTimeout("this client agent's replica", index, this.applied_, ms);
  }

  /** The peer to try on `attempt` (0: the server streamed from, then the next ones in turn), its link set up. */
  private serverPeer(attempt: number): string {
    if (this.stopped) throw new HeraldError(ERR.RAFT_STOPPED, 'client agent stopped');
    const address = this.servers[(this.current + attempt) % this.servers.length]!;
    const peer = anyPeerAt(address);
    this.transport.setPeer(peer, address);
    return peer;
  }

  /**
   * `herald.readPoint` to the server streamed from, then the next known ones while a server
   * cannot be reached, until `deadline`. A server's answer, refusals included, is final: it
   * already waited out an election (read-point.ts), and a read must not take a write's budget.
   */
  private async askReadPoint(body: ReadPointRequest, deadline: number): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const peer = this.serverPeer(attempt);
      try {
        return await this.transport.request(peer, READ_POINT_METHOD, body, { timeoutMs: Math.max(1, deadline - performance.now()) });
      } catch (err) {
        if (err instanceof RpcError && err.remoteCode) throw serverRefusal(err);
        if (performance.now() >= deadline) throw new HeraldError(ERR.READ_POINT_TIMEOUT, `no server gave a read point in time: ${(err as Error).message}`, { cause: err });
        if (attempt % this.servers.length === this.servers.length - 1) await sleep(backoffDelay(Math.floor(attempt / this.servers.length), { ...STREAM_BACKOFF, random: Math.random }));
      }
    }
  }

  /**
   * Sends the command to a server (which forwards it to the leader) and resolves once the
   * local replica has applied it. Unreachable servers are skipped in turn until the write
   * timeout; a refusal keeps the server's error code; an indeterminate failure is not retried.
   */
  async propose(command: Command): Promise<{ index: bigint; result?: unknown }> {
    let data: Buffer;
    try {
      data = encodeCommand(command);
    } catch (err) {
      throw new HeraldError(ERR.COMMAND_INVALID, `command cannot be stored: ${(err as Error).message}`);
    }
    // Still looking for a first server: Consul's client answers so at once, not after a timeout.
    if (this.refused) throw new HeraldError(ERR.NO_SERVERS, 'No known Consul servers');
    const deadline = Date.now() + (this.opts.writeTimeoutMs ?? 15_000);
    for (let attempt = 0; ; attempt++) {
      const peer = this.serverPeer(attempt);
      try {
        const reply = (await this.transport.request(peer, CLIENT_RPC.propose, { data }, { timeoutMs: Math.max(1_000, deadline - Date.now()) })) as { index?: unknown; result?: unknown };
        if (typeof reply?.index !== 'bigint') throw new HeraldError(ERR.COMMAND_INVALID, `${CLIENT_RPC.propose}: malformed reply`);
        if (!(await this.waitApplied(reply.index, APPLY_WAIT_MS)) && !this.stopped) {
          this.log.warn(`write at index ${reply.index} not seen on the change stream after ${APPLY_WAIT_MS} ms; acknowledging it anyway`);
        }
        return reply.result === undefined ? { index: reply.index } : { index: reply.index, result: reply.result };
      } catch (err) {
        const retryable = err instanceof RpcError && err.remoteCode !== undefined && RETRY_REMOTE.has(err.remoteCode) && !err.indeterminate;
        if (err instanceof RpcError && err.remoteCode && !(retryable && Date.now() < deadline)) {
          // The server's own refusal (the state machine's, or no leader): its code, its text.
          throw serverRefusal(err);
        }
        if (!(err instanceof RpcError) || (err.indeterminate && !retryable) || Date.now() >= deadline) throw err;
        await sleep(backoffDelay(Math.floor(attempt / this.servers.length), { ...STREAM_BACKOFF, random: Math.random }));
      }
    }
  }

  /**
   * One small idempotent request (the liveness heartbeat, client-heartbeat.ts): to the server
   * streamed from first, then to each other known server in turn, one try of `timeoutMs` each,
   * until an answer that `accept` takes. Resolves with that answer and who gave it (else with
   * the first answer at all); rejects with the last error when no server answered.
   */
  async requestAnyServer(method: string, body: unknown, timeoutMs: number, accept: (reply: unknown) => boolean = () => true): Promise<{ address: string; reply: unknown }> {
    let last: unknown = new HeraldError(ERR.RAFT_STOPPED, 'client agent stopped');
    let first: { address: string; reply: unknown } | undefined;
    const start = this.current;
    for (let i = 0; i < this.servers.length && !this.stopped; i++) {
      const address = this.servers[(start + i) % this.servers.length]!;
      const peer = anyPeerAt(address);
      this.transport.setPeer(peer, address);
      try {
        const reply = await this.transport.request(peer, method, body, { timeoutMs });
        if (accept(reply)) return { address, reply };
        first ??= { address, reply };
      } catch (err) {
        last = err;
      }
    }
    if (first) return first;
    throw last;
  }

  /**
   * Leaves `address` when the change stream comes from it: the stream closes and the link
   * resubscribes to the next server. For a server that stopped answering while its connection
   * stays open (a paused process), which the transport's keepalive notices only after seconds.
   */
  moveOff(address: string): void {
    if (this.stream && this.servers[this.current] === address) this.stream.close();
  }

  /** Stops following and closes the connections. Idempotent. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopped = true;
    this.refused?.(new HeraldError(ERR.RAFT_STOPPED, 'client agent stopped before it caught up with the servers'));
    this.stream?.close();
    for (const w of this.waiters) w.resolve(false);
    this.waiters = [];
    await this.transport.close();
    await this.loop?.catch(() => undefined);
  }
}

/** A server's refusal as the caller's error: the server's code and its text, without the RPC wrapping. */
function serverRefusal(err: RpcError): HeraldError {
  return new HeraldError(err.remoteCode as ErrorCode, err.message.replace(/^request '[^']+' to \S+ failed: /, ''), { cause: err });
}

function sleep(ms: number, keepAlive = false): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (!keepAlive) t.unref();
  });
}
