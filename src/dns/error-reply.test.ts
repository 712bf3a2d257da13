import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { RCODE } from './records.ts';
import { errorReply } from './error-reply.ts';
import { createQueryView, QueryStatus, readQuery } from './wire-query.ts';

function hdr(flags: number, qd = 1, an = 0, ar = 0, id = 0xcafe): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  b.writeUInt16BE(qd, 4);
  b.writeUInt16BE(an, 6);
  b.writeUInt16BE(ar, 10);
  return b;
}
const QUESTION = Buffer.from('\x03web\x07service\x06consul\x00\x00\x01\x00\x01', 'latin1');
function opt(udp: number, version = 0, doBit = false): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(41, 1);
  b.writeUInt16BE(udp, 3);
  b[6] = version;
  b[7] = doBit ? 0x80 : 0;
  return b;
}

function reply(packet: Buffer, rcode?: number) {
  const v = createQueryView();
  const status = readQuery(packet, 'u', v);
  const code = rcode ?? (status === QueryStatus.NOTIMP ? RCODE.NOTIMP : RCODE.FORMERR);
  const out = errorReply(packet, v, code);
  // dns-packet's types omit the decoded opcode and rcode names.
  return { status, out, d: dnsPacket.decode(out) as dnsPacket.DecodedPacket & { opcode: string; rcode: string } };
}

describe('errorReply', () => {
  it.each([
    // what, packet, status, question echoed
    ['QDCOUNT 0', hdr(0x0100, 0), QueryStatus.FORMERR, false],
    ['bad label type', Buffer.concat([hdr(0x0100), Buffer.from([0x41, 0])]), QueryStatus.FORMERR, false],
    ['pointer in the question', Buffer.concat([hdr(0x0100), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]), QueryStatus.FORMERR, false],
    ['ANCOUNT 1 (question read)', Buffer.concat([hdr(0x0100, 1, 1), QUESTION]), QueryStatus.FORMERR, true],
    ['two OPT RRs', Buffer.concat([hdr(0x0100, 1, 0, 2), QUESTION, opt(1232), opt(1232)]), QueryStatus.FORMERR, true],
    ['opcode STATUS', Buffer.concat([hdr((2 << 11) | 0x0100), QUESTION]), QueryStatus.NOTIMP, true],
  ])('%s', (_what, packet, status, echoed) => {
    const { status: got, out, d } = reply(packet);
    expect(got).toBe(status);
    expect(d.id).toBe(0xcafe);
    expect(d.flag_qr).toBe(true);
    expect(d.flag_rd).toBe(true);
    expect(d.opcode).toBe(status === QueryStatus.NOTIMP ? 'STATUS' : 'QUERY');
    expect(d.rcode).toBe(status === QueryStatus.NOTIMP ? 'NOTIMP' : 'FORMERR');
    expect(out.readUInt16BE(4)).toBe(echoed ? 1 : 0);
    if (echoed) expect(d.questions![0]).toEqual({ name: 'web.service.consul', type: 'A', class: 'IN' });
    expect(d.answers).toHaveLength(0);
    expect(d.additionals).toHaveLength(0);
  });

  it('echoes RD=0 and CD=1', () => {
    const { out } = reply(hdr(0x0010, 0));
    expect(out[2]! & 0x01).toBe(0);
    expect(out[3]! & 0x10).toBe(0x10);
  });

  it('answers SERVFAIL/REFUSED for an accepted query with the question and the OPT echoed', () => {
    const q = Buffer.concat([hdr(0x0100, 1, 0, 1), QUESTION, opt(1400, 0, true)]);
    for (const rcode of [RCODE.SERVFAIL, RCODE.REFUSED]) {
      const { status, d } = reply(q, rcode);
      expect(status).toBe(QueryStatus.OK);
      expect(d.rcode).toBe(rcode === RCODE.SERVFAIL ? 'SERVFAIL' : 'REFUSED');
      expect(d.questions).toHaveLength(1);
      const o = d.additionals![0] as dnsPacket.OptAnswer;
      expect(o).toMatchObject({ type: 'OPT', udpPayloadSize: 1400, ednsVersion: 0, flag_do: true });
    }
  });

  it('answers an unsupported EDNS version with FORMERR and an OPT of version 0', () => {
    const { status, d } = reply(Buffer.concat([hdr(0x0100, 1, 0, 1), QUESTION, opt(4096, 1)]));
    expect(status).toBe(QueryStatus.FORMERR);
    const o = d.additionals![0] as dnsPacket.OptAnswer;
    expect(o).toMatchObject({ type: 'OPT', udpPayloadSize: 4096, ednsVersion: 0 });
  });

  it('raises small EDNS sizes to 512 in the echo', () => {
    const { d } = reply(Buffer.concat([hdr(0x0100, 1, 0, 1), QUESTION, opt(100)]), RCODE.SERVFAIL);
    expect((d.additionals![0] as dnsPacket.OptAnswer).udpPayloadSize).toBe(512);
  });

  it('carries an extended RCODE in the OPT RR (BADVERS = 16)', () => {
    const q = Buffer.concat([hdr(0x0100, 1, 0, 1), QUESTION, opt(1232)]);
    const v = createQueryView();
    readQuery(q, 'u', v);
    const out = errorReply(q, v, 16);
    expect(out[3]! & 0x0f).toBe(0);
    expect(out[out.length - 11 + 5]).toBe(1);
  });

  it('returns an empty buffer when there is no header to answer', () => {
    const v = createQueryView();
    const short = Buffer.alloc(5);
    readQuery(short, 'u', v);
    expect(errorReply(short, v, RCODE.FORMERR).length).toBe(0);
  });
});
