import { describe, expect, it } from 'vitest';
import { QTYPE, RCODE } from '../../src/dns/records.ts';
import { formatRecord, lowerName, parseZoneText } from './zone-file.ts';
import type { LoadedZone } from './zone-file.ts';
import { ZoneStore, zoneDep } from './zone-store.ts';

async function zone(text: string): Promise<LoadedZone> {
  const records = (await parseZoneText(text, '/zones/test.zone', { origin: '' })).map((p) => p.rr);
  const soa = records.find((r) => r.type === 'SOA');
  if (!soa || soa.type !== 'SOA') throw new Error('test zone needs an SOA');
  return { origin: soa.name, file: '/zones/test.zone', soa, records };
}

const EXAMPLE = `
$ORIGIN example.internal.
$TTL 300
@        3600 SOA ns1 hostmaster 1 3600 600 86400 60
@        NS    ns1
@        NS    ns2.other.test.
@        MX    10 mail
ns1      A     192.0.2.53
ns1      AAAA  2001:db8::53
mail     A     192.0.2.25
www      A     192.0.2.80
www      A     192.0.2.81
web      CNAME www
chain1   CNAME chain2
chain2   CNAME web
out      CNAME www.other.test.
dangling CNAME nothere
loop1    CNAME loop2
loop2    CNAME loop1
_http._tcp SRV 10 60 80 www
_http._tcp SRV 20 40 80 out-of-zone.other.test.
a.b.c    A     192.0.2.7
*.wild   A     192.0.2.99
*.wild   TXT   "wild"
exists.wild A  192.0.2.98
*.cn     CNAME www
`;

const CHILD = `
$ORIGIN sub.example.internal.
$TTL 30
@     SOA ns1 hostmaster 1 3600 600 86400 600
host  A   192.0.2.200
`;

const LONG = `
$ORIGIN long.test.
$TTL 5
@ SOA ns hostmaster 1 2 3 4 5
${Array.from({ length: 10 }, (_, i) => `c${i} CNAME c${i + 1}`).join('\n')}
c10 A 192.0.2.10
`;

const SOA_NEG = 'example.internal. 60 IN SOA ns1.example.internal. hostmaster.example.internal. 1 3600 600 86400 60';

interface Case {
  q: string;
  rcode?: keyof typeof RCODE;
  aa?: boolean;
  answer?: string[];
  authority?: string[];
  additional?: string[];
  class?: number;
}

