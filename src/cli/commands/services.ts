/**
 * `herald services register|deregister`: local-agent service registration through the HTTP API
 * (PUT /v1/agent/service/register, PUT /v1/agent/service/deregister/<id>), as `consul services`
 * does it (spec section 7). Definitions come from Consul service-definition files (JSON:
 * `{"service": {...}}`, `{"services": [...]}` or a bare service object), checked here with the
 * agent's own reader so a bad file is refused with its line before anything is sent, or from
 * flags (`-name -id -tag -address -port -meta`).
 */
import { readFileSync } from 'node:fs';
import type { ServiceDefinition } from '../../agent/config-types.ts';
import { Issues, joinIndex, joinKey } from '../../agent/config-fields.ts';
import { JsonSyntaxError, parseJsonDocument } from '../../agent/config-json.ts';
import { readServiceDefinition } from '../../agent/service-definition.ts';
import { ERR } from '../../errors.ts';
import { dispatchSubcommand, FlagSet, parseOrExit, usageError } from '../flag-set.ts';
import { addHttpFlags, connectOrReport } from '../http-client.ts';
import { processIo, type CliIo } from '../output.ts';

const HELP = `
Usage: herald services <subcommand> [options] [args]

  Registers and deregisters services with the local agent.

      $ herald services register web.json
      $ herald services register -name=web -port=80 -tag=v1
      $ herald services deregister web.json
      $ herald services deregister -id=web

Subcommands:
    deregister    Deregister services with the local agent
    register      Register services with the local agent
`;

const REGISTER_HELP = `
Usage: herald services register [options] [FILE...]

  Registers one or more services using the local agent API. Services come from
  Consul service-definition files (JSON: {"service": {...}}, {"services": [...]}
  or a bare service object) or from flags. The command returns once the agent
  has accepted them; deregister them with "herald services deregister".

      $ herald services register web.json
      $ herald services register -name=web -port=80 -tag=v1 -meta=team=edge

  With files, -id, -address and -port fill in what a definition leaves out,
  -meta adds metadata and -tag adds tags.
`;

const DEREGISTER_HELP = `
Usage: herald services deregister [options] [FILE...]

  Deregisters one or more services that were previously registered with the
  local agent. With files, each service's ID (or, without one, its name) is used.

      $ herald services deregister web.json db.json
      $ herald services deregister -id=web
`;

