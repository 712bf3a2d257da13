/**
 * Fitting a response to its transport (consul-compat §1.7), with Herald's change that TC is set
 * whenever anything was removed (unless `enableTruncate` is false, Consul's silent trimming).
 *
 * Order, as Consul does it, measured on the real encoded size (compression included, OPT RR
 * included) rather than Consul's uncompressed estimate, so a packet is never over `maxSize` and
 * never needlessly short:
 * 1. answer-count cap: UDP at 512 bytes cuts to min(udpAnswerLimit, 8); TCP to 4096 (1024 for SRV).
 * 2. too big: empty AUTHORITY first ((new) Consul).
 * 3. still too big: keep the largest answer prefix that fits (binary search: the encoded size only
 *    grows with the prefix), resyncing ADDITIONAL for each candidate.
 * 4. not even one answer fits with its ADDITIONAL: drop ADDITIONAL; then send header,
 *    question and OPT with TC set, even when enableTruncate is false: an empty NOERROR without
 *    TC would tell the client the name has no records (RFC 2181 §9).
 * ADDITIONAL resync (spec §1.4.4): after any cut, keep only additional records owned by a name that
 * is a kept answer's owner or the target of a kept SRV/CNAME/NS/MX answer, following CNAME chains
 * inside ADDITIONAL (spec §1.4 rule 3: a hostname target carries its CNAME/A chain there).
 */
import type { ResourceRecord, ResponseMessage } from './records.ts';
import { QTYPE } from './records.ts';
import { encodedLength, encodeResponse, nameKey } from './wire-writer.ts';

/** How a response must fit. */
export interface FitOptions {
  transport: 'udp' | 'tcp';
  /** 512, the EDNS UDP size (capped at 65467 by the caller), or 65535 for TCP. */
  maxSize: number;
  /** Applies only when maxSize is 512 (no EDNS): cut to min(limit, 8) answers (limit < 1 counts as 1). */
  udpAnswerLimit: number;
  /** Set TC when anything was removed. */
  enableTruncate: boolean;
  /** Name compression (RFC 1035 §4.1.4). */
  compress: boolean;
}

/** A fitted reply. */
export interface FitResult {
  /** The encoded reply; never longer than maxSize (unless maxSize < 12). Caller owns it. */
  packet: Buffer;
  /** Something was removed (answers, authority or additional records). */
  trimmed: boolean;
  /** Answers in `packet`. */
  answersKept: number;
}

/** UDP answer cap without EDNS: Consul's hard limit on udp_answer_limit (spec §1.1). */
const UDP_ANSWER_HARD_CAP = 8;
const TCP_MAX_ANSWERS = 4096;
const TCP_MAX_SRV_ANSWERS = 1024;
const TCP_MAX_SIZE = 65535;

/** Record types whose RDATA name pulls records into ADDITIONAL. */
function targetOf(rr: ResourceRecord): string | undefined {
  switch (rr.type) {
    case 'SRV':
    case 'CNAME':
    case 'NS':
      return rr.target;
    case 'MX':
      return rr.exchange;
    default:
      return undefined;
  }
}

/** ADDITIONAL records that still belong to the first `k` answers. */
function resyncAdditional(answers: readonly ResourceRecord[], k: number, additional: readonly ResourceRecord[]): ResourceRecord[] {
  if (additional.length === 0) return [];
  const wanted = new Set<string>();
  for (let i = 0; i < k; i++) {
    const rr = answers[i]!;
    wanted.add(nameKey(rr.name));
    const t = targetOf(rr);
    if (t !== undefined) wanted.add(nameKey(t));
  }
  // Follow CNAMEs inside ADDITIONAL; at most one pass per record, so bounded.
  const owners = additional.map((rr) => nameKey(rr.name));
  for (let pass = 0; pass < additional.length; pass++) {
    let grew = false;
    for (let i = 0; i < additional.length; i++) {
      const rr = additional[i]!;
      if (rr.type === 'CNAME' && wanted.has(owners[i]!)) {
        const t = nameKey(rr.target);
        if (!wanted.has(t)) {
          wanted.add(t);
          grew = true;
        }
      }
    }
    if (!grew) break;
  }
  return additional.filter((_, i) => wanted.has(owners[i]!));
}

