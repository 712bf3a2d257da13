/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766): 2-byte length-prefixed messages, several
 * pipelined queries per connection, replies possibly out of order (RFC 7766 §6.2.1.1).
 * Idle and slow clients are cut off by an idle timeout, and the number of connections and
 * of unanswered queries per connection are capped, so no client can pin memory.
 */
import net from 'node:net';
import type { QueryHandler } from './query-handler.ts';

export interface TcpListenerOptions {
  idleTimeoutMs: number;
  maxConnections: number;
  /** Unanswered queries per connection before it stops reading (backpressure). */
  maxInflight?: number;
}

export interface TcpListener {
  readonly port: number;
  readonly connections: () => number;
  close(): Promise<void>;
}

export function listenTcp(handler: QueryHandler, host: string, port: number, opts: TcpListenerOptions): Promise<TcpListener> {
  const maxInflight = opts.maxInflight ?? 64;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (sock) => {
    if (sockets.size >= opts.maxConnections) {
      sock.destroy();
      return;
    }
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    sock.setTimeout(opts.idleTimeoutMs, () => sock.destroy());
    const remote = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 };
    let pending: Buffer | undefined;
    let inflight = 0;
    const write = (reply: Buffer | undefined): void => {
      if (reply === undefined || sock.destroyed) return;
      const framed = Buffer.allocUnsafe(reply.length + 2);
      framed.writeUInt16BE(reply.length, 0);
      reply.copy(framed, 2);
      sock.write(framed);
    };
    sock.on('data', (chunk: Buffer) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      let off = 0;
      sock.cork();
      while (buf.length - off >= 2) {
        const len = buf.readUInt16BE(off);
        if (buf.length - off - 2 < len) break;
        // A subarray is safe: received buffers are never written to.
        const msg = buf.subarray(off + 2, off + 2 + len);
        off += 2 + len;
        const reply = handler.handle(msg, 't', remote);
        if (reply === undefined) continue;
        if (!(reply instanceof Promise)) {
          write(reply);
          continue;
        }
        inflight++;
        if (inflight >= maxInflight) sock.pause();
        reply.then((r) => {
          inflight--;
          write(r);
          if (inflight < maxInflight && sock.isPaused()) sock.resume();
        });
      }
      process.nextTick(() => sock.uncork());
      pending = off < buf.length ? buf.subarray(off) : undefined;
      buf = pending ?? buf;
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as net.AddressInfo;
      resolve({
        port: addr.port,
        connections: () => sockets.size,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
