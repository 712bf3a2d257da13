import { describe, expect, it } from 'vitest';
import { checkHello, checkWelcome, helloFor, negotiateVersion, parseHello } from './handshake.ts';

const local = { nodeId: 's1', clusterId: 'dc1', maxFrameBytes: 1024 };

describe('handshake checks', () => {
  it('accepts a peer of the same cluster with an overlapping version', () => {
    expect(checkHello(local, { ...helloFor(local), node: 's2' })).toEqual({ ok: true, version: 1 });
    expect(checkWelcome(local, 's2', { ...helloFor(local), node: 's2' })).toEqual({ ok: true, version: 1 });
  });

  it('negotiates the highest common version, or none', () => {
    expect(negotiateVersion({ version: 3, minVersion: 1 }, { version: 2, minVersion: 2 })).toBe(2);
    expect(negotiateVersion({ version: 1, minVersion: 1 }, { version: 3, minVersion: 2 })).toBeUndefined();
  });

  const refusals: Array<[string, ReturnType<typeof checkHello>, RegExp]> = [
    ['another cluster', checkHello(local, { ...helloFor(local), node: 's2', cluster: 'dc2' }), /cluster id mismatch: peer is in cluster 'dc2', this node is in 'dc1'/],
    ['our own node id', checkHello(local, helloFor(local)), /own id 's1'/],
    ['a newer protocol only', checkHello(local, { ...helloFor(local), node: 's2', version: 5, minVersion: 4 }), /peer speaks 4..5, this node 1..1/],
    ['someone else at the address', checkWelcome(local, 's2', { ...helloFor(local), node: 's3' }), /expected node 's2' at this address, found 's3'/],
    ['a welcome from another cluster', checkWelcome(local, 's2', { ...helloFor(local), node: 's2', cluster: 'x' }), /cluster id mismatch/],
  ];
  for (const [name, result, reason] of refusals) {
    it(`refuses ${name}`, () => {
      expect(result.ok).toBe(false);
      expect(!result.ok && result.reason).toMatch(reason);
    });
  }

  it('parses only well-formed hellos', () => {
    expect(parseHello(helloFor(local))).toEqual(helloFor(local));
    expect(parseHello(null)).toMatch(/not an object/);
    expect(parseHello({ ...helloFor(local), node: '' })).toMatch(/no node id/);
    expect(parseHello({ ...helloFor(local), version: 1, minVersion: 2 })).toMatch(/protocol versions/);
    expect(parseHello({ ...helloFor(local), maxFrame: 0 })).toMatch(/maxFrame/);
  });
});
