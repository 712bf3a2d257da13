import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../rpc/value-codec.ts';
import type { Message } from './core/index.ts';
import { decodePeersEntry, decodeSnapshotData, encodePeersEntry, encodeSnapshotData, isDriverEntry } from './peer-book.ts';
import { fromWire, toWire } from './raft-wire.ts';
import { Ticker } from './ticker.ts';

describe('raft messages on the transport', () => {
  const app: Message = {
    type: 'MsgApp',
    from: 'a',
    to: 'b',
    term: 3n,
    index: 7n,
    logTerm: 2n,
    commit: 6n,
    entries: [{ index: 8n, term: 3n, kind: 'normal', data: Buffer.from([1, 2, 3]) }],
  };

  it('round-trips through the value codec', () => {
    expect(fromWire('a', decodeValue(encodeValue(toWire(app))))).toEqual(app);
    const snap: Message = { type: 'MsgSnap', from: 'a', to: 'b', term: 3n, snapshot: { index: 9n, term: 3n, voters: ['a', 'b'], data: Buffer.from('s') } };
    expect(fromWire('a', decodeValue(encodeValue(toWire(snap))))).toEqual(snap);
  });

  it('drops what is not a well-formed Raft message, or claims another sender', () => {
    const bad: unknown[] = [
      'hello',
      { raft: { ...app, type: 'MsgNope' } },
      { raft: { ...app, term: 3 } },
      { raft: { ...app, entries: [{ index: 8n, term: 3n, kind: 'weird', data: Buffer.alloc(0) }] } },
      { raft: { ...app, entries: [{ index: 8n, term: 3n, kind: 'normal', data: 'text' }] } },
      { raft: { ...app, context: 5 } },
      { raft: { type: 'MsgSnap', from: 'a', to: 'b', term: 1n, snapshot: { index: 1n, term: 1n, voters: [1], data: Buffer.alloc(0) } } },
    ];
    for (const v of bad) expect(fromWire('a', v)).toBeUndefined();
    expect(fromWire('c', toWire(app))).toBeUndefined();
  });
});

describe('peer book encoding', () => {
  it('driver entries and snapshot envelopes round-trip; application commands are not driver entries', () => {
    const e = encodePeersEntry({ a: '127.0.0.1:1', b: '127.0.0.1:2' });
    expect(isDriverEntry(e)).toBe(true);
    expect(isDriverEntry(Buffer.from([1, 2]))).toBe(false);
    expect(decodePeersEntry(e)).toEqual({ a: '127.0.0.1:1', b: '127.0.0.1:2' });
    const env = encodeSnapshotData({ a: 'x' }, Buffer.from('{"state":1}'));
    const back = decodeSnapshotData(env);
    expect(back.peers).toEqual({ a: 'x' });
    expect(back.app.toString()).toBe('{"state":1}');
    expect(() => decodeSnapshotData(Buffer.from('{"state":1}'))).toThrow(/raft snapshot/);
  });
});

describe('Ticker', () => {
  it('delivers the ticks a monotonic clock says are due, capped after a long stall', () => {
    let now = 0;
    const got: number[] = [];
    const t = new Ticker(50, 8, (n) => got.push(n), () => now);
    t.start();
    now = 49;
    expect(t.catchUp()).toBe(0);
    now = 160; // 3 due
    expect(t.catchUp()).toBe(3);
    now = 160 + 50 * 100; // a 5 s stall: 100 due, 8 delivered, the rest skipped
    expect(t.catchUp()).toBe(8);
    now += 50;
    expect(t.catchUp()).toBe(1);
    expect(got).toEqual([3, 8, 1]);
    t.stop();
    now += 500;
    expect(t.catchUp()).toBe(0);
  });
});
