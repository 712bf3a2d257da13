/**
 * One DNS question over UDP to a loopback server, with a deadline: how the harness decides a
 * server is up, and how it measures each server's answer size and content (dnsperf reports only
 * an average size per run). The query is shaped like dnsperf's: RD=1, no EDNS.
 * Uses dns-packet: this is the measuring side, not a hot path.
 */
import { createSocket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';

/** A decoded reply, with its exact size on the wire. */
export interface ProbeReply {
  bytes: number;
  id: number;
  rcode: number;
  flags: { aa: boolean; tc: boolean; rd: boolean; ra: boolean };
  answers: dnsPacket.Answer[];
  authorities: dnsPacket.Answer[];
  additionals: dnsPacket.Answer[];
}

/** RCODE names for reports (RFC 1035 §4.1.1). */
export const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

/**
 * Sends `name type` to host:port and resolves with the first reply carrying the same ID, or
 * rejects after `timeoutMs` (code ETIMEDOUT). Never retries; the caller owns the retry policy.
 */
export function queryUdp(opts: {
  port: number;
  name: string;
  type: dnsPacket.RecordType;
  host?: string;
  timeoutMs?: number;
}): Promise<ProbeReply> {
  const { port, name, type, host = '127.0.0.1', timeoutMs = 500 } = opts;
  const id = Math.floor(Math.random() * 0x10000);
  const query = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(Object.assign(new Error(`no reply from ${host}:${port} to ${name} ${type} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.on('message', (msg) => {
      if (msg.length < 12 || msg.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      socket.close();
      try {
        const d = dnsPacket.decode(msg);
        resolve({
          bytes: msg.length,
          id,
          rcode: msg[3]! & 0x0f,
          flags: { aa: d.flag_aa, tc: d.flag_tc, rd: d.flag_rd, ra: d.flag_ra },
          answers: d.answers ?? [],
          authorities: d.authorities ?? [],
          additionals: d.additionals ?? [],
        });
      } catch (err) {
        reject(err);
      }
    });
    socket.send(query, port, host);
  });
}

/** One record as a stable line (`name TYPE data`), lowercased names, TTL left out. */
export function recordLine(rr: dnsPacket.Answer): string {
  const name = rr.name.toLowerCase();
  const data = (rr as { data?: unknown }).data;
  switch (rr.type) {
    case 'A':
    case 'AAAA':
      return `${name} ${rr.type} ${String(data)}`;
    case 'SRV': {
      const s = data as { priority?: number; weight?: number; port: number; target: string };
      return `${name} SRV ${s.priority ?? 0} ${s.weight ?? 0} ${s.port} ${s.target.toLowerCase()}`;
    }
    case 'SOA': {
      const s = data as { mname: string; rname: string };
      return `${name} SOA ${s.mname.toLowerCase()} ${s.rname.toLowerCase()}`;
    }
    default:
      return `${name} ${rr.type}`;
  }
}

/**
 * The content of a reply as one order-independent string: rcode, then the sorted answer lines,
 * then the sorted ADDITIONAL address lines. Two servers "give the same answer" when these
 * match; AUTHORITY is left out because servers legitimately differ there (dnsmasq sends no SOA
 * with NXDOMAIN), and is reported separately by count.
 */
export function replyContent(r: ProbeReply): string {
  const ans = r.answers.map(recordLine).sort();
  const add = r.additionals.filter((rr) => rr.type === 'A' || rr.type === 'AAAA').map(recordLine).sort();
  return [RCODE_NAMES[r.rcode] ?? `RCODE${r.rcode}`, ...ans, '--', ...add].join('\n');
}