/** One service read from a definition file. */
export interface ServiceFromFile {
  file: string;
  /** The object as written (sent to the agent as is: its API reads the same keys). */
  raw: Record<string, unknown>;
  /** The agent's normalised reading of it (ID defaulted to Name, checks named). */
  def: ServiceDefinition;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Key lookup as Consul's decoder matches keys: case and underscores do not matter. */
function keyOf(obj: Record<string, unknown>, name: string): string | undefined {
  const want = name.toLowerCase().replace(/_/g, '');
  return Object.keys(obj).find((k) => k.toLowerCase().replace(/_/g, '') === want);
}

/**
 * Reads service definitions from JSON files, in order. Throws a ConfigError (code
 * CLI_SERVICE_FILE, or CONFIG_PARSE for bad JSON) listing every problem in every file as
 * `file:line: path: message`. `warn` receives the agent reader's warnings.
 */
export function readServiceFiles(files: readonly string[], warn: (message: string) => void = () => {}): ServiceFromFile[] {
  const issues = new Issues([], undefined, ERR.CLI_SERVICE_FILE);
  const out: ServiceFromFile[] = [];
  for (const file of files) {
    const here = issues.scoped(file, ERR.CLI_SERVICE_FILE);
    if (file.endsWith('.hcl')) {
      here.add('', 'HCL service definitions are not supported; write the file as JSON (same keys)');
      continue;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      here.add('', `cannot read service definition: ${e.code ? `${e.code}: ` : ''}${e.message}`);
      continue;
    }
    let doc;
    try {
      doc = parseJsonDocument(text);
    } catch (err) {
      if (!(err instanceof JsonSyntaxError)) throw err;
      issues.addAt({ file, line: err.line, column: err.column }, '', `invalid JSON: ${err.message}`, ERR.CONFIG_PARSE);
      continue;
    }
    const top = doc.value;
    const located = issues.scoped(file, ERR.CLI_SERVICE_FILE, doc.locate);
    if (!isObject(top)) {
      located.add('', 'expected a JSON object: {"service": {...}}, {"services": [...]} or a service definition');
      continue;
    }
    const entries: { value: unknown; path: string }[] = [];
    const singleKey = keyOf(top, 'service');
    const listKey = keyOf(top, 'services');
    if (singleKey === undefined && listKey === undefined) {
      entries.push({ value: top, path: '' }); // a bare service object
    } else {
      for (const key of [singleKey, listKey]) {
        if (key === undefined) continue;
        const v = top[key];
        const path = joinKey('', key);
        if (Array.isArray(v)) v.forEach((item, i) => entries.push({ value: item, path: joinIndex(path, i) }));
        else entries.push({ value: v, path });
      }
    }
    if (entries.length === 0) {
      located.add('', 'no service definitions in this file');
      continue;
    }
    for (const { value, path } of entries) {
      const def = readServiceDefinition(value, path, located, 'file', (m) => warn(`${file}: ${m}`));
      if (def && isObject(value)) out.push({ file, raw: value, def });
    }
  }
  issues.throwIfAny();
  return out;
}

/**
 * Consul's CombineArgs: flag values fill in a file definition's missing ID, address and port;
 * -meta entries are set over the file's; -tag values are appended. Returns a new object.
 */
export function combineWithFlags(
  raw: Record<string, unknown>,
  flags: { id: string; address: string; port: number; tags: readonly string[]; meta: Readonly<Record<string, string>> },
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  const fill = (name: string, camel: string, value: unknown, empty: unknown): void => {
    const key = keyOf(out, name);
    if (key === undefined) out[camel] = value;
    else if (out[key] === empty || out[key] === null) out[key] = value;
  };
  if (flags.id) fill('id', 'ID', flags.id, '');
  if (flags.address) fill('address', 'Address', flags.address, '');
  if (flags.port) fill('port', 'Port', flags.port, 0);
  if (Object.keys(flags.meta).length > 0) {
    const key = keyOf(out, 'meta') ?? 'Meta';
    out[key] = { ...(isObject(out[key]) ? out[key] : {}), ...flags.meta };
  }
  if (flags.tags.length > 0) {
    const key = keyOf(out, 'tags') ?? 'Tags';
    out[key] = [...(Array.isArray(out[key]) ? (out[key] as unknown[]) : []), ...flags.tags];
  }
  return out;
}

/** `herald services <subcommand> ...`; resolves with the exit code. */
export async function runServices(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  return dispatchSubcommand('services', argv, { register, deregister }, HELP, io);
}

async function register(argv: readonly string[], io: CliIo): Promise<number> {
  const fs = new FlagSet(REGISTER_HELP);
  const http = addHttpFlags(fs);
  const id = fs.string('id', 'ID of the service to register with flags. Defaults to the -name value.');
  const name = fs.string('name', 'Name of the service to register with flags.');
  const address = fs.string('address', 'Address of the service to register with flags.');
  const port = fs.int('port', 'Port of the service to register with flags.');
  const tags = fs.list('tag', 'Tag to add to the service. Repeatable.');
  const meta = fs.map('meta', 'Metadata to set on the service, formatted as key=value. Repeatable.');
  const files = parseOrExit(fs, argv, io);
  if (typeof files === 'number') return files;
  if (files.length === 0 && name.value === '') return usageError(fs, io, 'Service registration requires at least one argument or flags.');
  if (files.length > 0 && name.value !== '') return usageError(fs, io, 'Service registration requires arguments or -name, not both.');

  let services: { name: string; body: Record<string, unknown> }[];
  if (files.length > 0) {
    let read: ServiceFromFile[];
    try {
      read = readServiceFiles(files, (m) => io.err(`Warning: ${m}`));
    } catch (err) {
      io.err(`Error: ${(err as Error).message}`);
      return 1;
    }
    const flagValues = { id: id.value, address: address.value, port: port.value, tags: tags.value, meta: meta.value };
    services = read.map((s) => ({ name: s.def.name, body: combineWithFlags(s.raw, flagValues) }));
  } else {
    // Consul's AgentServiceRegistration marks these omitempty: send only what was given.
    const body: Record<string, unknown> = { Name: name.value };
    if (id.value) body.ID = id.value;
    if (tags.value.length > 0) body.Tags = tags.value;
    if (address.value) body.Address = address.value;
    if (port.value) body.Port = port.value;
    if (Object.keys(meta.value).length > 0) body.Meta = meta.value;
    services = [{ name: name.value, body }];
  }

  const client = connectOrReport(http, io);
  if (!client) return 1;
  for (const svc of services) {
    try {
      await client.put('/v1/agent/service/register', svc.body);
    } catch (err) {
      io.err(`Error registering service ${JSON.stringify(svc.name)}: ${(err as Error).message}`);
      return 1;
    }
    io.out(`Registered service: ${svc.name}`);
  }
  return 0;
}

async function deregister(argv: readonly string[], io: CliIo): Promise<number> {
  const fs = new FlagSet(DEREGISTER_HELP);
  const http = addHttpFlags(fs);
  const id = fs.string('id', 'ID to deregister. Not allowed together with files.');
  const files = parseOrExit(fs, argv, io);
  if (typeof files === 'number') return files;
  if (files.length === 0 && id.value === '') return usageError(fs, io, 'Service deregistration requires at least one argument or -id.');
  if (files.length > 0 && id.value !== '') return usageError(fs, io, 'Service deregistration requires arguments or -id, not both.');

  let ids: string[];
  if (files.length > 0) {
    try {
      // The reader defaults each ID to the service's name, which is what Consul falls back to.
      ids = readServiceFiles(files, (m) => io.err(`Warning: ${m}`)).map((s) => s.def.id);
    } catch (err) {
      io.err(`Error: ${(err as Error).message}`);
      return 1;
    }
  } else ids = [id.value];

  const client = connectOrReport(http, io);
  if (!client) return 1;
  for (const serviceId of ids) {
    try {
      await client.put(`/v1/agent/service/deregister/${encodeURIComponent(serviceId)}`);
    } catch (err) {
      io.err(`Error deregistering service ${JSON.stringify(serviceId)}: ${(err as Error).message}`);
      return 1;
    }
    io.out(`Deregistered service: ${serviceId}`);
  }
  return 0;
}
