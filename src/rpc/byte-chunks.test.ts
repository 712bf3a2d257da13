import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { ChunkAssembler, chunkSizeFor, chunksOf } from './byte-chunks.ts';

/** What a refused chunk throws. */
const refused = expect.objectContaining({ code: ERR.CHUNK_SEQUENCE });

describe('byte chunks', () => {
  it('sizes chunks at half a frame, at most 1 MiB', () => {
    expect(chunkSizeFor(16 * 1024 * 1024)).toBe(1024 * 1024);
    expect(chunkSizeFor(32 * 1024)).toBe(16 * 1024);
    expect(chunkSizeFor(1)).toBe(1);
  });

  it('splits into in-order views and reassembles the same bytes', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const parts = [...chunksOf(data, 300)];
    expect(parts.map((p) => [p.offset, p.data.length])).toEqual([
      [0, 300],
      [300, 300],
      [600, 300],
      [900, 100],
    ]);
    const asm = new ChunkAssembler(data.length);
    const results = parts.map((p) => asm.add(p.offset, p.data));
    expect(results.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    expect(results[3]!.equals(data)).toBe(true);
    expect(asm.bytesReceived).toBe(1000);
  });

  it('sends empty data as one empty chunk that completes at once', () => {
    expect([...chunksOf(Buffer.alloc(0), 10)].map((p) => [p.offset, p.data.length])).toEqual([[0, 0]]);
    expect(new ChunkAssembler(0).add(0, Buffer.alloc(0))?.length).toBe(0);
  });

  it('refuses a chunk out of order, past the end, without bytes, or an impossible total', () => {
    const asm = new ChunkAssembler(10);
    expect(() => asm.add(5, Buffer.alloc(5))).toThrow(refused);
    expect(asm.add(0, Buffer.alloc(4))).toBeUndefined();
    expect(() => asm.add(0, Buffer.alloc(4))).toThrow(refused);
    expect(() => asm.add(4, Buffer.alloc(7))).toThrow(refused);
    expect(() => asm.add(4, 'abc')).toThrow(refused);
    for (const total of [-1, 1.5, '10', undefined, 2 ** 53]) expect(() => new ChunkAssembler(total)).toThrow(refused);
    expect(() => chunksOf(Buffer.alloc(1), 0).next()).toThrow(refused);
  });
});
