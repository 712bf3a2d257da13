import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  dnsmasqFiles,
  generateData,
  heraldConfigFiles,
  ipv4Hex,
  knotZone,
  querySet,
  seededRandom,
  writeBenchData,
} from './gen-data.ts';

describe('generateData', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    expect(generateData(50, 7)).toEqual(generateData(50, 7));
    expect(generateData(50, 7)).not.toEqual(generateData(50, 8));
    const r = seededRandom(3);
    const first = [r(), r(), r()];
    const again = seededRandom(3);
    expect([again(), again(), again()]).toEqual(first);
  });

  it('gives every service 3 instances with distinct IDs, nodes and 10/8 addresses', () => {
    const d = generateData(500, 1);
    expect(d.instances).toHaveLength(500);
    const all = d.instances.flat();
    expect(all).toHaveLength(1500);
    expect(new Set(all.map((i) => i.id)).size).toBe(1500);
    expect(new Set(all.map((i) => i.node)).size).toBe(1500);
    expect(new Set(all.map((i) => i.address)).size).toBe(1500);
    for (const i of all) {
      expect(i.address).toMatch(/^10\.\d+\.\d+\.\d+$/);
      const last = Number(i.address.split('.')[3]);
      expect(last).toBeGreaterThan(0);
      expect(last).toBeLessThan(255);
      expect(i.hex).toBe(ipv4Hex(i.address));
      expect(i.port).toBeGreaterThanOrEqual(20000);
      expect(i.port).toBeLessThan(30000);
    }
    expect(d.instances[7]!.map((i) => i.service)).toEqual(['web-7', 'web-7', 'web-7']);
  });

  it('hex-encodes addresses like Consul .addr. names', () => {
    expect(ipv4Hex('192.0.2.10')).toBe('c000020a');
    expect(ipv4Hex('10.1.2.3')).toBe('0a010203');
  });

  it('rejects a non-positive catalog size', () => {
    expect(() => generateData(0, 1)).toThrow(RangeError);
  });
});

describe('knotZone', () => {
  const d = generateData(3, 1);
  const zone = knotZone(d);
  const lines = zone.trim().split('\n');

  it('has SOA (TTL 0, minimum 0), NS and its glue', () => {
    expect(lines).toContain('@ 0 IN SOA ns.consul. hostmaster.consul. 1 3600 600 86400 0');
    expect(lines).toContain('@ IN NS ns.consul.');
    expect(lines).toContain('ns IN A 127.0.0.1');
  });

  it('gives each service 3 A and 3 SRV under both owner names, targeting <hex>.addr.dc1 names that have A records', () => {
    for (const group of d.instances) {
      const svc = group[0]!.service;
      expect(lines.filter((l) => l.startsWith(`${svc}.service IN A `))).toHaveLength(3);
      for (const owner of [`_${svc}._tcp.service`, `${svc}.service`]) {
        const srv = lines.filter((l) => l.startsWith(`${owner} IN SRV `));
        expect(srv).toHaveLength(3);
        for (const inst of group) {
          expect(srv).toContain(`${owner} IN SRV 1 1 ${inst.port} ${inst.hex}.addr.dc1.consul.`);
          expect(lines).toContain(`${inst.hex}.addr.dc1 IN A ${inst.address}`);
          expect(lines).toContain(`${inst.node}.node.dc1 IN A ${inst.address}`);
        }
      }
    }
  });
});

describe('dnsmasqFiles', () => {
  it('answers locally for consul and lists every SRV and address', () => {
    const d = generateData(4, 2);
    const { conf, hosts } = dnsmasqFiles(d, '/x/hosts');
    const c = conf.trim().split('\n');
    expect(c.slice(0, 3)).toEqual(['local=/consul/', 'addn-hosts=/x/hosts', 'local-ttl=30']);
    expect(c.filter((l) => l.startsWith('srv-host='))).toHaveLength(4 * 2 * 3);
    const inst = d.instances[2]![1]!;
    expect(c).toContain(`srv-host=_web-2._tcp.service.consul,${inst.hex}.addr.dc1.consul,${inst.port},1,1`);
    expect(c).toContain(`srv-host=web-2.service.consul,${inst.hex}.addr.dc1.consul,${inst.port},1,1`);
    expect(hosts.trim().split('\n')).toContain(
      `${inst.address} web-2.service.consul ${inst.hex}.addr.dc1.consul ${inst.node}.node.dc1.consul`,
    );
  });
});

