import { describe, expect, it } from 'vitest';
import { serviceTtl } from './service-ttl.ts';

describe('service_ttl matching', () => {
  const table = { web: 5, 'web-*': 10, 'web-api-*': 20, '*': 1 };
  it.each([
    ['web', 5],
    ['web-front', 10],
    ['web-api-v2', 20],
    ['db', 1],
  ])('%s -> %d', (svc, ttl) => expect(serviceTtl(table, svc)).toBe(ttl));
  it('is 0 with no match and no fallback', () => expect(serviceTtl({ 'web-*': 10 }, 'db')).toBe(0));
});
