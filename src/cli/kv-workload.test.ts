import { describe, expect, it } from 'vitest';
import type { VersionedKvOperation } from '../raft/sim/linearizability-kv.ts';
import { lostWrites } from './kv-workload.ts';

const put = (clientId: number, call: number, ret: number | undefined, value: string): VersionedKvOperation =>
  ret === undefined ? { clientId, call, input: { op: 'put', key: 'k', value } } : { clientId, call, return: ret, input: { op: 'put', key: 'k', value } };

describe('lostWrites', () => {
  it('accepts the last acknowledged write, a concurrent one, or a later indeterminate one', () => {
    const h = [put(1, 0, 10, 'a'), put(2, 20, 30, 'b'), put(3, 25, 40, 'c'), put(4, 35, undefined, 'd')];
    expect(lostWrites(h, new Map([['k', { value: 'b', version: 5 }]]))).toEqual([]); // overlaps c
    expect(lostWrites(h, new Map([['k', { value: 'c', version: 5 }]]))).toEqual([]);
    expect(lostWrites(h, new Map([['k', { value: 'd', version: 5 }]]))).toEqual([]);
  });

  it('flags a final value an acknowledged write strictly followed, a value never written, and a vanished key', () => {
    const h = [put(1, 0, 10, 'a'), put(2, 20, 30, 'b')];
    expect(lostWrites(h, new Map([['k', { value: 'a', version: 5 }]]))).toEqual([expect.stringMatching(/^k: final value "a" .* 1 acknowledged write\(s\) came after it, e\.g\. "b"/)]);
    expect(lostWrites(h, new Map([['k', { value: 'z', version: 5 }]]))).toEqual(['k: final value "z" was never written']);
    expect(lostWrites(h, new Map([['k', null]]))).toEqual(['k: absent at the end after 2 acknowledged writes']);
  });

  it('does not count a failed cas as a write', () => {
    const h: VersionedKvOperation[] = [put(1, 0, 10, 'a'), { clientId: 2, call: 20, return: 30, input: { op: 'cas', key: 'k', expected: 99, value: 'b' }, output: false }];
    expect(lostWrites(h, new Map([['k', { value: 'a', version: 5 }]]))).toEqual([]);
    expect(lostWrites(h, new Map([['k', { value: 'b', version: 6 }]]))).toEqual(['k: final value "b" was never written']);
  });
});
