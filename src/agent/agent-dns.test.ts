/**
 * The agent end to end, in one process: config files -> local state -> log -> state machine
 * -> view -> DNS over real UDP and TCP sockets. Cases are written as query -> expected data.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from './agent.ts';
import { loadConfig } from './config.ts';
import { effectivePlugins } from '../cli/agent-command.ts';
import { silentLogger } from '../log.ts';
import { askTcp, askUdp, dataOf, encodeQuery, rcodeOf, tcpRaw, udpRaw } from '../dns/dns-test-client.ts';
import dnsPacket from 'dns-packet';

const run = promisify(execFile);

let agent: Agent;
let port: number;

const ttl = (id: string, status = 'passing') => ({ id, name: `${id} ttl`, ttl: '30s', status });

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-agent-dns-'));
  writeFileSync(
    join(dir, 'services.json'),
    JSON.stringify({
      node_meta: { rack: 'r1' },
      services: [
        { id: 'web-1', name: 'web', tags: ['v1'], port: 8080, check: ttl('web-1-ttl') },
        { id: 'web-2', name: 'web', tags: ['v2'], port: 8081, address: '10.0.0.2', check: ttl('web-2-ttl') },
        { id: 'web-3', name: 'web', tags: ['v1', 'v2'], port: 8082, address: '10.0.0.3', check: ttl('web-3-ttl') },
        { id: 'v6-1', name: 'api6', port: 9000, address: '2001:db8::10' },
        { id: 'warn-1', name: 'flaky', port: 7000, address: '10.0.9.1', check: ttl('warn-1-ttl', 'warning') },
        ...Array.from({ length: 10 }, (_, i) => ({ id: `big-${i + 1}`, name: 'big', port: 6000 + i, address: `10.1.0.${i + 1}` })),
      ],
    }),
  );
  const config = effectivePlugins(
    loadConfig({ flags: ['-dev', '-config-dir', dir, '-dns-port', '0', '-node', 'node1', '-plugin', 'none', '-log-level', 'error'] }),
  );
  agent = await Agent.start(config, { log: silentLogger });
  port = agent.dnsPort;
  // A second node with its own instance of web, registered as the catalog API would.
  await agent.raftLog.propose({
    type: 'catalog.register',
    node: { node: 'node2', id: '', address: '10.0.0.20', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
    service: {
      id: 'web-9',
      service: 'web',
      tags: [],
      address: '',
      port: 8089,
      meta: {},
      weights: { passing: 5, warning: 1 },
      enableTagOverride: false,
      taggedAddresses: {},
    },
    checks: [
      {
        checkId: 'node2-health',
        name: 'node health',
        status: 'passing',
        notes: '',
        output: '',
        serviceId: '',
        serviceName: '',
        serviceTags: [],
        type: 'ttl',
        definition: {},
      },
    ],
  });
});

afterAll(async () => {
  await agent?.stop();
});

const a = (name: string, type = 'A', extra: { edns?: number } = {}) => askUdp(name, { port, type, ...extra });

describe('service lookups', () => {
  it('answers A with every healthy instance', async () => {
    const r = await a('web.service.consul', 'A', { edns: 4096 });
    expect(rcodeOf(r)).toBe('NOERROR');
    expect(r.flags! & dnsPacket.AUTHORITATIVE_ANSWER).toBeTruthy();
    expect(dataOf(r, 'A')).toEqual(['10.0.0.2', '10.0.0.20', '10.0.0.3', '127.0.0.1']);
  });

  it('answers SRV with ports and targets, and their addresses in ADDITIONAL', async () => {
    const r = await a('web.service.consul', 'SRV', { edns: 4096 });
    expect(dataOf(r, 'SRV')).toEqual([
      '1 1 8080 node1.node.dc1.consul',
      '1 1 8081 0a000002.addr.dc1.consul',
      '1 1 8082 0a000003.addr.dc1.consul',
      '1 5 8089 node2.node.dc1.consul',
    ]);
    const extra = (r.additionals ?? []).filter((x) => x.type === 'A').map((x) => `${x.name} ${(x as { data: string }).data}`);
    expect(extra.sort()).toEqual([
      '0a000002.addr.dc1.consul 10.0.0.2',
      '0a000003.addr.dc1.consul 10.0.0.3',
      'node1.node.dc1.consul 127.0.0.1',
      'node2.node.dc1.consul 10.0.0.20',
    ]);
    // Node meta rides along as TXT for node targets (Consul's enable_additional_node_meta_txt).
    expect(dataOf(r, 'TXT', 'additionals')).toContain('rack=r1');
  });

  it.each([
    ['v1.web.service.consul', 'A', ['10.0.0.3', '127.0.0.1']],
    ['v2.web.service.consul', 'A', ['10.0.0.2', '10.0.0.3']],
    ['_web._v2.service.consul', 'SRV', ['1 1 8081 0a000002.addr.dc1.consul', '1 1 8082 0a000003.addr.dc1.consul']],
    ['_web._tcp.service.consul', 'SRV', [
      '1 1 8080 node1.node.dc1.consul',
      '1 1 8081 0a000002.addr.dc1.consul',
      '1 1 8082 0a000003.addr.dc1.consul',
      '1 5 8089 node2.node.dc1.consul',
    ]],
    ['web.service.dc1.consul', 'A', ['10.0.0.2', '10.0.0.20', '10.0.0.3', '127.0.0.1']],
    ['api6.service.consul', 'AAAA', ['2001:db8::10']],
    ['node1.node.consul', 'A', ['127.0.0.1']],
    ['node1.node.dc1.consul', 'TXT', ['consul-network-segment=', 'rack=r1']],
    ['0a000002.addr.dc1.consul', 'A', ['10.0.0.2']],
    ['20010db8000000000000000000000010.addr.consul', 'AAAA', ['2001:db8::10']],
    ['1.0.0.127.in-addr.arpa', 'PTR', ['node1.node.dc1.consul']],
    ['2.0.0.10.in-addr.arpa', 'PTR', ['web.service.dc1.consul']],
  ])('%s %s', async (name, type, expected) => {
    const r = await a(name, type, { edns: 4096 });
    expect(rcodeOf(r)).toBe('NOERROR');
    expect(dataOf(r, type)).toEqual(expected);
  });

  it.each([
    ['missing.service.consul', 'A', 'NXDOMAIN'],
    ['web.service.dc9.consul', 'A', 'NXDOMAIN'],
    ['nobody.node.consul', 'A', 'NXDOMAIN'],
    ['zz00000g.addr.consul', 'A', 'NXDOMAIN'],
    ['web.connect.consul', 'A', 'NXDOMAIN'],
    ['web.service.consul', 'AAAA', 'NOERROR'],
    ['web.service.consul', 'MX', 'NOERROR'],
    ['api6.service.consul', 'A', 'NOERROR'],
    ['9.9.9.10.in-addr.arpa', 'PTR', 'NXDOMAIN'],
  ])('%s %s is %s with no answers and the SOA in AUTHORITY', async (name, type, rcode) => {
    const r = await a(name, type);
    expect(rcodeOf(r)).toBe(rcode);
    expect(r.answers).toEqual([]);
    const soa = (r.authorities ?? []).find((x) => x.type === 'SOA') as { name: string; data: { mname: string; rname: string } } | undefined;
    expect(soa?.name).toBe('consul');
    expect(soa?.data.mname).toBe('ns.consul');
    expect(soa?.data.rname).toBe('hostmaster.consul');
  });

  it('answers SOA and NS for the domain from the consul service', async () => {
    const soa = await a('consul', 'SOA');
    expect(dataOf(soa, 'NS', 'authorities')).toEqual(['node1.node.dc1.consul']);
    const ns = await a('consul', 'NS');
    expect(dataOf(ns, 'NS')).toEqual(['node1.node.dc1.consul']);
    expect(dataOf(ns, 'A', 'additionals')).toEqual(['127.0.0.1']);
  });

  it('refuses names outside every served zone when there are no recursors', async () => {
    const r = await a('example.com', 'A');
    expect(rcodeOf(r)).toBe('REFUSED');
  });
});

describe('health filtering, with exact cache invalidation', () => {
  it('a failed TTL check takes the instance out of the very next answer, and a pass brings it back', async () => {
    // Warm the cache.
    expect(dataOf(await a('v2.web.service.consul'), 'A')).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(dataOf(await a('v2.web.service.consul'), 'A')).toEqual(['10.0.0.2', '10.0.0.3']);
    const hitsBefore = agent.dns.stats.hits;
    agent.ttlUpdate('web-2-ttl', 'critical', 'down');
    expect(dataOf(await a('v2.web.service.consul'), 'A')).toEqual(['10.0.0.3']);
    agent.ttlUpdate('web-3-ttl', 'critical', 'down');
    expect(rcodeOf(await a('v2.web.service.consul'))).toBe('NXDOMAIN');
    agent.ttlUpdate('web-2-ttl', 'passing', 'up');
    agent.ttlUpdate('web-3-ttl', 'passing', 'up');
    expect(dataOf(await a('v2.web.service.consul'), 'A')).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(agent.dns.stats.hits).toBeGreaterThanOrEqual(hitsBefore);
  });

  it('a change to one service leaves the cached answers of others alone', async () => {
    await a('api6.service.consul', 'AAAA');
    const hits = agent.dns.stats.hits;
    agent.ttlUpdate('web-1-ttl', 'warning', 'slow');
    await a('api6.service.consul', 'AAAA');
    expect(agent.dns.stats.hits).toBe(hits + 1);
    agent.ttlUpdate('web-1-ttl', 'passing', '');
  });

  it('a critical node-level check hides every instance on that node', async () => {
    expect(dataOf(await a('web.service.consul', 'A', { edns: 4096 }), 'A')).toContain('10.0.0.20');
    await agent.raftLog.propose({ type: 'check.update', node: 'node2', checkId: 'node2-health', status: 'critical', output: '' });
    expect(dataOf(await a('web.service.consul', 'A', { edns: 4096 }), 'A')).not.toContain('10.0.0.20');
    await agent.raftLog.propose({ type: 'check.update', node: 'node2', checkId: 'node2-health', status: 'passing', output: '' });
    expect(dataOf(await a('web.service.consul', 'A', { edns: 4096 }), 'A')).toContain('10.0.0.20');
  });

  it('warning instances stay unless only_passing, and weigh Weights.Warning in SRV', async () => {
    expect(dataOf(await a('flaky.service.consul'), 'A')).toEqual(['10.0.9.1']);
    const cfg = agent.config;
    await agent.reload({ ...cfg, dnsConfig: { ...cfg.dnsConfig, onlyPassing: true } });
    expect(rcodeOf(await a('flaky.service.consul'))).toBe('NXDOMAIN');
    await agent.reload(cfg);
    expect(dataOf(await a('flaky.service.consul'), 'A')).toEqual(['10.0.9.1']);
  });
});

describe('transports, trimming and EDNS', () => {
  it('a plain 512-byte UDP client gets 3 answers and TC, so it retries over TCP', async () => {
    const r = await a('big.service.consul');
    expect(r.answers).toHaveLength(3);
    expect(r.flags! & dnsPacket.TRUNCATED_RESPONSE).toBeTruthy();
  });

  it('an EDNS client gets as many as fit, with its UDP size echoed', async () => {
    const r = await a('big.service.consul', 'A', { edns: 1232 });
    expect(r.answers).toHaveLength(10);
    expect(r.flags! & dnsPacket.TRUNCATED_RESPONSE).toBeFalsy();
    const opt = (r.additionals ?? []).find((x) => x.type === 'OPT') as { udpPayloadSize: number } | undefined;
    expect(opt?.udpPayloadSize).toBe(1232);
  });

  it('TCP gets the whole answer', async () => {
    const r = await askTcp('big.service.consul', { port, type: 'A' });
    expect(r.answers).toHaveLength(10);
    expect(r.flags! & dnsPacket.TRUNCATED_RESPONSE).toBeFalsy();
  });

  it('answers several pipelined queries on one TCP connection', async () => {
    const names = ['web.service.consul', 'big.service.consul', 'missing.service.consul', 'node1.node.consul', 'v1.web.service.consul'];
    const replies = await tcpRaw(names.map((n, i) => encodeQuery(n, 'A', { id: 100 + i })), port);
    const byId = new Map(replies.map((r) => dnsPacket.decode(r)).map((d) => [d.id, d]));
    names.forEach((n, i) => expect(byId.get(100 + i)?.questions?.[0]?.name).toBe(n));
    expect(rcodeOf(byId.get(102)!)).toBe('NXDOMAIN');
  });

  it("keeps the client's ID and question letter case on hits and misses", async () => {
    for (const name of ['WeB.SeRvIcE.CoNsUl', 'web.SERVICE.consul', 'WEB.service.CONSUL']) {
      const raw = await udpRaw(encodeQuery(name, 'A', { id: 4242, edns: 1232 }), port);
      const d = dnsPacket.decode(raw!);
      expect(d.id).toBe(4242);
      expect(d.questions?.[0]?.name).toBe(name);
      expect(d.answers?.length).toBeGreaterThan(0);
    }
  });

  it('echoes client subnet with scope 0 and still serves cookie-bearing queries from the cache', async () => {
    const withOpt = (options: unknown[]) =>
      dnsPacket.encode({
        type: 'query',
        id: 77,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: 'A', name: 'web.service.consul', class: 'IN' }],
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK, options } as unknown as dnsPacket.Answer],
      });
    const ecs = dnsPacket.decode((await udpRaw(withOpt([{ code: 8, family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: '192.0.2.0' }]), port))!);
    const opt = (ecs.additionals ?? []).find((x) => x.type === 'OPT') as unknown as { options: { code: number; sourcePrefixLength: number; scopePrefixLength: number }[]; flags: number };
    expect(opt.options).toEqual([expect.objectContaining({ code: 8, sourcePrefixLength: 24, scopePrefixLength: 0 })]);
    // RFC 3225 §3: the DO bit is copied into the reply.
    expect(opt.flags & dnsPacket.DNSSEC_OK).toBeTruthy();
    const cookie = withOpt([{ code: 10, data: Buffer.from('0123456789abcdef', 'hex') }]);
    await udpRaw(cookie, port);
    const hits = agent.dns.stats.hits;
    expect((await udpRaw(cookie, port))!.readUInt16BE(0)).toBe(77);
    expect(agent.dns.stats.hits).toBe(hits + 1);
  });

  it('rotates instances across cached answers', async () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 24; i++) {
      const r = await a('big.service.consul', 'A', { edns: 1232 });
      firsts.add(String((r.answers![0] as { data: string }).data));
    }
    expect(firsts.size).toBeGreaterThan(1);
  });

  it('with enable_truncate=false, trims silently as Consul does', async () => {
    const cfg = agent.config;
    await agent.reload({ ...cfg, dnsConfig: { ...cfg.dnsConfig, enableTruncate: false } });
    const r = await a('big.service.consul');
    expect(r.answers).toHaveLength(3);
    expect(r.flags! & dnsPacket.TRUNCATED_RESPONSE).toBeFalsy();
    await agent.reload(cfg);
  });
});

describe('dig, the client people run', () => {
  it('gets SRV answers over UDP and the full set over TCP', async () => {
    const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), 'web.service.consul', 'SRV', '+noall', '+answer', '+additional']);
    expect(stdout).toMatch(/web\.service\.consul\.\s+0\s+IN\s+SRV\s+1 1 8081 0a000002\.addr\.dc1\.consul\./);
    expect(stdout).toMatch(/0a000002\.addr\.dc1\.consul\.\s+0\s+IN\s+A\s+10\.0\.0\.2/);
    const tcp = await run('dig', ['@127.0.0.1', '-p', String(port), '+tcp', '+noedns', 'big.service.consul', 'A', '+short']);
    expect(tcp.stdout.trim().split('\n').sort()).toEqual(Array.from({ length: 10 }, (_, i) => `10.1.0.${i + 1}`).sort());
    // Without EDNS over UDP dig sees TC and retries over TCP by itself.
    const retry = await run('dig', ['@127.0.0.1', '-p', String(port), '+noedns', 'big.service.consul', 'A']);
    expect(retry.stdout).toMatch(/Truncated, retrying in TCP mode/);
    expect(retry.stdout).toMatch(/ANSWER: 10,/);
  });
});