describe('heraldConfigFiles', () => {
  it('sets the benchmark TTLs first, then splits 10,000 services into lexically ordered files of 1,000', () => {
    const d = generateData(10_000, 1);
    const files = heraldConfigFiles(d);
    const names = files.map(([n]) => n);
    expect(names[0]).toBe('00-dns.json');
    expect(names).toHaveLength(11);
    expect([...names].sort()).toEqual(names);
    expect(JSON.parse(files[0]![1])).toEqual({
      dns_config: { node_ttl: '30s', service_ttl: { '*': '30s' }, enable_additional_node_meta_txt: false },
    });
    const services = files.slice(1).flatMap(([, body]) => (JSON.parse(body) as { services: unknown[] }).services);
    expect(services).toHaveLength(30_000);
    const first = d.instances[0]![0]!;
    expect(services[0]).toEqual({ id: first.id, name: 'web-0', address: first.address, port: first.port });
    expect(new Set(services.map((s) => (s as { id: string }).id)).size).toBe(30_000);
  });
});

describe('querySet', () => {
  it('builds the anchors-doc mix: 47.5 % A, 47.5 % SRV, 5 % NXDOMAIN (half A, half SRV)', () => {
    const d = generateData(200, 1);
    const q = querySet(d);
    expect(q.a).toHaveLength(200);
    expect(q.srv).toHaveLength(200);
    expect(q.nx).toHaveLength(200);
    expect(q.mix).toHaveLength(2000);
    const nx = q.mix.filter((l) => l.startsWith('missing-'));
    expect(nx).toHaveLength(100);
    expect(nx.filter((l) => l.endsWith(' A'))).toHaveLength(50);
    expect(q.mix.filter((l) => l.startsWith('web-') && l.endsWith(' A'))).toHaveLength(950);
    expect(q.mix.filter((l) => !l.startsWith('missing-') && l.endsWith(' SRV'))).toHaveLength(950);
    // Every positive question names a generated service.
    for (const l of q.mix.filter((x) => !x.startsWith('missing-'))) {
      const n = Number(/web-(\d+)/.exec(l)![1]);
      expect(n).toBeLessThan(200);
    }
    expect(q.srv.slice(0, 2)).toEqual(['_web-0._tcp.service.consul SRV', 'web-1.service.consul SRV']);
    expect(querySet(d)).toEqual(q);
  });

  it('scales the mix to 10 questions per service for big catalogs', () => {
    expect(querySet(generateData(1000, 1)).mix).toHaveLength(10_000);
  });
});

describe('writeBenchData', () => {
  it('writes every file, with one question per line in the query files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gen-data-test-'));
    try {
      const p = await writeBenchData(join(dir, 'data'), 20, 5);
      const count = async (f: string) => (await readFile(f, 'utf8')).trim().split('\n').length;
      expect(await count(p.queries.a)).toBe(20);
      expect(await count(p.queries.srv)).toBe(20);
      expect(await count(p.queries.nx)).toBe(20);
      expect(await count(p.queries.mix)).toBe(2000);
      // Warm-up holds each distinct question once: 20 A, 20 SRV, and the mix's 100 NXDOMAIN
      // names (which include q-nx's 20).
      expect(await count(p.queries.warm)).toBe(140);
      expect(await readFile(p.dnsmasqConf, 'utf8')).toContain(`addn-hosts=${p.dnsmasqHosts}`);
      expect(await readdir(p.heraldConfigDir)).toEqual(['00-dns.json', 'services-00.json']);
      expect((await readFile(p.knotZone, 'utf8')).startsWith('$ORIGIN consul.\n')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
