/**
 * RPC over TCP: the network (net.Server / net.connect) and TcpTransport, the Transport the Raft
 * driver and agents use in production. Sockets run with Nagle off (Raft messages are small and
 * latency-bound) and TCP keepalive on (a backstop under the RPC-level PING).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { ERR, HeraldError } from '../errors.ts';
import type { NetworkEndpoint, NetworkListener, RpcNetwork } from './rpc-network.ts';
import { RpcTransport, type RpcTransportOptions } from './rpc-transport.ts';

/** `host:port` or `[v6]:port` → parts; throws HeraldError(LISTEN) when malformed. */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:[\]]+):(\d+)$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new HeraldError(ERR.LISTEN, `rpc address '${address}' is not host:port`);
  }
  return { host: m[1]!, port };
}

/** `host:port`, bracketing IPv6 hosts. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const TCP_KEEPALIVE_MS = 15_000;

function tune(socket: net.Socket): void {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
}

/** The TCP RpcNetwork. */
export const tcpNetwork: RpcNetwork = {
  listen(address: string, _local: NetworkEndpoint, onConnection: (pipe: Duplex, remote: string) => void): Promise<NetworkListener> {
    const { host, port } = parseHostPort(address);
    const server = net.createServer((socket) => {
      tune(socket);
      onConnection(socket, formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0));
    });
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new HeraldError(ERR.LISTEN, `rpc cannot listen on ${address}: ${err.message}`, { cause: err }));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        const bound = server.address() as net.AddressInfo;
        resolve({
          address: formatHostPort(host, bound.port),
          close: () => new Promise<void>((done) => server.close(() => done())),
        });
      });
    });
  },

  dial(address: string, _local: NetworkEndpoint, timeoutMs: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      let parts: { host: string; port: number };
      try {
        parts = parseHostPort(address);
      } catch (err) {
        reject(err);
        return;
      }
      const socket = net.connect({ host: parts.host, port: parts.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        // Until the connection attaches its own listener, an 'error' must not crash the process.
        socket.on('error', () => undefined);
        tune(socket);
        resolve(socket);
      });
    });
  },
};

/**
 * The production Transport: RPC over TCP. `listen` is `host:port` (port 0 picks a free one; read
 * `address` after start()). Binds where told; callers keep it on a private interface.
 */
export class TcpTransport<M = unknown> extends RpcTransport<M> {
  constructor(opts: Omit<RpcTransportOptions, 'network'>) {
    super({ ...opts, network: tcpNetwork });
  }
}
