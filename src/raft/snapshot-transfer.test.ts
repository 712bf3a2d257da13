/**
 * SnapshotTransfer's rules, without sockets: a fake transport hands each chunk request either
 * straight to the follower's handler (loopback) or to the test, which answers it by hand.
 * The end-to-end case over TCP is snapshot-transfer-tcp.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { silentLogger } from '../log.ts';
import type { RequestHandler, Transport } from '../rpc/transport.ts';
import type { Message } from './core/index.ts';
import { toWire } from './raft-wire.ts';
import { SNAPSHOT_CHUNK_METHOD, SnapshotTransfer } from './snapshot-transfer.ts';

/** 64-byte frames: chunks of 32 bytes. */
const FRAME = 64;

interface SentRequest {
  readonly to: string;
  readonly body: { offset: number; total: number; data: Buffer };
  readonly signal: AbortSignal | undefined;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface Side {
  readonly transfer: SnapshotTransfer;
  readonly delivered: Message[];
  readonly reports: Array<[string, boolean]>;
  readonly requests: SentRequest[];
  /** The chunk handler this side registered (the follower's end). */
  chunk(body: unknown, from: string): unknown;
  term: bigint;
  leading: boolean;
}

/** One server's SnapshotTransfer; `route` answers its requests (default: the test does, by hand). */
function side(id: string, route?: (r: SentRequest) => void): Side {
  let handler: RequestHandler | undefined;
  const s = { delivered: [], reports: [], requests: [], term: 1n, leading: true } as unknown as Side;
  const transport = {
    localId: id,
    maxFrameBytes: FRAME,
    handle: (method: string, h: RequestHandler) => {
      if (method === SNAPSHOT_CHUNK_METHOD) handler = h;
    },
    request: (to: string, _method: string, body: unknown, opts?: { signal?: AbortSignal }) =>
      new Promise((resolve, reject) => {
        const r: SentRequest = { to, body: body as SentRequest['body'], signal: opts?.signal, resolve, reject };
        s.requests.push(r);
        route?.(r);
      }),
  } as unknown as Transport;
  Object.assign(s, {
    transfer: new SnapshotTransfer({
      transport,
      logger: silentLogger,
      leading: () => s.leading,
      currentTerm: () => s.term,
      deliver: (m) => s.delivered.push(m),
      reported: (to, ok) => s.reports.push([to, ok]),
    }),
    chunk: (body: unknown, from: string) => handler!(body, { from, signal: new AbortController().signal }),
  });
  return s;
}

function msgSnap(from: string, to: string, term: bigint, index: bigint, bytes: number): Message {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 7 + Number(index)) & 0xff;
  return { type: 'MsgSnap', from, to, term, snapshot: { index, term, voters: ['l1', 'l2', 'f'], data } };
}

/** The body of chunk `[offset, offset+len)` of `m`, as a leader sends it. */
function chunkBody(m: Message, offset: number, len = 32): unknown {
  const data = m.snapshot!.data;
  return { snap: toWire({ ...m, snapshot: { ...m.snapshot!, data: Buffer.alloc(0) } }), offset, total: data.length, data: data.subarray(offset, offset + len) };
}

