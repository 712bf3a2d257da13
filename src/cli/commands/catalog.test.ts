/**
 * `herald catalog services|nodes|datacenters`: output logic without an agent, then the CLI as a
 * child process against a real `herald agent -plugin http-api` with two services from config.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo, runCli, startAgent, tempDir, until, type RunningAgent } from './cli-harness.ts';
import { nodesTable, nodeViews, runCatalog, servicesFromNode, servicesLines } from './catalog.ts';

describe('catalog output (no agent)', () => {
  it('lists service names sorted, one per line', () => {
    expect(servicesLines({ web: ['b'], consul: [], db: [] }, false)).toEqual(['consul', 'db', 'web']);
  });

  it('adds sorted, comma-joined tags in a tabwriter column with -tags', () => {
    expect(servicesLines({ web: ['v1', 'primary'], db: [] }, true)).toEqual(['db       \nweb      primary,v1']);
  });

  it("collects a node's services by name, appending every instance's tags", () => {
    const node = {
      Node: { Node: 'n1' },
      Services: { 'web-1': { Service: 'web', Tags: ['a'] }, 'web-2': { Service: 'web', Tags: ['a', 'b'] }, db: { Service: 'db', Tags: [] } },
    };
    expect(servicesFromNode(node)).toEqual({ web: ['a', 'a', 'b'], db: [] });
    expect(servicesFromNode(null)).toEqual({});
  });

  it('shortens node IDs to the first group and adds tagged addresses and meta with -detailed', () => {
    const nodes = nodeViews(
      [
        {
          ID: '2f3c4a1b-0000-1111-2222-333344445555',
          Node: 'n1',
          Address: '10.0.0.1',
          Datacenter: 'dc1',
          TaggedAddresses: { wan: '1.2.3.4', lan: '10.0.0.1' },
          Meta: { rack: 'r1', 'consul-network-segment': '' },
        },
        { ID: '', Node: 'n2-longer', Address: '10.0.0.2', Datacenter: 'dc1', TaggedAddresses: null, Meta: null },
      ],
      false,
    );
    expect(nodesTable(nodes, false)).toEqual([
      ['Node', 'ID', 'Address', 'DC'],
      ['n1', '2f3c4a1b', '10.0.0.1', 'dc1'],
      ['n2-longer', '', '10.0.0.2', 'dc1'],
    ]);
    expect(nodesTable(nodes, true)[1]).toEqual([
      'n1',
      '2f3c4a1b-0000-1111-2222-333344445555',
      '10.0.0.1',
      'dc1',
      'lan=10.0.0.1, wan=1.2.3.4',
      'consul-network-segment=, rack=r1',
    ]);
  });

  it('takes node meta from NodeMeta for -service results', () => {
    const [n] = nodeViews([{ ID: 'x', Node: 'n1', Address: 'a', Datacenter: 'dc1', NodeMeta: { k: 'v' }, Meta: { wrong: '1' } }], true);
    expect(n!.Meta).toEqual({ k: 'v' });
  });
});

// Concurrent: every test only reads from the agent.
describe.concurrent('herald catalog against a real agent', { timeout: 30_000 }, () => {
  let agent: RunningAgent;
  let addr: string;

  beforeAll(async () => {
    const dir = tempDir('catalog');
    writeFileSync(join(dir, 'web.json'), JSON.stringify({ service: { name: 'web', port: 80, address: '10.9.0.1', tags: ['v1', 'primary'] } }));
    writeFileSync(join(dir, 'db.json'), JSON.stringify({ services: [{ name: 'db', port: 5432, meta: { role: 'main' } }] }));
    agent = await startAgent({ configDir: dir, node: 'cli-test' });
    addr = agent.httpAddr;
    // Config services reach the catalog through the agent's sync; wait for them there.
    await until('web and db in the catalog', async () => {
      const res = await fetch(`http://${addr}/v1/catalog/services`);
      const body = (await res.json()) as Record<string, string[]>;
      return 'web' in body && 'db' in body;
    });
  }, 30_000);

  afterAll(() => agent?.kill());

  const api = async (path: string): Promise<unknown> => (await fetch(`http://${addr}${path}`)).json();

  it('lists the catalog services one per line, sorted, as the API has them', async () => {
    const [r, services] = await Promise.all([runCli(['catalog', 'services', '-http-addr', addr]), api('/v1/catalog/services')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(Object.keys(services as object).sort().join('\n') + '\n');
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['db', 'web']));
  });

  it('adds the tags column with -tags, and lists one node\'s services with -node', async () => {
    const [tags, node] = await Promise.all([
      runCli(['catalog', 'services', '-tags', '-http-addr', addr]),
      runCli(['catalog', 'services', '-node', 'cli-test', '-http-addr', addr]),
    ]);
    expect(tags.code).toBe(0);
    expect(tags.stdout).toMatch(/^web {6,}primary,v1$/m);
    expect(tags.stdout).toMatch(/^db\s*$/m);
    expect(node.code).toBe(0);
    expect(node.stdout.split('\n')).toEqual(expect.arrayContaining(['db', 'web']));
  });

  it('reports a node without services on stderr and still exits 0', async () => {
    const r = await runCli(['catalog', 'services', '-node', 'no-such-node', '-http-addr', addr]);
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'No services match the given query - try expanding your search.\n' });
  });

  it('prints the API answer as indented JSON with -format=json', async () => {
    const [r, services] = await Promise.all([runCli(['catalog', 'services', '-format=json', '-http-addr', addr]), api('/v1/catalog/services')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\{\n {4}"/);
    expect(JSON.parse(r.stdout)).toEqual(services);
  });

  it('lists nodes in the Node ID Address DC layout with the short ID', async () => {
    const [r, nodes] = await Promise.all([runCli(['catalog', 'nodes', '-http-addr', addr]), api('/v1/catalog/nodes') as Promise<Record<string, string>[]>]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]!.split(/\s+/)).toEqual(['Node', 'ID', 'Address', 'DC']);
    const self = nodes.find((n) => n.Node === 'cli-test')!;
    expect(self).toBeDefined();
    const row = lines.find((l) => l.startsWith('cli-test '))!;
    const shortId = self.ID!.includes('-') && self.ID!.indexOf('-') > 0 ? self.ID!.slice(0, self.ID!.indexOf('-')) : self.ID!;
    expect(row.split(/\s+/).filter(Boolean)).toEqual(['cli-test', shortId, self.Address, self.Datacenter].filter(Boolean));
    expect(self.Datacenter).toBe('dc1');
  });

  it('adds TaggedAddresses and Meta with -detailed', async () => {
    const r = await runCli(['catalog', 'nodes', '-detailed', '-http-addr', addr]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]!.split(/\s+/)).toEqual(['Node', 'ID', 'Address', 'DC', 'TaggedAddresses', 'Meta']);
  });

  it('lists the nodes providing a service with -service, and says so when none does', async () => {
    const [web, none] = await Promise.all([
      runCli(['catalog', 'nodes', '-service=web', '-http-addr', addr]),
      runCli(['catalog', 'nodes', '-service=nope', '-http-addr', addr]),
    ]);
    expect(web.code).toBe(0);
    expect(web.stdout.trimEnd().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['Node', 'cli-test']);
    expect(none).toEqual({ code: 0, stdout: '', stderr: 'No nodes match the given query - try expanding your search.\n' });
  });

  it('lists the datacenters', async () => {
    const r = await runCli(['catalog', 'datacenters', '-http-addr', addr]);
    expect(r).toEqual({ code: 0, stdout: 'dc1\n', stderr: '' });
  });

});

describe('catalog command-line mistakes (in-process, nothing sent)', () => {
  it('prints the catalog usage without a subcommand (exit 1) and refuses unknown ones and stray arguments', async () => {
    const bare = captureIo();
    expect(await runCatalog([], bare)).toBe(1);
    expect(bare.stderr()).toMatch(/^Usage: herald catalog <subcommand>/);
    const unknown = captureIo();
    expect(await runCatalog(['bogus'], unknown)).toBe(1);
    expect(unknown.stderr()).toMatch(/^Unknown subcommand: "catalog bogus"/);
    const stray = captureIo();
    expect(await runCatalog(['nodes', '-http-addr', '127.0.0.1:1', 'extra'], stray)).toBe(1);
    expect(stray.stderr()).toMatch(/^Too many arguments \(expected 0, got 1\)\n\nUsage: herald catalog nodes/);
    const help = captureIo();
    expect(await runCatalog(['services', '-h'], help)).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: herald catalog services/);
    const meta = captureIo();
    expect(await runCatalog(['services', '-node-meta', 'rack'], meta)).toBe(1);
    expect(meta.stderr()).toMatch(/^invalid value "rack" for flag -node-meta: Missing "=" value in argument: rack\n/);
  });
});
