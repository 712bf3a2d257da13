/**
 * A client agent's heartbeat to the servers (client-liveness.ts): the signal the leader's
 * failure detector reads, standing in for gossip until src/gossip exists.
 *
 * Every interval the agent tells a server it is alive: the server it streams the catalog from
 * first, else any other it knows, so a beat gets through while one server is down or paused.
 * The servers answer with the interval to keep (it derives from their client_failure_timeout,
 * so only servers carry the setting) and whether they reach the leader; a beat answered by a
 * server cut off from the leader goes on to the next server too. A stream server that misses
 * two beats in a row (no answer, or cut off while another server reaches the leader) is left:
 * a paused server keeps its TCP connection open, and the transport's keepalive would notice
 * only after seconds, while the catalog would stop flowing meanwhile.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.ts';
import { LIVENESS_RPC, livenessTuning } from './client-liveness.ts';

/** What the heartbeat needs of the client's link to the servers (client-link.ts). */
export interface HeartbeatLink {
  /** The server the change stream comes from now. */
  readonly server: string;
  /** One request, stream server first, then each other known server (one try each) until `accept`. */
  requestAnyServer(method: string, body: unknown, timeoutMs: number, accept?: (reply: unknown) => boolean): Promise<{ address: string; reply: unknown }>;
  /** Stops streaming from `address` when it is the stream's server (the link moves on). */
  moveOff(address: string): void;
}

export interface ClientHeartbeatOptions {
  readonly link: HeartbeatLink;
  /** This agent's node name, read at every beat (a reload may rename the node). */
  readonly node: () => string;
  readonly log: Logger;
}

/** Beats the stream server may miss in a row before the agent follows another server. */
const STREAM_MISSES = 2;
/** Bounds on the interval a server may ask for (a bad answer must not stop or flood the beats). */
const MIN_INTERVAL_MS = 50;
const MAX_INTERVAL_MS = 60_000;

const reachesLeader = (reply: unknown) => (reply as { leaderReachable?: unknown } | null)?.leaderReachable !== false;

export class ClientHeartbeat {
  /** Until a server says otherwise: the interval for the default failure timeout. */
  private intervalMs = livenessTuning().heartbeatIntervalMs;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private streamMisses = 0;
  private unanswered = false;

  constructor(private readonly opts: ClientHeartbeatOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops beating. A beat in flight ends with the link's connections (ClientLink.stop). Idempotent. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const started = performance.now();
      await this.beat();
      const wait = this.intervalMs - (performance.now() - started);
      if (wait > 0 && !this.stopped) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  private async beat(): Promise<void> {
    const { link, log } = this.opts;
    const stream = link.server;
    try {
      // Each try may take one interval: a beat that found a live server is never later than the
      // failure timeout allows (five intervals) while one of three servers is paused.
      // A server that answers but cannot reach the leader (cut off from it) cannot pass the beat
      // on: the next one gets it too. During an election none can, and the first answer stands.
      const { address, reply } = await link.requestAnyServer(LIVENESS_RPC.heartbeat, { node: this.opts.node() }, this.intervalMs, reachesLeader);
      const asked = (reply as { intervalMs?: unknown } | null)?.intervalMs;
      if (typeof asked === 'number' && asked >= MIN_INTERVAL_MS && asked <= MAX_INTERVAL_MS) this.intervalMs = asked;
      if (this.unanswered) log.info(`heartbeat: ${address} answers again`);
      this.unanswered = false;
      if (address === stream) this.streamMisses = 0;
      else if (++this.streamMisses >= STREAM_MISSES && !this.stopped) {
        log.warn(`heartbeat: ${stream} missed ${this.streamMisses} heartbeats in a row; following another server`);
        this.streamMisses = 0;
        link.moveOff(stream);
      }
    } catch (err) {
      if (this.stopped) return;
      if (!this.unanswered) log.warn(`heartbeat: no server answered (${(err as Error).message}); the servers mark this agent failed if this lasts`);
      this.unanswered = true;
    }
  }
}
