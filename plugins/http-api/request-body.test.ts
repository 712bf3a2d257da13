import { describe, expect, it } from 'vitest';
import { ERR } from '../../src/plugin.ts';
import { HttpError } from './http-error.ts';
import { decodeJsonBody, MAX_JSON_DEPTH, nestsDeeperThan } from './request-body.ts';

function failure(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    return err as HttpError;
  }
  throw new Error('did not throw');
}

describe('decodeJsonBody', () => {
  it('decodes bytes and strings', () => {
    expect(decodeJsonBody(Buffer.from('{"Name":"web"}'))).toEqual({ Name: 'web' });
    expect(decodeJsonBody(' [1] ')).toEqual([1]);
  });

  it('answers an empty body as Go does (EOF), unless allowed', () => {
    const err = failure(() => decodeJsonBody(undefined));
    expect([err.status, err.code, err.message]).toEqual([400, ERR.HTTP_API_BAD_REQUEST, 'Request decode failed: EOF']);
    expect(decodeJsonBody(Buffer.alloc(0), { allowEmpty: true })).toBeUndefined();
  });

  it('refuses malformed JSON with a 400 that says so', () => {
    const err = failure(() => decodeJsonBody(Buffer.from('{"Name": }')));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^Request decode failed: /);
  });

  it('refuses nesting deeper than the limit before parsing', () => {
    const deep = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1);
    expect(failure(() => decodeJsonBody(deep)).message).toBe(`Request decode failed: JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
    const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    expect(() => decodeJsonBody(ok)).not.toThrow();
    // 100 000 levels is refused as quickly as 65.
    expect(failure(() => decodeJsonBody('{"a":'.repeat(100_000))).status).toBe(400);
  });
});

describe('nestsDeeperThan', () => {
  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan('{"a":"[[[[\\"[[[["}', 2)).toBe(false);
    expect(nestsDeeperThan('[[[1]]]', 2)).toBe(true);
  });
});
