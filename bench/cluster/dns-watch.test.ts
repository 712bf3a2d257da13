import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsWatcher, dnsState } from './dns-watch.ts';

const NAME = 'web.service.consul';

/** A reply to `query`: one A record when `present`, else NXDOMAIN (as Herald answers a service with no passing instance). */
function reply(query: Buffer, present: boolean): Buffer {
  const q = dnsPacket.decode(query);
  return dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | (present ? 0 : 3), // rcode 3: NXDOMAIN
    questions: q.questions,
    answers: present ? [{ type: 'A', name: NAME, ttl: 0, data: '127.0.0.1' }] : [],
  });
}

/** A loopback responder whose answer the test switches; `drop` swallows that many queries first. */
async function responder(): Promise<{ sock: Socket; port: number; state: { present: boolean; drop: number; queries: number } }> {
  const sock = createSocket('udp4');
  const state = { present: true, drop: 0, queries: 0 };
  sock.on('message', (msg, rinfo) => {
    state.queries++;
    if (state.drop > 0) {
      state.drop--;
      return;
    }
    sock.send(reply(msg, state.present), rinfo.port, rinfo.address);
  });
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  return { sock, port: sock.address().port, state };
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

describe('DNS watcher', () => {
  it('reads presence from A records and the rcode, and ignores what is not a response', () => {
    const query = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: NAME, class: 'IN' }] });
    expect(dnsState(reply(query, true))).toEqual({ id: 7, present: true, rcode: 'NOERROR' });
    expect(dnsState(reply(query, false))).toEqual({ id: 7, present: false, rcode: 'NXDOMAIN' });
    // NOERROR with an empty answer section is "absent" too.
    const empty = dnsPacket.encode({ type: 'response', id: 8, questions: [{ type: 'A', name: NAME }], answers: [] });
    expect(dnsState(empty)).toEqual({ id: 8, present: false, rcode: 'NOERROR' });
    expect(dnsState(query)).toBeUndefined();
    expect(dnsState(Buffer.from([1, 2, 3]))).toBeUndefined();
  });

  it('resolves next() with the arrival of the first answer in the new state, polling at the interval', async () => {
    const r = await responder();
    const w = new DnsWatcher(NAME, r.port, 2);
    cleanup.push(() => w.close(), () => r.sock.close());
    expect(await w.next(true, 2000)).toMatchObject({ rcode: 'NOERROR' });
    w.takeGaps();
    // No change yet: nothing resolves a wait for the other state.
    expect(await w.next(false, 100)).toBeUndefined();
    const t0 = performance.now();
    r.state.present = false;
    const seen = await w.next(false, 2000);
    expect(seen?.rcode).toBe('NXDOMAIN');
    expect(seen!.at).toBeGreaterThanOrEqual(t0);
    expect(seen!.at - t0).toBeLessThan(200);
    expect(w.last).toMatchObject({ present: false });
    // One query at a time (every one sent was answered, bar the one in flight), and the gaps
    // between them recorded (their size is timer behaviour: the bench reports it, no test judges it).
    const gaps = w.takeGaps();
    expect(gaps.length).toBeGreaterThan(5);
    expect(w.counts.sent - w.counts.replies).toBeLessThanOrEqual(1);
    expect(w.counts.lost).toBe(0);
  });

  it('re-sends a query left unanswered and counts it lost; close() ends pending waits', async () => {
    const r = await responder();
    r.state.drop = 1;
    const w = new DnsWatcher(NAME, r.port, 2);
    cleanup.push(() => w.close(), () => r.sock.close());
    expect(await w.next(true, 2000)).toBeDefined();
    expect(w.counts.lost).toBe(1);
    const pending = w.next(false, 5000);
    w.close();
    expect(await pending).toBeUndefined();
    const sent = r.state.queries;
    await new Promise((res) => setTimeout(res, 20));
    expect(r.state.queries).toBe(sent);
  });
});
