import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import type { Edns, ResourceRecord, ResponseMessage } from './records.ts';
import { fitResponse, type FitOptions } from './trim.ts';
import { encodedLength } from './wire-writer.ts';

const EDNS = (udpSize: number): Edns => ({ udpSize, extendedRcode: 0, version: 0, dnssecOk: false, options: [] });

function msg(over: Partial<ResponseMessage> = {}): ResponseMessage {
  return {
    id: 7,
    opcode: 0,
    rd: true,
    aa: true,
    ra: false,
    tc: false,
    rcode: 0,
    question: { name: 'web.service.consul', type: 1, class: 1 },
    answers: [],
    authority: [],
    additional: [],
    ...over,
  };
}
const aRecords = (n: number, name = 'web.service.consul'): ResourceRecord[] =>
  Array.from({ length: n }, (_, i) => ({ type: 'A' as const, name, ttl: 0, address: `10.0.${i >> 8}.${i & 255}` }));
const srvAnswers = (n: number): ResourceRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    type: 'SRV' as const,
    name: 'web.service.consul',
    ttl: 0,
    priority: 1,
    weight: 1,
    port: 20000 + i,
    target: `node-${i}.node.dc1.consul`,
  }));
const srvAdditional = (n: number): ResourceRecord[] =>
  Array.from({ length: n }, (_, i) => [
    { type: 'A' as const, name: `node-${i}.node.dc1.consul`, ttl: 0, address: `10.1.${i >> 8}.${i & 255}` },
    { type: 'TXT' as const, name: `Node-${i}.NODE.dc1.consul`, ttl: 0, texts: ['consul-network-segment='] },
  ]).flat();

const udp512: FitOptions = { transport: 'udp', maxSize: 512, udpAnswerLimit: 3, enableTruncate: true, compress: true };
const udp = (maxSize: number, over: Partial<FitOptions> = {}): FitOptions => ({ ...udp512, maxSize, ...over });
const tcp: FitOptions = { transport: 'tcp', maxSize: 65535, udpAnswerLimit: 3, enableTruncate: true, compress: true };

const tcOf = (p: Buffer) => (p[2]! & 0x02) !== 0;
const decode = (p: Buffer) => dnsPacket.decode(p);

describe('fitResponse: UDP without EDNS (512 bytes)', () => {
  it.each([
    // answers, udpAnswerLimit, enableTruncate, expected kept, expected TC
    [10, 3, true, 3, true],
    [10, 3, false, 3, false],
    [3, 3, true, 3, false],
    [2, 3, true, 2, false],
    [20, 20, true, 8, true], // hard cap 8
    [20, 0, true, 1, true], // a limit below 1 counts as 1
  ])('%i answers, limit %i, enableTruncate %s -> %i kept, TC %s', (n, limit, truncate, kept, tc) => {
    const r = fitResponse(msg({ answers: aRecords(n) }), udp(512, { udpAnswerLimit: limit, enableTruncate: truncate }));
    expect(r.answersKept).toBe(kept);
    expect(decode(r.packet).answers).toHaveLength(kept);
    expect(tcOf(r.packet)).toBe(tc);
    expect(r.trimmed).toBe(kept < n);
    expect(r.packet.length).toBeLessThanOrEqual(512);
  });

  it('cuts by size when fewer answers than the cap still overflow 512 bytes', () => {
    const big: ResourceRecord[] = Array.from({ length: 3 }, (_, i) => ({ type: 'TXT', name: `t${i}.consul`, ttl: 0, texts: ['x'.repeat(200)] }));
    const r = fitResponse(msg({ answers: big }), udp512);
    expect(r.answersKept).toBe(2);
    expect(r.packet.length).toBeLessThanOrEqual(512);
    expect(tcOf(r.packet)).toBe(true);
  });
});

describe('fitResponse: EDNS sizes fit as many answers as fit', () => {
  it.each([600, 1232, 1400, 4096])('EDNS %i', (size) => {
    const m = msg({ answers: aRecords(1000), edns: EDNS(size) });
    const r = fitResponse(m, udp(size));
    expect(r.packet.length).toBeLessThanOrEqual(size);
    // Maximal: one more answer would not fit.
    const oneMore = encodedLength({ ...m, answers: m.answers.slice(0, r.answersKept + 1) });
    expect(oneMore).toBeGreaterThan(size);
    const d = decode(r.packet);
    expect(d.answers).toHaveLength(r.answersKept);
    expect(r.answersKept).toBeGreaterThan(3);
    // The OPT RR is kept and echoes the size.
    const opt = d.additionals!.find((a) => a.type === 'OPT') as dnsPacket.OptAnswer;
    expect(opt.udpPayloadSize).toBe(size);
    expect(tcOf(r.packet)).toBe(true);
  });

  it('does not apply the answer-count cap with EDNS above 512', () => {
    const r = fitResponse(msg({ answers: aRecords(10), edns: EDNS(1232) }), udp(1232));
    expect(r.answersKept).toBe(10);
    expect(r.trimmed).toBe(false);
    expect(tcOf(r.packet)).toBe(false);
  });

  it('counts the OPT RR and its options in the size', () => {
    const edns: Edns = { ...EDNS(600), options: [{ code: 65001, data: Buffer.alloc(100) }] };
    const without = fitResponse(msg({ answers: aRecords(100), edns: EDNS(600) }), udp(600));
    const withOpts = fitResponse(msg({ answers: aRecords(100), edns }), udp(600));
    expect(withOpts.packet.length).toBeLessThanOrEqual(600);
    expect(withOpts.answersKept).toBeLessThan(without.answersKept);
  });
});

