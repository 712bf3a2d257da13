/**
 * readPoint's choice of mode (pure: a fake ReadAccess records what it is asked). The read
 * points themselves are tested on real drivers (src/agent/read-point.test.ts) and real
 * processes (src/agent/client-agents.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ReadAccess, ReadMode } from '../../src/plugin.ts';
import { parseReadOptions } from './read-options.ts';
import { readPoint, type HttpApiDeps } from './route-context.ts';

function depsWith(lastContactMs: number): { deps: HttpApiDeps; asked: ReadMode[] } {
  const asked: ReadMode[] = [];
  const reads: ReadAccess = {
    leaderInfo: () => ({ knownLeader: true, lastContactMs }),
    readPoint: (mode) => {
      asked.push(mode);
      return undefined;
    },
    leaderAddress: () => '127.0.0.1:8300',
    peers: () => ['127.0.0.1:8300'],
  };
  return { deps: { core: { reads: () => reads } } as unknown as HttpApiDeps, asked };
}

describe('readPoint', () => {
  it('re-asks the leader when a ?max_stale read finds the local state older than allowed', () => {
    const fresh = depsWith(200);
    const ok = parseReadOptions({ max_stale: '1s' });
    readPoint(fresh.deps, ok);
    expect(fresh.asked).toEqual(['stale']);
    expect(ok.consistency).toBe('stale');

    const old = depsWith(5_000);
    const tooOld = parseReadOptions({ max_stale: '1s' });
    readPoint(old.deps, tooOld);
    expect(old.asked).toEqual(['leader']);
    // X-Consul-Effective-Consistency follows what was done.
    expect(tooOld.consistency).toBe('leader');
  });

  it('leaves plain ?stale, the default and ?consistent as asked, however old the state', () => {
    const old = depsWith(60_000);
    for (const q of [{ stale: '' }, {}, { consistent: '' }]) readPoint(old.deps, parseReadOptions(q));
    expect(old.asked).toEqual(['stale', 'leader', 'consistent']);
  });

  it('asks nothing on a single node (no read access)', () => {
    const deps = { core: {} } as unknown as HttpApiDeps;
    expect(readPoint(deps, parseReadOptions({ max_stale: '1s' }))).toBeUndefined();
  });
});
