/**
 * Watching one DNS name on one agent, for the propagation phase (G6): a single UDP socket asks
 * `<name> A` every `intervalMs` (one query outstanding at a time, so a slow server is never
 * flooded), and `next(present)` resolves with the arrival time of the first answer whose state
 * is `present` (an A record in the answer) or not (NXDOMAIN, or NOERROR without an A record).
 *
 * A fixed interval rather than a tight loop: the agents share the server cores with the three
 * servers, and a query storm there would slow the very path being timed. The interval actually
 * achieved (timer slack, reply time) is recorded, since it is the figure's resolution.
 */
import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { RCODE_NAMES } from '../dns/dns-probe.ts';

/** What one answer says about the name. */
export interface DnsState {
  id: number;
  /** True when the answer holds at least one A record. */
  present: boolean;
  /** NOERROR, NXDOMAIN, ... (RFC 1035 §4.1.1). */
  rcode: string;
}

/** Reads a reply; undefined for anything that is not a well-formed DNS response. */
export function dnsState(msg: Buffer): DnsState | undefined {
  if (msg.length < 12 || (msg[2]! & 0x80) === 0) return undefined; // QR=1: a response
  const rcode = msg[3]! & 0x0f;
  let answers: dnsPacket.Answer[];
  try {
    answers = dnsPacket.decode(msg).answers ?? [];
  } catch {
    return undefined;
  }
  return { id: msg.readUInt16BE(0), present: rcode === 0 && answers.some((a) => a.type === 'A'), rcode: RCODE_NAMES[rcode] ?? String(rcode) };
}

/** How long one query may go unanswered before the next is sent (counted as lost). */
const QUERY_TIMEOUT_MS = 500;

interface Waiter {
  present: boolean;
  resolve: (at: { at: number; rcode: string } | undefined) => void;
  timer: NodeJS.Timeout;
}

/** Polls `name` on 127.0.0.1:`port` until closed (see the file comment). */
export class DnsWatcher {
  /** Queries sent, replies matched, queries that timed out. */
  readonly counts = { sent: 0, replies: 0, lost: 0 };
  /** The state of the latest answer, undefined before the first. */
  last: DnsState | undefined;
  private readonly sock: Socket;
  private readonly query: Buffer;
  private id = 0;
  private sentAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private waiters: Waiter[] = [];
  /** Times between consecutive sends since the last `takeGaps()`, in ms. */
  private gaps: number[] = [];
  private closed = false;

  constructor(
    readonly name: string,
    readonly port: number,
    readonly intervalMs: number,
  ) {
    this.query = dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] });
    this.sock = createSocket('udp4');
    this.sock.on('message', (msg) => this.onReply(msg));
    // A send error (e.g. ECONNREFUSED from a previous ICMP) is one lost query, retried on the timer.
    this.sock.on('error', () => undefined);
    this.send();
  }

  /**
   * Resolves with the arrival time (performance.now()) and rcode of the first answer, arriving
   * after this call, whose state is `present`; undefined after `deadlineMs` without one.
   */
  next(present: boolean, deadlineMs: number): Promise<{ at: number; rcode: string } | undefined> {
    return new Promise((resolve) => {
      const w: Waiter = {
        present,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          resolve(undefined);
        }, deadlineMs),
      };
      this.waiters.push(w);
    });
  }

  /** The send-to-send gaps recorded since the previous call (the poll resolution), then forgets them. */
  takeGaps(): number[] {
    const g = this.gaps;
    this.gaps = [];
    return g;
  }

  /** Stops polling; pending `next()` calls resolve undefined. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
    this.waiters = [];
    this.sock.close();
  }

  private send(): void {
    if (this.closed) return;
    this.id = (this.id + 1) & 0xffff;
    this.query.writeUInt16BE(this.id, 0);
    const now = performance.now();
    if (this.counts.sent > 0) this.gaps.push(now - this.sentAt);
    this.sentAt = now;
    this.counts.sent++;
    this.sock.send(this.query, this.port, '127.0.0.1');
    this.timer = setTimeout(() => {
      this.counts.lost++;
      this.send();
    }, QUERY_TIMEOUT_MS);
  }

  private onReply(msg: Buffer): void {
    const at = performance.now();
    const s = dnsState(msg);
    // A late reply to a query already given up on is ignored: the next one is in flight.
    if (this.closed || !s || s.id !== this.id) return;
    clearTimeout(this.timer);
    this.counts.replies++;
    this.last = s;
    const ready = this.waiters.filter((w) => w.present === s.present);
    if (ready.length) {
      this.waiters = this.waiters.filter((w) => w.present !== s.present);
      for (const w of ready) {
        clearTimeout(w.timer);
        w.resolve({ at, rcode: s.rcode });
      }
    }
    this.timer = setTimeout(() => this.send(), Math.max(0, this.sentAt + this.intervalMs - performance.now()));
  }
}
