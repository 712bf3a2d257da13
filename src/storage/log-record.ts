/**
 * Checksummed record framing for everything the rocksdb engine stores:
 * `[u32 BE payload length][u32 BE CRC-32 of payload][payload]`. RocksDB checksums its own
 * blocks, but a record checksum also catches a value torn or altered above RocksDB and lets
 * open() decide exactly which entries to drop (distributed-anchors §4.1: CRC per record,
 * truncate a torn tail on restart).
 *
 * CRC-32 is the IEEE polynomial (zlib's, ISO-HDLC), from `zlib.crc32` when the runtime has it
 * (Node >= 20.15 / 22.2) and from a table otherwise, so older Node 20 writes identical bytes.
 */
import * as zlib from 'node:zlib';

const HEADER = 8;

let table: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3 / zlib) by table; the fallback when `zlib.crc32` is missing. */
export function crc32Table(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 (IEEE / zlib) of `data`, unsigned. */
export const crc32: (data: Uint8Array) => number = nativeCrc32 ? (d) => nativeCrc32(d) >>> 0 : crc32Table;

/** Frames `payload` as one record (copies it). */
export function encodeRecord(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(crc32(payload), 4);
  out.set(payload, HEADER);
  return out;
}

/** A decoded record: the payload (a view into the input), or why it is unusable. */
export type RecordResult = { ok: true; payload: Buffer } | { ok: false; reason: string };

/** Checks one record's length and checksum; never throws. The payload shares the input's memory. */
export function decodeRecord(record: Uint8Array): RecordResult {
  if (record.length < HEADER) return { ok: false, reason: `record of ${record.length} bytes is shorter than its header` };
  const buf = Buffer.from(record.buffer, record.byteOffset, record.length);
  const len = buf.readUInt32BE(0);
  if (len !== buf.length - HEADER) {
    return { ok: false, reason: `length field says ${len} bytes, record holds ${buf.length - HEADER}` };
  }
  const payload = buf.subarray(HEADER);
  const want = buf.readUInt32BE(4);
  const got = crc32(payload);
  if (want !== got) return { ok: false, reason: `checksum ${hex(got)} does not match stored ${hex(want)}` };
  return { ok: true, payload };
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}

/**
 * Encodes a log entry as a record whose payload is `[u64 index][u64 term][data]`. The index is
 * inside the checksum so a value stored under the wrong key is caught too.
 */
export function encodeLogEntry(index: bigint, term: bigint, data: Uint8Array): Buffer {
  const payload = Buffer.allocUnsafe(16 + data.length);
  payload.writeBigUInt64BE(index, 0);
  payload.writeBigUInt64BE(term, 8);
  payload.set(data, 16);
  return encodeRecord(payload);
}

/** Decodes a log-entry record, checking it belongs at `index`. `data` is a fresh copy. */
export function decodeLogEntry(
  index: bigint,
  record: Uint8Array,
): { ok: true; term: bigint; data: Buffer } | { ok: false; reason: string } {
  const r = decodeRecord(record);
  if (!r.ok) return r;
  if (r.payload.length < 16) return { ok: false, reason: `payload of ${r.payload.length} bytes is shorter than index+term` };
  const stored = r.payload.readBigUInt64BE(0);
  if (stored !== index) return { ok: false, reason: `record says index ${stored}` };
  return { ok: true, term: r.payload.readBigUInt64BE(8), data: Buffer.from(r.payload.subarray(16)) };
}
