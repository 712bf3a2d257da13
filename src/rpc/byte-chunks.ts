/**
 * Byte strings larger than one RPC frame, sent as a sequence of chunks and put back together
 * on the other side: a Raft InstallSnapshot (src/raft/snapshot-transfer.ts) and the change
 * stream's snapshot item (src/agent/client-feed.ts). The sender numbers chunks by byte offset
 * and sends them in order over one connection; the receiver accepts only the next offset, so
 * a gap, a duplicate or a chunk from an abandoned attempt is refused rather than silently
 * mixed in, and the sender starts over from offset 0.
 */
import { constants } from 'node:buffer';
import { ERR, HeraldError } from '../errors.ts';

/**
 * Chunks are at most 1 MiB: as large as the core's MsgApp batch (maxBytesPerAppend), so a
 * transfer needs few round trips, yet far below the 4 MiB outbound queue bound, so heartbeats
 * and appends to the same peer still get through between chunks.
 */
const MAX_CHUNK_BYTES = 1 << 20;

/**
 * Most data bytes to put in one chunk on a transport whose frames carry at most
 * `maxFrameBytes`: half a frame (the other half is room for the envelope the chunk travels
 * in), at most 1 MiB, at least 1 byte.
 */
export function chunkSizeFor(maxFrameBytes: number): number {
  return Math.max(1, Math.min(MAX_CHUNK_BYTES, Math.floor(maxFrameBytes / 2)));
}

/** One piece of a byte string: `data` sits at `offset` in it. */
export interface ByteChunk {
  readonly offset: number;
  readonly data: Buffer;
}

/**
 * `data` as consecutive chunks of at most `size` bytes, in order. The chunks are views of
 * `data` (no copy: do not mutate it while they are in use). Empty data gives one empty chunk,
 * so the receiver still sees the transfer complete.
 */
export function* chunksOf(data: Buffer, size: number): Generator<ByteChunk> {
  if (!Number.isSafeInteger(size) || size < 1) throw new HeraldError(ERR.CHUNK_SEQUENCE, `chunk size must be a positive integer (got ${size})`);
  if (data.length === 0) {
    yield { offset: 0, data };
    return;
  }
  for (let offset = 0; offset < data.length; offset += size) yield { offset, data: data.subarray(offset, offset + size) };
}

/**
 * Reassembles one byte string of `total` bytes from chunks given in offset order. Memory is
 * the final size, allocated once (the sender is a cluster peer: its total is trusted up to
 * the largest Buffer Node can make). Throws HeraldError(CHUNK_SEQUENCE) for a chunk that is
 * not the next one or runs past the end; the assembler is then useless (start a new one).
 */
export class ChunkAssembler {
  readonly total: number;
  private readonly buf: Buffer;
  private received = 0;

  constructor(total: unknown) {
    if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0 || total > constants.MAX_LENGTH) {
      throw new HeraldError(ERR.CHUNK_SEQUENCE, `a chunked value cannot be ${String(total)} bytes long`);
    }
    this.total = total;
    // Unsafe is fine: add() fills every byte in order before the buffer is handed out.
    this.buf = Buffer.allocUnsafe(total);
  }

  /** Bytes received so far (the offset the next chunk must have). */
  get bytesReceived(): number {
    return this.received;
  }

  /** Adds the next chunk; returns the whole value once the last byte is in, else undefined. */
  add(offset: unknown, data: unknown): Buffer | undefined {
    if (!Buffer.isBuffer(data)) throw new HeraldError(ERR.CHUNK_SEQUENCE, 'a chunk carries no bytes');
    if (offset !== this.received) {
      throw new HeraldError(ERR.CHUNK_SEQUENCE, `chunk at offset ${String(offset)} is not the next one (expected offset ${this.received} of ${this.total})`);
    }
    if (this.received + data.length > this.total) {
      throw new HeraldError(ERR.CHUNK_SEQUENCE, `chunk of ${data.length} bytes at offset ${this.received} runs past the end (${this.total} bytes)`);
    }
    data.copy(this.buf, this.received);
    this.received += data.length;
    return this.received === this.total ? this.buf : undefined;
  }
}
