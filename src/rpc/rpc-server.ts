/**
 * The listening side: accepts connections at an address and runs the listener's half of the
 * handshake on each (refusing other clusters, our own node id, and protocol versions we do not
 * speak, with a reason the dialer logs). Open connections are handed to the transport, which
 * indexes them by the peer's node id.
 */
import type { Duplex } from 'node:stream';
import type { LocalIdentity } from './handshake.ts';
import type { Submittable } from './pending-request.ts';
import type { RpcTuning } from './rpc-config.ts';
import { RpcConnection, type ConnectionHost } from './rpc-connection.ts';
import { ERR, RpcError } from './rpc-error.ts';
import type { NetworkListener, RpcNetwork } from './rpc-network.ts';

export interface ServerContext {
  readonly local: LocalIdentity;
  readonly tuning: RpcTuning;
  readonly network: RpcNetwork;
  readonly host: ConnectionHost;
  /** A connection completed the handshake. */
  onOpen(conn: RpcConnection): void;
  /** A connection (open or not) ended. */
  onClose(conn: RpcConnection): void;
}

export class RpcServer {
  private listener: NetworkListener | undefined;
  private readonly conns = new Set<RpcConnection>();
  private closing = false;

  constructor(private readonly ctx: ServerContext) {}

  /** The bound address, once listen() resolved. */
  get address(): string | undefined {
    return this.listener?.address;
  }

  /** Starts accepting at `address`; resolves with the address actually bound. */
  async listen(address: string): Promise<string> {
    const { network, local } = this.ctx;
    this.listener = await network.listen(address, { localId: local.nodeId }, (pipe, remote) => this.accept(pipe, remote));
    return this.listener.address;
  }

  private accept(pipe: Duplex, remote: string): void {
    if (this.closing) {
      pipe.destroy();
      return;
    }
    const { local, tuning, host } = this.ctx;
    const conn = new RpcConnection(pipe, 'listener', remote, { ...local, tuning }, host, {
      onOpen: (c) => this.ctx.onOpen(c),
      onClose: (c, _err, unsent) => {
        this.conns.delete(c);
        failUnsent(unsent, c);
        this.ctx.onClose(c);
      },
    });
    if (conn.state !== 'closed') this.conns.add(conn);
  }

  /** Stops accepting and closes every accepted connection with `err`; resolves when all pipes closed. */
  async close(err: RpcError): Promise<void> {
    this.closing = true;
    const listening = this.listener?.close();
    const conns = [...this.conns];
    for (const c of conns) c.close(err);
    await Promise.all([listening, ...conns.map((c) => c.done)]);
  }
}

/**
 * Requests queued on an inbound connection that never reached its socket: there is no link to
 * retry them on (the peer dialed us), but they certainly did not run.
 */
function failUnsent(unsent: Submittable[], conn: RpcConnection): void {
  for (const item of unsent) {
    item.fail(new RpcError(ERR.RPC_CONNECTION_LOST, `connection to ${conn.peerId ?? conn.remote} lost before the request was sent`));
  }
}
