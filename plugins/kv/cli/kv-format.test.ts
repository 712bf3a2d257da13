/**
 * The pieces of `herald kv` that must match Consul byte for byte: uint64 fields kept exact, the
 * `-detailed` table, the export document (tabs, lowercase keys, Go's HTML escaping), the import
 * reader, Go's strict base64 and path.Join.
 */
import { describe, expect, it } from 'vitest';
import { kvPath, parseDirEntries } from './kv-api.ts';
import { detailedPair } from './kv-get.ts';
import { decodeStdBase64 } from './kv-put.ts';
import { joinPrefix, parseExport, renderExport } from './kv-transfer.ts';

const LOCK_FLAGS = 3304740253564472344n; // 0x2ddccbc058a50c18, above 2^53

describe('DirEntry parsing', () => {
  it('keeps Flags and indexes above 2^53 exact, in compact or indented JSON', () => {
    const compact = `[{"LockIndex":1,"Key":"a/.lock","Flags":${LOCK_FLAGS},"Value":null,"Session":"s1","CreateIndex":9007199254740993,"ModifyIndex":9007199254740995}]`;
    const [e] = parseDirEntries(compact);
    expect(e).toEqual({ Key: 'a/.lock', Flags: LOCK_FLAGS, Value: Buffer.alloc(0), Session: 's1', LockIndex: 1n, CreateIndex: 9007199254740993n, ModifyIndex: 9007199254740995n });
    const [pretty] = parseDirEntries(JSON.stringify(JSON.parse(compact.replace(String(LOCK_FLAGS), '7')), null, 4).replace('"Flags": 7', `"Flags": ${LOCK_FLAGS}`));
    expect(pretty!.Flags).toBe(LOCK_FLAGS);
  });

  it('leaves a value that looks like a field alone, and decodes base64 values to bytes', () => {
    const [e] = parseDirEntries(`[{"Key":"k\\"Flags\\":1","Flags":0,"Value":"${Buffer.from([0, 255]).toString('base64')}","CreateIndex":1,"ModifyIndex":1,"LockIndex":0}]`);
    expect(e!.Key).toBe('k"Flags":1');
    expect(e!.Value).toEqual(Buffer.from([0, 255]));
    expect(e!.Session).toBe('');
  });

  it('puts keys into the path with each segment escaped and slashes kept', () => {
    expect(kvPath('a b/c?d/')).toBe('/v1/kv/a%20b/c%3Fd/');
  });
});

describe('kv get -detailed', () => {
  it("prints Consul's tabwriter block: names padded to the longest plus 6", () => {
    const pair = { Key: 'a/b', Flags: 42n, Value: Buffer.from('hello'), Session: '', LockIndex: 0n, CreateIndex: 5n, ModifyIndex: 7n };
    expect(detailedPair(pair, false).toString()).toBe(
      ['CreateIndex      5', 'Flags            42', 'Key              a/b', 'LockIndex        0', 'ModifyIndex      7', 'Session          -', 'Value            hello'].join('\n'),
    );
    expect(detailedPair({ ...pair, Session: 'abc' }, true).toString()).toContain('Session          abc\nValue            aGVsbG8=');
  });
});

describe('kv export / import documents', () => {
  const pairs = [
    { Key: 'a<b>&c', Flags: LOCK_FLAGS, Value: Buffer.from('x'), Session: '', LockIndex: 0n, CreateIndex: 1n, ModifyIndex: 1n },
    { Key: 'e', Flags: 0n, Value: Buffer.alloc(0), Session: '', LockIndex: 0n, CreateIndex: 2n, ModifyIndex: 2n },
  ];

  it('renders json.MarshalIndent(entries, "", "\\t") with Go\'s HTML escaping; [] when empty', () => {
    expect(renderExport(pairs)).toBe(
      `[\n\t{\n\t\t"key": "a\\u003cb\\u003e\\u0026c",\n\t\t"flags": ${LOCK_FLAGS},\n\t\t"value": "eA=="\n\t},\n\t{\n\t\t"key": "e",\n\t\t"flags": 0,\n\t\t"value": ""\n\t}\n]`,
    );
    expect(renderExport([])).toBe('[]');
  });

  it('reads its own output back exactly, and field names in any case', () => {
    expect(parseExport(renderExport(pairs))).toEqual([
      { key: 'a<b>&c', flags: LOCK_FLAGS, value: 'eA==' },
      { key: 'e', flags: 0n, value: '' },
    ]);
    expect(parseExport('[{"Key":"k","FLAGS":3,"Value":"eA=="}]')).toEqual([{ key: 'k', flags: 3n, value: 'eA==' }]);
    expect(parseExport('null')).toEqual([]);
  });

  it('refuses what Go would not decode', () => {
    expect(() => parseExport('{"key":"k"}')).toThrow('json: cannot unmarshal object into Go value of type []*impexp.Entry');
    expect(() => parseExport('[{"key":"k","flags":-1}]')).toThrow(/Entry.flags of type uint64/);
    expect(() => parseExport('[{"key":1}]')).toThrow(/Entry.key of type string/);
    expect(() => parseExport('[')).toThrow();
  });

  it("joins -prefix as Go's path.Join does", () => {
    expect(joinPrefix('', 'a/b/')).toBe('a/b/');
    expect(joinPrefix('copy', 'a/b')).toBe('copy/a/b');
    expect(joinPrefix('copy/', 'a//b/')).toBe('copy/a/b');
  });

  it("decodes base64 as Go's StdEncoding: padded, standard alphabet", () => {
    expect(decodeStdBase64('aGVsbG8=').toString()).toBe('hello');
    expect(decodeStdBase64('')).toEqual(Buffer.alloc(0));
    expect(() => decodeStdBase64('aGVsbG8')).toThrow('illegal base64 data');
    expect(() => decodeStdBase64('aGVs_G8=')).toThrow('illegal base64 data');
  });
});
