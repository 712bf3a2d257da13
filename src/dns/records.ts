/**
 * The resource records Herald builds answers from. These are plain objects used on the
 * miss path only (answer building, zone loading); the hit path never sees them.
 * Names are absolute, without the trailing dot, in the case they should be written.
 */

/** RR type codes (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 6891). */
export const QTYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  AXFR: 252,
  ANY: 255,
} as const;

export const QCLASS_IN = 1;

/** Response codes (RFC 1035 §4.1.1). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

interface RecordBase {
  name: string;
  ttl: number;
}

export type ResourceRecord =
  | (RecordBase & { type: 'A'; address: string })
  | (RecordBase & { type: 'AAAA'; address: string })
  | (RecordBase & { type: 'CNAME'; target: string })
  | (RecordBase & { type: 'NS'; target: string })
  | (RecordBase & { type: 'PTR'; target: string })
  | (RecordBase & { type: 'MX'; preference: number; exchange: string })
  | (RecordBase & { type: 'TXT'; texts: string[] })
  | (RecordBase & { type: 'SRV'; priority: number; weight: number; port: number; target: string })
  | (RecordBase & {
      type: 'SOA';
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    });

export type RecordType = ResourceRecord['type'];

/** An EDNS0 option as it appeared on the wire (RFC 6891 §6.1.2). */
export interface EdnsOption {
  code: number;
  data: Buffer;
}

/** The EDNS0 pseudo-record of a message, when present. */
export interface Edns {
  udpSize: number;
  extendedRcode: number;
  version: number;
  dnssecOk: boolean;
  options: EdnsOption[];
}

/** A whole response, before encoding. */
export interface ResponseMessage {
  id: number;
  /** Opcode and RD are echoed from the query. */
  opcode: number;
  rd: boolean;
  aa: boolean;
  ra: boolean;
  tc: boolean;
  rcode: number;
  /** The question as asked (name in the client's letter case). */
  question?: { name: string; type: number; class: number };
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
  edns?: Edns;
}