describe('fitResponse: ADDITIONAL resync', () => {
  it('keeps only the A and node-meta TXT records of kept SRV targets (case-insensitive)', () => {
    const m = msg({ question: { name: 'web.service.consul', type: 33, class: 1 }, answers: srvAnswers(10), additional: srvAdditional(10) });
    const r = fitResponse(m, udp512);
    expect(r.answersKept).toBe(3);
    const d = decode(r.packet);
    const targets = d.answers!.map((a) => (a as dnsPacket.SrvAnswer).data.target.toLowerCase());
    expect(targets).toEqual(['node-0.node.dc1.consul', 'node-1.node.dc1.consul', 'node-2.node.dc1.consul']);
    const owners = d.additionals!.map((a) => `${a.type} ${a.name.toLowerCase()}`).sort();
    expect(owners).toEqual(targets.flatMap((t) => [`A ${t}`, `TXT ${t}`]).sort());
  });

  it('resyncs after size cuts too, and the result still fits', () => {
    const m = msg({ question: { name: 'web.service.consul', type: 33, class: 1 }, answers: srvAnswers(200), additional: srvAdditional(200), edns: EDNS(1232) });
    const r = fitResponse(m, udp(1232));
    expect(r.packet.length).toBeLessThanOrEqual(1232);
    const d = decode(r.packet);
    const kept = new Set(d.answers!.map((a) => (a as dnsPacket.SrvAnswer).data.target.toLowerCase()));
    const extra = d.additionals!.filter((a) => a.type !== 'OPT');
    expect(extra.length).toBe(2 * kept.size);
    for (const a of extra) expect(kept.has(a.name.toLowerCase())).toBe(true);
  });

  it('follows CNAME chains of hostname targets inside ADDITIONAL', () => {
    const answers: ResourceRecord[] = [
      { type: 'SRV', name: 'web.service.consul', ttl: 0, priority: 1, weight: 1, port: 80, target: 'a.example.com' },
      { type: 'SRV', name: 'web.service.consul', ttl: 0, priority: 1, weight: 1, port: 80, target: 'b.example.com' },
    ];
    const additional: ResourceRecord[] = [
      { type: 'CNAME', name: 'a.example.com', ttl: 0, target: 'lb-a.example.net' },
      { type: 'A', name: 'lb-a.example.net', ttl: 0, address: '192.0.2.1' },
      { type: 'CNAME', name: 'b.example.com', ttl: 0, target: 'lb-b.example.net' },
      { type: 'A', name: 'lb-b.example.net', ttl: 0, address: '192.0.2.2' },
    ];
    const r = fitResponse(msg({ question: { name: 'web.service.consul', type: 33, class: 1 }, answers, additional }), udp(512, { udpAnswerLimit: 1 }));
    expect(r.answersKept).toBe(1);
    expect(decode(r.packet).additionals!.map((a) => a.name)).toEqual(['a.example.com', 'lb-a.example.net']);
  });

  it('keeps records owned by a kept answer (node-meta TXT of a node answer)', () => {
    const answers: ResourceRecord[] = [
      { type: 'A', name: 'n1.node.consul', ttl: 0, address: '192.0.2.1' },
      { type: 'A', name: 'n2.node.consul', ttl: 0, address: '192.0.2.2' },
    ];
    const additional: ResourceRecord[] = [
      { type: 'TXT', name: 'n1.node.consul', ttl: 0, texts: ['rack=1'] },
      { type: 'TXT', name: 'n2.node.consul', ttl: 0, texts: ['rack=2'] },
    ];
    const r = fitResponse(msg({ answers, additional }), udp(512, { udpAnswerLimit: 1 }));
    expect(decode(r.packet).additionals!.map((a) => a.name)).toEqual(['n1.node.consul']);
  });

  it('leaves ADDITIONAL alone when nothing was cut', () => {
    const m = msg({ answers: srvAnswers(2), additional: [...srvAdditional(2), { type: 'A', name: 'unrelated.consul', ttl: 0, address: '192.0.2.9' }] });
    const r = fitResponse(m, udp512);
    expect(r.trimmed).toBe(false);
    expect(decode(r.packet).additionals).toHaveLength(5);
  });

  it('drops ADDITIONAL before giving up on a single answer', () => {
    const m = msg({
      answers: [{ type: 'A', name: 'n1.node.consul', ttl: 0, address: '192.0.2.1' }],
      additional: [{ type: 'TXT', name: 'n1.node.consul', ttl: 0, texts: ['x'.repeat(250), 'y'.repeat(250)] }],
    });
    const r = fitResponse(m, udp512);
    expect(r.answersKept).toBe(1);
    expect(decode(r.packet).additionals).toHaveLength(0);
    expect(r.trimmed).toBe(true);
  });
});

