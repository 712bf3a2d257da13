import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, FrameType, NO_VALUE, readFrameId } from './frame-codec.ts';
import { RpcError } from './rpc-error.ts';
import { decodeValue } from './value-codec.ts';
import { seededRandom as prng } from '../seeded-random.ts';

interface Got {
  type: number;
  payload: Buffer;
}

function collect(decoder: FrameDecoder, chunks: Buffer[]): Got[] {
  const out: Got[] = [];
  for (const c of chunks) decoder.push(c, (type, payload) => out.push({ type, payload: Buffer.from(payload) }));
  return out;
}

/** Splits `buf` at random points (sizes 1..maxChunk). */
function chop(buf: Buffer, rand: () => number, maxChunk: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const n = 1 + Math.floor(rand() * maxChunk);
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

describe('frame encoding', () => {
  it('lays out u32 BE payload length, type byte, optional id, value', () => {
    const f = encodeFrame(FrameType.REQUEST, 0x01020304, ['m', 1], 1024);
    expect(f.readUInt32BE(0)).toBe(f.length - FRAME_HEADER_BYTES);
    expect(f[4]).toBe(FrameType.REQUEST);
    const payload = f.subarray(FRAME_HEADER_BYTES);
    expect(readFrameId(FrameType.REQUEST, payload)).toBe(0x01020304);
    expect(decodeValue(payload, 4)).toEqual(['m', 1]);
  });

  it('encodes an empty payload for NO_VALUE without id', () => {
    const f = encodeFrame(FrameType.PING, undefined, NO_VALUE, 1024);
    expect([...f]).toEqual([0, 0, 0, 0, FrameType.PING]);
  });

  it('refuses to build a frame over the limit', () => {
    expect(() => encodeFrame(FrameType.MESSAGE, undefined, Buffer.alloc(100), 50)).toThrow(
      expect.objectContaining({ code: ERR.RPC_FRAME_TOO_LARGE }),
    );
  });

  it('refuses an id-only payload that is too short to read', () => {
    expect(() => readFrameId(FrameType.CANCEL, Buffer.alloc(3))).toThrow(expect.objectContaining({ code: ERR.RPC_PROTOCOL }));
  });
});

describe('frame decoding', () => {
  it('hands out a frame inside one chunk as a view of that chunk (no copy)', () => {
    const chunk = Buffer.concat([encodeFrame(FrameType.MESSAGE, undefined, 'hello', 1024), encodeFrame(FrameType.PING, undefined, NO_VALUE, 1024)]);
    const seen: Buffer[] = [];
    new FrameDecoder(1024).push(chunk, (_t, p) => seen.push(p));
    expect(seen).toHaveLength(2);
    expect(seen[0]!.buffer).toBe(chunk.buffer);
    expect(seen[0]!.byteOffset).toBe(chunk.byteOffset + FRAME_HEADER_BYTES);
    expect(decodeValue(seen[0]!)).toBe('hello');
    expect(seen[1]!.length).toBe(0);
  });

  it('fuzz: any chunking of a frame sequence yields the same frames in order', () => {
    const rand = prng(42);
    for (let round = 0; round < 200; round++) {
      const frames: Got[] = [];
      const parts: Buffer[] = [];
      const count = 1 + Math.floor(rand() * 12);
      for (let i = 0; i < count; i++) {
        const r = rand();
        // Mostly small frames, some empty, some large enough to span many chunks.
        const size = r < 0.15 ? 0 : r < 0.9 ? Math.floor(rand() * 200) : 5000 + Math.floor(rand() * 60_000);
        const payload = Buffer.alloc(size);
        for (let j = 0; j < size; j += 97) payload[j] = Math.floor(rand() * 256);
        const type = 1 + Math.floor(rand() * 0x34);
        const header = Buffer.alloc(FRAME_HEADER_BYTES);
        header.writeUInt32BE(size, 0);
        header[4] = type;
        parts.push(header, payload);
        frames.push({ type, payload });
      }
      const stream = Buffer.concat(parts);
      const maxChunk = [1, 3, 7, 64, 1500, 65536][round % 6]!;
      const decoder = new FrameDecoder(1 << 20);
      const got = collect(decoder, chop(stream, rand, maxChunk));
      expect(got.length).toBe(frames.length);
      for (let i = 0; i < frames.length; i++) {
        expect(got[i]!.type).toBe(frames[i]!.type);
        expect(got[i]!.payload.equals(frames[i]!.payload)).toBe(true);
      }
      expect(decoder.idle).toBe(true);
    }
  });

  it('refuses an oversize frame from its header alone, even when the header is split', () => {
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(1001, 0);
    header[4] = FrameType.MESSAGE;
    const whole = new FrameDecoder(1000);
    expect(() => whole.push(header, () => undefined)).toThrow(expect.objectContaining({ code: ERR.RPC_FRAME_TOO_LARGE }));
    const split = new FrameDecoder(1000);
    split.push(header.subarray(0, 2), () => undefined);
    split.push(header.subarray(2, 4), () => undefined);
    expect(() => split.push(header.subarray(4), () => undefined)).toThrow(/1001 bytes; the limit is 1000/);
  });

  it('accepts a frame exactly at the limit', () => {
    const f = encodeFrame(FrameType.MESSAGE, undefined, Buffer.alloc(990), 1000);
    expect(f.length - FRAME_HEADER_BYTES).toBeLessThanOrEqual(1000);
    const got = collect(new FrameDecoder(f.length - FRAME_HEADER_BYTES), [f]);
    expect(got).toHaveLength(1);
  });

  it('fuzz: garbage either decodes into frames or throws RpcError, never anything else', () => {
    const rand = prng(7);
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.alloc(1 + Math.floor(rand() * 300));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rand() * 256);
      const decoder = new FrameDecoder(4096);
      try {
        collect(decoder, chop(junk, rand, 50));
      } catch (err) {
        expect(err).toBeInstanceOf(RpcError);
        refused++;
      }
    }
    // Random lengths are almost always above 4096.
    expect(refused).toBeGreaterThan(1900);
  });
});
