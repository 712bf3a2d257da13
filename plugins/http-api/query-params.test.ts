import { describe, expect, it } from 'vitest';
import { allParams, boolParam, firstParam, hasAllTags, hasFlag, matchesMeta, nodeMetaFilters, parseGoBool, tagFilters } from './query-params.ts';

describe('query parameters, as Go url.Values', () => {
  it('presence flags are on whatever their value', () => {
    for (const v of ['', '1', 'false', '0']) expect(hasFlag({ stale: v }, 'stale')).toBe(true);
    expect(hasFlag({}, 'stale')).toBe(false);
  });

  it('Get is the first value; repeated keys keep their order', () => {
    expect(firstParam({ tag: ['a', 'b'] }, 'tag')).toBe('a');
    expect(allParams({ tag: ['a', 'b'] }, 'tag')).toEqual(['a', 'b']);
    expect(allParams({ tag: 'a' }, 'tag')).toEqual(['a']);
  });

  it('strconv.ParseBool', () => {
    expect(['1', 't', 'T', 'TRUE', 'true', 'True'].map(parseGoBool)).toEqual(Array(6).fill(true));
    expect(['0', 'f', 'F', 'FALSE', 'false', 'False'].map(parseGoBool)).toEqual(Array(6).fill(false));
    expect(parseGoBool('yes')).toBeUndefined();
  });

  it('?passing: empty is true, else ParseBool, else 400', () => {
    expect(boolParam({}, 'passing')).toBe(false);
    expect(boolParam({ passing: '' }, 'passing')).toBe(true);
    expect(boolParam({ passing: 'false' }, 'passing')).toBe(false);
    expect(() => boolParam({ passing: 'yes' }, 'passing')).toThrow('Invalid value for ?passing');
  });

  it('node-meta filters split at the first colon and must all match', () => {
    const f = nodeMetaFilters({ 'node-meta': ['rack:r1', 'url:http://x', 'flag'] });
    expect([...f]).toEqual([['rack', 'r1'], ['url', 'http://x'], ['flag', '']]);
    expect(matchesMeta({ rack: 'r1', url: 'http://x', flag: '' }, f)).toBe(true);
    expect(matchesMeta({ rack: 'r1', url: 'http://x' }, f)).toBe(false);
  });

  it('tags: all must be present, compared without case', () => {
    const want = tagFilters({ tag: ['V1', 'prod'] });
    expect(hasAllTags(['prod', 'v1', 'x'], want)).toBe(true);
    expect(hasAllTags(['prod'], want)).toBe(false);
  });
});
