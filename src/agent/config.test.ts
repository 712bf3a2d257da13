import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  checkDefinitionFromJson,
  loadConfig,
  parseAgentFlags,
  serviceDefinitionFromJson,
  type LoadConfigOptions,
} from './config.ts';
import { ERR, HeraldError } from '../errors.ts';
import type { RuntimeConfig } from './config-types.ts';

let root: string;
let seq = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'herald-config-test-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const text = (c: string | object) => (typeof c === 'string' ? c : JSON.stringify(c, null, 2) + '\n');

/** A fresh directory holding these files (string content as is, objects as pretty JSON). */
function dir(files: Record<string, string | object>): string {
  const d = join(root, `dir${seq++}`);
  mkdirSync(d);
  for (const [name, c] of Object.entries(files)) writeFileSync(join(d, name), text(c));
  return d;
}

/** A fresh config file. */
function file(c: string | object, name = `f${seq++}.json`): string {
  const p = join(root, name);
  writeFileSync(p, text(c));
  return p;
}

function load(argv: string[], opts: LoadConfigOptions = {}): RuntimeConfig {
  return loadConfig({ flags: argv }, { hostname: 'test-host', ...opts });
}

/** The ConfigError `fn` throws (fails the test when it does not throw one). */
function refused(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect(e).toBeInstanceOf(HeraldError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

/** Loads one file under -dev and returns the refusal. */
function refusedFile(c: string | object, extra: string[] = []): ConfigError {
  return refused(() => load(['-dev', '-config-file', file(c), ...extra]));
}

describe('parseAgentFlags', () => {
  it('takes -x v, -x=v, --x v and --x=v', () => {
    const f = parseAgentFlags(['-node', 'a', '-datacenter=dc9', '--domain', 'example.', '--bind=10.0.0.1']);
    expect(f.nodeName).toBe('a');
    expect(f.datacenter).toBe('dc9');
    expect(f.domain).toBe('example.');
    expect(f.bindAddr).toBe('10.0.0.1');
  });

  it('reads every listed flag', () => {
    const f = parseAgentFlags([
      '-dev', '-node', 'n1', '-node-id', 'ADF4238A-882B-9DDC-4A9D-5B6758E4159E', '-datacenter', 'dc2',
      '-bind', '127.0.0.2', '-client', '127.0.0.3', '-dns-port', '8601', '-http-port', '-1',
      '-domain', 'd.', '-alt-domain', 'alt.', '-recursor', '1.1.1.1', '-recursor', '8.8.8.8:5353',
      '-data-dir', '/var/lib/h', '-config-file', 'a.json', '-config-dir', 'conf.d', '-config-file', 'b.json',
      '-zone-dir', 'zones', '-plugin', 'http-api', '-plugin', 'kv', '-log-level', 'debug',
      '-node-meta', 'rack:r1', '-node-meta', 'url:http://x', '-node-meta', 'bare',
      '-enable-script-checks', '-enable-local-script-checks=false',
    ]);
    expect(f).toEqual({
      dev: true,
      nodeName: 'n1',
      nodeId: 'ADF4238A-882B-9DDC-4A9D-5B6758E4159E',
      datacenter: 'dc2',
      bindAddr: '127.0.0.2',
      clientAddr: '127.0.0.3',
      dnsPort: 8601,
      httpPort: -1,
      domain: 'd.',
      altDomain: 'alt.',
      recursors: ['1.1.1.1', '8.8.8.8:5353'],
      retryJoin: [],
      dataDir: '/var/lib/h',
      configPaths: [
        { kind: 'file', path: 'a.json' },
        { kind: 'dir', path: 'conf.d' },
        { kind: 'file', path: 'b.json' },
      ],
      zoneDir: 'zones',
      plugins: ['http-api', 'kv'],
      logLevel: 'debug',
      // Split at the first colon (Consul's ParseMetaPair); no colon is an empty value.
      nodeMeta: [['rack', 'r1'], ['url', 'http://x'], ['bare', '']],
      enableScriptChecks: true,
      enableLocalScriptChecks: false,
    });
  });

  it('gives booleans a value only with =, and keeps the last of a repeated scalar', () => {
    expect(parseAgentFlags(['-dev=false']).dev).toBe(false);
    expect(parseAgentFlags(['--dev=T']).dev).toBe(true);
    expect(parseAgentFlags(['-node', 'a', '-node', 'b']).nodeName).toBe('b');
    // Like Go's flag package, the next argument is the value even when it starts with a dash.
    expect(parseAgentFlags(['-node', '-weird']).nodeName).toBe('-weird');
  });

  const bad: [string[], string][] = [
    [['-nope'], 'flag provided but not defined: -nope'],
    [['--config-directory', 'x'], 'flag provided but not defined: -config-directory'],
    [['-Dev'], 'flag provided but not defined: -Dev'],
    [['-node'], 'flag needs an argument: -node'],
    [['-dev=maybe'], 'invalid boolean value "maybe" for -dev: parse error'],
    [['-dns-port', 'abc'], 'invalid value "abc" for flag -dns-port: must be a port number, or -1 to disable'],
    [['-http-port=70000'], 'invalid value "70000" for flag -http-port: must be a port number, or -1 to disable'],
    [['agent'], 'unexpected argument "agent": the agent takes only flags'],
    [['-dev', '--', 'x'], 'unexpected argument "x": the agent takes only flags'],
    [['---dev'], 'bad flag syntax: ---dev'],
    [['-=x'], 'bad flag syntax: -=x'],
  ];
  it.each(bad)('%j is refused: %s', (argv, message) => {
    const err = refused(() => parseAgentFlags(argv));
    expect(err.code).toBe(ERR.FLAG_INVALID);
    expect(err.message).toBe(message);
  });

  it('reports an unknown flag through loadConfig too', () => {
    const err = refused(() => load(['-dev', '-bogus']));
    expect(err.code).toBe(ERR.FLAG_INVALID);
    expect(err.message).toContain('-bogus');
  });
});

describe('loadConfig: defaults and -dev', () => {
  it('without -dev: Consul defaults, data_dir required', () => {
    const c = load(['-data-dir', join(root, 'data')]);
    expect(c).toMatchObject({
      dev: false,
      nodeName: 'test-host',
      nodeId: '',
      datacenter: 'dc1',
      bindAddr: '0.0.0.0',
      clientAddr: '127.0.0.1',
      ports: { dns: 8600, http: 8500 },
      domain: 'consul',
      recursors: [],
      enableScriptChecks: false,
      enableLocalScriptChecks: false,
      checkUpdateInterval: 300_000,
      logLevel: 'info',
      plugins: [],
      services: [],
      checks: [],
      sources: [],
    });
    expect(c.dnsConfig).toEqual({
      nodeTtl: 0,
      serviceTtl: {},
      onlyPassing: false,
      enableTruncate: true,
      udpAnswerLimit: 3,
      aRecordLimit: 0,
      disableCompression: false,
      enableAdditionalNodeMetaTxt: true,
      soa: { refresh: 3600, retry: 600, expire: 86400, minTtl: 0 },
      recursorTimeout: 2000,
      recursorStrategy: 'sequential',
      allowStale: true,
      maxStale: 87600 * 3600 * 1000,
      cacheMaxBytes: 64 * 1024 * 1024,
      shuffleVariants: 8,
      tcpIdleTimeout: 10_000,
      tcpMaxConnections: 256,
    });
  });

  it('storage engine: rocksdb with a data dir outside -dev, memory otherwise, unless set', () => {
    const data = join(root, 'data');
    expect(load(['-data-dir', data]).storageEngine).toBe('rocksdb');
    expect(load(['-dev']).storageEngine).toBe('memory');
    expect(load(['-dev', '-data-dir', data]).storageEngine).toBe('memory');
    expect(load(['-data-dir', data, '-storage-engine', 'memory']).storageEngine).toBe('memory');
    expect(load(['-dev', '-data-dir', data, '-storage-engine', 'rocksdb']).storageEngine).toBe('rocksdb');
    expect(load(['-dev', '-config-file', file({ storage_engine: 'rocksdb', data_dir: data })]).storageEngine).toBe('rocksdb');
    // A file's choice holds unless the flag says otherwise.
    expect(load(['-data-dir', data, '-config-file', file({ storage_engine: 'memory' })]).storageEngine).toBe('memory');
    expect(load(['-data-dir', data, '-config-file', file({ raft_snapshot_threshold: 100 })]).raftSnapshotThreshold).toBe(100);
    expect(load(['-dev']).raftSnapshotThreshold).toBe(16384);
  });

  it('refuses a bad storage engine, or rocksdb without a data dir, naming where it was set', () => {
    expect(refused(() => load(['-dev', '-storage-engine', 'leveldb'])).message).toBe(
      '-storage-engine: storage engine must be "memory" or "rocksdb", not "leveldb"',
    );
    const f = file({ storage_engine: 'rocksdb' });
    expect(refused(() => load(['-dev', '-config-file', f])).message).toBe(
      `${f}: storage_engine: "rocksdb" keeps its files in the data dir; set data_dir or -data-dir (or use "memory")`,
    );
    expect(refused(() => load(['-dev', '-storage-engine', 'rocksdb'])).message).toMatch(/^-storage-engine: "rocksdb" keeps its files in the data dir/);
    const bad = refusedFile({ raft_snapshot_threshold: 0 });
    expect(bad.message).toMatch(/raft_snapshot_threshold/);
  });

  it('client_failure_timeout: 5s unless set, at least 500ms', () => {
    expect(load(['-dev']).clientFailureTimeout).toBe(5_000);
    expect(load(['-dev', '-config-file', file({ client_failure_timeout: '3s' })]).clientFailureTimeout).toBe(3_000);
    expect(refusedFile({ client_failure_timeout: '100ms' }).message).toMatch(/client_failure_timeout: must be at least 500ms/);
  });

  it('refuses to start outside -dev without a data dir, in Consul\'s words', () => {
    const err = refused(() => load([]));
    expect(err.code).toBe(ERR.CONFIG_INVALID);
    expect(err.message).toMatch(/^data_dir cannot be empty/);
  });

  it('-dev: host name, dc1, loopback, 8600/8500, info logs, local script checks on, no data dir', () => {
    const c = load(['-dev']);
    expect(c).toMatchObject({
      dev: true,
      nodeName: 'test-host',
      datacenter: 'dc1',
      bindAddr: '127.0.0.1',
      clientAddr: '127.0.0.1',
      ports: { dns: 8600, http: 8500 },
      logLevel: 'info',
      enableLocalScriptChecks: true,
      enableScriptChecks: false,
    });
    expect(c.dataDir).toBeUndefined();
  });

  it('uses os.hostname() when no host name is injected', async () => {
    const { hostname } = await import('node:os');
    expect(loadConfig({ flags: ['-dev'] }).nodeName).toBe(hostname());
  });

  it('takes already parsed flags', () => {
    const c = loadConfig(parseAgentFlags(['-dev', '-node', 'x']), { hostname: 'h' });
    expect(c.nodeName).toBe('x');
  });

  it('has no side effects: nothing is created, not even the data dir', () => {
    const d = dir({ 'a.json': { node_name: 'n' } });
    const dataDir = join(root, 'never-created');
    const before = readdirSync(d);
    load(['-config-dir', d, '-data-dir', dataDir]);
    expect(existsSync(dataDir)).toBe(false);
    expect(readdirSync(d)).toEqual(before);
  });
});

describe('loadConfig: files, directories and merge order', () => {
  it('loads only *.json of a directory, in lexical order, skipping subdirectories', () => {
    const d = dir({
      'b.json': { node_meta: { from: 'b' }, recursors: ['10.0.0.2'] },
      'a.json': { node_meta: { from: 'a' }, recursors: ['10.0.0.1'] },
      '10.json': { recursors: ['10.0.0.10'] },
      '9.json': { recursors: ['10.0.0.9'] },
      'README.md': 'not config',
      'x.json.bak': 'not config either',
    });
    mkdirSync(join(d, 'sub.json'));
    writeFileSync(join(d, 'sub.json', 'inner.json'), '{"node_name": "from-subdir"}');
    const c = load(['-dev', '-config-dir', d]);
    expect(c.sources).toEqual(['10.json', '9.json', 'a.json', 'b.json'].map((n) => join(d, n)));
    expect(c.recursors).toEqual(['10.0.0.10:53', '10.0.0.9:53', '10.0.0.1:53', '10.0.0.2:53']);
    expect(c.nodeMeta).toEqual({ from: 'b' });
    expect(c.nodeName).toBe('test-host');
  });

  it('later scalars override, lists append, maps merge, flags win', () => {
    const one = file({
      node_name: 'one',
      datacenter: 'dc-one',
      log_level: 'warn',
      recursors: ['1.1.1.1'],
      plugins: ['http-api'],
      node_meta: { a: '1', b: '1' },
      dns_config: { node_ttl: '10s', service_ttl: { web: '5s', '*': '1s' }, soa: { retry: 1 } },
      plugin_config: { 'http-api': { x: 1, y: 1 } },
      service: { name: 'web' },
      check: { name: 'disk', ttl: '30s' },
    });
    const two = file({
      node_name: 'two',
      recursors: ['8.8.8.8', '1.1.1.1'],
      plugins: ['kv', 'http-api'],
      node_meta: { b: '2' },
      dns_config: { only_passing: true, service_ttl: { web: '7s' }, soa: { expire: 2 } },
      plugin_config: { 'http-api': { y: 2 }, kv: { z: true } },
      services: [{ name: 'db' }],
      checks: [{ name: 'mem', ttl: '30s' }],
    });
    const c = load([
      '-dev', '-config-file', one, '-config-file', two,
      '-node', 'flag', '-recursor', '9.9.9.9', '-plugin', 'kv', '-plugin', 'ui', '-node-meta', 'a:flag',
    ]);
    expect(c.sources).toEqual([one, two]);
    expect(c.nodeName).toBe('flag');
    expect(c.datacenter).toBe('dc-one');
    expect(c.logLevel).toBe('warn');
    expect(c.recursors).toEqual(['1.1.1.1:53', '8.8.8.8:53', '9.9.9.9:53']);
    expect(c.plugins).toEqual(['http-api', 'kv', 'ui']);
    expect(c.nodeMeta).toEqual({ a: 'flag', b: '2' });
    expect(c.dnsConfig.nodeTtl).toBe(10);
    expect(c.dnsConfig.onlyPassing).toBe(true);
    expect(c.dnsConfig.serviceTtl).toEqual({ web: 7, '*': 1 });
    expect(c.dnsConfig.soa).toEqual({ refresh: 3600, retry: 1, expire: 2, minTtl: 0 });
    expect(c.pluginConfig).toEqual({ 'http-api': { x: 1, y: 2 }, kv: { z: true } });
    expect(c.services.map((s) => s.id)).toEqual(['web', 'db']);
    expect(c.checks.map((s) => s.id)).toEqual(['disk', 'mem']);
  });

  it('keeps -config-file and -config-dir in the order given', () => {
    const d = dir({ 'x.json': { node_name: 'from-dir' } });
    const f = file({ node_name: 'from-file' });
    expect(load(['-dev', '-config-file', f, '-config-dir', d]).nodeName).toBe('from-dir');
    expect(load(['-dev', '-config-dir', d, '-config-file', f]).nodeName).toBe('from-file');
  });

  it('refuses HCL, naming the file', () => {
    const d = dir({ 'a.json': {}, 'b.hcl': 'node_name = "x"' });
    const err = refused(() => load(['-dev', '-config-dir', d]));
    expect(err.code).toBe(ERR.CONFIG_PARSE);
    expect(err.message).toBe(`${join(d, 'b.hcl')}: HCL config files are not supported yet; write this file as JSON (same keys)`);
  });

  it('reports files and directories that cannot be read', () => {
    const missing = join(root, 'missing.json');
    const err = refused(() => load(['-dev', '-config-file', missing]));
    expect(err.code).toBe(ERR.CONFIG_READ);
    expect(err.issues[0]!.file).toBe(missing);
    expect(err.message).toContain('ENOENT');
    const err2 = refused(() => load(['-dev', '-config-dir', join(root, 'no-such-dir')]));
    expect(err2.code).toBe(ERR.CONFIG_READ);
    expect(err2.message).toContain('cannot read config directory');
  });

  it('ships examples that load under -dev, and are refused where scripts are off', () => {
    const examples = fileURLToPath(new URL('./examples', import.meta.url));
    const c = load(['-dev', '-config-dir', examples]);
    const web = c.services.find((s) => s.name === 'web');
    expect(web).toBeDefined();
    const db = c.services.filter((s) => s.name === 'db');
    expect(db.map((s) => s.tags)).toEqual([['primary'], ['replica']]);
    for (const s of db) {
      expect(s.checks).toHaveLength(1);
      expect(s.checks[0]).toMatchObject({ kind: 'script', args: ['true'], interval: 10_000 });
    }
    const err = refused(() => load(['-data-dir', join(root, 'd'), '-config-dir', examples]));
    expect(err.message).toContain("Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true");
  });
});

describe('loadConfig: keys, aliases, normalisation', () => {
  it('matches keys without regard to case, snake_case or CamelCase', () => {
    const c = load([
      '-dev', '-config-file', file({
        Node_Name: 'n',
        DATACENTER: 'DC2',
        NodeMeta: { Rack: 'R1' },
        DNSConfig: { NodeTTL: '5s', Only_Passing: true, SOA: { MinTTL: 30 } },
        Ports: { DNS: 53, HTTP: 8501 },
        Service: {
          Name: 'web',
          ID: 'web-1',
          Tags: ['a'],
          Port: 80,
          EnableTagOverride: true,
          TaggedAddresses: { lan: { Address: '10.0.0.1', Port: 80 } },
          Weights: { Passing: 5 },
          Meta: { Version: '1' },
        },
      }),
    ]);
    expect(c.nodeName).toBe('n');
    expect(c.datacenter).toBe('dc2');
    // Map keys are data: kept exactly as written.
    expect(c.nodeMeta).toEqual({ Rack: 'R1' });
    expect(c.dnsConfig.nodeTtl).toBe(5);
    expect(c.dnsConfig.onlyPassing).toBe(true);
    expect(c.dnsConfig.soa.minTtl).toBe(30);
    expect(c.ports).toEqual({ dns: 53, http: 8501, server: 8300 });
    expect(c.services[0]).toEqual({
      id: 'web-1',
      name: 'web',
      tags: ['a'],
      address: '',
      port: 80,
      meta: { Version: '1' },
      weights: { passing: 5, warning: 1 },
      enableTagOverride: true,
      taggedAddresses: { lan: { address: '10.0.0.1', port: 80 } },
      checks: [],
      source: 'file',
    });
  });

  const aliasCases: [string, Record<string, unknown>, Partial<Record<string, unknown>>][] = [
    ['serviceid', { name: 'c', ttl: '10s', serviceid: 'web' }, { serviceId: 'web' }],
    ['ServiceID', { name: 'c', ttl: '10s', ServiceID: 'web' }, { serviceId: 'web' }],
    ['service_id', { name: 'c', ttl: '10s', service_id: 'web' }, { serviceId: 'web' }],
    ['CheckID', { name: 'c', ttl: '10s', CheckID: 'x1' }, { id: 'x1' }],
    ['check_id', { name: 'c', ttl: '10s', check_id: 'x2' }, { id: 'x2' }],
    ['ID', { name: 'c', ttl: '10s', ID: 'x3' }, { id: 'x3' }],
    ['scriptargs', { name: 'c', interval: '5s', scriptargs: ['true'] }, { kind: 'script', args: ['true'] }],
    ['ScriptArgs', { name: 'c', interval: '5s', ScriptArgs: ['true'] }, { kind: 'script', args: ['true'] }],
    ['script_args', { name: 'c', interval: '5s', script_args: ['true'] }, { kind: 'script', args: ['true'] }],
    ['Args', { name: 'c', interval: '5s', Args: ['true'] }, { kind: 'script', args: ['true'] }],
    ['tlsskipverify', { name: 'c', interval: '5s', http: 'https://127.0.0.1/', tlsskipverify: true }, { tlsSkipVerify: true }],
    ['TLSSkipVerify', { name: 'c', interval: '5s', http: 'https://127.0.0.1/', TLSSkipVerify: true }, { tlsSkipVerify: true }],
    ['tls_skip_verify', { name: 'c', interval: '5s', http: 'https://127.0.0.1/', tls_skip_verify: true }, { tlsSkipVerify: true }],
    ['deregistercriticalserviceafter', { name: 'c', ttl: '10s', deregistercriticalserviceafter: '90s' }, { deregisterCriticalServiceAfter: 90_000 }],
    ['DeregisterCriticalServiceAfter', { name: 'c', ttl: '10s', DeregisterCriticalServiceAfter: '2m' }, { deregisterCriticalServiceAfter: 120_000 }],
    ['deregister_critical_service_after', { name: 'c', ttl: '10s', deregister_critical_service_after: '3m' }, { deregisterCriticalServiceAfter: 180_000 }],
    ['SuccessBeforePassing', { name: 'c', ttl: '10s', SuccessBeforePassing: 2, failures_before_critical: 3 }, { successBeforePassing: 2, failuresBeforeCritical: 3 }],
  ];
  it.each(aliasCases)('check key %s', (_label, check, expected) => {
    const c = load(['-dev', '-config-file', file({ service: { name: 'web' }, check })]);
    expect(c.checks[0]).toMatchObject(expected);
  });

  it('service keys enable_tag_override / tagged_addresses in both spellings', () => {
    for (const svc of [
      { name: 'a', enable_tag_override: true, tagged_addresses: { wan: { address: '1.2.3.4', port: 1 } } },
      { name: 'a', enabletagoverride: true, taggedaddresses: { wan: { address: '1.2.3.4', port: 1 } } },
    ]) {
      const s = load(['-dev', '-config-file', file({ service: svc })]).services[0]!;
      expect(s.enableTagOverride).toBe(true);
      expect(s.taggedAddresses).toEqual({ wan: { address: '1.2.3.4', port: 1 } });
    }
  });

  it('refuses one key given twice in different spellings', () => {
    const err = refusedFile({ service: { Name: 'a', name: 'b' } });
    expect(err.message).toContain('"Name" and "name" both set name');
  });

  it('normalises domain, datacenter, recursors and node id', () => {
    const c = load([
      '-dev', '-config-file', file({
        domain: 'Example.COM.',
        alt_domain: 'Alt.',
        datacenter: 'East-1',
        node_id: 'ADF4238A-882B-9DDC-4A9D-5B6758E4159E',
        recursors: ['8.8.8.8', '8.8.8.8:53', '1.1.1.1:5353', '::1', '[::1]:53', '0:0::1', '[2001:db8::1]:5353', '2001:DB8::2'],
      }),
    ]);
    expect(c.domain).toBe('example.com');
    expect(c.altDomain).toBe('alt');
    expect(c.datacenter).toBe('east-1');
    expect(c.nodeId).toBe('adf4238a-882b-9ddc-4a9d-5b6758e4159e');
    expect(c.recursors).toEqual(['8.8.8.8:53', '1.1.1.1:5353', '[::1]:53', '[2001:db8::1]:5353', '[2001:db8::2]:53']);
    expect(load(['-dev', '-domain', 'Herald.', '-datacenter', 'DC3']).domain).toBe('herald');
    expect(load(['-dev', '-datacenter', 'DC3']).datacenter).toBe('dc3');
  });

  it('reads every dns_config key, TTLs in whole seconds, service_ttl keys lowercased', () => {
    const c = load([
      '-dev', '-config-file', file({
        dns_config: {
          node_ttl: '1500ms',
          service_ttl: { Web: '30s', 'api-*': '1m', '*': '5s' },
          only_passing: true,
          enable_truncate: false,
          udp_answer_limit: 5,
          a_record_limit: 2,
          disable_compression: true,
          enable_additional_node_meta_txt: false,
          soa: { refresh: 1, retry: 2, expire: 3, min_ttl: 4 },
          recursor_timeout: '500ms',
          recursor_strategy: 'random',
          allow_stale: false,
          max_stale: '5s',
          cache_max_bytes: 1024,
          shuffle_variants: 2,
          tcp_idle_timeout: '3s',
          tcp_max_connections: 10,
        },
        check_update_interval: '1m',
      }),
    ]);
    expect(c.dnsConfig).toEqual({
      nodeTtl: 1,
      serviceTtl: { web: 30, 'api-*': 60, '*': 5 },
      onlyPassing: true,
      enableTruncate: false,
      udpAnswerLimit: 5,
      aRecordLimit: 2,
      disableCompression: true,
      enableAdditionalNodeMetaTxt: false,
      soa: { refresh: 1, retry: 2, expire: 3, minTtl: 4 },
      recursorTimeout: 500,
      recursorStrategy: 'random',
      allowStale: false,
      maxStale: 5000,
      cacheMaxBytes: 1024,
      shuffleVariants: 2,
      tcpIdleTimeout: 3000,
      tcpMaxConnections: 10,
    });
    expect(c.checkUpdateInterval).toBe(60_000);
  });

  it('passes plugin_config through untouched', () => {
    const opts = { listen: { deep: [1, { two: 'x' }] }, CamelKey: null };
    const c = load(['-dev', '-config-file', file({ plugins: ['ui'], plugin_config: { ui: opts } })]);
    expect(c.pluginConfig).toEqual({ ui: opts });
  });

  it('takes the log level in Consul\'s spellings', () => {
    expect(load(['-dev', '-log-level', 'WARN']).logLevel).toBe('warn');
    expect(load(['-dev', '-log-level', 'ERR']).logLevel).toBe('error');
    expect(load(['-dev', '-config-file', file({ log_level: 'TRACE' })]).logLevel).toBe('trace');
  });
});

describe('loadConfig: services and checks', () => {
  it('defaults: ID = name, weights 1/1, check status critical, embedded IDs and names', () => {
    const warnings: string[] = [];
    const c = load(
      [
        '-dev', '-config-file', file({
          services: [
            { name: 'one', check: { ttl: '10s' } },
            {
              name: 'many',
              id: 'many-1',
              check: { args: ['true'], interval: '10s' },
              checks: [
                { http: 'http://127.0.0.1:9/health', interval: '5s' },
                { tcp: '127.0.0.1:9', interval: '20s', timeout: '3s' },
                { id: 'own-id', name: 'Own name', script: 'exit 0', interval: '500ms' },
              ],
            },
          ],
        }),
      ],
      { warn: (m) => warnings.push(m) },
    );
    const [one, many] = c.services;
    expect(one!.id).toBe('one');
    expect(one!.weights).toEqual({ passing: 1, warning: 1 });
    expect(one!.checks[0]).toEqual({
      id: 'service:one',
      name: "Service 'one' check",
      notes: '',
      serviceId: 'one',
      kind: 'ttl',
      ttl: 10_000,
      status: 'critical',
      successBeforePassing: 0,
      failuresBeforeCritical: 0,
      source: 'file',
    });
    const ids = many!.checks.map((ch) => ch.id);
    expect(ids).toEqual(['service:many-1:1', 'service:many-1:2', 'service:many-1:3', 'own-id']);
    expect(many!.checks.map((ch) => ch.name)).toEqual([
      "Service 'many' check",
      "Service 'many' check",
      "Service 'many' check",
      'Own name',
    ]);
    const [script, http, tcp, legacy] = many!.checks;
    expect(script).toMatchObject({ kind: 'script', args: ['true'], interval: 10_000, timeout: 30_000 });
    // HTTP/TCP: 10s default, never longer than the interval.
    expect(http).toMatchObject({ kind: 'http', http: 'http://127.0.0.1:9/health', method: 'GET', interval: 5_000, timeout: 5_000, tlsSkipVerify: false });
    expect(tcp).toMatchObject({ kind: 'tcp', tcp: '127.0.0.1:9', interval: 20_000, timeout: 3_000 });
    // Deprecated `script` runs through a shell; intervals under 1s are raised to 1s with a warning.
    expect(legacy).toMatchObject({ kind: 'script', args: ['sh', '-c', 'exit 0'], interval: 1_000 });
    expect(warnings).toContain('check "own-id" has interval below minimum of 1s; using 1s');
  });

  it('reads HTTP check details and raises DeregisterCriticalServiceAfter to 1m', () => {
    const warnings: string[] = [];
    const c = load(
      [
        '-dev', '-config-file', file({
          service: {
            name: 'web',
            check: {
              http: 'https://127.0.0.1:8443/h',
              method: 'POST',
              header: { 'X-A': ['1', '2'] },
              body: '{}',
              interval: '30s',
              timeout: '2s',
              status: 'passing',
              notes: 'n',
              deregister_critical_service_after: '10s',
            },
          },
        }),
      ],
      { warn: (m) => warnings.push(m) },
    );
    expect(c.services[0]!.checks[0]).toMatchObject({
      method: 'POST',
      header: { 'X-A': ['1', '2'] },
      body: '{}',
      timeout: 2_000,
      status: 'passing',
      notes: 'n',
      deregisterCriticalServiceAfter: 60_000,
    });
    expect(warnings.some((w) => w.includes('below minimum of 1m'))).toBe(true);
  });

  it('binds a top-level check to a defined service, in any file', () => {
    const c = load([
      '-dev',
      '-config-file', file({ check: { name: 'c', service_id: 'web-2', ttl: '5s' } }),
      '-config-file', file({ service: { name: 'web', id: 'web-2' } }),
    ]);
    expect(c.checks[0]).toMatchObject({ id: 'c', serviceId: 'web-2' });
  });
});

describe('loadConfig: validation messages', () => {
  const cases: [string, object, string][] = [
    ['service without a name', { service: { port: 1 } }, 'Missing service name'],
    ['top-level check without a name', { check: { ttl: '1s' } }, 'Missing check name'],
    ['interval and TTL', { check: { name: 'c', ttl: '10s', interval: '10s' } }, 'Interval and TTL cannot both be specified'],
    ['script without interval', { check: { name: 'c', args: ['true'] } }, 'Interval must be > 0 for Script, HTTP, or TCP checks'],
    ['http with zero interval', { check: { name: 'c', http: 'http://127.0.0.1/', interval: '0s' } }, 'Interval must be > 0 for Script, HTTP, or TCP checks'],
    ['tcp without interval', { check: { name: 'c', tcp: '127.0.0.1:1' } }, 'Interval must be > 0 for Script, HTTP, or TCP checks'],
    ['no kind and no ttl', { check: { name: 'c' } }, 'TTL must be > 0 for TTL checks'],
    ['zero ttl', { check: { name: 'c', ttl: '0s' } }, 'TTL must be > 0 for TTL checks'],
    ['unknown service', { check: { name: 'c', serviceid: 'ghost', ttl: '1s' } }, 'ServiceID "ghost" does not exist'],
    ['bad status', { check: { name: 'c', ttl: '1s', status: 'ok' } }, "Invalid check status: 'ok'"],
    ['two kinds', { check: { name: 'c', http: 'http://127.0.0.1/', tcp: '127.0.0.1:1', interval: '1s' } }, 'only one of Args/Script, HTTP or TCP can be specified (found http, tcp)'],
    ['script and args', { check: { name: 'c', script: 'x', args: ['y'], interval: '1s' } }, 'Script and Args cannot both be specified'],
    ['bad http url', { check: { name: 'c', http: 'ftp://x/', interval: '1s' } }, 'HTTP must be an http:// or https:// URL, not "ftp://x/"'],
    ['bad tcp address', { check: { name: 'c', tcp: 'localhost', interval: '1s' } }, 'TCP must be host:port (IPv6 in brackets), not "localhost"'],
    ['header not a list', { check: { name: 'c', http: 'http://127.0.0.1/', interval: '1s', header: { A: 'b' } } }, 'header values must be a list of strings'],
    ['grpc check', { check: { name: 'c', grpc: '127.0.0.1:1', interval: '1s' } }, 'gRPC checks are not supported by Herald (use an HTTP or TCP check)'],
    ['bare number duration', { check: { name: 'c', ttl: 10 } }, 'missing unit in duration 10: config files take duration strings such as "10s" or "1m30s"'],
    ['bad duration', { check: { name: 'c', ttl: '10 seconds' } }, 'unknown unit " seconds" in duration "10 seconds"'],
    ['passing weight', { service: { name: 'a', weights: { passing: 0 } } }, 'Passing must be greater than 0'],
    ['warning weight', { service: { name: 'a', weights: { warning: -1 } } }, 'Warning must be greater or equal than 0'],
    ['service meta key', { service: { name: 'a', meta: { 'bad key': 'v' } } }, "Couldn't load metadata pair ('bad key', 'v'): Key contains invalid characters"],
    ['reserved meta prefix', { node_meta: { 'consul-x': 'v' } }, "Couldn't load metadata pair ('consul-x', 'v'): Key prefix 'consul-' is reserved for internal use"],
    ['too many meta pairs', { node_meta: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }, 'Node metadata cannot contain more than 64 key/value pairs'],
    ['port out of range', { service: { name: 'a', port: 70000 } }, 'must be between 0 and 65535, not 70000'],
    ['port not an integer', { ports: { dns: '53' } }, 'must be an integer, not the string "53"'],
    ['datacenter', { datacenter: 'dc 1' }, 'datacenter cannot be "dc 1". Please use only [a-z0-9-_]'],
    ['domain', { domain: 'bad..domain' }, 'domain must be a DNS name such as "consul.", not "bad..domain"'],
    ['same domains', { domain: 'consul', alt_domain: 'CONSUL.' }, 'alt_domain cannot be the same as domain (consul)'],
    ['same ports', { ports: { dns: 8500 } }, 'ports.dns and ports.http cannot both be 8500'],
    ['recursor', { recursors: ['dns.google'] }, 'recursor must be an IP address with an optional port (1.2.3.4, 1.2.3.4:5353, [::1]:53), not "dns.google"'],
    ['client addr', { client_addr: '{{ GetPrivateIP }}' }, 'go-sockaddr templates are not supported by Herald; give an IP address'],
    ['bind addr', { bind_addr: 'localhost' }, 'must be an IP address, not "localhost"'],
    ['node id', { node_id: 'abc' }, 'node_id must be a UUID such as "adf4238a-882b-9ddc-4a9d-5b6758e4159e", not "abc"'],
    ['log level', { log_level: 'loud' }, 'log level must be one of trace, debug, info, warn, error, not "loud"'],
    ['recursor strategy', { dns_config: { recursor_strategy: 'fastest' } }, 'must be "sequential" or "random", not "fastest"'],
    ['use_cache', { dns_config: { use_cache: true } }, 'is not supported: Herald always caches answers (see dns_config.cache_max_bytes)'],
    ['service_ttl key', { dns_config: { service_ttl: { 'a*b': '1s' } } }, 'a service_ttl key is a service name, a prefix ending in *, or *'],
    ['plugin name', { plugins: ['HTTP_API'] }, 'plugin name "HTTP_API" must be lowercase letters, digits and dashes'],
    ['plugin options', { plugin_config: { ui: 1 } }, 'plugin options must be an object'],
    ['not an object', { service: 'web' }, 'must be an object, not the string "web"'],
    ['Consul-only key', { bootstrap: true }, 'is a Consul setting that Herald does not support'],
    ['connect', { service: { name: 'a', connect: { native: true } } }, 'Connect (service mesh) is not supported by Herald'],
    ['top level array', [] as unknown as object, 'a config file must hold one JSON object'],
  ];
  it.each(cases)('%s', (_label, content, message) => {
    const err = refusedFile(content);
    expect(err.code).toBe(ERR.CONFIG_INVALID);
    expect(err.issues.map((i) => i.message)).toContain(message);
  });

  it('accepts Consul-only keys left at their empty value', () => {
    expect(() => load(['-dev', '-config-file', file({ server: false, ui: false, service: { name: 'a', kind: '' } })])).not.toThrow();
  });

  it('refuses unknown keys, naming file, line and key path', () => {
    const f = file('{\n  "node_name": "n",\n  "nodename_typo": "x"\n}\n');
    const err = refused(() => load(['-dev', '-config-file', f]));
    expect(err.code).toBe(ERR.CONFIG_INVALID);
    expect(err.message).toBe(`${f}:3: nodename_typo: unknown key "nodename_typo"`);
    expect(err.issues[0]).toMatchObject({ file: f, line: 3, path: 'nodename_typo' });
  });

  it('points a nested problem at its line: services[0].checks[1].interval', () => {
    const f = file(
      [
        '{',
        '  "services": [',
        '    {',
        '      "name": "web",',
        '      "checks": [',
        '        { "ttl": "10s" },',
        '        {',
        '          "http": "http://127.0.0.1/",',
        '          "interval": "0s"',
        '        }',
        '      ]',
        '    }',
        '  ]',
        '}',
      ].join('\n'),
    );
    const err = refused(() => load(['-dev', '-config-file', f]));
    expect(err.message).toBe(`${f}:9: services[0].checks[1].interval: Interval must be > 0 for Script, HTTP, or TCP checks`);
  });

  it('points a missing key at the object that lacks it', () => {
    const f = file('{\n  "services": [\n    { "name": "a" },\n    {\n      "port": 80\n    }\n  ]\n}');
    const err = refused(() => load(['-dev', '-config-file', f]));
    expect(err.message).toBe(`${f}:4: services[1]: Missing service name`);
  });

  it('collects every problem across files, the first one first', () => {
    const a = file({ service: { port: 1 } });
    const b = file({ check: { name: 'c', ttl: '1s', interval: '1s' }, bogus: 1 });
    const err = refused(() => load(['-dev', '-config-file', a, '-config-file', b]));
    const lines = err.message.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/Missing service name$/);
    expect(err.issues.map((i) => i.file)).toEqual([a, b, b]);
    expect(err.issues.map((i) => i.message).sort()).toEqual(
      ['Interval and TTL cannot both be specified', 'Missing service name', 'unknown key "bogus"'].sort(),
    );
  });

  it('refuses a service ID or check ID defined twice, saying where the first is', () => {
    const a = file({ service: { name: 'web' } });
    const b = file('{\n  "service": { "name": "web" },\n  "check": { "name": "service:web", "ttl": "1s" }\n}');
    const err = refused(() => load(['-dev', '-config-file', a, '-config-file', b]));
    expect(err.issues.map((i) => i.message)).toContain(`Service ID "web" is already defined (at ${a}:2)`);
    const c = file({ service: { name: 'db', check: { ttl: '1s' } }, check: { id: 'service:db', name: 'x', ttl: '1s' } });
    const err2 = refused(() => load(['-dev', '-config-file', c]));
    expect(err2.message).toMatch(/Check ID "service:db" is already defined/);
  });

  it('refuses script checks when neither script setting is on, with Consul\'s message, at the check', () => {
    const f = file('{\n  "service": {\n    "name": "db",\n    "check": { "args": ["true"], "interval": "10s" }\n  }\n}');
    const err = refused(() => load(['-data-dir', join(root, 'd'), '-config-file', f]));
    expect(err.message).toBe(
      `${f}:4: service.check: Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true`,
    );
    expect(() => load(['-data-dir', join(root, 'd'), '-enable-script-checks', '-config-file', f])).not.toThrow();
    expect(() => load(['-dev', '-enable-local-script-checks=false', '-config-file', f])).toThrow(/Scripts are disabled/);
  });

  it('checks flag values too, naming the flag, with code FLAG_INVALID', () => {
    const err = refused(() => load(['-dev', '-datacenter', 'a b', '-recursor', 'x', '-log-level', 'chatty']));
    expect(err.code).toBe(ERR.FLAG_INVALID);
    expect(err.issues.map((i) => i.path).sort()).toEqual(['-datacenter', '-log-level', '-recursor']);
    expect(err.message.split('\n')[0]).toBe('-datacenter: datacenter cannot be "a b". Please use only [a-z0-9-_]');
  });
});

describe('loadConfig: JSON syntax errors name file, line and column', () => {
  const cases: [string, string, number, number, string][] = [
    ['trailing comma', '{\n  "a": 1,\n}\n', 3, 1, "trailing comma before '}' (JSON allows none)"],
    ['missing comma', '{\n  "node_name": "a"\n  "datacenter": "b"\n}', 3, 3, 'expected \',\' or \'}\' after the value of "node_name", found \'"\''],
    ['bad literal', '{\n\n  "enable_script_checks": tru\n}', 3, 27, "expected a value, found 't'"],
    ['unterminated string', '{\n  "node_name": "abc\n}', 2, 20, 'string not closed before the end of the line (write a line break as \\n)'],
    ['tab in a string', '{"a": "x\ty"}', 1, 9, 'control character in a string (write it as a \\u escape)'],
    ['comment', '{\n  // the node\n  "node_name": "a"\n}', 2, 3, 'comments are not allowed in JSON'],
    ['single quotes', "{\n  'a': 1\n}", 2, 3, "expected a double-quoted key, found '''"],
    ['truncated', '{\n  "a": [1, 2', 2, 13, "expected ',' or ']' after an array element, found the end of the input"],
    ['empty file', '', 1, 1, 'expected a value, found the end of the input'],
    ['two values', '{}\n{}', 2, 1, "unexpected '{' after the end of the JSON value"],
    ['leading zero', '{"a": 01}', 1, 8, "invalid number (found '1' after 0)"],
  ];
  it.each(cases)('%s', (_label, content, line, column, message) => {
    const f = file(content);
    const err = refused(() => load(['-dev', '-config-file', f]));
    expect(err.code).toBe(ERR.CONFIG_PARSE);
    expect(err.issues[0]).toMatchObject({ file: f, line, column });
    expect(err.message).toBe(`${f}:${line}:${column}: invalid JSON: ${message}`);
  });

  it('reads a file that starts with a UTF-8 byte order mark', () => {
    expect(load(['-dev', '-config-file', file('\ufeff{"node_name": "bom"}')]).nodeName).toBe('bom');
  });
});

describe('serviceDefinitionFromJson / checkDefinitionFromJson (HTTP API bodies)', () => {
  it('takes a Go client body: CamelCase, null Check/Checks, unknown fields ignored', () => {
    const s = serviceDefinitionFromJson(
      {
        ID: 'redis1',
        Name: 'redis',
        Tags: ['primary', 'v1'],
        Address: '127.0.0.1',
        Port: 8000,
        Meta: { redis_version: '4.0' },
        EnableTagOverride: false,
        Weights: { Passing: 10, Warning: 1 },
        Check: null,
        Checks: null,
        Namespace: 'default',
        SocketPath: '',
      },
      'api',
    );
    expect(s).toEqual({
      id: 'redis1',
      name: 'redis',
      tags: ['primary', 'v1'],
      address: '127.0.0.1',
      port: 8000,
      meta: { redis_version: '4.0' },
      weights: { passing: 10, warning: 1 },
      enableTagOverride: false,
      taggedAddresses: {},
      checks: [],
      source: 'api',
    });
  });

  it('skips empty check objects, as Consul does, and numbers the rest', () => {
    const s = serviceDefinitionFromJson(
      { Name: 'web', Check: { Name: '', TTL: '' }, Checks: [{}, { TTL: '5s' }, { TTL: '6s' }] },
      'api',
    );
    expect(s.checks.map((c) => [c.id, c.ttl])).toEqual([
      ['service:web:1', 5_000],
      ['service:web:2', 6_000],
    ]);
  });

  it('takes python-consul style lowercase keys and numeric nanosecond durations', () => {
    const s = serviceDefinitionFromJson(
      { name: 'web', check: { ttl: 10_000_000_000, DeregisterCriticalServiceAfter: '90s' } },
      'api',
    );
    expect(s.checks[0]).toMatchObject({
      id: 'service:web',
      kind: 'ttl',
      ttl: 10_000,
      deregisterCriticalServiceAfter: 90_000,
      source: 'api',
    });
  });

  it('answers a bad body with Consul\'s plain message', () => {
    const err = refused(() => serviceDefinitionFromJson({ Port: 80 }, 'api'));
    expect(err.code).toBe(ERR.CONFIG_INVALID);
    expect(err.message).toBe('Missing service name');
    const err2 = refused(() => checkDefinitionFromJson({ TTL: '10s' }, 'api'));
    expect(err2.message).toBe('Missing check name');
    const err3 = refused(() => checkDefinitionFromJson({ Name: 'c', HTTP: 'http://127.0.0.1/' }, 'api'));
    expect(err3.message).toBe('Interval must be > 0 for Script, HTTP, or TCP checks');
  });

  it('prefixes paths when asked, and refuses unknown keys for files', () => {
    const err = refused(() => serviceDefinitionFromJson({ name: 'a', check: { interval: '1s', ttl: '1s' }, extra: 1 }, 'file', { path: 'Service' }));
    expect(err.message.split('\n')).toEqual([
      'Service.extra: unknown key "extra"',
      'Service.check.ttl: Interval and TTL cannot both be specified',
    ]);
  });

  it('binds a check to a service when given its ID', () => {
    const c = checkDefinitionFromJson({ ServiceID: 'ignored', TTL: '5s' }, 'api', 'web-1', { serviceName: 'web' });
    expect(c).toMatchObject({ id: 'service:web-1', name: "Service 'web' check", serviceId: 'web-1' });
    const top = checkDefinitionFromJson({ Name: 'mem', ServiceID: 'web-1', TTL: '5s' }, 'api');
    expect(top).toMatchObject({ id: 'mem', serviceId: 'web-1' });
  });

  it('refuses unsupported check types even from the API', () => {
    const err = refused(() => checkDefinitionFromJson({ Name: 'g', GRPC: '127.0.0.1:1', Interval: '1s' }, 'api'));
    expect(err.message).toBe('GRPC: gRPC checks are not supported by Herald (use an HTTP or TCP check)');
    // Empty values are what clients send for fields they do not use.
    expect(() => checkDefinitionFromJson({ Name: 'g', GRPCUseTLS: false, TTL: '1s' }, 'api')).not.toThrow();
  });
});