// Query -> expected sections, records in zone-file syntax. Defaults: NOERROR, aa, empty sections.
const cases: Case[] = [
  { q: 'www.example.internal A', answer: ['www.example.internal. 300 IN A 192.0.2.80', 'www.example.internal. 300 IN A 192.0.2.81'] },
  { q: 'WWW.Example.INTERNAL A', answer: ['www.example.internal. 300 IN A 192.0.2.80', 'www.example.internal. 300 IN A 192.0.2.81'] },
  { q: 'www.example.internal AAAA', authority: [SOA_NEG] },
  { q: 'www.example.internal 13', authority: [SOA_NEG] },
  { q: 'nope.example.internal A', rcode: 'NXDOMAIN', authority: [SOA_NEG] },
  {
    q: 'web.example.internal A',
    answer: [
      'web.example.internal. 300 IN CNAME www.example.internal.',
      'www.example.internal. 300 IN A 192.0.2.80',
      'www.example.internal. 300 IN A 192.0.2.81',
    ],
  },
  { q: 'web.example.internal CNAME', answer: ['web.example.internal. 300 IN CNAME www.example.internal.'] },
  {
    q: 'web.example.internal AAAA',
    answer: ['web.example.internal. 300 IN CNAME www.example.internal.'],
    authority: [SOA_NEG],
  },
  {
    q: 'chain1.example.internal A',
    answer: [
      'chain1.example.internal. 300 IN CNAME chain2.example.internal.',
      'chain2.example.internal. 300 IN CNAME web.example.internal.',
      'web.example.internal. 300 IN CNAME www.example.internal.',
      'www.example.internal. 300 IN A 192.0.2.80',
      'www.example.internal. 300 IN A 192.0.2.81',
    ],
  },
  { q: 'out.example.internal A', answer: ['out.example.internal. 300 IN CNAME www.other.test.'] },
  {
    q: 'dangling.example.internal A',
    rcode: 'NXDOMAIN',
    answer: ['dangling.example.internal. 300 IN CNAME nothere.example.internal.'],
    authority: [SOA_NEG],
  },
  {
    q: 'loop1.example.internal A',
    answer: [
      'loop1.example.internal. 300 IN CNAME loop2.example.internal.',
      'loop2.example.internal. 300 IN CNAME loop1.example.internal.',
    ],
  },
  {
    q: 'example.internal NS',
    answer: ['example.internal. 300 IN NS ns1.example.internal.', 'example.internal. 300 IN NS ns2.other.test.'],
    additional: ['ns1.example.internal. 300 IN A 192.0.2.53', 'ns1.example.internal. 300 IN AAAA 2001:db8::53'],
  },
  {
    q: 'example.internal MX',
    answer: ['example.internal. 300 IN MX 10 mail.example.internal.'],
    additional: ['mail.example.internal. 300 IN A 192.0.2.25'],
  },
  {
    q: '_http._tcp.example.internal SRV',
    answer: [
      '_http._tcp.example.internal. 300 IN SRV 10 60 80 www.example.internal.',
      '_http._tcp.example.internal. 300 IN SRV 20 40 80 out-of-zone.other.test.',
    ],
    additional: ['www.example.internal. 300 IN A 192.0.2.80', 'www.example.internal. 300 IN A 192.0.2.81'],
  },
  {
    q: 'example.internal ANY',
    answer: [
      'example.internal. 3600 IN SOA ns1.example.internal. hostmaster.example.internal. 1 3600 600 86400 60',
      'example.internal. 300 IN NS ns1.example.internal.',
      'example.internal. 300 IN NS ns2.other.test.',
      'example.internal. 300 IN MX 10 mail.example.internal.',
    ],
    additional: [
      'ns1.example.internal. 300 IN A 192.0.2.53',
      'ns1.example.internal. 300 IN AAAA 2001:db8::53',
      'mail.example.internal. 300 IN A 192.0.2.25',
    ],
  },
  { q: 'example.internal SOA', answer: ['example.internal. 3600 IN SOA ns1.example.internal. hostmaster.example.internal. 1 3600 600 86400 60'] },
  // Empty non-terminals exist: NODATA, not NXDOMAIN (RFC 4592 §2.2.2, RFC 8020).
  { q: 'b.c.example.internal A', authority: [SOA_NEG] },
  { q: 'c.example.internal A', authority: [SOA_NEG] },
  { q: 'x.b.c.example.internal A', rcode: 'NXDOMAIN', authority: [SOA_NEG] },
  // Wildcards (RFC 4592): owner rewritten to the question name.
  { q: 'anything.wild.example.internal A', answer: ['anything.wild.example.internal. 300 IN A 192.0.2.99'] },
  { q: 'Deep.Er.wild.example.internal TXT', answer: ['Deep.Er.wild.example.internal. 300 IN TXT "wild"'] },
  { q: 'anything.wild.example.internal MX', authority: [SOA_NEG] },
  { q: 'exists.wild.example.internal TXT', authority: [SOA_NEG] },
  { q: 'x.exists.wild.example.internal A', rcode: 'NXDOMAIN', authority: [SOA_NEG] },
  { q: '*.wild.example.internal A', answer: ['*.wild.example.internal. 300 IN A 192.0.2.99'] },
  {
    q: 'foo.cn.example.internal A',
    answer: [
      'foo.cn.example.internal. 300 IN CNAME www.example.internal.',
      'www.example.internal. 300 IN A 192.0.2.80',
      'www.example.internal. 300 IN A 192.0.2.81',
    ],
  },
  // Longest origin wins: the child zone answers for its names with its own SOA.
  { q: 'host.sub.example.internal A', answer: ['host.sub.example.internal. 30 IN A 192.0.2.200'] },
  {
    q: 'nope.sub.example.internal A',
    rcode: 'NXDOMAIN',
    authority: ['sub.example.internal. 30 IN SOA ns1.sub.example.internal. hostmaster.sub.example.internal. 1 3600 600 86400 600'],
  },
  // Zone transfers are not served; other classes are refused.
  { q: 'example.internal AXFR', rcode: 'NOTIMP', aa: false },
  { q: 'example.internal 251', rcode: 'NOTIMP', aa: false },
  { q: 'www.example.internal A', class: 3, rcode: 'REFUSED', aa: false },
  { q: 'www.example.internal A', class: 255, answer: ['www.example.internal. 300 IN A 192.0.2.80', 'www.example.internal. 300 IN A 192.0.2.81'] },
  // The chain stops after MAX_CNAME_CHAIN (8) links.
  { q: 'c0.long.test A', answer: Array.from({ length: 8 }, (_, i) => `c${i}.long.test. 5 IN CNAME c${i + 1}.long.test.`) },
  { q: 'c3.long.test A', answer: [...Array.from({ length: 7 }, (_, i) => `c${i + 3}.long.test. 5 IN CNAME c${i + 4}.long.test.`), 'c10.long.test. 5 IN A 192.0.2.10'] },
];

