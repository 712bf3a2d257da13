import { describe, expect, it } from 'vitest';
import { crc32, crc32Table, decodeLogEntry, decodeRecord, encodeLogEntry, encodeRecord } from './log-record.ts';

describe('crc32', () => {
  it('matches the IEEE check value for "123456789" (native and table)', () => {
    const check = Buffer.from('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Table(check)).toBe(0xcbf43926);
  });

  it('the table fallback agrees with the native path on arbitrary bytes', () => {
    const data = Buffer.alloc(4096);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    for (const n of [0, 1, 3, 255, 4096]) expect(crc32Table(data.subarray(0, n))).toBe(crc32(data.subarray(0, n)));
  });
});

describe('record framing', () => {
  it('is [u32 length][u32 crc32][payload] and round-trips', () => {
    const rec = encodeRecord(Buffer.from('hello'));
    expect(rec.readUInt32BE(0)).toBe(5);
    expect(rec.readUInt32BE(4)).toBe(crc32(Buffer.from('hello')));
    const r = decodeRecord(rec);
    expect(r.ok && r.payload.toString()).toBe('hello');
    expect(decodeRecord(encodeRecord(Buffer.alloc(0))).ok).toBe(true);
  });

  it('rejects any single flipped bit', () => {
    const rec = encodeRecord(Buffer.from('some payload'));
    for (let bit = 0; bit < rec.length * 8; bit++) {
      const bad = Buffer.from(rec);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(decodeRecord(bad).ok).toBe(false);
    }
  });

  it('rejects torn and over-long records with a reason', () => {
    const rec = encodeRecord(Buffer.from('abcdef'));
    expect(decodeRecord(rec.subarray(0, 5))).toEqual({ ok: false, reason: expect.stringMatching(/shorter than its header/) });
    expect(decodeRecord(rec.subarray(0, rec.length - 1))).toEqual({ ok: false, reason: expect.stringMatching(/length field/) });
    expect(decodeRecord(Buffer.concat([rec, Buffer.from([0])])).ok).toBe(false);
  });
});

describe('log entry records', () => {
  it('round-trip index, term and data beyond 2^53', () => {
    const index = 2n ** 64n - 1n;
    const r = decodeLogEntry(index, encodeLogEntry(index, 2n ** 53n + 1n, Buffer.from('d')));
    expect(r).toEqual({ ok: true, term: 2n ** 53n + 1n, data: Buffer.from('d') });
  });

  it('refuse a record stored under another index', () => {
    expect(decodeLogEntry(5n, encodeLogEntry(4n, 1n, Buffer.from('x')))).toEqual({
      ok: false,
      reason: 'record says index 4',
    });
  });
});
