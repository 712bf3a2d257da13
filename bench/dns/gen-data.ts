/**
 * Benchmark data: one seeded catalog of `web-N` services x 3 instances, written out for every
 * server under test (Knot zone file, dnsmasq config + hosts file, Herald config dir) and as the
 * dnsperf query files (q-a, q-srv, q-nx, q-mix, q-warm). Every server gets the same records, so
 * the answers to the same question carry the same content and (nearly) the same size.
 *
 * Record layout, per instance i of service N (node K = 3N + i):
 *   web-N.service.consul               A    <addr>
 *   web-N.service.consul               SRV  1 1 <port> <hex>.addr.dc1.consul.
 *   _web-N._tcp.service.consul         SRV  1 1 <port> <hex>.addr.dc1.consul.
 *   <hex>.addr.dc1.consul              A    <addr>
 *   node-K.node.dc1.consul             A    <addr>
 * The SRV target is `<hex>.addr.dc1.consul.` because Herald's instances have their own service
 * address, and Consul then targets the hex-encoded address (consul-compat.md §1.4 rule 2).
 * Addresses are 10.x.y.z: data only, nothing is ever sent to them.
 *
 * CLI: `node --import tsx bench/dns/gen-data.ts <out-dir> [services] [seed]`.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { seededRandom } from '../../src/seeded-random.ts';
export { seededRandom };

/** TTL for every generated record, seconds (the anchors doc uses 30 everywhere). */
export const BENCH_TTL = 30;
/** Instances per service. */
export const INSTANCES_PER_SERVICE = 3;
/** Herald config files hold this many services each, so a 10k catalog is several files. */
export const SERVICES_PER_CONFIG_FILE = 1000;

/** One instance of a generated service. */
export interface BenchInstance {
  /** Service name, `web-N`. */
  service: string;
  /** Distinct service ID on the agent, `web-N-i`. */
  id: string;
  /** The node it notionally runs on, `node-K`. */
  node: string;
  /** Dotted IPv4 in 10.0.0.0/8. */
  address: string;
  /** The address as 8 lowercase hex digits, as in `<hex>.addr.dc1.consul`. */
  hex: string;
  port: number;
}

/** The whole generated catalog; `instances[n]` are the 3 instances of `web-n`. */
export interface BenchData {
  seed: number;
  services: number;
  instances: BenchInstance[][];
}

/** Paths written by {@link writeBenchData}. */
export interface BenchPaths {
  dir: string;
  knotZone: string;
  dnsmasqConf: string;
  dnsmasqHosts: string;
  heraldConfigDir: string;
  queries: { a: string; srv: string; nx: string; mix: string; warm: string };
}

/** The query files as dnsperf lines (`name TYPE`), in file order. */
export interface QuerySet {
  a: string[];
  srv: string[];
  nx: string[];
  mix: string[];
}

/** Hex-encodes a dotted IPv4 the way Consul's `.addr.` names do (`10.1.2.3` -> `0a010203`). */
export function ipv4Hex(address: string): string {
  return address
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('');
}

/**
 * Generates `services` services x 3 instances from `seed`. Addresses are distinct (the last
 * octet avoids 0 and 255); ports are in 20000-29999. Deterministic for a given (services, seed).
 */
export function generateData(services: number, seed: number): BenchData {
  if (!Number.isInteger(services) || services < 1) throw new RangeError(`services must be a positive integer, got ${services}`);
  // 2^24 addresses minus the excluded last octets: plenty for 3 x 10^6 instances.
  if (services * INSTANCES_PER_SERVICE > 4_000_000) throw new RangeError('too many services for 10.0.0.0/8');
  const rnd = seededRandom(seed);
  const used = new Set<number>();
  const instances: BenchInstance[][] = [];
  for (let n = 0; n < services; n++) {
    const group: BenchInstance[] = [];
    for (let i = 0; i < INSTANCES_PER_SERVICE; i++) {
      let v: number;
      do {
        v = Math.floor(rnd() * 0x1000000);
      } while (used.has(v) || (v & 0xff) === 0 || (v & 0xff) === 0xff);
      used.add(v);
      const address = `10.${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`;
      group.push({
        service: `web-${n}`,
        id: `web-${n}-${i}`,
        node: `node-${n * INSTANCES_PER_SERVICE + i}`,
        address,
        hex: ipv4Hex(address),
        port: 20000 + Math.floor(rnd() * 10000),
      });
    }
    instances.push(group);
  }
  return { seed, services, instances };
}