/**
 * Encode `msg` so that it fits `opts` (see the file comment for the order). Pure: `msg` is not
 * modified. Throws what encodeResponse throws (HERALD_ERR_DNS_ENCODE).
 */
export function fitResponse(msg: ResponseMessage, opts: FitOptions): FitResult {
  const enc = { compress: opts.compress };
  const udp = opts.transport === 'udp';
  const maxSize = udp ? opts.maxSize : Math.min(opts.maxSize, TCP_MAX_SIZE);
  const all = msg.answers;
  let trimmed = false;

  // 1. Count caps.
  let cap: number;
  if (udp) {
    cap = maxSize === 512 ? Math.min(Math.max(1, Math.floor(opts.udpAnswerLimit) || 1), UDP_ANSWER_HARD_CAP) : all.length;
  } else {
    cap = msg.question?.type === QTYPE.SRV ? TCP_MAX_SRV_ANSWERS : TCP_MAX_ANSWERS;
  }
  let n = all.length;
  if (n > cap) {
    n = cap;
    trimmed = true;
  }

  let authority = msg.authority;
  const additionalFor = (k: number): readonly ResourceRecord[] =>
    k === all.length ? msg.additional : resyncAdditional(all, k, msg.additional);
  const build = (k: number, additional: readonly ResourceRecord[], tc: boolean): ResponseMessage => ({
    ...msg,
    tc,
    answers: k === all.length ? all : all.slice(0, k),
    authority,
    additional: additional as ResourceRecord[],
  });

  let additional = additionalFor(n);
  let fits = encodedLength(build(n, additional, false), enc) <= maxSize;

  // 2. Authority goes first.
  if (!fits && authority.length > 0) {
    authority = [];
    trimmed = true;
    fits = encodedLength(build(n, additional, false), enc) <= maxSize;
  }

  // 3. Largest answer prefix that fits, with its additional records.
  if (!fits && n > 1) {
    let lo = 1; // candidate
    let hi = n - 1; // n is known not to fit
    let best = 0;
    let bestAdditional: readonly ResourceRecord[] = [];
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const add = additionalFor(mid);
      if (encodedLength(build(mid, add, false), enc) <= maxSize) {
        best = mid;
        bestAdditional = add;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (best > 0) {
      n = best;
      additional = bestAdditional;
      fits = true;
    } else {
      n = 1;
      additional = additionalFor(1);
    }
    trimmed = true;
  }

  // 4. One answer without its additional records; then nothing but the question.
  if (!fits && additional.length > 0) {
    trimmed = true;
    additional = [];
    fits = encodedLength(build(n, additional, false), enc) <= maxSize;
  }
  if (!fits) {
    return { packet: minimal(msg, maxSize, enc), trimmed: true, answersKept: 0 };
  }
  if (n < all.length) trimmed = true;
  if (additional.length < msg.additional.length) trimmed = true;
  const tc = msg.tc || (trimmed && opts.enableTruncate);
  return { packet: encodeResponse(build(n, additional, tc), enc), trimmed, answersKept: n };
}

/** Header + question + OPT with TC; sheds OPT options, then the question, if even that is too big. */
function minimal(msg: ResponseMessage, maxSize: number, enc: { compress: boolean }): Buffer {
  const bare: ResponseMessage = { ...msg, tc: true, answers: [], authority: [], additional: [] };
  if (encodedLength(bare, enc) <= maxSize) return encodeResponse(bare, enc);
  if (bare.edns && bare.edns.options.length > 0) {
    bare.edns = { ...bare.edns, options: [] };
    if (encodedLength(bare, enc) <= maxSize) return encodeResponse(bare, enc);
  }
  bare.question = undefined;
  if (encodedLength(bare, enc) <= maxSize) return encodeResponse(bare, enc);
  bare.edns = undefined;
  return encodeResponse(bare, enc);
}
