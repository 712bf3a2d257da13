/**
 * `herald catalog services|nodes|datacenters`: catalog reads (GET /v1/catalog/...) printed as
 * `consul catalog ...` prints them (spec section 7): service names one per line (`-tags` adds a
 * tab-aligned tag column), nodes as a `Node ID Address DC` table (`-detailed` adds
 * `TaggedAddresses Meta` and the full ID), `-service=<s>` lists the nodes providing s.
 * An empty result is reported on stderr with exit 0, as Consul does.
 */
import { dispatchSubcommand, FlagSet, parseNoArgs } from '../flag-set.ts';
import { addHttpFlags, connectOrReport, type QueryParam } from '../http-client.ts';
import {
  addFormatFlag,
  byteOrder,
  columnize,
  formatOrExit,
  mapToKV,
  plainText,
  prettyJson,
  processIo,
  tabwriterPairs,
  type CliIo,
} from '../output.ts';

const HELP = `
Usage: herald catalog <subcommand> [options] [args]

  Queries the catalog of registered nodes and services.

      $ herald catalog services
      $ herald catalog nodes -service=web
      $ herald catalog datacenters

Subcommands:
    datacenters    Lists all known datacenters
    nodes          Lists all nodes in the given datacenter
    services       Lists all registered services in a datacenter
`;

const SERVICES_HELP = `
Usage: herald catalog services [options]

  Retrieves the list of services registered in a given datacenter. By default, the
  datacenter of the local agent is queried.

      $ herald catalog services
      $ herald catalog services -tags
      $ herald catalog services -node=web
      $ herald catalog services -node-meta="foo=bar"
`;

const NODES_HELP = `
Usage: herald catalog nodes [options]

  Retrieves the list of nodes registered in a given datacenter. By default, the
  datacenter of the local agent is queried.

      $ herald catalog nodes
      $ herald catalog nodes -detailed
      $ herald catalog nodes -service=web
      $ herald catalog nodes -node-meta="foo=bar"
`;

const DATACENTERS_HELP = `
Usage: herald catalog datacenters [options]

  Retrieves the list of all known datacenters.

      $ herald catalog datacenters
`;

/** `herald catalog <subcommand> ...`; resolves with the exit code. */
export async function runCatalog(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  return dispatchSubcommand('catalog', argv, { services: catalogServices, nodes: catalogNodes, datacenters: catalogDatacenters }, HELP, io);
}

/** `-node-meta k=v` pairs as the API's repeated `node-meta=k:v` parameters. */
function nodeMetaQuery(meta: Record<string, string>): QueryParam[] {
  return Object.keys(meta)
    .sort(byteOrder)
    .map((k) => ['node-meta', `${k}:${meta[k]}`]);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Service name -> tags from /v1/catalog/services, or from a node's services (`-node`). */
export function servicesFromNode(node: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!isObject(node) || !isObject(node.Services)) return out;
  for (const svc of Object.values(node.Services)) {
    if (!isObject(svc)) continue;
    const name = plainText(svc.Service);
    const tags = Array.isArray(svc.Tags) ? svc.Tags.map(plainText) : [];
    // Consul appends each instance's tags without removing duplicates.
    out[name] = [...(out[name] ?? []), ...tags];
  }
  return out;
}

/** The lines `consul catalog services` prints for a name -> tags map (already non-empty). */
export function servicesLines(services: Record<string, unknown>, withTags: boolean): string[] {
  const names = Object.keys(services).sort(byteOrder);
  if (!withTags) return names;
  const rows = names.map((n): [string, string] => {
    const tags = Array.isArray(services[n]) ? (services[n] as unknown[]).map(plainText).sort(byteOrder) : [];
    return [n, tags.join(',')];
  });
  return [tabwriterPairs(rows)];
}

async function catalogServices(argv: readonly string[], io: CliIo): Promise<number> {
  const fs = new FlagSet(SERVICES_HELP);
  const http = addHttpFlags(fs, { server: true });
  const node = fs.string('node', 'Node id or name for which to list services.', { example: 'id or name' });
  const nodeMeta = fs.map('node-meta', 'Metadata to filter nodes with the given key=value pairs. Only services on matching nodes are listed. Repeatable.');
  const tags = fs.bool('tags', "Display each service's tags as a comma-separated list beside each service entry.");
  const format = addFormatFlag(fs);
  const stop = parseNoArgs(fs, argv, io);
  if (stop !== undefined) return stop;
  const fmt = formatOrExit(fs, format, io);
  if (typeof fmt === 'number') return fmt;
  const client = connectOrReport(http, io);
  if (!client) return 1;

  let services: Record<string, unknown>;
  let text: string;
  const meta = nodeMetaQuery(nodeMeta.value);
  if (node.value) {
    let value: unknown;
    try {
      ({ value, text } = await client.getJson(`/v1/catalog/node/${encodeURIComponent(node.value)}`, meta));
    } catch (err) {
      io.err(`Error listing services for node: ${(err as Error).message}`);
      return 1;
    }
    services = servicesFromNode(value);
  } else {
    let value: unknown;
    try {
      ({ value, text } = await client.getJson('/v1/catalog/services', meta));
    } catch (err) {
      io.err(`Error listing services: ${(err as Error).message}`);
      return 1;
    }
    if (!isObject(value)) {
      io.err(`Error listing services: expected a JSON object, got ${JSON.stringify(text.slice(0, 200))}`);
      return 1;
    }
    services = value;
  }
  if (fmt === 'json') {
    io.out(prettyJson(text));
    return 0;
  }
  if (Object.keys(services).length === 0) {
    io.err('No services match the given query - try expanding your search.');
    return 0;
  }
  for (const line of servicesLines(services, tags.value)) io.out(line);
  return 0;
}

