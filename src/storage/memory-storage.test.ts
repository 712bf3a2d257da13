import { describe, expect, it } from 'vitest';
import { createMemoryStorage } from './memory-storage.ts';

// The shared contract suite (storage.test.ts) covers behaviour; this file covers what is
// particular to the memory engine.
describe('memory storage', () => {
  it('reports one hook call per append (nothing to share without a sync)', async () => {
    const seen: number[] = [];
    const s = createMemoryStorage({ onLogSync: (i) => seen.push(i.entries) });
    await s.log.append([
      { index: 1n, term: 1n, data: Buffer.from('a') },
      { index: 2n, term: 1n, data: Buffer.from('b') },
    ]);
    await s.log.append([{ index: 3n, term: 1n, data: Buffer.from('c') }]);
    expect(seen).toEqual([2, 1]);
  });

  it('each instance is independent and starts empty', async () => {
    const a = createMemoryStorage();
    await a.log.append([{ index: 1n, term: 1n, data: Buffer.from('a') }]);
    await a.stable.set('k', Buffer.from('v'));
    const b = createMemoryStorage();
    expect(await b.log.lastIndex()).toBe(0n);
    expect(await b.stable.get('k')).toBeUndefined();
  });
});
