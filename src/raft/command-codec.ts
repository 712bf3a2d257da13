/**
 * How a command is stored in a log entry's `data`: one format byte, then the command in V8's
 * structured-serialization format (node:v8 serialize). It round-trips everything a command may
 * carry (bigint CAS indexes, Buffer values, nested objects) exactly, with no escaping rules of
 * our own to get wrong. V8 reads every older version of its format, so an upgraded agent
 * replays an old log; the format byte leaves room to switch encodings later (e.g. when Raft
 * replicates entries between agents on different Node versions).
 */
import v8 from 'node:v8';
import type { Command } from '../catalog/types.ts';

/** Format byte of a V8-serialized command. */
export const COMMAND_FORMAT_V8 = 1;

/** The entry data for `command`. Throws (a DataCloneError) for a value V8 cannot serialize. */
export function encodeCommand(command: Command): Buffer {
  const body = v8.serialize(command);
  const out = Buffer.allocUnsafe(1 + body.length);
  out[0] = COMMAND_FORMAT_V8;
  body.copy(out, 1);
  return out;
}

/** The command in `data`, or why it cannot be read. Never throws. */
export function decodeCommand(data: Buffer): { ok: true; command: Command } | { ok: false; reason: string } {
  if (data.length === 0) return { ok: false, reason: 'empty entry' };
  if (data[0] !== COMMAND_FORMAT_V8) return { ok: false, reason: `unknown command format ${data[0]}` };
  let value: unknown;
  try {
    value = v8.deserialize(data.subarray(1));
  } catch (err) {
    return { ok: false, reason: `undecodable command: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
    return { ok: false, reason: 'not a command (no string "type")' };
  }
  return { ok: true, command: value as Command };
}
