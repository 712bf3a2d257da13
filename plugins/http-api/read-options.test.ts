import { describe, expect, it } from 'vitest';
import { ERR } from '../../src/plugin.ts';
import { checkDatacenter, parseReadOptions } from './read-options.ts';

describe('parseReadOptions (Consul parseConsistency)', () => {
  it.each([
    [{}, 'leader'],
    [{ stale: '' }, 'stale'],
    [{ stale: 'false' }, 'stale'],
    [{ consistent: '1' }, 'consistent'],
    [{ leader: '' }, 'leader'],
    [{ max_stale: '5s' }, 'stale'],
    [{ max_stale: '0s' }, 'leader'],
  ])('%j -> %s', (q, want) => {
    expect(parseReadOptions(q).consistency).toBe(want);
  });

  it('refuses conflicting modes with Consul wording', () => {
    expect(() => parseReadOptions({ stale: '', consistent: '' })).toThrow('Cannot specify ?stale with ?consistent, conflicting semantics.');
    expect(() => parseReadOptions({ cached: '', consistent: '' }, true)).toThrow('Cannot specify ?cached with ?consistent, conflicting semantics.');
    expect(() => parseReadOptions({ max_stale: 'soon' })).toThrow('Invalid max_stale value "soon"');
  });

  it('keeps a positive ?max_stale as a bound in ms', () => {
    expect(parseReadOptions({ max_stale: '1500ms' }).maxStaleMs).toBe(1500);
    expect(parseReadOptions({ max_stale: '0s' }).maxStaleMs).toBeUndefined();
    expect(parseReadOptions({ stale: '' }).maxStaleMs).toBeUndefined();
  });

  it('counts ?cached only where the endpoint supports it', () => {
    expect(parseReadOptions({ cached: '' }, true).cached).toBe(true);
    expect(parseReadOptions({ cached: '' }, false).cached).toBe(false);
  });
});

describe('checkDatacenter', () => {
  it('accepts the local dc in any case and refuses others with No path to datacenter', () => {
    expect(() => checkDatacenter({ dc: 'DC1' }, 'dc1')).not.toThrow();
    expect(() => checkDatacenter({}, 'dc1')).not.toThrow();
    try {
      checkDatacenter({ dc: 'dc2' }, 'dc1');
      throw new Error('accepted');
    } catch (err) {
      expect(err).toMatchObject({ status: 500, code: ERR.HTTP_API_NO_PATH_TO_DC, message: 'No path to datacenter' });
    }
  });
});
