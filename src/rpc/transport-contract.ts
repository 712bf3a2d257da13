/**
 * The Transport contract as one vitest suite, run over every implementation
 * (tcp-transport.test.ts, inmem-transport.test.ts): what the Raft driver and agents may rely
 * on, whichever transport they get. Raw peers (a handshake written by hand, garbage, a peer that
 * stops reading) are built on the implementation's own RpcNetwork, so they exercise the same
 * byte path as real peers. Test support only; not used by production code.
 */
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ERR, HeraldError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { encodeFrame, FrameDecoder, FrameType, NO_VALUE } from './frame-codec.ts';
import { helloFor } from './handshake.ts';
import type { RpcTuning } from './rpc-config.ts';
import { RpcError } from './rpc-error.ts';
import type { RpcNetwork } from './rpc-network.ts';
import type { RpcTransport, RpcTransportOptions } from './rpc-transport.ts';
import { decodeValue } from './value-codec.ts';

/** How the suite gets transports of one implementation. */
export interface TransportHarness {
  readonly name: string;
  /** A fresh network for one test (TCP: the one TCP network; inmem: a new InmemNetwork). */
  newNetwork(): RpcNetwork;
  /** A listen address for node `id` on `network` (TCP: 127.0.0.1:0). */
  listenAddress(id: string): string;
  /** A transport of this implementation on `network`. */
  create(network: RpcNetwork, opts: Omit<RpcTransportOptions, 'network'>): RpcTransport;
}

/** Fast timings so reconnect and keepalive tests take milliseconds. */
export const TEST_TUNING: Partial<RpcTuning> = {
  backoffBaseMs: 10,
  backoffMaxMs: 50,
  handshakeTimeoutMs: 2_000,
  requestTimeoutMs: 5_000,
};

/** Polls `cond` until true; throws naming `what` after `ms`. For conditions with no event. */
export async function waitFor(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The rejection of `p` (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RpcError);
    return err as RpcError;
  }
  throw new Error('expected a rejection');
}

/** One end of a connection driven by hand: reads frames, writes frames. */
export class RawEnd {
  readonly frames: Array<{ type: number; payload: Buffer }> = [];
  closed = false;
  private readonly decoder = new FrameDecoder(1 << 24);
  private waiter: (() => void) | undefined;

  constructor(readonly pipe: Duplex) {
    pipe.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (type, payload) => this.frames.push({ type, payload: Buffer.from(payload) }));
      } catch {
        pipe.destroy();
      }
      this.waiter?.();
    });
    pipe.on('error', () => undefined);
    pipe.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  /** The next frame of `type` (earlier frames of other types are skipped). */
  async next(type: number, ms = 5_000): Promise<unknown> {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i >= 0) {
        const [f] = this.frames.splice(0, i + 1).slice(-1);
        const skip = f!.type >= FrameType.REQUEST ? 4 : 0; // request and stream frames start with an id
        return f!.payload.length <= skip ? undefined : decodeValue(f!.payload, skip);
      }
      if (this.closed) throw new Error(`closed before a frame of type ${type} arrived`);
      if (Date.now() > end) throw new Error(`no frame of type ${type} within ${ms} ms`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 20);
      });
    }
  }

  write(type: number, value: unknown = NO_VALUE, id?: number): void {
    this.pipe.write(encodeFrame(type, id, value, 1 << 24));
  }

  async whenClosed(ms = 5_000): Promise<void> {
    await waitFor('raw connection to close', () => this.closed, ms);
  }
}

/**
 * A hand-driven listener on `network`: accepts connections and, when `as` is given, answers
 * the handshake as node `as` of `cluster` before handing the connection to `onOpen`.
 */
