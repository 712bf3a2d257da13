/**
 * The UDP side of the DNS front end: one socket, one callback per datagram, the reply sent
 * straight from the handler's buffer. Node 20's dgram has no reusePort and no recvmmsg, so
 * this is the ~7 µs/query floor measured in dns-perf-anchors.md; nothing here may add to it.
 */
import dgram from 'node:dgram';
import type { QueryHandler } from './query-handler.ts';

export interface UdpListener {
  readonly port: number;
  close(): Promise<void>;
}

export function listenUdp(handler: QueryHandler, host: string, port: number): Promise<UdpListener> {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  // 4 MiB kernel buffers ride out GC pauses: with the default the bare responder in bench/
  // loses queries in bursts, with these it loses none (bench/RESULTS.md).
  const sock = dgram.createSocket({ type, recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  const send = (reply: Buffer | undefined, rport: number, raddr: string): void => {
    if (reply !== undefined) sock.send(reply, rport, raddr);
  };
  sock.on('message', (msg, rinfo) => {
    const reply = handler.handle(msg, 'u', rinfo);
    if (reply === undefined) return;
    if (reply instanceof Promise) reply.then((r) => send(r, rinfo.port, rinfo.address));
    else sock.send(reply, rinfo.port, rinfo.address);
  });
  // A send to a vanished client (ICMP unreachable) surfaces here; it is not fatal.
  sock.on('error', () => {});
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => {
      sock.off('error', reject);
      resolve({
        port: sock.address().port,
        close: () => new Promise<void>((r) => sock.close(() => r())),
      });
    });
  });
}
