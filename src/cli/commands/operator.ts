/**
 * `herald operator raft list-peers | remove-peer | transfer-leader` (consul-compat.md §7):
 * the Raft configuration through the agent's HTTP API (/v1/operator/raft/*), printed with
 * `consul operator raft list-peers`' columns `Node ID Address State Voter RaftProtocol`.
 */
import { FlagSet, parseOrExit, usageError } from '../flag-set.ts';
import { addHttpFlags, connectOrReport } from '../http-client.ts';
import { columnize, plainText, processIo, type CliIo } from '../output.ts';

const HELP = `
Usage: herald operator raft <subcommand> [options]

  list-peers                      Displays the current Raft peer configuration
  remove-peer -id=<id> | -address=<ip:port>
                                  Removes a server from the Raft configuration
  transfer-leader [-id=<id>]      Transfers Raft leadership to another server
`;

interface RaftServerJson {
  ID?: unknown;
  Node?: unknown;
  Address?: unknown;
  Leader?: unknown;
  Voter?: unknown;
  ProtocolVersion?: unknown;
}

/** The list-peers table rows, header first (Consul: State is leader or follower). */
export function peersTable(servers: readonly RaftServerJson[]): string[][] {
  const rows = [['Node', 'ID', 'Address', 'State', 'Voter', 'RaftProtocol']];
  for (const s of servers) {
    rows.push([plainText(s.Node), plainText(s.ID), plainText(s.Address), s.Leader === true ? 'leader' : 'follower', String(s.Voter === true), plainText(s.ProtocolVersion ?? '3')]);
  }
  return rows;
}

/** `herald operator <args>`; resolves with the exit code. */
export async function runOperator(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  if (argv[0] !== 'raft' || argv.length < 2) {
    io.err(HELP.trim());
    return 1;
  }
  const sub = argv[1];
  const fs = new FlagSet(HELP);
  const http = addHttpFlags(fs);
  const id = fs.string('id', 'The ID of the server.');
  const address = fs.string('address', 'The IP:port of the server to remove.');
  const args = parseOrExit(fs, argv.slice(2), io);
  if (typeof args === 'number') return args;
  if (args.length > 0) return usageError(fs, io, `Error found unexpected args: [${args.join(' ')}]`);
  const client = connectOrReport(http, io);
  if (!client) return 1;
  try {
    switch (sub) {
      case 'list-peers': {
        const { value } = await client.getJson('/v1/operator/raft/configuration');
        const servers = (value as { Servers?: unknown } | null)?.Servers;
        io.out(columnize(peersTable(Array.isArray(servers) ? (servers as RaftServerJson[]) : [])));
        return 0;
      }
      case 'remove-peer': {
        if (id.set === address.set) return usageError(fs, io, 'Must specify exactly one of -id or -address');
        const q: [string, string][] = id.set ? [['id', id.value]] : [['address', address.value]];
        await client.request('DELETE', '/v1/operator/raft/peer', { query: q });
        io.out(`Removed peer with ${id.set ? `id "${id.value}"` : `address "${address.value}"`}`);
        return 0;
      }
      case 'transfer-leader': {
        await client.request('PUT', '/v1/operator/raft/transfer-leader', { query: id.set ? [['id', id.value]] : [] });
        io.out('Success');
        return 0;
      }
      default:
        io.err(`Unknown subcommand: operator raft ${sub}\n${HELP.trim()}`);
        return 1;
    }
  } catch (err) {
    io.err(`Error: ${(err as Error).message}`);
    return 1;
  }
}