/** A catalog Node, or a ServiceNode turned into one (`-service`), as Consul's CLI does. */
interface NodeView {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: unknown;
  Meta: unknown;
}

/** /v1/catalog/nodes entries, or /v1/catalog/service/<s> entries (NodeMeta -> Meta). */
export function nodeViews(list: readonly unknown[], fromService: boolean): NodeView[] {
  return list.filter(isObject).map((n) => ({
    ID: plainText(n.ID),
    Node: plainText(n.Node),
    Address: plainText(n.Address),
    Datacenter: plainText(n.Datacenter),
    TaggedAddresses: n.TaggedAddresses,
    Meta: fromService ? n.NodeMeta : n.Meta,
  }));
}

/** The `consul catalog nodes` table rows, header first. */
export function nodesTable(nodes: readonly NodeView[], detailed: boolean): string[][] {
  if (detailed) {
    return [
      ['Node', 'ID', 'Address', 'DC', 'TaggedAddresses', 'Meta'],
      ...nodes.map((n) => [n.Node, n.ID, n.Address, n.Datacenter, mapToKV(n.TaggedAddresses, ', '), mapToKV(n.Meta, ', ')]),
    ];
  }
  return [
    ['Node', 'ID', 'Address', 'DC'],
    ...nodes.map((n) => {
      // The short form shows the node ID up to its first dash (the first UUID group).
      const dash = n.ID.indexOf('-');
      return [n.Node, dash > 0 ? n.ID.slice(0, dash) : n.ID, n.Address, n.Datacenter];
    }),
  ];
}

async function catalogNodes(argv: readonly string[], io: CliIo): Promise<number> {
  const fs = new FlagSet(NODES_HELP);
  const http = addHttpFlags(fs, { server: true });
  const detailed = fs.bool('detailed', 'Output detailed information about the nodes including their addresses and metadata.');
  const near = fs.string('near', 'Node name to sort the node list by estimated round-trip time from it; "_agent" uses this agent.', { example: 'node name' });
  const nodeMeta = fs.map('node-meta', 'Metadata to filter nodes with the given key=value pairs. Repeatable.');
  const service = fs.string('service', 'Service id or name to filter nodes. Only nodes providing the service are listed.', { example: 'id or name' });
  const filter = fs.string('filter', 'Filter expression to send with the request (?filter).', { example: 'expression' });
  const format = addFormatFlag(fs);
  const stop = parseNoArgs(fs, argv, io);
  if (stop !== undefined) return stop;
  const fmt = formatOrExit(fs, format, io);
  if (typeof fmt === 'number') return fmt;
  const client = connectOrReport(http, io);
  if (!client) return 1;

  const query: QueryParam[] = nodeMetaQuery(nodeMeta.value);
  if (near.value) query.push(['near', near.value]);
  if (filter.value) query.push(['filter', filter.value]);
  const path = service.value ? `/v1/catalog/service/${encodeURIComponent(service.value)}` : '/v1/catalog/nodes';
  let value: unknown;
  let text: string;
  try {
    ({ value, text } = await client.getJson(path, query));
  } catch (err) {
    io.err(`${service.value ? 'Error listing nodes for service' : 'Error listing nodes'}: ${(err as Error).message}`);
    return 1;
  }
  if (!Array.isArray(value)) {
    io.err(`Error listing nodes: expected a JSON array, got ${JSON.stringify(text.slice(0, 200))}`);
    return 1;
  }
  if (fmt === 'json') {
    io.out(prettyJson(text));
    return 0;
  }
  const nodes = nodeViews(value, service.value !== '');
  if (nodes.length === 0) {
    io.err('No nodes match the given query - try expanding your search.');
    return 0;
  }
  io.out(columnize(nodesTable(nodes, detailed.value)));
  return 0;
}

async function catalogDatacenters(argv: readonly string[], io: CliIo): Promise<number> {
  const fs = new FlagSet(DATACENTERS_HELP);
  const http = addHttpFlags(fs);
  const format = addFormatFlag(fs);
  const stop = parseNoArgs(fs, argv, io);
  if (stop !== undefined) return stop;
  const fmt = formatOrExit(fs, format, io);
  if (typeof fmt === 'number') return fmt;
  const client = connectOrReport(http, io);
  if (!client) return 1;
  let value: unknown;
  let text: string;
  try {
    ({ value, text } = await client.getJson('/v1/catalog/datacenters'));
  } catch (err) {
    io.err(`Error listing datacenters: ${(err as Error).message}`);
    return 1;
  }
  if (!Array.isArray(value)) {
    io.err(`Error listing datacenters: expected a JSON array, got ${JSON.stringify(text.slice(0, 200))}`);
    return 1;
  }
  if (fmt === 'json') {
    io.out(prettyJson(text));
    return 0;
  }
  if (value.length === 0) {
    io.err('No datacenters found');
    return 1;
  }
  for (const dc of value) io.out(plainText(dc));
  return 0;
}
