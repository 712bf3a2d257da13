import { describe, expect, it } from 'vitest';
import { columnize, mapToKV, plainText, prettyJson, tabwriterPairs } from './output.ts';

describe('columnize (ryanuber/columnize as Consul configures it)', () => {
  it('pads every column but the last to its widest cell plus two spaces', () => {
    expect(
      columnize([
        ['Node', 'Address', 'Status'],
        ['a-long-node', '10.0.0.1:8301', 'alive'],
        ['b', '10.0.0.22:8301', 'failed'],
      ]),
    ).toBe(['Node         Address         Status', 'a-long-node  10.0.0.1:8301   alive', 'b            10.0.0.22:8301  failed'].join('\n'));
  });

  it('trims cells, keeps empty middle cells padded, and leaves no trailing newline', () => {
    const out = columnize([
      ['A', 'B', 'C'],
      ['  x ', '', 'z'],
      ['y', 'bb', ''],
    ]);
    expect(out).toBe(['A  B   C', 'x      z', 'y  bb  '].join('\n'));
  });

  it('pads a short row only through the columns it has', () => {
    expect(columnize([['aaa', 'b', 'c'], ['d']])).toBe('aaa  b  c\nd');
  });

  it('measures width in characters, not UTF-16 units', () => {
    expect(columnize([['𝔘x', 'v'], ['ab', 'w']])).toBe('𝔘x  v\nab  w');
  });
});

describe('tabwriterPairs (text/tabwriter, padding 6, output trimmed)', () => {
  it('aligns the second column six spaces past the longest first cell and trims the end', () => {
    expect(
      tabwriterPairs([
        ['consul', ''],
        ['web', 'primary,v1'],
        ['db', ''],
      ]),
    ).toBe(['consul      ', 'web         primary,v1', 'db'].join('\n'));
  });
});

describe('prettyJson', () => {
  it('indents with four spaces as Go json.MarshalIndent does, keeping key order', () => {
    expect(prettyJson('{"b":1,"a":[1,2],"c":{"d":"x"}}')).toBe(
      ['{', '    "b": 1,', '    "a": [', '        1,', '        2', '    ],', '    "c": {', '        "d": "x"', '    }', '}'].join('\n'),
    );
  });

  it('prints empty objects and arrays as {} and []', () => {
    expect(prettyJson('{ "a" : [ ] , "b" : { } }')).toBe('{\n    "a": [],\n    "b": {}\n}');
    expect(prettyJson('[]')).toBe('[]');
  });

  it('keeps numbers byte for byte, including uint64 indexes above 2^53', () => {
    expect(prettyJson('[{"ModifyIndex":18446744073709551615,"X":1.50}]')).toContain('"ModifyIndex": 18446744073709551615');
    expect(prettyJson('[1.50]')).toContain('1.50');
  });

  it('leaves strings alone: escapes, brackets, commas and colons inside them', () => {
    const text = '{"k":"a,b:{c}[d] \\"q\\" \\\\"}';
    expect(prettyJson(text)).toBe('{\n    "k": "a,b:{c}[d] \\"q\\" \\\\"\n}');
    expect(JSON.parse(prettyJson(text))).toEqual(JSON.parse(text));
  });

  it('refuses text that is not JSON', () => {
    expect(() => prettyJson('{"a":')).toThrow(SyntaxError);
  });
});

describe('mapToKV and plainText', () => {
  it('joins key=value in sorted key order', () => {
    expect(mapToKV({ wan: '10.0.0.2', lan: '10.0.0.1' }, ', ')).toBe('lan=10.0.0.1, wan=10.0.0.2');
    expect(mapToKV(null, ', ')).toBe('');
    expect(mapToKV({}, ', ')).toBe('');
  });

  it('prints strings bare and other values as JSON', () => {
    expect(plainText('x')).toBe('x');
    expect(plainText(3)).toBe('3');
    expect(plainText(true)).toBe('true');
    expect(plainText(null)).toBe('');
    expect(plainText({ a: 1 })).toBe('{"a":1}');
  });
});
