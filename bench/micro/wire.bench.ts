/**
 * Micro-benchmarks, one per hot function of the DNS wire layer (CONVENTIONS.md: benchmarks are
 * code too). Run: `npx tsx bench/micro/wire.bench.ts`. Prints ns/op (median of 7 rounds, min-max)
 * with the machine and Node version. No dependencies beyond the code under test.
 */
import os from 'node:os';
import { AnswerCache, replyFromCache } from '../../src/dns/answer-cache.ts';
import { errorReply } from '../../src/dns/error-reply.ts';
import type { ResourceRecord, ResponseMessage } from '../../src/dns/records.ts';
import { fitResponse } from '../../src/dns/trim.ts';
import { createQueryView, questionName, QueryStatus, readQuery } from '../../src/dns/wire-query.ts';
import { encodeName, encodeResponse } from '../../src/dns/wire-writer.ts';

/** Defeats dead-code elimination: every benchmark feeds its result in here. */
let sink = 0;

function bench(name: string, iterations: number, fn: () => number): void {
  for (let i = 0; i < Math.min(iterations, 200_000); i++) sink ^= fn(); // warm-up (JIT)
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink ^= fn();
    const t1 = process.hrtime.bigint();
    rounds.push(Number(t1 - t0) / iterations);
  }
  rounds.sort((a, b) => a - b);
  const f = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));
  console.log(`${name.padEnd(58)} ${f(rounds[3]!).padStart(8)} ns/op  (${f(rounds[0]!)}-${f(rounds[6]!)})`);
}

function queryPacket(name: string, qtype: number, ednsUdp?: number, id = 0x1234): Buffer {
  const parts = [Buffer.alloc(12), encodeName(name), Buffer.from([qtype >> 8, qtype & 0xff, 0, 1])];
  parts[0]!.writeUInt16BE(id, 0);
  parts[0]!.writeUInt16BE(0x0100, 2);
  parts[0]!.writeUInt16BE(1, 4);
  if (ednsUdp !== undefined) {
    parts[0]!.writeUInt16BE(1, 10);
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(ednsUdp, 3);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

function srvMessage(n: number, qname: string): ResponseMessage {
  const answers: ResourceRecord[] = [];
  const additional: ResourceRecord[] = [];
  for (let i = 0; i < n; i++) {
    const target = `node-${i}.node.dc1.consul`;
    answers.push({ type: 'SRV', name: qname, ttl: 30, priority: 1, weight: 1, port: 20000 + i, target });
    additional.push({ type: 'A', name: target, ttl: 30, address: `10.0.0.${i + 1}` });
    additional.push({ type: 'TXT', name: target, ttl: 30, texts: ['consul-network-segment='] });
  }
  return { id: 0, opcode: 0, rd: true, aa: true, ra: false, tc: false, rcode: 0, question: { name: qname, type: 33, class: 1 }, answers, authority: [], additional };
}

function aMessage(n: number, qname: string, edns?: number): ResponseMessage {
  const answers: ResourceRecord[] = [];
  for (let i = 0; i < n; i++) answers.push({ type: 'A', name: qname, ttl: 30, address: `10.0.${i >> 8}.${i & 255}` });
  return {
    id: 0,
    opcode: 0,
    rd: true,
    aa: true,
    ra: false,
    tc: false,
    rcode: 0,
    question: { name: qname, type: 1, class: 1 },
    answers,
    authority: [],
    additional: [],
    edns: edns ? { udpSize: edns, extendedRcode: 0, version: 0, dnssecOk: false, options: [] } : undefined,
  };
}

console.log(`node ${process.version} on ${os.cpus()[0]?.model ?? 'unknown cpu'} (${os.cpus().length} vCPU), ${os.platform()} ${os.release()}`);

const view = createQueryView();
const qLower = queryPacket('web-17.service.consul', 1);
const qMixed = queryPacket('wEb-17.SeRvIcE.cOnSuL', 1, 1232);
const qSrv = queryPacket('_web-17._tcp.service.dc1.consul', 33);
const qBad = Buffer.concat([qLower.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);

bench('readQuery A, lowercase, no EDNS', 2_000_000, () => readQuery(qLower, 'u', view));
bench('readQuery A, 0x20 mixed case, EDNS 1232', 2_000_000, () => readQuery(qMixed, 'u', view));
bench('readQuery SRV, RFC 2782 name', 2_000_000, () => readQuery(qSrv, 'u', view));
bench('readQuery FORMERR (pointer in question)', 2_000_000, () => readQuery(qBad, 'u', view));

// A cache with 10,000 entries (200 services x variants of size/transport), like the anchor zone.
const cache = new AnswerCache({ maxBytes: 64 * 1024 * 1024 });
const keyView = createQueryView();
for (let s = 0; s < 2_000; s++) {
  for (const [edns, t] of [[undefined, 'u'], [1232, 'u'], [4096, 'u'], [undefined, 't'], [1232, 't']] as const) {
    const q = queryPacket(`web-${s}.service.consul`, 1, edns);
    readQuery(q, t, keyView);
    const m = aMessage(3, `web-${s}.service.consul`, edns);
    const variants = [0, 1, 2].map((r) => encodeResponse({ ...m, answers: m.answers.slice(r).concat(m.answers.slice(0, r)) }));
    cache.set(keyView.key, variants, [`svc:web-${s}`]);
  }
}
readQuery(qMixed, 'u', view);
const hitKey = view.key;
const entry = cache.get(hitKey)!;
if (entry === undefined) throw new Error('bench setup: no cache entry for the mixed-case query');

bench(`AnswerCache.get hit (${cache.size} entries)`, 2_000_000, () => (cache.get(hitKey) === undefined ? 0 : 1));
bench('replyFromCache (A x3, 103 B)', 2_000_000, () => replyFromCache(entry, qMixed, view).length);
bench('hit path: readQuery + get + replyFromCache', 2_000_000, () => {
  if (readQuery(qMixed, 'u', view) !== QueryStatus.OK) return 0;
  const e = cache.get(view.key);
  return e === undefined ? 0 : replyFromCache(e, qMixed, view).length;
});
readQuery(qBad, 'u', view);
bench('errorReply FORMERR', 2_000_000, () => errorReply(qBad, view, 1).length);
readQuery(qMixed, 'u', view);
bench('questionName (miss path)', 1_000_000, () => questionName(qMixed, view).length);

const srv3 = srvMessage(3, '_web-17._tcp.service.dc1.consul');
const srv10 = srvMessage(10, '_web-17._tcp.service.dc1.consul');
const a100 = aMessage(100, 'web-17.service.consul', 1232);
bench('encodeResponse SRV x3 + 6 additional, compressed', 200_000, () => encodeResponse(srv3).length);
bench('encodeResponse SRV x3 + 6 additional, uncompressed', 200_000, () => encodeResponse(srv3, { compress: false }).length);
bench('fitResponse SRV x10 -> UDP 512 (3 kept, resync)', 100_000, () =>
  fitResponse(srv10, { transport: 'udp', maxSize: 512, udpAnswerLimit: 3, enableTruncate: true, compress: true }).packet.length,
);
bench('fitResponse A x100 -> EDNS 1232 (binary search)', 20_000, () =>
  fitResponse(a100, { transport: 'udp', maxSize: 1232, udpAnswerLimit: 3, enableTruncate: true, compress: true }).packet.length,
);

if (sink === 0.5) console.log(sink);
