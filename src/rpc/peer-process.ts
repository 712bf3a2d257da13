/**
 * A TcpTransport in a process of its own, for tests that kill a peer outright (kill -9 leaves
 * no chance to say goodbye: the kernel closes its sockets). Not part of the product.
 *
 *   node --import tsx src/rpc/peer-process.ts <nodeId> <clusterId> <listen host:port>
 *
 * Serves 'echo' (answers its body) and 'hang' (never answers). Prints `{"address": "..."}` on
 * stdout once listening, then runs until killed.
 */
import { TcpTransport } from './tcp-transport.ts';

const [nodeId = 'peer', clusterId = 'c1', listen = '127.0.0.1:0'] = process.argv.slice(2);
const transport = new TcpTransport({ nodeId, clusterId, listen });
transport.handle('echo', (body) => body);
transport.handle('hang', () => new Promise(() => undefined));
await transport.start();
process.stdout.write(JSON.stringify({ address: transport.address }) + '\n');
// Listening sockets keep the process alive; nothing else to do.
