import { describe, expect, it } from 'vitest';
import { cleanPath, goPathClean, redirectFor } from './path-clean.ts';

describe('Go path cleaning', () => {
  it.each([
    ['/', '/'],
    ['/v1/agent/self', '/v1/agent/self'],
    ['//v1/agent/self', '/v1/agent/self'],
    ['/v1/./agent/self', '/v1/agent/self'],
    ['/v1/kv//foo', '/v1/kv/foo'],
    ['/v1/x/../agent/self', '/v1/agent/self'],
    ['/../../v1', '/v1'],
    ['/v1/kv/a/', '/v1/kv/a/'],
    ['/v1/kv/a/.', '/v1/kv/a'],
    ['/v1/kv/a/..', '/v1/kv'],
  ])('cleanPath(%s) = %s', (p, want) => {
    expect(cleanPath(p)).toBe(want);
  });

  it('goPathClean drops trailing slashes, cleanPath keeps the one the request had', () => {
    expect(goPathClean('/a/b/')).toBe('/a/b');
    expect(cleanPath('/a//b/')).toBe('/a/b/');
  });
});

describe('redirectFor', () => {
  it.each([
    ['/v1/agent/self', undefined],
    ['/v1/agent/self?pretty', undefined],
    ['/v1/catalog/service/a%2Fb', undefined],
    ['/v1/catalog/service/web%20api', undefined],
    ['//v1/agent/self?pretty', '/v1/agent/self?pretty'],
    ['/v1/kv//foo', '/v1/kv/foo'],
    ['/v1/agent/./self', '/v1/agent/self'],
    ['/v1/agent/x/../self', '/v1/agent/self'],
    // Encoded forms clean the same way Go does (it cleans the decoded path).
    ['/v1/catalog/service/a%2F%2Fb', '/v1/catalog/service/a/b'],
    ['/v1/agent/x%2F..%2Fself', '/v1/agent/self'],
    ['/v1/agent/%2E%2E/agent/self?a=b', '/v1/agent/self?a=b'],
    // Re-escaped on the way out, keeping what Go keeps.
    ['/v1//kv/a b:c@d', '/v1/kv/a%20b:c@d'],
    // Undecodable: left to the router (400).
    ['/v1/%zz//x', undefined],
  ])('%s -> %s', (url, want) => {
    expect(redirectFor(url)).toBe(want);
  });
});
