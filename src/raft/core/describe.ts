/**
 * One stable line per value (etcd-io/raft util.go DescribeMessage), so tests read as
 * transcripts and logs stay greppable. Formats (ids, terms and indexes in decimal):
 *
 *     1/4 normal "put x"                     entry: term/index kind [data]
 *     2/5 noop
 *     2/6 conf add 4 -> 1,2,3,4
 *     1->2 MsgApp term=2 log=1/3 commit=3 entries=[2/4 noop, 2/5 normal "x"]
 *     2->1 MsgAppResp term=2 index=5
 *     2->1 MsgAppResp term=2 reject index=5 hint=1/3      (hint = follower's term/index guess)
 *     1->2 MsgPreVote term=3 last=2/5                     (+ " transfer" when forced)
 *     2->1 MsgVoteResp term=3 granted | rejected
 *     1->2 MsgHeartbeat term=2 commit=5 ctx="r1"
 *     1->3 MsgSnap term=2 snap=2/10 voters=1,2,3 bytes=42
 *     2->1 MsgReadIndex term=2 ctx="r1"      1->2 MsgReadIndexResp term=2 index=5 ctx="r1"
 *
 * The heartbeat's lease tick is left out: it is an implementation detail that would make
 * every transcript depend on how many ticks ran before.
 */
import { decodeConfChange } from './conf-change.ts';
import type { Entry, HardState, Message, ReadState, Ready, Snapshot, SoftState } from './types.ts';

/** Printable ASCII up to 64 bytes prints as a JSON string; anything else as length and hex prefix. */
export function describeData(data: Uint8Array): string {
  let printable = data.length <= 64;
  for (let i = 0; printable && i < data.length; i++) printable = data[i]! >= 0x20 && data[i]! <= 0x7e;
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (printable) return JSON.stringify(buf.toString('latin1'));
  return `<${data.length}B 0x${buf.subarray(0, 8).toString('hex')}${data.length > 8 ? '…' : ''}>`;
}

export function describeEntry(e: Entry): string {
  const head = `${e.term}/${e.index} ${e.kind}`;
  if (e.kind === 'noop') return head;
  if (e.kind === 'conf') {
    try {
      const cc = decodeConfChange(e.data);
      return `${head} ${cc.type} ${cc.node} -> ${cc.voters.join(',')}`;
    } catch {
      return `${head} ${describeData(e.data)}`;
    }
  }
  return `${head} ${describeData(e.data)}`;
}

export function describeEntries(ents: readonly Entry[]): string {
  return `[${ents.map(describeEntry).join(', ')}]`;
}

export function describeSnapshot(s: Snapshot): string {
  return `${s.term}/${s.index} voters=${s.voters.join(',')} bytes=${s.data.length}`;
}

export function describeMessage(m: Message): string {
  let out = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  const ctx = m.context !== undefined ? ` ctx=${JSON.stringify(m.context)}` : '';
  switch (m.type) {
    case 'MsgApp':
      out += ` log=${m.logTerm ?? 0n}/${m.index ?? 0n} commit=${m.commit ?? 0n}`;
      if (m.entries && m.entries.length > 0) out += ` entries=${describeEntries(m.entries)}`;
      break;
    case 'MsgAppResp':
      if (m.reject) out += ` reject index=${m.index ?? 0n} hint=${m.logTerm ?? 0n}/${m.rejectHint ?? 0n}`;
      else if (m.index !== undefined) out += ` index=${m.index}`;
      break;
    case 'MsgVote':
    case 'MsgPreVote':
      out += ` last=${m.logTerm ?? 0n}/${m.index ?? 0n}${m.transfer ? ' transfer' : ''}`;
      break;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      out += m.reject ? ' rejected' : ' granted';
      break;
    case 'MsgHeartbeat':
      out += ` commit=${m.commit ?? 0n}${ctx}`;
      break;
    case 'MsgHeartbeatResp':
    case 'MsgReadIndex':
      out += ctx;
      break;
    case 'MsgReadIndexResp':
      out += ` index=${m.index ?? 0n}${ctx}`;
      break;
    case 'MsgSnap':
      if (m.snapshot) out += ` snap=${describeSnapshot(m.snapshot)}`;
      break;
    case 'MsgTimeoutNow':
      break;
  }
  return out;
}

export function describeSoftState(s: SoftState): string {
  return `leader=${s.leader ?? '-'} role=${s.role} voters=${s.voters.join(',')}`;
}

export function describeHardState(h: HardState): string {
  return `term=${h.term} vote=${h.vote ?? '-'} commit=${h.commit}`;
}

export function describeReadState(r: ReadState): string {
  return `index=${r.index} ctx=${JSON.stringify(r.context)}`;
}

/** One line per part of the Ready (parts that are empty are left out); "(empty)" when all are. */
export function describeReady(rd: Ready): string {
  const lines: string[] = [];
  if (rd.softState) lines.push(`soft ${describeSoftState(rd.softState)}`);
  if (rd.hardState) lines.push(`hard ${describeHardState(rd.hardState)}`);
  if (rd.snapshot) lines.push(`snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.truncateAfter !== undefined) lines.push(`truncate-after ${rd.truncateAfter}`);
  if (rd.entries.length > 0) lines.push(`entries ${describeEntries(rd.entries)}`);
  if (rd.mustSync) lines.push('must-sync');
  if (rd.committedEntries.length > 0) lines.push(`committed ${describeEntries(rd.committedEntries)}`);
  for (const r of rd.readStates) lines.push(`read ${describeReadState(r)}`);
  for (const m of rd.messages) lines.push(`msg ${describeMessage(m)}`);
  return lines.length > 0 ? lines.join('\n') : '(empty)';
}
