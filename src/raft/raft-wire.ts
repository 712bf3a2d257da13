/**
 * Raft messages on the RPC transport. The transport carries value-codec values (bigints,
 * Buffers, plain objects), so a core Message travels almost as is, wrapped in `{ raft: m }` so
 * one-way messages of other kinds can share the transport. What arrives is decoded from a peer
 * and unchecked (transport.ts), so `fromWire` checks every field the core reads and drops
 * anything malformed rather than letting it reach the protocol.
 */
import type { Entry, EntryKind, Message, MessageType, Snapshot } from './core/index.ts';

/** A Raft message as sent on the transport. */
export interface RaftWireMessage {
  readonly raft: Message;
}

const TYPES = new Set<MessageType>([
  'MsgApp',
  'MsgAppResp',
  'MsgVote',
  'MsgVoteResp',
  'MsgPreVote',
  'MsgPreVoteResp',
  'MsgHeartbeat',
  'MsgHeartbeatResp',
  'MsgSnap',
  'MsgReadIndex',
  'MsgReadIndexResp',
  'MsgTimeoutNow',
]);
const KINDS = new Set<EntryKind>(['normal', 'noop', 'conf']);

/** Wraps `m` for transport.send (no copy: the transport encodes it on the spot). */
export function toWire(m: Message): RaftWireMessage {
  return { raft: m };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

const optBig = (v: unknown) => v === undefined || typeof v === 'bigint';
const optStr = (v: unknown) => v === undefined || typeof v === 'string';
const optBool = (v: unknown) => v === undefined || typeof v === 'boolean';

function entryOk(e: unknown): e is Entry {
  return isObj(e) && typeof e.index === 'bigint' && typeof e.term === 'bigint' && KINDS.has(e.kind as EntryKind) && Buffer.isBuffer(e.data);
}

function snapshotOk(s: unknown): s is Snapshot {
  return (
    isObj(s) &&
    typeof s.index === 'bigint' &&
    typeof s.term === 'bigint' &&
    Array.isArray(s.voters) &&
    s.voters.every((v) => typeof v === 'string') &&
    Buffer.isBuffer(s.data)
  );
}

/**
 * The Raft message in a received value, or undefined when it is not one (another kind of
 * message) or is malformed. `from` is the sender the transport's handshake named: a message
 * claiming another sender is dropped.
 */
export function fromWire(from: string, value: unknown): Message | undefined {
  if (!isObj(value) || !isObj(value.raft)) return undefined;
  const m = value.raft;
  if (!TYPES.has(m.type as MessageType) || m.from !== from || typeof m.to !== 'string' || typeof m.term !== 'bigint') return undefined;
  if (!optBig(m.index) || !optBig(m.logTerm) || !optBig(m.commit) || !optBig(m.rejectHint)) return undefined;
  if (!optBool(m.reject) || !optBool(m.transfer) || !optStr(m.context)) return undefined;
  if (m.tick !== undefined && !Number.isSafeInteger(m.tick)) return undefined;
  if (m.entries !== undefined && !(Array.isArray(m.entries) && m.entries.every(entryOk))) return undefined;
  if (m.snapshot !== undefined && !snapshotOk(m.snapshot)) return undefined;
  return m as unknown as Message;
}
