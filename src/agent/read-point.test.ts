/**
 * ServerReads on real RaftDrivers (in-process, InmemTransport, memory storage): the leader's
 * default-mode fast path holds only while its lease does (anchors G2: a leader cut off or
 * paused must not answer from state a new leader may already have overwritten).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { DriverHarness, registerCommand, waitUntil } from '../raft/driver-harness.ts';
import { InmemNetwork, InmemTransport } from '../rpc/inmem-transport.ts';
import { createMemoryStorage } from '../storage/memory-storage.ts';
import { ServerReads } from './read-point.ts';

let harness: DriverHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('ServerReads on a Raft leader', () => {
  it('answers default reads locally while its lease holds, and not once a quorum stopped hearing from it', async () => {
    const net = new InmemNetwork();
    const h = new DriverHarness({
      ids: ['r1', 'r2', 'r3'],
      transport: async (id) => {
        const t = new InmemTransport(net, { nodeId: id, clusterId: 'c1', listen: `inmem-${id}`, tuning: { backoffBaseMs: 10, backoffMaxMs: 50 } });
        await t.start();
        return t;
      },
      storage: async (_id, previous) => previous ?? createMemoryStorage(),
      // Lease 250 ms (RaftNode default: half the 500 ms election timeout); CheckQuorum only
      // deposes the leader at an election-timeout boundary, 500-1000 ms after the cut.
      tuning: { tickMs: 50, electionTicks: 10 },
    });
    harness = h;
    await h.start();
    const leader = await h.leader();
    await leader.log.propose(registerCommand('before'));
    const reads = new ServerReads(leader.transport);
    reads.attach(leader.driver);
    await waitUntil('the leader holds a lease', () => leader.driver.leaseHolds());
    expect(reads.readPoint('leader')).toBeUndefined(); // the fast path: nothing to await
    expect(reads.readPoint('stale')).toBeUndefined();

    for (const other of h.live()) if (other !== leader) net.partition(leader.id, other.id);
    await waitUntil('the lease lapses', () => !leader.driver.leaseHolds(), 2_000);
    // Whether or not CheckQuorum has deposed it yet, a default read now needs a confirmed
    // read point, which a leader cut off from every follower cannot get.
    const point = reads.readPoint('leader');
    expect(point).toBeDefined();
    await expect(point).rejects.toMatchObject({ code: ERR.NO_CLUSTER_LEADER });
  }, 20_000);
});