/** Settles microtasks until `cond` holds (the sender's loop runs on promise callbacks). */
async function settle(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

/** What a refused chunk throws. */
const refused = expect.objectContaining({ code: ERR.CHUNK_SEQUENCE });

describe('SnapshotTransfer', () => {
  it('sends a snapshot larger than a chunk in order; the follower steps the whole MsgSnap once; the leader reports success', async () => {
    const f = side('f');
    const l = side('l1', (r) => {
      try {
        r.resolve(f.chunk(r.body, 'l1'));
      } catch (err) {
        r.reject(err);
      }
    });
    const m = msgSnap('l1', 'f', 3n, 40n, 100);
    expect(l.transfer.send(m)).toBe(true);
    await settle(() => l.reports.length > 0);
    expect(l.requests.map((r) => r.body.offset)).toEqual([0, 32, 64, 96]);
    expect(l.reports).toEqual([['f', true]]);
    expect(f.delivered).toHaveLength(1);
    expect(f.delivered[0]).toEqual(m);
  });

  it('leaves a snapshot that fits one chunk to the one-message path', () => {
    const l = side('l1');
    expect(l.transfer.send(msgSnap('l1', 'f', 3n, 40n, 32))).toBe(false);
    expect(l.transfer.send({ type: 'MsgApp', from: 'l1', to: 'f', term: 3n })).toBe(false);
    expect(l.requests).toHaveLength(0);
  });

  it('runs one transfer per follower: the same snapshot again is not restarted, a newer one replaces it', async () => {
    const l = side('l1');
    const first = msgSnap('l1', 'f', 3n, 40n, 100);
    l.transfer.send(first);
    l.transfer.send(first);
    expect(l.requests).toHaveLength(1);
    // Another follower is a transfer of its own.
    l.transfer.send(msgSnap('l1', 'g', 3n, 40n, 100));
    expect(l.requests.map((r) => r.to)).toEqual(['f', 'g']);

    l.transfer.send(msgSnap('l1', 'f', 3n, 90n, 100));
    expect(l.requests[0]!.signal?.aborted).toBe(true);
    l.requests[0]!.reject(new Error('cancelled'));
    expect(l.requests.map((r) => [r.to, r.body.offset])).toEqual([
      ['f', 0],
      ['g', 0],
      ['f', 0],
    ]);
    // The newer transfer's failure is reported; the replaced one says nothing.
    l.requests[2]!.reject(new Error('connection lost'));
    await settle(() => l.reports.length > 0);
    expect(l.reports).toEqual([['f', false]]);
    // Over: the same snapshot may be sent again.
    l.transfer.send(msgSnap('l1', 'f', 3n, 90n, 100));
    expect(l.requests).toHaveLength(4);
  });

  it('stops a transfer once this server no longer leads, and reports it failed', async () => {
    const l = side('l1');
    l.transfer.send(msgSnap('l1', 'f', 3n, 40n, 100));
    l.leading = false;
    l.requests[0]!.resolve(null);
    await settle(() => l.reports.length > 0);
    expect(l.requests).toHaveLength(1);
    expect(l.reports).toEqual([['f', false]]);
  });

  it('keeps one partial transfer: refuses gaps, strays and stale terms; a restart or a new leader drops it', () => {
    const f = side('f');
    const a = msgSnap('l1', 'f', 3n, 40n, 100);
    // A continuation with nothing started, then a gap.
    expect(() => f.chunk(chunkBody(a, 32), 'l1')).toThrow(refused);
    f.chunk(chunkBody(a, 0), 'l1');
    expect(() => f.chunk(chunkBody(a, 64), 'l1')).toThrow(refused);
    // The gap killed the partial: even the right next chunk is refused now.
    expect(() => f.chunk(chunkBody(a, 32), 'l1')).toThrow(refused);

    // A new leader's transfer replaces the old one's partial; the old one cannot continue.
    f.chunk(chunkBody(a, 0), 'l1');
    const b = msgSnap('l2', 'f', 4n, 50n, 100);
    f.chunk(chunkBody(b, 0), 'l2');
    expect(() => f.chunk(chunkBody(a, 32), 'l1')).toThrow(refused);
    // Learning of another leader drops the partial.
    f.chunk(chunkBody(b, 32), 'l2');
    f.transfer.leaderChanged('l3');
    expect(() => f.chunk(chunkBody(b, 64), 'l2')).toThrow(refused);

    // A term older than this server's.
    f.term = 5n;
    expect(() => f.chunk(chunkBody(b, 0), 'l2')).toThrow(refused);
    // Malformed: not a MsgSnap, or one for another server, or a sender the handshake did not name.
    expect(() => f.chunk({ snap: toWire({ type: 'MsgApp', from: 'l2', to: 'f', term: 5n }), offset: 0, total: 1, data: Buffer.alloc(1) }, 'l2')).toThrow(refused);
    expect(() => f.chunk(chunkBody(msgSnap('l2', 'g', 5n, 50n, 100), 0), 'l2')).toThrow(refused);
    expect(() => f.chunk(chunkBody(msgSnap('l2', 'f', 5n, 50n, 100), 0), 'l9')).toThrow(refused);
    expect(f.delivered).toHaveLength(0);

    // A current transfer still completes after all that.
    const c = msgSnap('l2', 'f', 5n, 60n, 100);
    for (const off of [0, 32, 64, 96]) f.chunk(chunkBody(c, off), 'l2');
    expect(f.delivered).toEqual([c]);
  });
});
