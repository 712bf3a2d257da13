/**
 * The servers under test and how each is started: one loopback port each, pinned with
 * `taskset -c <server core>`, started through the ProcessReaper, and declared ready only once it
 * answers a real question for the generated data (first and last service, so a server that
 * loads its catalog in the background is not measured half-loaded). Every wait has a deadline.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { dirname, join } from 'node:path';
import type { RecordType } from 'dns-packet';
import type { BenchPaths } from './gen-data.ts';
import { queryUdp } from './dns-probe.ts';
import type { ProcessReaper, Tracked } from './process-reaper.ts';

/** Every server the harness knows, in its default order. */
export const SERVER_NAMES = ['herald', 'knot', 'dnsmasq', 'node-responder', 'node-responder-defbuf'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

/** Where and how to start a server. */
export interface ServerContext {
  repoRoot: string;
  paths: BenchPaths;
  services: number;
  /** Scratch directory for server state (Knot's rundir and database). */
  workDir: string;
  /** Core to pin the server to; undefined runs it unpinned. */
  cpu: number | undefined;
  /** ms to wait for the first correct answer. */
  readyTimeoutMs: number;
  /** Extra arguments after Herald's standard ones (e.g. `-http-port 18500`). */
  heraldExtraArgs: string[];
}

/** A question the server must answer (rcode NOERROR, at least `minAnswers` records) to be ready. */
export interface ReadyProbe {
  name: string;
  type: RecordType;
  minAnswers: number;
}

/** The command line for one server, or why it cannot run here. */
export type ServerCommand =
  | { cmd: string; args: string[]; cwd: string; probes: ReadyProbe[]; readyTimeoutMs: number }
  | { skip: string };

/** A server that answered its readiness probes. */
export interface RunningServer {
  name: ServerName;
  port: number;
  process: Tracked;
  /** ms from spawn to the first correct answers. */
  readyMs: number;
  argv: string[];
}

/** Binds UDP and TCP on the same loopback port to prove it is free for both; resolves with it. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((res, rej) => {
      udp.once('error', rej);
      udp.bind(0, '127.0.0.1', () => res(udp.address().port));
    });
    const tcpOk = await new Promise<boolean>((res) => {
      const srv = createServer();
      srv.once('error', () => res(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
    });
    await new Promise<void>((res) => udp.close(() => res()));
    if (tcpOk) return port;
  }
  throw new Error('no free loopback port for UDP+TCP after 20 attempts');
}

/** A Knot DNS 3.2 config for the generated zone: one UDP and one TCP worker, all state in `dir`. */
export function knotConfig(opts: { dir: string; port: number; zoneFile: string }): string {
  return [
    'server:',
    `    rundir: "${opts.dir}"`,
    `    listen: 127.0.0.1@${opts.port}`,
    '    udp-workers: 1',
    '    tcp-workers: 1',
    '    background-workers: 1',
    'database:',
    `    storage: "${join(opts.dir, 'db')}"`,
    'control:',
    `    listen: "${join(opts.dir, 'knot.sock')}"`,
    'log:',
    '  - target: stderr',
    '    any: warning',
    'zone:',
    '  - domain: consul.',
    `    storage: "${dirname(opts.zoneFile)}"`,
    `    file: "${opts.zoneFile.slice(dirname(opts.zoneFile).length + 1)}"`,
    // Never write the zone back or keep a journal: the zone file is generated input.
    '    zonefile-sync: -1',
    '    journal-content: none',
    '',
  ].join('\n');
}

/** The probes every catalog server must pass: A for the first and the last service, 3 answers. */
function catalogProbes(services: number): ReadyProbe[] {
  return [
    { name: 'web-0.service.consul', type: 'A', minAnswers: 3 },
    { name: `web-${services - 1}.service.consul`, type: 'A', minAnswers: 3 },
  ];
}

/** Builds the command for `name` on `port` (writing Knot's config into the work dir). */
export async function serverCommand(name: ServerName, port: number, ctx: ServerContext): Promise<ServerCommand> {
  const pin = (argv: string[]) => (ctx.cpu === undefined ? argv : ['taskset', '-c', String(ctx.cpu), ...argv]);
  const base = { cwd: ctx.repoRoot, readyTimeoutMs: ctx.readyTimeoutMs };
  const make = (argv: string[], probes: ReadyProbe[]) => {
    const [cmd, ...args] = pin(argv);
    return { ...base, cmd: cmd!, args, probes };
  };
  switch (name) {
    case 'herald': {
      const cli = join(ctx.repoRoot, 'src/cli/herald.mjs');
      if (!existsSync(cli)) return { skip: `${cli} does not exist yet (Herald's CLI is not in this checkout)` };
      return make(
        [
          process.execPath,
          cli,
          'agent',
          '-dev',
          '-config-dir', ctx.paths.heraldConfigDir,
          '-dns-port', String(port),
          '-log-level', 'warn',
          // -dev serves HTTP on 8500 too; a port of its own keeps the bench clear of any other
          // agent (or test) on this host.
          ...(ctx.heraldExtraArgs.includes('-http-port') ? [] : ['-http-port', String(await freePort())]),
          ...ctx.heraldExtraArgs,
        ],
        catalogProbes(ctx.services),
      );
    }
    case 'knot': {
      const dir = join(ctx.workDir, 'knot');
      await mkdir(join(dir, 'db'), { recursive: true });
      const conf = join(dir, 'knot.conf');
      await writeFile(conf, knotConfig({ dir, port, zoneFile: ctx.paths.knotZone }));
      return make(['knotd', '-c', conf], catalogProbes(ctx.services));
    }
    case 'dnsmasq':
      return make(
        [
          'dnsmasq',
          '--no-daemon',
          '--no-resolv',
          '--no-hosts',
          '--port', String(port),
          '--listen-address', '127.0.0.1',
          '--bind-interfaces',
          `--conf-file=${ctx.paths.dnsmasqConf}`,
          '--pid-file', // optional argument left empty: write no pid file
        ],
        catalogProbes(ctx.services),
      );
    case 'node-responder':
    case 'node-responder-defbuf':
      return make(
        [
          process.execPath,
          '--import', 'tsx',
          join(ctx.repoRoot, 'bench/dns/node-responder.ts'),
          '--port', String(port),
          ...(name === 'node-responder-defbuf' ? ['--rcvbuf', '0'] : []),
        ],
        // Any reply will do: it answers everything with the same 3 A records.
        [{ name: 'web-0.service.consul', type: 'A', minAnswers: 3 }],
      );
  }
}

/**
 * Polls the probes every 100 ms until all pass, the process exits, or `timeoutMs` passes.
 * Resolves on success; rejects with the reason (and the process's last output) otherwise.
 */
export async function waitReady(port: number, probes: ReadyProbe[], proc: Tracked, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no reply yet';
  while (Date.now() < deadline) {
    if (proc.done) {
      const ex = await proc.exited;
      throw new Error(`exited (code ${ex.code ?? ex.signal}) before answering: ${proc.tail().trim().slice(-1500) || '(no output)'}`);
    }
    let ok = true;
    for (const p of probes) {
      try {
        const r = await queryUdp({ port, name: p.name, type: p.type, timeoutMs: 250 });
        if (r.rcode !== 0 || r.answers.length < p.minAnswers) {
          last = `${p.name} ${p.type}: rcode ${r.rcode}, ${r.answers.length} answers`;
          ok = false;
          break;
        }
      } catch (err) {
        last = (err as Error).message;
        ok = false;
        break;
      }
    }
    if (ok) return;
    // Bounded poll: there is no event for "the server has loaded its data".
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`not ready within ${timeoutMs} ms (${last}); output: ${proc.tail().trim().slice(-1500) || '(none)'}`);
}

/**
 * Starts `name` on a fresh loopback port and waits until it is ready. Resolves with the running
 * server, or `{ skipped }` with the reason when it cannot start or never answers correctly (the
 * process is stopped in that case).
 */
export async function startServer(
  reaper: ProcessReaper,
  name: ServerName,
  ctx: ServerContext,
): Promise<RunningServer | { name: ServerName; skipped: string }> {
  const port = await freePort();
  const sc = await serverCommand(name, port, ctx);
  if ('skip' in sc) return { name, skipped: sc.skip };
  const started = Date.now();
  let proc: Tracked;
  try {
    proc = await reaper.spawn(name, sc.cmd, sc.args, { cwd: sc.cwd });
  } catch (err) {
    return { name, skipped: `cannot start ${sc.cmd}: ${(err as Error).message}` };
  }
  try {
    await waitReady(port, sc.probes, proc, sc.readyTimeoutMs);
  } catch (err) {
    await reaper.stop(proc, 2000);
    return { name, skipped: (err as Error).message };
  }
  return { name, port, process: proc, readyMs: Date.now() - started, argv: [sc.cmd, ...sc.args] };
}
