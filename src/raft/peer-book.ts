/**
 * The servers' RPC addresses, replicated with the log (Raft's conf entries carry only ids).
 *
 * - A brand-new cluster starts from its bootstrap list (stored by each member at first start).
 * - `addServer(id, address)` first commits a peers entry holding the whole book plus the new
 *   server, then the conf change: a server that later replays the log from index 1 (or
 *   receives a snapshot) learns every member's address, not only the added ones.
 * - Snapshots carry the book in an envelope around the application's bytes.
 * - Removing a voter drops its address.
 *
 * Peers entries are `normal` entries whose data starts with DRIVER_ENTRY_TAG, a byte no
 * application command may start with (command-codec.ts starts with its format byte, 1). The
 * driver applies them itself; the state machine never sees them.
 */
import { ERR, HeraldError } from '../errors.ts';

/** First byte of a driver entry. */
export const DRIVER_ENTRY_TAG = 0xff;

/** Server id -> RPC address. */
export type Peers = Readonly<Record<string, string>>;

export function isDriverEntry(data: Buffer): boolean {
  return data.length > 0 && data[0] === DRIVER_ENTRY_TAG;
}

/** A peers entry: these addresses are set (others are kept). */
export function encodePeersEntry(peers: Peers): Buffer {
  return Buffer.concat([Buffer.from([DRIVER_ENTRY_TAG]), Buffer.from(JSON.stringify({ peers }), 'utf8')]);
}

function checkPeers(v: unknown, where: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((a) => typeof a === 'string')) {
    throw new HeraldError(ERR.RAFT_INVARIANT, `${where}: peers is not an object of id -> address strings`);
  }
  return { ...(v as Record<string, string>) };
}

/** The addresses in a driver entry. Throws RAFT_INVARIANT when it is not one. */
export function decodePeersEntry(data: Buffer): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(data.subarray(1).toString('utf8'));
  } catch (err) {
    throw new HeraldError(ERR.RAFT_INVARIANT, 'driver entry is not JSON', { cause: err });
  }
  return checkPeers((v as { peers?: unknown } | null)?.peers, 'driver entry');
}

/**
 * A Raft snapshot's data: [u32 header length][header JSON {v: 1, peers}][application bytes].
 * The header is small and rare to write, so JSON's readability wins.
 */
export function encodeSnapshotData(peers: Peers, app: Buffer): Buffer {
  const header = Buffer.from(JSON.stringify({ v: 1, peers }), 'utf8');
  const out = Buffer.allocUnsafe(4 + header.length + app.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  app.copy(out, 4 + header.length);
  return out;
}

/** Splits a snapshot's data. Throws SNAPSHOT_INVALID when it is not an envelope. */
export function decodeSnapshotData(data: Buffer): { peers: Record<string, string>; app: Buffer } {
  const bad = (why: string) => new HeraldError(ERR.SNAPSHOT_INVALID, `raft snapshot: ${why}`);
  if (data.length < 4) throw bad('too short');
  const n = data.readUInt32BE(0);
  if (4 + n > data.length) throw bad('header runs past the end');
  let header: unknown;
  try {
    header = JSON.parse(data.subarray(4, 4 + n).toString('utf8'));
  } catch {
    throw bad('header is not JSON');
  }
  const h = header as { v?: unknown; peers?: unknown } | null;
  if (h?.v !== 1) throw bad(`unknown header version ${JSON.stringify(h?.v)}`);
  try {
    return { peers: checkPeers(h.peers, 'raft snapshot'), app: data.subarray(4 + n) };
  } catch (err) {
    throw bad((err as Error).message);
  }
}
