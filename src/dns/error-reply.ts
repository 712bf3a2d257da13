/**
 * Error replies built straight from the received bytes (DESIGN.md principle 8: bad input gets a
 * clear answer). No decode, no exceptions: works for packets readQuery rejected.
 */
import type { QueryView } from './wire-query.ts';

/** UDP size advertised when a request's OPT carried none we could read (DNS Flag Day 2020). */
const DEFAULT_EDNS_UDP = 1232;

/**
 * An error reply (FORMERR, NOTIMP, REFUSED, SERVFAIL, ...) to `query`, which readQuery read into
 * `view`. Echoes the ID, opcode, RD and CD (RFC 1035 §4.1.1, RFC 4035 §3.1.6); sets QR. Copies the
 * question when readQuery read one (view.questionEnd > 0), else QDCOUNT is 0. Adds an OPT RR
 * (RFC 6891 §7: a responder that implements EDNS answers an EDNS query with one) when the query
 * had exactly one readable OPT: the requester's UDP size, version 0, DO copied (RFC 3225 §3), and
 * the upper 8 bits of `rcode` as its extended RCODE. Returns a new Buffer; an empty one when the
 * query has no 12-byte header (status DROP: send nothing).
 */
export function errorReply(query: Buffer, view: QueryView, rcode: number): Buffer {
  if (query.length < 12) return Buffer.alloc(0);
  const qEnd = view.questionEnd;
  const qlen = qEnd > 12 && qEnd <= query.length ? qEnd - 12 : 0;
  const optLen = view.hasEdns ? 11 : 0;
  const reply = Buffer.alloc(12 + qlen + optLen);
  reply[0] = query[0]!;
  reply[1] = query[1]!;
  // QR | opcode (4 bits) | RD
  reply[2] = 0x80 | (query[2]! & 0x79);
  // CD | RCODE (low 4 bits)
  reply[3] = (query[3]! & 0x10) | (rcode & 0x0f);
  reply[5] = qlen > 0 ? 1 : 0;
  reply[11] = optLen > 0 ? 1 : 0;
  if (qlen > 0) query.copy(reply, 12, 12, qEnd);
  if (optLen > 0) {
    const p = 12 + qlen;
    // reply[p] = 0: root owner.
    reply[p + 2] = 41;
    reply.writeUInt16BE(view.ednsUdpSize >= 512 ? view.ednsUdpSize : DEFAULT_EDNS_UDP, p + 3);
    reply[p + 5] = (rcode >>> 4) & 0xff;
    // reply[p + 6] = 0: version 0, the one we implement.
    reply[p + 7] = view.ednsDo ? 0x80 : 0;
    // Z and RDLENGTH stay 0.
  }
  return reply;
}
