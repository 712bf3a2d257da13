import { describe, it, expect } from 'vitest';
import { JsonSyntaxError, parseJsonDocument } from './config-json.ts';

describe('parseJsonDocument', () => {
  const text = [
    '{',
    '  "services": [',
    '    { "name": "a" },',
    '    {',
    '      "name": "b",',
    '      "meta": { "odd key": "1", "a.b": "2" }',
    '    }',
    '  ],',
    '  "x": [[1], [2, 3]]',
    '}',
  ].join('\n');

  it('gives the same value as JSON.parse', () => {
    expect(parseJsonDocument(text).value).toEqual(JSON.parse(text));
  });

  it('locates keys, array elements and odd keys by path', () => {
    const doc = parseJsonDocument(text);
    expect(doc.locate('')).toEqual({ line: 1, column: 1 });
    expect(doc.locate('services')).toEqual({ line: 2, column: 3 });
    expect(doc.locate('services[0]')).toEqual({ line: 3, column: 5 });
    expect(doc.locate('services[0].name')).toEqual({ line: 3, column: 7 });
    expect(doc.locate('services[1]')).toEqual({ line: 4, column: 5 });
    expect(doc.locate('services[1].meta["odd key"]')).toEqual({ line: 6, column: 17 });
    expect(doc.locate('services[1].meta["a.b"]')).toEqual({ line: 6, column: 33 });
    expect(doc.locate('x[1][1]')).toEqual({ line: 9, column: 18 });
    expect(doc.locate('services[2]')).toBeUndefined();
  });

  it('keeps the last of duplicate keys, as JSON.parse does', () => {
    const doc = parseJsonDocument('{"a": 1,\n"a": 2}');
    expect(doc.value).toEqual({ a: 2 });
    expect(doc.locate('a')?.line).toBe(2);
  });

  it('accepts every JSON value form', () => {
    const src = '{"s":"\\u00e9\\n\\"","n":[-0.5e+3,0,1E2],"t":true,"f":false,"z":null,"e":{},"a":[]}';
    expect(parseJsonDocument(src).value).toEqual(JSON.parse(src));
  });

  it('refuses nesting deeper than 256 levels with a position, not a stack overflow', () => {
    const deep = '['.repeat(300) + ']'.repeat(300);
    let err: unknown;
    try {
      parseJsonDocument(deep);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonSyntaxError);
    expect((err as JsonSyntaxError).message).toBe('nested deeper than 256 levels');
    expect((err as JsonSyntaxError).line).toBe(1);
  });

  const bad: [string, number, number][] = [
    ['{"a": 1,}', 1, 9],
    ['{"a" 1}', 1, 6],
    ['{"a": "\\q"}', 1, 8],
    ['{"a": "\\u12G4"}', 1, 8],
    ['{"a": -}', 1, 7],
    ['{"a": 1.}', 1, 8],
    ['[1,]', 1, 4],
    ['{"a": truex}', 1, 11],
    ['{\n"a": 1}\n]', 3, 1],
  ];
  it.each(bad)('%j fails at %d:%d', (src, line, column) => {
    let err: unknown;
    try {
      parseJsonDocument(src);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonSyntaxError);
    expect({ line: (err as JsonSyntaxError).line, column: (err as JsonSyntaxError).column }).toEqual({ line, column });
    // The scanner must refuse exactly what JSON.parse refuses.
    expect(() => JSON.parse(src)).toThrow();
  });
});
