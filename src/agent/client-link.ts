/**
 * A client agent's link to the servers (no -server, with -retry-join): its StateMachine is fed
 * only by a server's change stream (client-feed.ts), and its writes go to a server over RPC.
 *
 * Reads stay local (DESIGN "Reads are local"): the view, DNS and default HTTP reads use the
 * replica this link keeps. A write resolves once the local replica has applied the write's
 * index, so the caller's next local read sees it (read-your-writes). On a broken stream the
 * link resubscribes from the last applied index, to the next known server, with backoff; it
 * learns the voters' addresses from every subscription, so it can move past the retry_join list.
 */
import type { StateMachine } from '../catalog/state-machine.ts';
import type { Command } from '../catalog/types.ts';
import { ERR, HeraldError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ReplicatedLog } from '../raft/local-log.ts';
import { decodeCommand, encodeCommand } from '../raft/command-codec.ts';
import { backoffDelay } from '../rpc/backoff.ts';
import { RpcError } from '../rpc/rpc-error.ts';
import { TcpTransport } from '../rpc/tcp-transport.ts';
import { anyPeerAt, type RpcStream } from '../rpc/transport.ts';
import { CLIENT_RPC, type FeedItem } from './client-feed.ts';
import { pluginMismatch } from './server-bootstrap.ts';

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
}

const STREAM_BACKOFF = { baseMs: 50, maxMs: 2_000 };
/** How long a write waits for its entry to reach the local replica before it is acknowledged anyway. */
const APPLY_WAIT_MS = 10_000;

/** A server's answers that mean "not applied, ask again" (possibly another server). */
const RETRY_REMOTE = new Set<string>([ERR.RAFT_NOT_LEADER, ERR.NO_CLUSTER_LEADER, ERR.RAFT_PROPOSAL_DROPPED, ERR.RAFT_STOPPED]);

interface Waiter {
  readonly index: bigint;
  readonly resolve: () => void;
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
  private readonly log: Logger;

  constructor(private readonly opts: ClientLinkOptions) {
    if (opts.servers.length === 0) throw new HeraldError(ERR.CONFIG_INVALID, 'a client agent needs at least one server address (retry_join)');
    this.servers = [...opts.servers];
    this.log = opts.log;
    this.transport = new TcpTransport({ nodeId: `${opts.nodeId}/client`, clusterId: `herald/${opts.datacenter}`, logger: opts.log.named('rpc') });
  }

  /**
   * Starts following; resolves once the replica has caught up with a server (waits as long as
   * that takes). Rejects SERVER_JOIN_REFUSED when the servers run other replicated-state plugins.
   */
  async start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      this.caughtUp = resolve;
      this.refused = reject;
    });
    this.loop = this.follow();
    await ready;
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
    while (!this.stopped) {
      const address = this.servers[this.current]!;
      const peer = anyPeerAt(address);
      this.transport.setPeer(peer, address);
      let got = false;
      try {
        const stream = this.transport.subscribe(peer, CLIENT_RPC.changes, { fromIndex: this.applied_ });
        this.stream = stream;
        let target = -1n;
        for await (const raw of stream) {
          const item = raw as FeedItem;
          if (!got) {
            got = true;
            attempt = 0;
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
            target = item.lastIndex;
          } else if (item.kind === 'snapshot') {
            this.opts.sm.restore(JSON.parse(item.state));
            this.advance(item.index);
          } else if (item.kind === 'entry') {
            this.applyEntry(item.index, item.data);
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
        this.log.warn(`the change stream from ${address} failed: ${(err as Error).message}; resubscribing from index ${this.applied_}`);
      } finally {
        this.stream = undefined;
      }
      if (this.stopped) break;
      // The next server; the same one again only after going round the list.
      this.transport.removePeer(peer);
      this.current = (this.current + 1) % this.servers.length;
      await sleep(backoffDelay(attempt++, { ...STREAM_BACKOFF, random: Math.random }));
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

  private advance(index: bigint): void {
    this.applied_ = index;
    if (this.waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const w of this.waiters) (w.index <= index ? w.resolve() : keep.push(w));
    this.waiters = keep;
  }

  private waitApplied(index: bigint, ms: number): Promise<void> {
    if (this.applied_ >= index) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        this.log.warn(`write at index ${index} not seen on the change stream after ${ms} ms; acknowledging it anyway`);
        resolve();
      }, ms);
      const waiter: Waiter = {
        index,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
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
    const deadline = Date.now() + (this.opts.writeTimeoutMs ?? 15_000);
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new HeraldError(ERR.RAFT_STOPPED, 'client agent stopped');
      const address = this.servers[(this.current + attempt) % this.servers.length]!;
      const peer = anyPeerAt(address);
      this.transport.setPeer(peer, address);
      try {
        const reply = (await this.transport.request(peer, CLIENT_RPC.propose, { data }, { timeoutMs: Math.max(1_000, deadline - Date.now()) })) as { index?: unknown; result?: unknown };
        if (typeof reply?.index !== 'bigint') throw new HeraldError(ERR.COMMAND_INVALID, `${CLIENT_RPC.propose}: malformed reply`);
        await this.waitApplied(reply.index, APPLY_WAIT_MS);
        return reply.result === undefined ? { index: reply.index } : { index: reply.index, result: reply.result };
      } catch (err) {
        const retryable = err instanceof RpcError && err.remoteCode !== undefined && RETRY_REMOTE.has(err.remoteCode) && !err.indeterminate;
        if (err instanceof RpcError && err.remoteCode && !(retryable && Date.now() < deadline)) {
          // The server's own refusal (the state machine's, or no leader): its code, its text.
          throw new HeraldError(err.remoteCode as ErrorCode, err.message.replace(/^request '[^']+' to \S+ failed: /, ''), { cause: err });
        }
        if (!(err instanceof RpcError) || (err.indeterminate && !retryable) || Date.now() >= deadline) throw err;
        await sleep(backoffDelay(Math.floor(attempt / this.servers.length), { ...STREAM_BACKOFF, random: Math.random }));
      }
    }
  }

  /** Stops following and closes the connections. Idempotent. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopped = true;
    this.refused?.(new HeraldError(ERR.RAFT_STOPPED, 'client agent stopped before it caught up with the servers'));
    this.stream?.close();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
    await this.transport.close();
    await this.loop?.catch(() => undefined);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
