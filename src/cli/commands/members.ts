/**
 * `herald members`: the agent's view of cluster membership (GET /v1/agent/members), printed as
 * `consul members` prints it (spec section 7): columns `Node Address Status Type Build Protocol
 * DC Segment`, servers first, then by segment and name; `-detailed` prints every member tag;
 * `-status=<regexp>` filters (exit 2 when nothing matches, as Consul does).
 */
import { FlagSet, parseNoArgs } from '../flag-set.ts';
import { addHttpFlags, connectOrReport, type QueryParam } from '../http-client.ts';
import { addFormatFlag, byteOrder, columnize, plainText, prettyJson, processIo, type CliIo, formatOrExit } from '../output.ts';
import { isIP } from 'node:net';

const HELP = `
Usage: herald members [options]

  Outputs the members of a running Herald agent.
`;

/** One member as the API returns it (Consul's AgentMember); fields may be missing from odd agents. */
interface Member {
  Name?: unknown;
  Addr?: unknown;
  Port?: unknown;
  Tags?: unknown;
  Status?: unknown;
}

/** serf.MemberStatus.String(). */
const STATUS_NAMES = ['none', 'alive', 'leaving', 'left', 'failed'];

/** The status word for Member.Status (spec 3.1: 1 alive, 2 leaving, 3 left, 4 failed). */
export function memberStatus(status: unknown): string {
  return typeof status === 'number' && Number.isInteger(status) ? (STATUS_NAMES[status] ?? 'unknown') : 'unknown';
}

/** Go's net.TCPAddr.String(): `ip:port`, `[ipv6]:port`, or `:port` when Addr is not an IP. */
export function memberAddress(addr: unknown, port: unknown): string {
  const a = typeof addr === 'string' ? addr : '';
  const p = typeof port === 'number' ? port : 0;
  const kind = isIP(a);
  if (kind === 4) return `${a}:${p}`;
  if (kind === 6) {
    // An IPv4-mapped address prints as IPv4, as Go's net.IP does.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
    return mapped ? `${mapped[1]}:${p}` : `[${a}]:${p}`;
  }
  return `:${p}`;
}

function tagsOf(m: Member): Record<string, string> {
  const out: Record<string, string> = {};
  if (m.Tags && typeof m.Tags === 'object' && !Array.isArray(m.Tags)) {
    for (const [k, v] of Object.entries(m.Tags)) out[k] = plainText(v);
  }
  return out;
}

/** The `consul members` table rows (header first) for members already labelled and sorted. */
export function membersTable(members: readonly Member[], detailed: boolean): string[][] {
  if (detailed) {
    const rows = [['Node', 'Address', 'Status', 'Tags']];
    for (const m of members) {
      const tags = tagsOf(m);
      const pairs = Object.keys(tags)
        .sort(byteOrder)
        .map((k) => `${k}=${tags[k]}`)
        .join(',');
      rows.push([plainText(m.Name), memberAddress(m.Addr, m.Port), memberStatus(m.Status), pairs]);
    }
    return rows;
  }
  const rows = [['Node', 'Address', 'Status', 'Type', 'Build', 'Protocol', 'DC', 'Segment']];
  for (const m of members) {
    const tags = tagsOf(m);
    const name = plainText(m.Name);
    const addr = memberAddress(m.Addr, m.Port);
    const status = memberStatus(m.Status);
    let build = tags.build ?? '';
    if (build === '') build = '< 0.3';
    else if (build.includes(':')) build = build.slice(0, build.indexOf(':'));
    const type = tags.role === 'node' ? 'client' : tags.role === 'consul' ? 'server' : undefined;
    if (type === undefined) rows.push([name, addr, status, 'unknown', '', '', '', '']);
    else rows.push([name, addr, status, type, build, tags.vsn ?? '', tags.dc ?? '', tags.segment ?? '']);
  }
  return rows;
}

/**
 * Consul's member post-processing: a server shows segment `<all>` when all segments were asked
 * for (no -segment), an empty segment shows `<default>`; then servers first, by segment, by
 * name. Returns new objects; the input is not changed.
 */
export function labelAndSort(members: readonly Member[], allSegments: boolean): Member[] {
  const labelled = members.map((m) => {
    const tags = tagsOf(m);
    if (allSegments && tags.role === 'consul') tags.segment = '<all>';
    else if (!tags.segment) tags.segment = '<default>';
    return { ...m, Tags: tags };
  });
  return labelled.sort((a, b) => {
    const ta = a.Tags as Record<string, string>;
    const tb = b.Tags as Record<string, string>;
    const sa = ta.role === 'consul' ? 0 : 1;
    const sb = tb.role === 'consul' ? 0 : 1;
    if (sa !== sb) return sa - sb;
    return byteOrder(ta.segment!, tb.segment!) || byteOrder(plainText(a.Name), plainText(b.Name));
  });
}

/** `herald members [options]`; resolves with the exit code. */
export async function runMembers(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const fs = new FlagSet(HELP);
  const http = addHttpFlags(fs);
  const detailed = fs.bool('detailed', 'Provides detailed information about nodes: every member tag.');
  const wan = fs.bool('wan', 'If the agent is in server mode, list the peers in the WAN pool instead.');
  const status = fs.string('status', 'If provided, output is filtered to only nodes matching the regular expression for status.', {
    default: '.*',
    example: 'regexp',
  });
  const segment = fs.string('segment', 'If provided, output is filtered to only nodes in the given segment.');
  const filter = fs.string('filter', 'Filter expression to send with the request (?filter).', { example: 'expression' });
  const format = addFormatFlag(fs);
  const stop = parseNoArgs(fs, argv, io);
  if (stop !== undefined) return stop;
  const fmt = formatOrExit(fs, format, io);
  if (typeof fmt === 'number') return fmt;

  let statusRe: RegExp;
  try {
    statusRe = new RegExp(status.value);
  } catch (err) {
    io.err(`Failed to compile status regexp: ${(err as Error).message}`);
    return 1;
  }

  const client = connectOrReport(http, io);
  if (!client) return 1;
  const query: QueryParam[] = [];
  if (wan.value) query.push(['wan', '1']);
  if (segment.value) query.push(['segment', segment.value]);
  if (filter.value) query.push(['filter', filter.value]);
  let value: unknown;
  let text: string;
  try {
    ({ value, text } = await client.getJson('/v1/agent/members', query));
  } catch (err) {
    io.err(`Error retrieving members: ${(err as Error).message}`);
    return 1;
  }
  if (!Array.isArray(value)) {
    io.err(`Error retrieving members: expected a JSON array, got ${JSON.stringify(text.slice(0, 200))}`);
    return 1;
  }
  const members = (value as Member[]).filter((m) => statusRe.test(memberStatus(m?.Status)));
  if (fmt === 'json') {
    // The API's own text when nothing was filtered out, so numbers print exactly as sent.
    io.out(members.length === value.length ? prettyJson(text) : JSON.stringify(members, null, 4));
    return members.length === 0 ? 2 : 0;
  }
  if (members.length === 0) return 2;
  io.out(columnize(membersTable(labelAndSort(members, segment.value === ''), detailed.value)));
  return 0;
}