/** The SRV owner names of service n: both the RFC 2782 form and the plain service name. */
function srvOwners(service: string): string[] {
  return [`_${service}._tcp.service`, `${service}.service`];
}

/**
 * An RFC 1035 master file for `consul.` (relative owners under `$ORIGIN consul.`). The SOA's TTL
 * and MINIMUM are 0, like Herald's default SOA (consul-compat.md §1.9: TTL = min_ttl = 0), so
 * NXDOMAIN answers carry the same SOA shape.
 */
export function knotZone(data: BenchData): string {
  const out: string[] = [
    '$ORIGIN consul.',
    `$TTL ${BENCH_TTL}`,
    '@ 0 IN SOA ns.consul. hostmaster.consul. 1 3600 600 86400 0',
    '@ IN NS ns.consul.',
    'ns IN A 127.0.0.1',
  ];
  for (const group of data.instances) {
    for (const inst of group) out.push(`${inst.service}.service IN A ${inst.address}`);
    for (const owner of srvOwners(group[0]!.service)) {
      for (const inst of group) out.push(`${owner} IN SRV 1 1 ${inst.port} ${inst.hex}.addr.dc1.consul.`);
    }
    for (const inst of group) {
      out.push(`${inst.hex}.addr.dc1 IN A ${inst.address}`);
      out.push(`${inst.node}.node.dc1 IN A ${inst.address}`);
    }
  }
  return out.join('\n') + '\n';
}

/**
 * dnsmasq data: an addn-hosts file (one line per address, carrying the service, addr and node
 * names, so each gets an A record) and a config with `local=/consul/` (answer, never forward)
 * and one `srv-host=` per SRV record. `hostsPath` is the absolute path the config points at.
 */
export function dnsmasqFiles(data: BenchData, hostsPath: string): { conf: string; hosts: string } {
  const hosts: string[] = [];
  const conf: string[] = [
    'local=/consul/',
    `addn-hosts=${hostsPath}`,
    `local-ttl=${BENCH_TTL}`,
  ];
  for (const group of data.instances) {
    for (const inst of group) {
      hosts.push(`${inst.address} ${inst.service}.service.consul ${inst.hex}.addr.dc1.consul ${inst.node}.node.dc1.consul`);
    }
    for (const owner of srvOwners(group[0]!.service)) {
      for (const inst of group) conf.push(`srv-host=${owner}.consul,${inst.hex}.addr.dc1.consul,${inst.port},1,1`);
    }
  }
  return { conf: conf.join('\n') + '\n', hosts: hosts.join('\n') + '\n' };
}

/**
 * Herald (Consul-format) config files: `00-dns.json` sets the TTLs to the benchmark's 30 s and
 * turns off node-meta TXT in ADDITIONAL (Knot and dnsmasq have no equivalent, and it would make
 * Herald's SRV answers bigger than the peers'); then `services-NNN.json` files with up to
 * {@link SERVICES_PER_CONFIG_FILE} services each, every instance with its own ID and address.
 * Returned as [file name, contents] in the lexical order the agent loads them.
 */
export function heraldConfigFiles(data: BenchData): Array<[string, string]> {
  const files: Array<[string, string]> = [
    [
      '00-dns.json',
      JSON.stringify(
        {
          dns_config: {
            node_ttl: `${BENCH_TTL}s`,
            service_ttl: { '*': `${BENCH_TTL}s` },
            enable_additional_node_meta_txt: false,
          },
        },
        null,
        2,
      ) + '\n',
    ],
  ];
  const width = String(Math.ceil(data.services / SERVICES_PER_CONFIG_FILE)).length + 1;
  for (let start = 0, f = 0; start < data.services; start += SERVICES_PER_CONFIG_FILE, f++) {
    const services = data.instances
      .slice(start, start + SERVICES_PER_CONFIG_FILE)
      .flat()
      .map((inst) => ({ id: inst.id, name: inst.service, address: inst.address, port: inst.port }));
    files.push([`services-${String(f).padStart(width, '0')}.json`, JSON.stringify({ services }) + '\n']);
  }
  return files;
}

