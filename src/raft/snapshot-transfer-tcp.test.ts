/**
 * InstallSnapshot larger than one frame, end to end: three RaftDrivers over real TCP with the
 * frame limit lowered to 32 KiB, a follower stopped while the leader writes a catalog several
 * frames large and compacts its log past it, then restarted. It can only catch up through the
 * chunked transfer (the snapshot never fits one message), and once through a transfer whose
 * connection is cut midway, which the leader must start over.
 */
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { tcpNetwork } from '../rpc/tcp-transport.ts';
import type { RpcNetwork } from '../rpc/rpc-network.ts';
import { RpcTransport } from '../rpc/rpc-transport.ts';
import type { RequestHandler } from '../rpc/transport.ts';
import { createMemoryStorage } from '../storage/memory-storage.ts';
import { DriverHarness, registerCommand, type TestServer } from './driver-harness.ts';
import { SNAPSHOT_CHUNK_METHOD } from './snapshot-transfer.ts';

const FRAME = 32 * 1024;

/** TCP, remembering its sockets so a test can cut every connection of one server at once. */
class CuttableTcp implements RpcNetwork {
  private readonly sockets = new Set<Duplex>();

  private keep(pipe: Duplex): Duplex {
    this.sockets.add(pipe);
    pipe.once('close', () => this.sockets.delete(pipe));
    return pipe;
  }

  listen: RpcNetwork['listen'] = (address, local, onConnection) => tcpNetwork.listen(address, local, (pipe, remote) => onConnection(this.keep(pipe), remote));

  dial: RpcNetwork['dial'] = async (address, local, timeoutMs) => this.keep(await tcpNetwork.dial(address, local, timeoutMs));

  /** Destroys every open connection, as a network fault would (both ends see it lost). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }
}

interface ChunkSeen {
  readonly offset: number;
  readonly total: number;
}

/** Per server id, its current incarnation's network and the snapshot chunks it accepted. */
const nets = new Map<string, CuttableTcp>();
const chunks = new Map<string, ChunkSeen[]>();
/** Called after a chunk was accepted (before its reply goes out). */
let afterChunk: (id: string, seen: ChunkSeen[]) => void = () => undefined;

const harnesses: DriverHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
  nets.clear();
  chunks.clear();
  afterChunk = () => undefined;
});

function cluster(): DriverHarness {
  const h = new DriverHarness({
    ids: ['s1', 's2', 's3'],
    transport: async (id, listen) => {
      const net = new CuttableTcp();
      nets.set(id, net);
      const t = new RpcTransport({
        nodeId: id,
        clusterId: 'c1',
        listen: listen ?? '127.0.0.1:0',
        network: net,
        tuning: { maxFrameBytes: FRAME, backoffBaseMs: 10, backoffMaxMs: 50 },
      });
      // Watch the chunks this server accepts (the driver registers its handler through this).
      const handle = t.handle.bind(t);
      t.handle = (method: string, handler: RequestHandler) => {
        if (method !== SNAPSHOT_CHUNK_METHOD) return handle(method, handler);
        handle(method, async (body, ctx) => {
          const out = await handler(body, ctx);
          const b = body as ChunkSeen;
          const seen = chunks.get(id) ?? [];
          chunks.set(id, seen);
          seen.push({ offset: b.offset, total: b.total });
          afterChunk(id, seen);
          return out;
        });
      };
      await t.start();
      return t;
    },
    // Memory storage outlives a stopped driver: a restart finds what was "on disk".
    storage: async (_id, previous) => previous ?? createMemoryStorage(),
    // Election timeout 0.5-1 s: no failover wanted here, even on a loaded 2-core box.
    tuning: { tickMs: 20, electionTicks: 25, snapshotThreshold: 50, snapshotIntervalMs: 0, trailingEntries: 10 },
  });
  harnesses.push(h);
  return h;
}

/**
 * 300 registrations (~110 KiB of catalog, several frames), 50 at a time, through `via` (which
 * forwards to the leader); returns the last index. A registration is idempotent, so one whose
 * outcome a leadership change made unknown is simply sent again.
 */
async function writeCatalog(via: TestServer): Promise<bigint> {
  let last = 0n;
  const write = async (name: string): Promise<bigint> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await via.log.propose(registerCommand(name))).index;
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
  };
  for (let i = 0; i < 300; i += 50) {
    const done = await Promise.all(Array.from({ length: 50 }, (_, j) => write(`node-${i + j}`)));
    for (const d of done) if (d > last) last = d;
  }
  return last;
}

/** Stops a follower, writes past a compaction while it is down, restarts it; returns it, the leader and the last index. */
async function followerMissesASnapshot(h: DriverHarness): Promise<{ back: TestServer; leader: TestServer; last: bigint }> {
  await h.start();
  const leader = await h.leader();
  const follower = h.live().find((s) => s.id !== leader.id)!;
  await h.stop(follower.id);
  const last = await writeCatalog(leader);
  await h.allApplied(last);
  const now = await h.leader(h.live());
  // The leader's log no longer reaches back to what the follower has, and its state is too
  // large for one frame: only a chunked InstallSnapshot can bring the follower back.
  expect(now.driver.status().firstIndex).toBeGreaterThan(follower.driver.appliedIndex + 1n);
  expect(DriverHarness.state(now).length).toBeGreaterThan(3 * FRAME);
  const back = await h.restart(follower.id);
  return { back, leader: now, last };
}

describe('InstallSnapshot larger than the frame limit, over TCP', () => {
  it('catches a follower up through a chunked snapshot; its state machine then equals the leader’s', async () => {
    const h = cluster();
    const { back, leader, last } = await followerMissesASnapshot(h);
    await back.driver.waitForApplied(last, 10_000);
    expect(back.restoresAfterStart).toBeGreaterThanOrEqual(1);
    const seen = chunks.get(back.id) ?? [];
    expect(seen.length).toBeGreaterThan(3);
    expect(seen[0]!.offset).toBe(0);
    expect(seen[0]!.total).toBeGreaterThan(FRAME);
    await h.allApplied(last);
    expect(DriverHarness.state(back)).toBe(DriverHarness.state(leader));
  }, 15_000);

  it('starts a transfer over when its connection is cut midway, and completes it', async () => {
    const h = cluster();
    let cuts = 0;
    // The first attempt: cut every connection of the follower after its third chunk.
    afterChunk = (id, seen) => {
      if (cuts === 0 && seen.length === 3) {
        cuts++;
        nets.get(id)!.cut();
      }
    };
    const { back, leader, last } = await followerMissesASnapshot(h);
    await back.driver.waitForApplied(last, 10_000);
    expect(cuts).toBe(1);
    const starts = (chunks.get(back.id) ?? []).filter((c) => c.offset === 0);
    expect(starts.length).toBeGreaterThanOrEqual(2);
    await h.allApplied(last);
    expect(DriverHarness.state(back)).toBe(DriverHarness.state(leader));
  }, 15_000);
});
