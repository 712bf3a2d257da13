/**
 * `herald members`, `herald info` and `herald version`: table logic without an agent, exact
 * output against a scripted HTTP server (real socket, real CLI process), and the CLI against a
 * real `herald agent -plugin http-api` child process.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUL_COMPAT_VERSION, VERSION } from '../../version.ts';
import { captureIo, freePort, runCli, startAgent, tempDir, type RunningAgent } from './cli-harness.ts';
import { infoLines, runInfo } from './info.ts';
import { labelAndSort, memberAddress, membersTable, memberStatus, runMembers } from './members.ts';
import { runVersion } from './version.ts';

const SERVER = { Name: 'srv1', Addr: '10.0.0.1', Port: 8301, Status: 1, Tags: { role: 'consul', dc: 'dc1', build: '1.10.0:abcdef', vsn: '2', id: 'x' } };
const CLIENT = { Name: 'a-client', Addr: '10.0.0.2', Port: 8301, Status: 4, Tags: { role: 'node', dc: 'dc1', build: '1.10.0', vsn: '2' } };
const ODD = { Name: 'odd', Addr: 'fe80::1', Port: 8301, Status: 3, Tags: { dc: 'dc1' } };

describe('members table (no agent)', () => {
  it('maps status numbers and addresses as serf and Go net print them', () => {
    expect([0, 1, 2, 3, 4, 9, 'x'].map(memberStatus)).toEqual(['none', 'alive', 'leaving', 'left', 'failed', 'unknown', 'unknown']);
    expect(memberAddress('10.0.0.1', 8301)).toBe('10.0.0.1:8301');
    expect(memberAddress('fe80::1', 8301)).toBe('[fe80::1]:8301');
    expect(memberAddress('::ffff:10.0.0.1', 1)).toBe('10.0.0.1:1');
    expect(memberAddress('not-an-ip', 1)).toBe(':1');
  });

  it('puts servers first, labels segments, and fills the standard columns like consul members', () => {
    const rows = membersTable(labelAndSort([ODD, CLIENT, SERVER], true), false);
    expect(rows).toEqual([
      ['Node', 'Address', 'Status', 'Type', 'Build', 'Protocol', 'DC', 'Segment'],
      ['srv1', '10.0.0.1:8301', 'alive', 'server', '1.10.0', '2', 'dc1', '<all>'],
      ['a-client', '10.0.0.2:8301', 'failed', 'client', '1.10.0', '2', 'dc1', '<default>'],
      ['odd', '[fe80::1]:8301', 'left', 'unknown', '', '', '', ''],
    ]);
  });

  it('shows a server segment as <default> when one segment was asked for', () => {
    const [srv] = labelAndSort([SERVER], false);
    expect((srv!.Tags as Record<string, string>).segment).toBe('<default>');
  });

  it('prints every tag, sorted, in -detailed mode', () => {
    const rows = membersTable(labelAndSort([SERVER], true), true);
    expect(rows[0]).toEqual(['Node', 'Address', 'Status', 'Tags']);
    expect(rows[1]).toEqual(['srv1', '10.0.0.1:8301', 'alive', 'build=1.10.0:abcdef,dc=dc1,id=x,role=consul,segment=<all>,vsn=2']);
  });

  it('does not change the members it is given', () => {
    const input = structuredClone(SERVER);
    labelAndSort([input], true);
    expect(input).toEqual(SERVER);
  });
});

describe('info lines (no agent)', () => {
  it('prints sorted sections and sorted tab-indented key = value lines', () => {
    const self = { Config: {}, Stats: { runtime: { goroutines: '3', arch: 'x64' }, agent: { services: '2', checks: 1 } } };
    expect(infoLines(self)).toEqual({ lines: ['agent:', '\tchecks = 1', '\tservices = 2', 'runtime:', '\tarch = x64', '\tgoroutines = 3'] });
  });

  it('names a missing Stats object or a bad section', () => {
    expect(infoLines({ Config: {} })).toEqual({ error: `Agent response did not contain 'Stats' key: {"Config":{}}` });
    expect(infoLines({ Stats: { agent: 'x' } })).toEqual({ error: 'Got invalid subkey in stats: "x"' });
  });
});

// Concurrent: each test tells its requests apart by the token it sends.
describe.concurrent('herald members against a scripted API (real socket, real CLI process)', { timeout: 30_000 }, () => {
  const requests: { url: string; token: string | undefined }[] = [];
  let server: http.Server;
  let addr: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests.push({ url: req.url!, token: req.headers['x-consul-token'] as string | undefined });
      res.setHeader('Content-Type', 'application/json');
      if (req.url!.startsWith('/v1/agent/members')) res.end(JSON.stringify([ODD, CLIENT, SERVER]));
      else {
        res.statusCode = 500;
        res.end('rpc error making call: boom\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('prints the exact consul members table, reading CONSUL_HTTP_ADDR and sending CONSUL_HTTP_TOKEN', async () => {
    const r = await runCli(['members'], { CONSUL_HTTP_ADDR: `http://${addr}`, CONSUL_HTTP_TOKEN: 'tok-c' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'Node      Address         Status  Type     Build   Protocol  DC   Segment',
        'srv1      10.0.0.1:8301   alive   server   1.10.0  2         dc1  <all>',
        'a-client  10.0.0.2:8301   failed  client   1.10.0  2         dc1  <default>',
        'odd       [fe80::1]:8301  left    unknown                         ',
        '',
      ].join('\n'),
    );
    expect(requests.filter((q) => q.token === 'tok-c')).toEqual([{ url: '/v1/agent/members', token: 'tok-c' }]);
  });

  it('prefers HERALD_* over CONSUL_* and the flags over both', async () => {
    const closed = await freePort();
    const env = { HERALD_HTTP_ADDR: addr, CONSUL_HTTP_ADDR: `127.0.0.1:${closed}`, HERALD_HTTP_TOKEN: 'tok-h', CONSUL_HTTP_TOKEN: 'tok-c2' };
    const [viaEnv, viaFlag] = await Promise.all([
      runCli(['members', '-status=alive'], env),
      runCli(['members', '-http-addr', `http://${addr}`, '-token=tok-f', '-wan', '-segment', 'seg1'], {
        HERALD_HTTP_ADDR: `127.0.0.1:${closed}`,
        HERALD_HTTP_TOKEN: 'tok-h2',
      }),
    ]);
    expect(viaEnv.code).toBe(0);
    expect(viaFlag.code).toBe(0);
    // Exactly one request each, with the winning token; the losing variables were never used.
    const mine = requests.filter((q) => ['tok-h', 'tok-c2', 'tok-h2', 'tok-f'].includes(q.token!)).sort((a, b) => (a.token! < b.token! ? -1 : 1));
    expect(mine).toEqual([
      { url: '/v1/agent/members?wan=1&segment=seg1', token: 'tok-f' },
      { url: '/v1/agent/members', token: 'tok-h' },
    ]);
    // -status keeps only matching members.
    expect(viaEnv.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['Node', 'srv1']);
    // With one segment asked for, the server is labelled <default>.
    expect(viaFlag.stdout).toMatch(/srv1 .*dc1\s+<default>\n/);
  });

  it('exits 2 with no output when -status matches nothing', async () => {
    const r = await runCli(['members', '-http-addr', addr, '-status', '^none$']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: '' });
  });

  it('prints the tags column with -detailed', async () => {
    const r = await runCli(['members', '-http-addr', addr, '-detailed']);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'Node      Address         Status  Tags',
        'srv1      10.0.0.1:8301   alive   build=1.10.0:abcdef,dc=dc1,id=x,role=consul,segment=<all>,vsn=2',
        'a-client  10.0.0.2:8301   failed  build=1.10.0,dc=dc1,role=node,segment=<default>,vsn=2',
        'odd       [fe80::1]:8301  left    dc=dc1,segment=<default>',
        '',
      ].join('\n'),
    });
  });

  it('reports an error status with its body on stderr and exits 1', async () => {
    const r = await runCli(['info', '-http-addr', addr]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error querying agent: Unexpected response code: 500 (rpc error making call: boom)\n');
  });
});

// Concurrent: every test only reads from the agent.
describe.concurrent('herald members, info and version as processes (a real agent where one is needed)', { timeout: 30_000 }, () => {
  let agent: RunningAgent;

  beforeAll(async () => {
    agent = await startAgent({ configDir: tempDir('members'), node: 'cli-test' });
  }, 30_000);

  afterAll(() => agent?.kill());

  it('lists the agent itself, alive, in the consul members layout', async () => {
    const r = await runCli(['members', '-http-addr', agent.httpAddr]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]!.split(/\s{2,}/)).toEqual(['Node', 'Address', 'Status', 'Type', 'Build', 'Protocol', 'DC', 'Segment']);
    const self = lines.find((l) => l.startsWith('cli-test '));
    expect(self, r.stdout).toBeDefined();
    const cells = self!.split(/\s{2,}/);
    expect(cells[0]).toBe('cli-test');
    expect(cells[1]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(cells[2]).toBe('alive');
    expect(['server', 'client']).toContain(cells[3]);
    expect(cells[6]).toBe('dc1');
  });

  it('prints the API answer as indented JSON with -format=json', async () => {
    const [r, api] = await Promise.all([
      runCli(['members', `-http-addr=http://${agent.httpAddr}`, '-format=json']),
      fetch(`http://${agent.httpAddr}/v1/agent/members`).then((res) => res.json()),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\[\n {4}\{\n {8}"/);
    expect(JSON.parse(r.stdout)).toEqual(api);
  });

  it('prints the Stats sections of /v1/agent/self as consul info does', async () => {
    const [r, self] = await Promise.all([
      runCli(['info', '-http-addr', agent.httpAddr]),
      fetch(`http://${agent.httpAddr}/v1/agent/self`).then((res) => res.json() as Promise<{ Stats: Record<string, Record<string, unknown>> }>),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const sections = lines.filter((l) => !l.startsWith('\t'));
    expect(sections).toEqual(Object.keys(self.Stats).sort().map((s) => `${s}:`));
    expect(sections).toContain('agent:');
    for (const l of lines.filter((x) => x.startsWith('\t'))) expect(l).toMatch(/^\t\S+ = /);
    const agentKeys = Object.keys(self.Stats.agent!).sort();
    const start = lines.indexOf('agent:');
    expect(lines.slice(start + 1, start + 1 + agentKeys.length)).toEqual(agentKeys.map((k) => `\t${k} = ${String(self.Stats.agent![k])}`));
  });

  it('names the connection error when no agent listens, and exits 1', async () => {
    const closed = await freePort();
    const r = await runCli(['members', '-http-addr', `127.0.0.1:${closed}`]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `Error retrieving members: connect ECONNREFUSED 127.0.0.1:${closed}\n` });
  });

  it('prints the version and the Consul compatibility line without an agent', async () => {
    const r = await runCli(['version']);
    const expected = `Herald v${VERSION}\nProtocol: Consul v${CONSUL_COMPAT_VERSION} compatible (DNS interface, HTTP API /v1, service definitions)\n`;
    expect(r).toEqual({ code: 0, stdout: expected, stderr: '' });
    const io = captureIo();
    expect(await runVersion([], io)).toBe(0);
    expect(io.stdout()).toBe(expected);
  });

  it('prints usage for -h (exit 0) and for an unknown flag (exit 1) as a process', async () => {
    const [help, bad] = await Promise.all([runCli(['members', '-h']), runCli(['members', '-bogus'])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: herald members \[options\]/);
    expect(help.stdout).toContain('-http-addr=<address>');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^flag provided but not defined: -bogus\n\nUsage: herald members/);
  });
});

describe('command-line mistakes (in-process, nothing sent)', () => {
  it('refuses an unknown -format and stray arguments with the usage', async () => {
    const badFormat = captureIo();
    expect(await runMembers(['-http-addr', '127.0.0.1:1', '-format=yaml'], badFormat)).toBe(1);
    expect(badFormat.stderr()).toMatch(/^Invalid format: "yaml" \(use pretty or json\)\n\nUsage: herald members/);
    const stray = captureIo();
    expect(await runMembers(['-http-addr', '127.0.0.1:1', 'extra'], stray)).toBe(1);
    expect(stray.stderr()).toMatch(/^Too many arguments \(expected 0, got 1\)\n\nUsage: herald members/);
    const info = captureIo();
    expect(await runInfo(['extra'], info)).toBe(1);
    expect(info.stderr()).toMatch(/^Too many arguments \(expected 0, got 1\)\n\nUsage: herald info/);
  });

  it('refuses an unusable address from a flag or the environment before sending anything', async () => {
    const viaFlag = captureIo();
    expect(await runInfo(['-http-addr', 'unix:///tmp/herald.sock'], viaFlag)).toBe(1);
    expect(viaFlag.stderr()).toBe('Error connecting to agent: invalid HTTP address "unix:///tmp/herald.sock": unix sockets are not supported; give host:port\n');
    const viaEnv = captureIo({ CONSUL_HTTP_ADDR: 'ftp://127.0.0.1:21' });
    expect(await runMembers([], viaEnv)).toBe(1);
    expect(viaEnv.stderr()).toBe('Error connecting to agent: invalid HTTP address "ftp://127.0.0.1:21": Unknown protocol scheme: ftp\n');
  });

  it('refuses a -status that is not a regular expression', async () => {
    const io = captureIo();
    expect(await runMembers(['-http-addr', '127.0.0.1:1', '-status', '('], io)).toBe(1);
    expect(io.stderr()).toMatch(/^Failed to compile status regexp: /);
  });
});
