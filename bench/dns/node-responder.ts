/**
 * The Node ceiling: a node:dgram responder that does no DNS work at all. Every datagram of at
 * least a header gets the same prebuilt answer with the query's 2-byte ID copied in. What it
 * reaches on one core is the most any Node 20 DNS front end can reach on this machine.
 *
 * CLI: `node --import tsx bench/dns/node-responder.ts --port P [--host 127.0.0.1] [--rcvbuf BYTES]`;
 * prints `ready <port> rcvbuf <bytes>` on stdout once bound.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The name the fixed answer answers for. */
export const FIXED_NAME = 'web-0.service.consul';
/** The addresses in the fixed answer. */
export const FIXED_ADDRESSES = ['10.0.0.1', '10.0.0.2', '10.0.0.3'] as const;

/**
 * The fixed reply: QR AA RD, NOERROR, question `web-0.service.consul A IN`, three A records
 * (TTL 30) whose owner is a compression pointer to the question (RFC 1035 §4.1.4), 86 bytes,
 * the size of a real 3-instance A answer. ID is 0; the responder patches it per query.
 */
export function fixedAnswer(): Buffer {
  const labels = FIXED_NAME.split('.');
  const qname = Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x8500, 2); // QR=1, opcode 0, AA=1, RD=1; RA=0, rcode 0 (RFC 1035 §4.1.1)
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(FIXED_ADDRESSES.length, 6); // ANCOUNT
  const question = Buffer.alloc(4);
  question.writeUInt16BE(1, 0); // A
  question.writeUInt16BE(1, 2); // IN
  const answers = FIXED_ADDRESSES.map((addr) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name at offset 12
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(30, 6);
    rr.writeUInt16BE(4, 10);
    addr.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
    return rr;
  });
  return Buffer.concat([header, qname, question, ...answers]);
}

/**
 * Receive buffer the CLI asks for by default, bytes. With the kernel default (208 KiB) a burst of
 * dnsperf's 200 outstanding queries overflows the socket queue now and then on this box (lost
 * queries, each holding a dnsperf slot for its 1 s timeout); 4 MiB (= net.core.rmem_max here)
 * loses none. `--rcvbuf 0` keeps the kernel default.
 */
export const DEFAULT_RCVBUF = 4 * 1024 * 1024;

/** A running responder; `close()` resolves once the socket is closed. */
export interface Responder {
  port: number;
  socket: Socket;
  close(): Promise<void>;
}

/**
 * Binds a UDP socket on host:port (port 0 picks one) and answers every datagram of 12 bytes or
 * more with `reply` carrying the query's ID; shorter datagrams are dropped (no header to echo).
 * Each reply is a fresh copy: the send may be queued inside libuv, and patching one shared
 * buffer would rewrite the ID of a reply not yet sent. A real server copies its cached answer
 * the same way, so the copy belongs in the ceiling.
 */
export async function startResponder(
  port: number,
  host = '127.0.0.1',
  opts: { reply?: Buffer; recvBufferSize?: number } = {},
): Promise<Responder> {
  const reply = opts.reply ?? fixedAnswer();
  // SO_RCVBUF (socket(7)); the kernel caps it at net.core.rmem_max. 0 keeps the kernel default.
  const socket = createSocket(opts.recvBufferSize ? { type: 'udp4', recvBufferSize: opts.recvBufferSize } : { type: 'udp4' });
  const len = reply.length;
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    const out = Buffer.allocUnsafe(len);
    reply.copy(out, 0, 0, len);
    out[0] = msg[0]!;
    out[1] = msg[1]!;
    socket.send(out, rinfo.port, rinfo.address);
  });
  socket.bind(port, host);
  await Promise.race([
    once(socket, 'listening'),
    once(socket, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  return {
    port: socket.address().port,
    socket,
    close: () => new Promise<void>((res) => socket.close(() => res())),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const r = await startResponder(Number(flag('--port') ?? 0), flag('--host') ?? '127.0.0.1', {
    recvBufferSize: Number(flag('--rcvbuf') ?? DEFAULT_RCVBUF),
  });
  process.stdout.write(`ready ${r.port} rcvbuf ${r.socket.getRecvBufferSize()}\n`);
  const stop = () => void r.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