export async function rawListener(
  network: RpcNetwork,
  address: string,
  opts: { as?: string; cluster?: string; onOpen?: (end: RawEnd) => void } = {},
): Promise<{ address: string; ends: RawEnd[]; close(): Promise<void> }> {
  const ends: RawEnd[] = [];
  const listener = await network.listen(address, { localId: opts.as ?? 'raw' }, (pipe) => {
    const end = new RawEnd(pipe);
    ends.push(end);
    if (opts.as === undefined) return;
    void end.next(FrameType.HELLO).then(
      () => {
        end.write(FrameType.WELCOME, helloFor({ nodeId: opts.as!, clusterId: opts.cluster ?? 'c1', maxFrameBytes: 1 << 24 }));
        opts.onOpen?.(end);
      },
      () => undefined,
    );
  });
  return {
    address: listener.address,
    ends,
    close: async () => {
      for (const e of ends) e.pipe.destroy();
      await listener.close();
    },
  };
}

export function describeTransportContract(h: TransportHarness): void {
  describe(`Transport contract: ${h.name}`, () => {
    let network: RpcNetwork;
    const cleanups: Array<() => Promise<void>> = [];

    beforeEach(() => {
      network = h.newNetwork();
    });

    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function node(
      id: string,
      opts: { cluster?: string; tuning?: Partial<RpcTuning>; listen?: string | null; log?: string[] } = {},
    ): Promise<RpcTransport> {
      const log = opts.log;
      const t = h.create(network, {
        logger: log ? createLogger('info', 'rpc', (line) => log.push(line)) : undefined,
        nodeId: id,
        clusterId: opts.cluster ?? 'c1',
        listen: opts.listen === null ? undefined : (opts.listen ?? h.listenAddress(id)),
        tuning: { ...TEST_TUNING, ...opts.tuning },
        random: () => 0.5,
      });
      cleanups.push(() => t.close());
      await t.start();
      return t;
    }

    /** `a` keeps a link to `b`, open. */
    async function link(a: RpcTransport, b: RpcTransport): Promise<void> {
      a.setPeer(b.localId, b.address!);
      await waitFor(`${a.localId} → ${b.localId} open`, () => a.isConnected(b.localId));
    }

    async function rawDial(address: string): Promise<RawEnd> {
      const end = new RawEnd(await network.dial(address, { localId: 'raw' }, 2_000));
      cleanups.push(async () => {
        end.pipe.destroy();
      });
      return end;
    }

    describe('one-way messages', () => {
      it('delivers in order with the sender id, values intact', async () => {
        const a = await node('a');
        const b = await node('b');
        const got: Array<[string, unknown]> = [];
        b.onMessage((from, m) => got.push([from, m]));
        await link(a, b);
        const sent = Array.from({ length: 200 }, (_, i) => ({ seq: i, term: (1n << 64n) - 1n, data: Buffer.from([i % 256]), empty: Buffer.alloc(0) }));
        for (const m of sent) expect(a.send('b', m)).toBe(true);
        await waitFor('200 messages', () => got.length === 200);
        expect(got.map(([from]) => from)).toEqual(Array(200).fill('a'));
        expect(got.map(([, m]) => m)).toEqual(sent);
      });

      it('drops (false, counted) when the peer is unknown or down', async () => {
        const a = await node('a');
        expect(a.send('nobody', { x: 1 })).toBe(false);
        a.setPeer('ghost', h.listenAddress('ghost').replace(/:0$/, ':1'));
        expect(a.send('ghost', { x: 1 })).toBe(false);
        expect(a.stats().messagesDropped).toBe(2);
        expect(a.stats().messagesDroppedBackpressure).toBe(0);
      });

      it('reaches a peer over the connection it opened to us (no setPeer needed)', async () => {
        const server = await node('server');
        const agent = await node('agent', { listen: null });
        const got: unknown[] = [];
        agent.onMessage((_from, m) => got.push(m));
        await link(agent, server);
        await waitFor('inbound connection on server', () => server.isConnected('agent'));
        expect(server.send('agent', 'hello agent')).toBe(true);
        await waitFor('message at agent', () => got.length === 1);
        expect(got).toEqual(['hello agent']);
      });

      it('throws for a message that can never be sent', async () => {
        const a = await node('a', { tuning: { maxFrameBytes: 1024 } });
        expect(() => a.send('b', { f: () => 1 })).toThrow(expect.objectContaining({ code: ERR.RPC_ENCODE }));
        expect(() => a.send('b', Buffer.alloc(2048))).toThrow(expect.objectContaining({ code: ERR.RPC_FRAME_TOO_LARGE }));
      });

      it('an exception in a message handler does not hurt the connection', async () => {
        const a = await node('a');
        const b = await node('b');
        const got: unknown[] = [];
        b.onMessage(() => {
          throw new Error('handler bug');
        });
        b.onMessage((_f, m) => got.push(m));
        await link(a, b);
        a.send('b', 1);
        a.send('b', 2);
        await waitFor('both messages', () => got.length === 2);
        expect(a.isConnected('b')).toBe(true);
      });
    });

    describe('handshake', () => {
      it('refuses another cluster; the dialer records the reason and keeps retrying', async () => {
        const aLog: string[] = [];
        const bLog: string[] = [];
        const a = await node('a', { cluster: 'east', log: aLog });
        const b = await node('b', { cluster: 'west', log: bLog });
        a.setPeer('b', b.address!);
        await waitFor('two refusals', () => b.stats().handshakesRefused >= 2 && a.stats().handshakesRefused >= 2);
        const peer = a.stats().peers['b']!;
        expect(peer.lastError).toContain("refused the handshake: cluster id mismatch: peer is in cluster 'east', this node is in 'west'");
        expect(a.isConnected('b')).toBe(false);
        expect(b.isConnected('a')).toBe(false);
        // Both sides log why, the dialer once per distinct reason rather than once per retry.
        expect(bLog.filter((l) => l.includes("[WARN] rpc: refused connection from") && l.includes("(node 'a', cluster 'east')"))).toHaveLength(
          b.stats().handshakesRefused,
        );
        expect(aLog.filter((l) => l.includes('[WARN] rpc: b:') && l.includes('refused the handshake: cluster id mismatch'))).toHaveLength(1);
      });

      it('refuses to talk to a different node than the one expected at an address', async () => {
        const a = await node('a');
        const cLog: string[] = [];
        const c = await node('c', { log: cLog });
        a.setPeer('b', c.address!);
        await waitFor('a refusal', () => (a.stats().peers['b']?.lastError ?? '').includes("expected node 'b'"));
        expect(a.stats().peers['b']!.lastError).toContain("found 'c'");
        expect(a.isConnected('b')).toBe(false);
        // The GOODBYE carries the reason, so the listener can log it too.
        await waitFor('c logs the refusal', () => cLog.some((l) => l.includes("a closed the connection (HERALD_ERR_RPC_HANDSHAKE_REFUSED)")));
        expect(cLog.find((l) => l.includes('closed the connection'))).toContain("expected node 'b' at this address, found 'c'");
      });

      it('refuses a protocol version it does not speak, and its own node id, with a REFUSE frame', async () => {
        const b = await node('b');
        const raw = await rawDial(b.address!);
        raw.write(FrameType.HELLO, { node: 'x', cluster: 'c1', version: 99, minVersion: 99, maxFrame: 1024 });
        const refusal = (await raw.next(FrameType.REFUSE)) as { code: string; reason: string };
        expect(refusal.code).toBe(ERR.RPC_HANDSHAKE_REFUSED);
        expect(refusal.reason).toMatch(/protocol version mismatch: peer speaks 99..99, this node 1..1/);
        await raw.whenClosed();

        const self = await rawDial(b.address!);
        self.write(FrameType.HELLO, { node: 'b', cluster: 'c1', version: 1, minVersion: 1, maxFrame: 1024 });
        expect(((await self.next(FrameType.REFUSE)) as { reason: string }).reason).toMatch(/own id 'b'/);
        await self.whenClosed();
        expect(b.stats().handshakesRefused).toBe(2);
      });

      it('closes a connection that never says HELLO', async () => {
        const b = await node('b', { tuning: { handshakeTimeoutMs: 100 } });
        const raw = await rawDial(b.address!);
        await raw.whenClosed();
      });
    });

    describe('bad bytes', () => {
      it('garbage closes that connection cleanly; the node keeps serving others', async () => {
        const b = await node('b');
        b.handle('ping', () => 'pong');
        for (const junk of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from([0, 0, 0, 3, 0x77, 1, 2, 3]), Buffer.alloc(64, 0xff)]) {
          const raw = await rawDial(b.address!);
          raw.pipe.write(junk);
          await raw.whenClosed();
        }
        expect(b.stats().protocolErrors).toBe(3);
        const a = await node('a');
        await link(a, b);
        expect(await a.request('b', 'ping', null)).toBe('pong');
      });

      it('an oversize frame after the handshake gets a GOODBYE naming the limit, then the close', async () => {
        const b = await node('b', { tuning: { maxFrameBytes: 4096 } });
        const raw = await rawDial(b.address!);
        raw.write(FrameType.HELLO, { node: 'x', cluster: 'c1', version: 1, minVersion: 1, maxFrame: 1 << 20 });
        const welcome = (await raw.next(FrameType.WELCOME)) as { maxFrame: number };
        expect(welcome.maxFrame).toBe(4096);
        const header = Buffer.alloc(5);
        header.writeUInt32BE(1_000_000, 0);
        header[4] = FrameType.MESSAGE;
        raw.pipe.write(header);
        const bye = (await raw.next(FrameType.GOODBYE)) as { code: string; reason: string };
        expect(bye.code).toBe(ERR.RPC_FRAME_TOO_LARGE);
        expect(bye.reason).toMatch(/1000000 bytes; the limit is 4096/);
        await raw.whenClosed();
      });

      it('a malformed value in a well-formed frame closes the connection', async () => {
        const b = await node('b');
        const raw = await rawDial(b.address!);
        raw.write(FrameType.HELLO, { node: 'x', cluster: 'c1', version: 1, minVersion: 1, maxFrame: 1 << 20 });
        await raw.next(FrameType.WELCOME);
        raw.pipe.write(Buffer.from([0, 0, 0, 2, FrameType.MESSAGE, 0x09, 0x7f]));
        const bye = (await raw.next(FrameType.GOODBYE)) as { code: string };
        expect(bye.code).toBe(ERR.RPC_PROTOCOL);
        await raw.whenClosed();
      });
    });

    describe('requests', () => {
      it('multiplexes many concurrent requests, answers matched by id', async () => {
        const a = await node('a');
        const b = await node('b');
        b.handle('square', async (body) => {
          const n = body as bigint;
          // Answer out of order.
          if (n % 3n === 0n) await new Promise((r) => setTimeout(r, 1));
          return { n, sq: n * n };
        });
        await link(a, b);
        const ns = Array.from({ length: 500 }, (_, i) => BigInt(i));
        const out = await Promise.all(ns.map((n) => a.request('b', 'square', n)));
        expect(out).toEqual(ns.map((n) => ({ n, sq: n * n })));
      });

      it('a request made before the link is up waits for it', async () => {
        const a = await node('a');
        const b = await node('b');
        b.handle('echo', (body) => body);
        a.setPeer('b', b.address!);
        expect(await a.request('b', 'echo', Buffer.from('early'))).toEqual(Buffer.from('early'));
      });

      it('the handler sees the sender; handler failures come back with their code', async () => {
        const a = await node('a');
        const b = await node('b');
        b.handle('whoami', (_b, ctx) => ctx.from);
        b.handle('refuse', () => {
          throw new HeraldError(ERR.KV_REFUSED, 'invalid session');
        });
        b.handle('crash', async () => {
          throw new TypeError('boom');
        });
        await link(a, b);
        expect(await a.request('b', 'whoami', null)).toBe('a');
        const refused = await rejection(a.request('b', 'refuse', null));
        expect(refused.code).toBe(ERR.RPC_REMOTE);
        expect(refused.remoteCode).toBe(ERR.KV_REFUSED);
        expect(refused.message).toContain('invalid session');
        expect(refused.indeterminate).toBe(false);
        const crashed = await rejection(a.request('b', 'crash', null));
        expect(crashed.remoteCode).toBe(ERR.RPC_REMOTE);
        expect(crashed.message).toContain('boom');
      });

      it('unknown method, unknown peer', async () => {
        const a = await node('a');
        const b = await node('b');
        await link(a, b);
        expect((await rejection(a.request('b', 'nope', null))).code).toBe(ERR.RPC_UNKNOWN_METHOD);
        expect((await rejection(a.request('zed', 'nope', null))).code).toBe(ERR.RPC_NO_ROUTE);
      });

      it('times out (indeterminate) and cancels the handler on the peer', async () => {
        const a = await node('a');
        const b = await node('b');
        let aborted = false;
        b.handle('hang', (_body, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => ((aborted = true), resolve(null)))));
        await link(a, b);
        const t0 = Date.now();
        const err = await rejection(a.request('b', 'hang', null, { timeoutMs: 100 }));
        expect(err.code).toBe(ERR.RPC_TIMEOUT);
        expect(err.indeterminate).toBe(true);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
        await waitFor('handler signal aborted', () => aborted);
      });

      it('a request that never got a connection times out as not sent', async () => {
        const a = await node('a');
        a.setPeer('b', h.listenAddress('b').replace(/:0$/, ':1'));
        const err = await rejection(a.request('b', 'x', null, { timeoutMs: 50 }));
        expect(err.code).toBe(ERR.RPC_TIMEOUT);
        expect(err.indeterminate).toBe(false);
        expect(err.message).toContain('before it could be sent');
      });

      it('an AbortSignal cancels', async () => {
        const a = await node('a');
        const b = await node('b');
        b.handle('hang', () => new Promise(() => undefined));
        await link(a, b);
        const ac = new AbortController();
        const p = a.request('b', 'hang', null, { signal: ac.signal });
        ac.abort();
        expect((await rejection(p)).code).toBe(ERR.RPC_CANCELLED);
        expect((await rejection(a.request('b', 'hang', null, { signal: ac.signal }))).code).toBe(ERR.RPC_CANCELLED);
      });

      it('a body over the peer’s frame limit is refused locally; the connection stays up', async () => {
        const a = await node('a', { tuning: { maxFrameBytes: 1 << 20 } });
        const b = await node('b', { tuning: { maxFrameBytes: 8192 } });
        b.handle('echo', (x) => x);
        await link(a, b);
        const err = await rejection(a.request('b', 'echo', Buffer.alloc(20_000)));
        expect(err.code).toBe(ERR.RPC_FRAME_TOO_LARGE);
        expect(await a.request('b', 'echo', 'small')).toBe('small');
      });

      it('a response that cannot be encoded comes back as an error, not silence', async () => {
        const a = await node('a');
        const b = await node('b');
        b.handle('bad', () => new Map());
        await link(a, b);
        const err = await rejection(a.request('b', 'bad', null));
        expect(err.remoteCode).toBe(ERR.RPC_ENCODE);
      });

      it('a peer over its in-flight limit answers RPC_BACKPRESSURE (not executed)', async () => {
        const a = await node('a');
        const b = await node('b', { tuning: { maxInflightRequests: 2 } });
        const release: Array<() => void> = [];
        b.handle('hold', () => new Promise<void>((r) => release.push(r)));
        await link(a, b);
        const held = [a.request('b', 'hold', null), a.request('b', 'hold', null)];
        const err = await rejection(a.request('b', 'hold', null));
        expect(err.code).toBe(ERR.RPC_BACKPRESSURE);
        expect(err.indeterminate).toBe(false);
        for (const r of release) r();
        await Promise.all(held);
      });
    });

    describe('connection loss and reconnect', () => {
      it('in-flight requests reject as connection lost; the link reconnects to the restarted peer', async () => {
        const a = await node('a');
        let b = await node('b');
        const address = b.address!;
        b.handle('hang', () => new Promise(() => undefined));
        await link(a, b);
        // Settled while b closes, before the loop below awaits them: catch now, check after.
        const inflight = [a.request('b', 'hang', 1), a.request('b', 'hang', 2)].map((p) => p.then(() => undefined, (e: unknown) => e));
        await waitFor('requests reach b', () => b.stats().framesIn >= 3);
        await b.close();
        for (const p of inflight) {
          const err = (await p) as RpcError;
          expect(err).toBeInstanceOf(RpcError);
          expect(err.code).toBe(ERR.RPC_CONNECTION_LOST);
          expect(err.indeterminate).toBe(true);
          expect(err.message).toMatch(/connection to b lost .*may or may not have been executed/);
        }
        await waitFor('a notices', () => !a.isConnected('b'));
        expect(a.send('b', 'while down')).toBe(false);
        const queued = a.request('b', 'echo', 'queued while down');

        b = await node('b', { listen: address });
        b.handle('echo', (x) => x);
        expect(await queued).toBe('queued while down');
        expect(await a.request('b', 'echo', 'after')).toBe('after');
        expect(a.stats().reconnects).toBe(1);
        expect(a.stats().peers['b']!.state).toBe('open');
      });

      it('removePeer and close reject what waits with RPC_CLOSED', async () => {
        const a = await node('a');
        a.setPeer('b', h.listenAddress('b').replace(/:0$/, ':1'));
        const waiting = a.request('b', 'x', null);
        a.removePeer('b');
        expect((await rejection(waiting)).code).toBe(ERR.RPC_CLOSED);
        await a.close();
        expect((await rejection(a.request('b', 'x', null))).code).toBe(ERR.RPC_CLOSED);
      });

      it('a peer that goes silent is dropped by the keepalive', async () => {
        const raw = await rawListener(network, h.listenAddress('mute'), { as: 'mute' });
        cleanups.push(() => raw.close());
        const a = await node('a', { tuning: { keepaliveIntervalMs: 50, keepaliveTimeoutMs: 150 } });
        a.setPeer('mute', raw.address);
        await waitFor('open', () => a.isConnected('mute'));
        await waitFor('keepalive drop', () => (a.stats().peers['mute']?.lastError ?? '').includes('nothing received'));
        // It pinged before giving up.
        expect(raw.ends[0]!.frames.some((f) => f.type === FrameType.PING)).toBe(true);
      });

      it('a second connection from the same node replaces the first', async () => {
        const b = await node('b');
        const got: unknown[] = [];
        b.onMessage((_f, m) => got.push(m));
        const first = await rawDial(b.address!);
        first.write(FrameType.HELLO, helloFor({ nodeId: 'x', clusterId: 'c1', maxFrameBytes: 1 << 20 }));
        await first.next(FrameType.WELCOME);
        const second = await rawDial(b.address!);
        second.write(FrameType.HELLO, helloFor({ nodeId: 'x', clusterId: 'c1', maxFrameBytes: 1 << 20 }));
        await second.next(FrameType.WELCOME);
        const bye = (await first.next(FrameType.GOODBYE)) as { reason: string };
        expect(bye.reason).toContain('replaced by a newer connection from x');
        expect(b.send('x', 'to the new one')).toBe(true);
        expect(await second.next(FrameType.MESSAGE)).toBe('to the new one');
      });
    });

    describe('backpressure', () => {
      it('a peer that stops reading: the queue bound holds, messages drop and are counted, requests are refused', async () => {
        const queueBytes = 64 * 1024;
        const stalled = await rawListener(network, h.listenAddress('slow'), { as: 'slow', onOpen: (end) => end.pipe.pause() });
        cleanups.push(() => stalled.close());
        const a = await node('a', { tuning: { queueBytes } });
        a.setPeer('slow', stalled.address);
        await waitFor('open', () => a.isConnected('slow'));

        const msg = { data: Buffer.alloc(16 * 1024, 1) };
        let accepted = 0;
        // Fill whatever the kernel (or pipe) buffers, then our queue, until the first drop.
        for (let i = 0; i < 20_000 && a.send('slow', msg); i++) accepted++;
        expect(a.stats().messagesDroppedBackpressure).toBe(1);
        let dropped = 0;
        for (let i = 0; i < 2_000; i++) if (!a.send('slow', msg)) dropped++;
        expect(dropped).toBe(2_000);
        const s = a.stats();
        expect(s.messagesDroppedBackpressure).toBe(2_001);
        expect(s.messagesDropped).toBe(2_001);
        // Memory stays bounded: the bound, plus one frame, plus the socket's own small buffer.
        expect(s.queuedBytes).toBeLessThanOrEqual(queueBytes + 2 * (16 * 1024 + 64));
        expect(accepted).toBeGreaterThan(0);

        const err = await rejection(a.request('slow', 'x', { big: Buffer.alloc(16 * 1024) }));
        expect(err.code).toBe(ERR.RPC_BACKPRESSURE);
        expect(err.indeterminate).toBe(false);
        expect(a.stats().requestsRejectedBackpressure).toBe(1);
        expect(a.isConnected('slow')).toBe(true);

        // Once the peer reads again, the queue drains and sends succeed.
        stalled.ends[0]!.pipe.resume();
        await waitFor('queue drained', () => a.stats().queuedBytes === 0, 10_000);
        expect(a.send('slow', msg)).toBe(true);
      });
    });

    describe('streams', () => {
      it('a slow consumer paces the producer: never more than the window ahead, every item in order', async () => {
        const a = await node('a');
        const b = await node('b');
        const N = 300;
        const window = 8;
        let produced = 0;
        let consumed = 0;
        let maxLead = 0;
        let fromIndex: unknown;
        b.serveStream('changes', async (params, sink) => {
          fromIndex = (params as { fromIndex: bigint }).fromIndex;
          for (let i = 0; i < N; i++) {
            await sink.write({ index: 100n + BigInt(i) });
            produced++;
            maxLead = Math.max(maxLead, produced - consumed);
          }
        });
        await link(a, b);
        const stream = a.subscribe('b', 'changes', { fromIndex: 100n }, { window });
        const seen: bigint[] = [];
        for await (const item of stream) {
          seen.push((item as { index: bigint }).index);
          consumed++;
          if (consumed % 10 === 0) await new Promise((r) => setTimeout(r, 1));
        }
        expect(fromIndex).toBe(100n);
        expect(seen).toEqual(Array.from({ length: N }, (_, i) => 100n + BigInt(i)));
        expect(maxLead).toBeLessThanOrEqual(window);
        // The producer was held back (it would otherwise run all N ahead).
        expect(maxLead).toBeGreaterThanOrEqual(window / 2);
      });

      it('a subscriber that stops reading holds the producer at the queue bound, whatever its credit', async () => {
        const queueBytes = 64 * 1024;
        const b = await node('b', { tuning: { queueBytes } });
        const item = Buffer.alloc(16 * 1024, 7);
        const N = 2000; // 32 MiB: far more than kernel buffers absorb
        let produced = 0;
        b.serveStream('bulk', async (_p, sink) => {
          for (let i = 0; i < N; i++) {
            await sink.write(item);
            produced++;
          }
        });
        const raw = await rawDial(b.address!);
        raw.write(FrameType.HELLO, helloFor({ nodeId: 'sub', clusterId: 'c1', maxFrameBytes: 1 << 24 }));
        await raw.next(FrameType.WELCOME);
        raw.write(FrameType.SUBSCRIBE, ['bulk', null, 1_000_000], 1);
        await raw.next(FrameType.STREAM_DATA);
        raw.pipe.pause();
        // Only a pushed-back socket lets the queue grow past its high-water mark.
        await waitFor('queue at its bound', () => b.stats().queuedBytes > queueBytes - item.length, 10_000);
        expect(b.stats().queuedBytes).toBeLessThanOrEqual(queueBytes + item.length + 64);
        expect(produced).toBeLessThan(N);
        raw.pipe.resume();
        await waitFor('stream end', () => raw.frames.some((f) => f.type === FrameType.STREAM_END), 10_000);
        expect(produced).toBe(N);
        expect(raw.frames.filter((f) => f.type === FrameType.STREAM_DATA)).toHaveLength(N - 1);
      });

      it('items larger than the queue bound still flow', async () => {
        const a = await node('a');
        const b = await node('b', { tuning: { queueBytes: 32 * 1024 } });
        b.serveStream('big', async (_p, sink) => {
          for (let i = 0; i < 40; i++) await sink.write(Buffer.alloc(40 * 1024, i));
        });
        await link(a, b);
        let n = 0;
        for await (const item of a.subscribe('b', 'big', null, { window: 4 })) {
          expect((item as Buffer).length).toBe(40 * 1024);
          expect((item as Buffer)[0]).toBe(n++);
        }
        expect(n).toBe(40);
      });

      it('the consumer breaking out cancels the producer', async () => {
        const a = await node('a');
        const b = await node('b');
        let stopped = false;
        b.serveStream('forever', async (_p, sink) => {
          try {
            for (let i = 0; ; i++) await sink.write(i);
          } catch {
            stopped = sink.signal.aborted;
          }
        });
        await link(a, b);
        const got: unknown[] = [];
        for await (const item of a.subscribe('b', 'forever', null, { window: 4 })) {
          got.push(item);
          if (got.length === 10) break;
        }
        expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        await waitFor('producer stopped', () => stopped);
      });

      it('producer failure, unknown topic and connection loss end the iteration with errors', async () => {
        const a = await node('a');
        let b = await node('b');
        b.serveStream('fails', async (_p, sink) => {
          await sink.write('one');
          throw new HeraldError(ERR.SNAPSHOT_INVALID, 'cannot read snapshot');
        });
        let producerAborted = false;
        b.serveStream('hangs', async (_p, sink) => {
          await sink.write('first');
          await new Promise((r) => sink.signal.addEventListener('abort', r));
          producerAborted = true;
        });
        await link(a, b);

        const failing = a.subscribe('b', 'fails', null);
        expect((await failing.next()).value).toBe('one');
        const e1 = await rejection(failing.next());
        expect(e1.code).toBe(ERR.RPC_REMOTE);
        expect(e1.remoteCode).toBe(ERR.SNAPSHOT_INVALID);
        expect((await failing.next()).done).toBe(true);

        const unknown = a.subscribe('b', 'nope', null);
        expect((await rejection(unknown.next())).code).toBe(ERR.RPC_UNKNOWN_METHOD);

        const hanging = a.subscribe('b', 'hangs', null);
        expect((await hanging.next()).value).toBe('first');
        const pending = rejection(hanging.next());
        const address = b.address!;
        await b.close();
        expect((await pending).code).toBe(ERR.RPC_CONNECTION_LOST);
        expect(producerAborted).toBe(true);

        // Resubscribing after the peer is back works (the caller resumes from its last index).
        b = await node('b', { listen: address });
        b.serveStream('hangs', async (_p, sink) => sink.write('again'));
        const again = a.subscribe('b', 'hangs', null);
        expect((await again.next()).value).toBe('again');
        expect((await again.next()).done).toBe(true);
      });

      it('an AbortSignal ends a stream with RPC_CANCELLED', async () => {
        const a = await node('a');
        const b = await node('b');
        b.serveStream('slow', async (_p, sink) => {
          await new Promise((r) => sink.signal.addEventListener('abort', r));
        });
        await link(a, b);
        const ac = new AbortController();
        const s = a.subscribe('b', 'slow', null, { signal: ac.signal });
        const p = s.next();
        ac.abort();
        expect((await rejection(p)).code).toBe(ERR.RPC_CANCELLED);
      });
    });

    describe('stats', () => {
      it('counts frames and bytes both ways', async () => {
        const a = await node('a');
        const b = await node('b');
        b.handle('echo', (x) => x);
        await link(a, b);
        const before = a.stats();
        await a.request('b', 'echo', Buffer.alloc(1000));
        const after = a.stats();
        expect(after.framesOut - before.framesOut).toBe(1);
        expect(after.framesIn - before.framesIn).toBe(1);
        expect(after.bytesOut - before.bytesOut).toBeGreaterThan(1000);
        expect(after.bytesIn - before.bytesIn).toBeGreaterThan(1000);
        expect(after.connections).toBe(1);
        expect(b.stats().connections).toBe(1);
      });
    });
  });
}
