/**
 * `herald services register|deregister`: file reading and flag merging without an agent, then
 * the CLI as a child process against a real `herald agent -plugin http-api`, checking what the
 * agent holds afterwards through GET /v1/agent/services.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERR, HeraldError } from '../../errors.ts';
import { captureIo, runCli, startAgent, tempDir, type RunningAgent } from './cli-harness.ts';
import { combineWithFlags, readServiceFiles, runServices } from './services.ts';

function write(dir: string, name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** `s` as a regular expression that matches it literally. */
function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('service definition files (no agent)', () => {
  const dir = tempDir('svcfiles');

  it('reads {"service"}, {"services"} and bare objects, in file order, with IDs defaulted to names', () => {
    const a = write(dir, 'a.json', { service: { name: 'web', port: 80 } });
    const b = write(dir, 'b.json', { Services: [{ Name: 'db', ID: 'db-1' }, { name: 'cache' }] });
    const c = write(dir, 'c.json', { name: 'bare', tags: ['x'] });
    const read = readServiceFiles([a, b, c]);
    expect(read.map((s) => [s.file, s.def.name, s.def.id])).toEqual([
      [a, 'web', 'web'],
      [b, 'db', 'db-1'],
      [b, 'cache', 'cache'],
      [c, 'bare', 'bare'],
    ]);
    expect(read[1]!.raw).toEqual({ Name: 'db', ID: 'db-1' });
  });

  it('refuses a bad definition naming the file, the line and the field, with CLI_SERVICE_FILE', () => {
    const f = write(dir, 'bad.json', '{\n  "service": {\n    "name": "bad",\n    "port": "eighty"\n  }\n}\n');
    let caught: unknown;
    try {
      readServiceFiles([f]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HeraldError);
    expect((caught as HeraldError).code).toBe(ERR.CLI_SERVICE_FILE);
    expect((caught as Error).message).toMatch(new RegExp(`^${literal(f)}:4: service\\.port: `));
  });

  it('reports invalid JSON with line and column, unreadable files, empty lists and missing names', () => {
    const syntax = write(dir, 'syntax.json', '{\n  "service": {,\n}');
    const empty = write(dir, 'empty.json', { services: [] });
    const noName = write(dir, 'noname.json', { service: { port: 1 } });
    const missing = join(dir, 'missing.json');
    let message = '';
    try {
      readServiceFiles([syntax, empty, noName, missing]);
    } catch (err) {
      message = (err as Error).message;
    }
    const lines = message.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${literal(syntax)}:2:\\d+: invalid JSON`));
    expect(lines[1]).toMatch(new RegExp(`^${literal(empty)}(:1)?: no service definitions in this file$`));
    expect(lines[2]).toMatch(new RegExp(`^${literal(noName)}(:\\d+)?: service: Missing service name`));
    expect(lines[3]).toMatch(/missing\.json: cannot read service definition: ENOENT/);
  });

  it('fills in ID, address and port from flags only where the file has none, merges meta and appends tags', () => {
    const flags = { id: 'f-id', address: '10.0.0.9', port: 9090, tags: ['extra'], meta: { team: 'edge' } };
    expect(combineWithFlags({ name: 'web', port: 80, tags: ['a'], meta: { a: '1', team: 'x' } }, flags)).toEqual({
      name: 'web',
      port: 80,
      ID: 'f-id',
      Address: '10.0.0.9',
      tags: ['a', 'extra'],
      meta: { a: '1', team: 'edge' },
    });
    expect(combineWithFlags({ Name: 'web', ID: '', Address: '' }, { id: '', address: '', port: 0, tags: [], meta: {} })).toEqual({
      Name: 'web',
      ID: '',
      Address: '',
    });
  });
});

// Concurrent: each test registers services under its own IDs.
describe.concurrent('herald services against a real agent', { timeout: 30_000 }, () => {
  let agent: RunningAgent;
  let addr: string;
  const dir = tempDir('services');

  beforeAll(async () => {
    agent = await startAgent({ configDir: tempDir('services-config'), node: 'cli-test' });
    addr = agent.httpAddr;
  }, 30_000);

  afterAll(() => agent?.kill());

  type AgentService = { ID: string; Service: string; Tags: string[]; Address: string; Port: number; Meta: Record<string, string> };
  const localServices = async (): Promise<Record<string, AgentService>> =>
    (await fetch(`http://${addr}/v1/agent/services`)).json() as Promise<Record<string, AgentService>>;

  it('registers a service from flags, then deregisters it by -id', async () => {
    const reg = await runCli([
      'services', 'register', '-http-addr', addr, '-name', 'api', '-id=api-1', '-port', '8080', '-address', '10.1.1.1',
      '-tag', 'a', '-tag', 'b', '-meta', 'team=edge',
    ]);
    expect(reg).toEqual({ code: 0, stdout: 'Registered service: api\n', stderr: '' });
    expect((await localServices())['api-1']).toMatchObject({
      ID: 'api-1',
      Service: 'api',
      Tags: ['a', 'b'],
      Address: '10.1.1.1',
      Port: 8080,
      Meta: { team: 'edge' },
    });

    const dereg = await runCli(['services', 'deregister', '-http-addr', addr, '-id', 'api-1']);
    expect(dereg).toEqual({ code: 0, stdout: 'Deregistered service: api-1\n', stderr: '' });
    expect(await localServices()).not.toHaveProperty('api-1');
  });

  it('registers every service in the files, merging flags, and deregisters them by the same files', async () => {
    const one = write(dir, 'one.json', { service: { name: 'web', tags: ['v1'], check: { ttl: '30s' } } });
    const two = write(dir, 'two.json', { services: [{ name: 'db', id: 'db-main', port: 5432 }, { Name: 'cache', Port: 6379 }] });
    const reg = await runCli(['services', 'register', '-http-addr', addr, '-port=8000', '-tag', 'extra', one, two]);
    expect(reg.stderr).toBe('');
    expect(reg.code).toBe(0);
    expect(reg.stdout).toBe('Registered service: web\nRegistered service: db\nRegistered service: cache\n');
    const held = await localServices();
    expect(held.web).toMatchObject({ Service: 'web', Port: 8000, Tags: ['v1', 'extra'] });
    expect(held['db-main']).toMatchObject({ Service: 'db', Port: 5432, Tags: ['extra'] });
    expect(held.cache).toMatchObject({ Service: 'cache', Port: 6379 });

    const dereg = await runCli(['services', 'deregister', '-http-addr', addr, one, two]);
    expect(dereg).toEqual({ code: 0, stdout: 'Deregistered service: web\nDeregistered service: db-main\nDeregistered service: cache\n', stderr: '' });
    const after = await localServices();
    for (const id of ['web', 'db-main', 'cache']) expect(after).not.toHaveProperty(id);
  });

  it('refuses a bad file before sending anything, naming the file and line', async () => {
    const good = write(dir, 'good.json', { service: { name: 'early' } });
    const bad = write(dir, 'bad.json', '{\n  "service": {\n    "name": "bad",\n    "port": "eighty"\n  }\n}\n');
    const r = await runCli(['services', 'register', '-http-addr', addr, good, bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`Error: ${bad}:4: service.port: `);
    // All files are checked first: the good one was not registered either.
    expect(await localServices()).not.toHaveProperty('early');
  });

  it("reports the agent's refusal with its status and body", async () => {
    // Meta keys with the consul- prefix are reserved (spec 2.2): the agent answers 400.
    const r = await runCli(['services', 'register', '-http-addr', addr, '-name', 'reserved', '-meta', 'consul-x=1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error registering service "reserved": Unexpected response code: 400 \(.+\)\n$/);
  });

});

describe('services command-line mistakes (in-process, nothing sent)', () => {
  const dir = tempDir('services-usage');
  // Nothing listens on port 1: a command that got past its checks would fail differently.
  const addr = '127.0.0.1:1';

  it('prints the usage for missing or conflicting arguments and unknown subcommands', async () => {
    const f = write(dir, 'x.json', { service: { name: 'x' } });
    const cases: [string[], RegExp][] = [
      [['register', '-http-addr', addr], /^Service registration requires at least one argument or flags\.\n\nUsage: herald services register/],
      [['register', '-http-addr', addr, '-name', 'x', f], /^Service registration requires arguments or -name, not both\./],
      [['register', '-http-addr', addr, '-name', 'x', '-port', 'http'], /^invalid value "http" for flag -port: parse error\n\nUsage: herald services register/],
      [['deregister', '-http-addr', addr], /^Service deregistration requires at least one argument or -id\.\n\nUsage: herald services deregister/],
      [['deregister', '-http-addr', addr, '-id', 'x', f], /^Service deregistration requires arguments or -id, not both\./],
      [['bogus'], /^Unknown subcommand: "services bogus"/],
      [[], /^Usage: herald services <subcommand>/],
    ];
    for (const [argv, message] of cases) {
      const io = captureIo();
      expect(await runServices(argv, io), argv.join(' ')).toBe(1);
      expect(io.stderr(), argv.join(' ')).toMatch(message);
      expect(io.stdout()).toBe('');
    }
  });
});
