/** Go's texts that Consul's answers carry: quoting, ParseUint, UUID index errors, Values.Encode, base64. */
import { describe, expect, it } from 'vitest';
import { decodeGoBase64, encodeGoValues, goQuote, parseUint64, sessionLookupKey } from './go-text.ts';
import { BigIntText, parseJsonLossless } from './go-json.ts';

describe('Go texts', () => {
  it('goQuote escapes like strconv.Quote', () => {
    expect(goQuote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(goQuote('\n\t\u0000\u007f')).toBe('"\\n\\t\\x00\\x7f"');
    expect(goQuote('héllo ✓')).toBe('"héllo ✓"');
  });

  it('parseUint64 accepts uint64 exactly and refuses the rest in Go words', () => {
    expect(parseUint64('18446744073709551615')).toBe(18446744073709551615n);
    expect(() => parseUint64('18446744073709551616')).toThrow('strconv.ParseUint: parsing "18446744073709551616": value out of range');
    expect(() => parseUint64('abc')).toThrow('strconv.ParseUint: parsing "abc": invalid syntax');
    expect(() => parseUint64('-1')).toThrow('invalid syntax');
    expect(() => parseUint64('')).toThrow('strconv.ParseUint: parsing "": invalid syntax');
  });

  it('session IDs are looked up as go-memdb UUID bytes', () => {
    expect(sessionLookupKey('ABCDEF01-2345-6789-abcd-ef0123456789')).toBe('abcdef0123456789abcdef0123456789');
    expect(() => sessionLookupKey('abc')).toThrow('UUID must be 36 characters');
    expect(() => sessionLookupKey('gbcdef01-2345-6789-abcd-ef0123456789')).toThrow("invalid UUID: encoding/hex: invalid byte: U+0067 'g'");
    expect(() => sessionLookupKey('a-b-c-d-e-f01234567890123456789012345'.slice(0, 36))).toThrow('UUID should have maximum of 4 "-"; got 5');
  });

  it('encodeGoValues sorts keys and escapes as url.Values.Encode', () => {
    expect(encodeGoValues([['release', ['x y']], ['acquire', ['a/b']], ['cas', ['1', '2']]])).toBe('acquire=a%2Fb&cas=1&cas=2&release=x+y');
  });

  it('decodeGoBase64 follows base64.StdEncoding, offsets included', () => {
    expect(decodeGoBase64('aGVsbG8=')).toEqual({ value: 'aGVsbG8=' });
    expect(decodeGoBase64('aGVs\nbG8=')).toEqual({ value: 'aGVsbG8=' });
    expect(decodeGoBase64('')).toEqual({ value: null });
    expect(decodeGoBase64('a$Gk=')).toEqual({ error: 'illegal base64 data at input byte 1' });
    expect(decodeGoBase64('aGVsbG8')).toEqual({ error: 'illegal base64 data at input byte 4' });
    expect(decodeGoBase64('aGVsbG8=x')).toEqual({ error: 'illegal base64 data at input byte 8' });
    expect(decodeGoBase64('aG==')).toEqual({ value: 'aA==' });
    expect(decodeGoBase64('a===')).toEqual({ error: 'illegal base64 data at input byte 1' });
  });

  it('parseJsonLossless keeps integers beyond 2^53 exact', () => {
    const v = parseJsonLossless('[{"Flags": 18446744073709551615, "n": 42, "s": "12345678901234567890"}]') as Record<string, unknown>[];
    expect(v[0]!.Flags).toEqual(new BigIntText('18446744073709551615'));
    expect(v[0]!.n).toBe(42);
    expect(v[0]!.s).toBe('12345678901234567890');
  });
});