/** Fisher-Yates with the seeded generator. */
function shuffle<T>(items: T[], rnd: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** SRV question for service n: even n asks the RFC 2782 name, odd n the plain service name. */
function srvQuestion(n: number): string {
  return n % 2 === 0 ? `_web-${n}._tcp.service.consul SRV` : `web-${n}.service.consul SRV`;
}

/**
 * The dnsperf query sets (anchors doc, "Query files"): q-a asks A for every service, q-srv SRV
 * for every service (both owner forms, alternating), q-nx `missing-N.service.consul` (half A,
 * half SRV), and q-mix max(2000, 10 x services) questions: 47.5 % A and 47.5 % SRV of uniformly
 * drawn services, 5 % NXDOMAIN (half A, half SRV), shuffled. Deterministic for (data, seed).
 */
export function querySet(data: BenchData, seed: number = data.seed): QuerySet {
  const n = data.services;
  const a = Array.from({ length: n }, (_, i) => `web-${i}.service.consul A`);
  const srv = Array.from({ length: n }, (_, i) => srvQuestion(i));
  const nx = Array.from({ length: n }, (_, i) => `missing-${i}.service.consul ${i % 2 === 0 ? 'A' : 'SRV'}`);
  const total = Math.max(2000, 10 * n);
  const nxCount = Math.round(total * 0.05);
  const aCount = Math.round((total - nxCount) / 2);
  const srvCount = total - nxCount - aCount;
  const rnd = seededRandom(seed ^ 0x9e3779b9);
  const mix: string[] = [];
  for (let i = 0; i < aCount; i++) mix.push(`web-${Math.floor(rnd() * n)}.service.consul A`);
  for (let i = 0; i < srvCount; i++) mix.push(srvQuestion(Math.floor(rnd() * n)));
  for (let i = 0; i < nxCount; i++) mix.push(`missing-${i}.service.consul ${i % 2 === 0 ? 'A' : 'SRV'}`);
  return { a, srv, nx, mix: shuffle(mix, rnd) };
}

/**
 * Writes every file for `services` x 3 instances from `seed` under `dir` (created if needed) and
 * returns their paths. The directory is made world-readable because dnsmasq reads its hosts file
 * after dropping root.
 */
export async function writeBenchData(dir: string, services: number, seed: number): Promise<BenchPaths> {
  const root = resolve(dir);
  const heraldConfigDir = join(root, 'herald.d');
  await mkdir(heraldConfigDir, { recursive: true, mode: 0o755 });
  await chmod(root, 0o755);
  const data = generateData(services, seed);
  const paths: BenchPaths = {
    dir: root,
    knotZone: join(root, 'consul.zone'),
    dnsmasqConf: join(root, 'dnsmasq.conf'),
    dnsmasqHosts: join(root, 'dnsmasq.hosts'),
    heraldConfigDir,
    queries: {
      a: join(root, 'q-a'),
      srv: join(root, 'q-srv'),
      nx: join(root, 'q-nx'),
      mix: join(root, 'q-mix'),
      warm: join(root, 'q-warm'),
    },
  };
  const dm = dnsmasqFiles(data, paths.dnsmasqHosts);
  const q = querySet(data, seed);
  // Warm-up touches every distinct question once before the rest repeats (fills every cache).
  const warm = [...new Set([...q.a, ...q.srv, ...q.nx, ...q.mix])];
  await Promise.all([
    writeFile(paths.knotZone, knotZone(data)),
    writeFile(paths.dnsmasqConf, dm.conf),
    writeFile(paths.dnsmasqHosts, dm.hosts),
    ...heraldConfigFiles(data).map(([name, body]) => writeFile(join(heraldConfigDir, name), body)),
    writeFile(paths.queries.a, q.a.join('\n') + '\n'),
    writeFile(paths.queries.srv, q.srv.join('\n') + '\n'),
    writeFile(paths.queries.nx, q.nx.join('\n') + '\n'),
    writeFile(paths.queries.mix, q.mix.join('\n') + '\n'),
    writeFile(paths.queries.warm, warm.join('\n') + '\n'),
  ]);
  return paths;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [dir, services = '200', seed = '1'] = process.argv.slice(2);
  if (!dir) {
    process.stderr.write('usage: gen-data.ts <out-dir> [services=200] [seed=1]\n');
    process.exit(2);
  }
  const paths = await writeBenchData(dir, Number(services), Number(seed));
  process.stdout.write(JSON.stringify(paths, null, 2) + '\n');
}