describe('fitResponse: AUTHORITY is emptied first', () => {
  it('keeps every answer when dropping AUTHORITY is enough', () => {
    const authority: ResourceRecord[] = Array.from({ length: 6 }, (_, i) => ({ type: 'NS', name: 'consul', ttl: 0, target: `server-${i}.node.dc1.consul` }));
    const m = msg({ answers: aRecords(3), authority, edns: EDNS(512) });
    expect(encodedLength(m)).toBeGreaterThan(200);
    const r = fitResponse(m, udp(200));
    expect(r.answersKept).toBe(3);
    const d = decode(r.packet);
    expect(d.authorities).toHaveLength(0);
    expect(r.trimmed).toBe(true);
    expect(tcOf(r.packet)).toBe(true);
  });

  it('keeps AUTHORITY when everything fits', () => {
    const m = msg({ rcode: 3, authority: [{ type: 'SOA', name: 'consul', ttl: 0, mname: 'ns.consul', rname: 'hostmaster.consul', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 0 }] });
    const r = fitResponse(m, udp512);
    expect(decode(r.packet).authorities).toHaveLength(1);
    expect(r.trimmed).toBe(false);
  });
});

describe('fitResponse: nothing fits', () => {
  it.each([true, false])('sends header + question + OPT with TC (enableTruncate %s)', (truncate) => {
    const m = msg({ answers: [{ type: 'TXT', name: 'big.consul', ttl: 0, texts: ['x'.repeat(2000)] }], edns: EDNS(1232) });
    const r = fitResponse(m, udp(1232, { enableTruncate: truncate }));
    expect(r.answersKept).toBe(0);
    expect(r.trimmed).toBe(true);
    expect(tcOf(r.packet)).toBe(true);
    const d = decode(r.packet);
    expect(d.questions).toHaveLength(1);
    expect(d.answers).toHaveLength(0);
    expect(d.additionals!.map((a) => a.type)).toEqual(['OPT']);
  });
});

describe('fitResponse: TCP', () => {
  it('ignores the UDP answer cap', () => {
    const r = fitResponse(msg({ answers: aRecords(50) }), tcp);
    expect(r.answersKept).toBe(50);
    expect(r.trimmed).toBe(false);
  });

  it('caps at 4096 answers and 65535 bytes', () => {
    // 4096 A answers need 4096 * 16 bytes > 65535, so the byte cap decides here: the count cap
    // can never be the binding one for A records.
    const m = msg({ answers: aRecords(5000) });
    const r = fitResponse(m, tcp);
    expect(r.answersKept).toBeLessThanOrEqual(4096);
    expect(r.packet.length).toBeLessThanOrEqual(65535);
    expect(encodedLength({ ...m, answers: m.answers.slice(0, r.answersKept + 1) })).toBeGreaterThan(65535);
    expect(r.trimmed).toBe(true);
    expect(tcOf(r.packet)).toBe(true);
  });

  it('caps SRV questions at 1024 answers', () => {
    const m = msg({ question: { name: 'web.service.consul', type: 33, class: 1 }, answers: srvAnswers(1500) });
    const r = fitResponse(m, tcp);
    expect(r.answersKept).toBe(1024);
    expect(decode(r.packet).answers).toHaveLength(1024);
  });

  it('cuts to 65535 bytes', () => {
    const answers: ResourceRecord[] = Array.from({ length: 1000 }, (_, i) => ({ type: 'TXT', name: `t${i}.consul`, ttl: 0, texts: ['x'.repeat(100)] }));
    const m = msg({ answers });
    const r = fitResponse(m, tcp);
    expect(r.packet.length).toBeLessThanOrEqual(65535);
    expect(encodedLength({ ...m, answers: answers.slice(0, r.answersKept + 1) })).toBeGreaterThan(65535);
    expect(r.answersKept).toBeGreaterThan(400);
  });
});

describe('fitResponse: never larger than maxSize', () => {
  it('holds for 300 random responses', () => {
    let s = 12345;
    const rand = (n: number) => {
      s = (s * 1103515245 + 12345) >>> 0;
      return (s >>> 8) % n;
    };
    for (let i = 0; i < 300; i++) {
      const nAns = rand(60);
      const answers = rand(2) ? srvAnswers(nAns) : aRecords(nAns);
      const additional = srvAdditional(rand(nAns + 1));
      const authority: ResourceRecord[] = rand(2) ? [{ type: 'NS', name: 'consul', ttl: 0, target: 'ns.consul' }] : [];
      const size = [512, 600, 900, 1232, 1400][rand(5)]!;
      const m = msg({ answers, additional, authority, edns: size === 512 && rand(2) ? undefined : EDNS(size) });
      const r = fitResponse(m, udp(size, { udpAnswerLimit: 1 + rand(10), compress: rand(4) !== 0 }));
      expect(r.packet.length).toBeLessThanOrEqual(size);
      const d = decode(r.packet);
      expect(d.answers).toHaveLength(r.answersKept);
      expect(d.questions).toHaveLength(1);
    }
  });
});