function question(q: string, klass = 1) {
  const [name, type] = q.split(' ');
  const t = /^\d+$/.test(type) ? Number(type) : QTYPE[type as keyof typeof QTYPE];
  return { name, lname: lowerName(name), type: t, class: klass };
}

describe('ZoneStore.resolve: authoritative answers (RFC 1034 §4.3.2, RFC 2308, RFC 4592)', async () => {
  const store = new ZoneStore([await zone(EXAMPLE), await zone(CHILD), await zone(LONG)]);
  for (const c of cases) {
    it(`${c.q}${c.class ? ` class ${c.class}` : ''} -> ${c.rcode ?? 'NOERROR'}`, () => {
      const got = store.resolve(question(c.q, c.class));
      expect(got).toBeDefined();
      expect({
        rcode: got!.rcode,
        aa: got!.authoritative,
        answer: got!.answers.map(formatRecord),
        authority: got!.authority.map(formatRecord),
        additional: got!.additional.map(formatRecord),
      }).toEqual({
        rcode: RCODE[c.rcode ?? 'NOERROR'],
        aa: c.aa ?? true,
        answer: c.answer ?? [],
        authority: c.authority ?? [],
        additional: c.additional ?? [],
      });
    });
  }

  it('names outside every zone pass to the next hook', () => {
    expect(store.resolve(question('www.other.test A'))).toBeUndefined();
    expect(store.resolve(question('internal A'))).toBeUndefined();
    expect(store.resolve(question(' A'))).toBeUndefined();
  });

  it('answers are cacheable under the zone that produced them', () => {
    expect(store.resolve(question('www.example.internal A'))!.cache).toEqual({ deps: ['zone:example.internal'] });
    expect(store.resolve(question('nope.sub.example.internal A'))!.cache).toEqual({ deps: ['zone:sub.example.internal'] });
    expect(store.deps.sort()).toEqual(['zone:example.internal', 'zone:long.test', 'zone:sub.example.internal']);
  });

  it('a root zone catches every name not in a longer zone', async () => {
    const withRoot = new ZoneStore([await zone('$TTL 5\n. SOA a. b. 1 2 3 4 5\nx. A 192.0.2.1\n'), await zone(CHILD)]);
    expect(withRoot.resolve(question('x A'))!.answers.map(formatRecord)).toEqual(['x. 5 IN A 192.0.2.1']);
    expect(withRoot.resolve(question('y.z A'))!.rcode).toBe(RCODE.NXDOMAIN);
    expect(withRoot.resolve(question('host.sub.example.internal A'))!.cache).toEqual({ deps: ['zone:sub.example.internal'] });
    expect(zoneDep('')).toBe('zone:.');
  });
});
