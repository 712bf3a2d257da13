import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeraldError } from '../../src/errors.ts';
import type { Logger } from '../../src/log.ts';
import { silentLogger } from '../../src/log.ts';
import { formatRecord, loadZoneDirectory, loadZoneFile, parseZoneText } from './zone-file.ts';

const parse = async (text: string, origin = 'example.internal') =>
  (await parseZoneText(text, '/zones/t.zone', { origin })).map((p) => formatRecord(p.rr));

async function parseError(text: string, file = '/zones/t.zone'): Promise<HeraldError> {
  try {
    await parseZoneText(text, file, { origin: 'example.internal' });
  } catch (err) {
    expect(err).toBeInstanceOf(HeraldError);
    return err as HeraldError;
  }
  throw new Error('expected a parse error');
}

describe('parseZoneText: master file syntax (RFC 1035 §5)', () => {
  // Each case: zone text -> records in canonical presentation form.
  const cases: Array<{ name: string; text: string; want: string[] }> = [
    {
      name: '@, relative and absolute names, $TTL',
      text: `$TTL 60\n@ IN A 192.0.2.1\nwww IN A 192.0.2.2\nother.test. IN A 192.0.2.3\n`,
      want: [
        'example.internal. 60 IN A 192.0.2.1',
        'www.example.internal. 60 IN A 192.0.2.2',
        'other.test. 60 IN A 192.0.2.3',
      ],
    },
    {
      name: 'blank owner repeats the previous owner',
      text: `$TTL 60\nwww A 192.0.2.1\n  AAAA 2001:db8::1\n\tTXT hi\n`,
      want: [
        'www.example.internal. 60 IN A 192.0.2.1',
        'www.example.internal. 60 IN AAAA 2001:db8::1',
        'www.example.internal. 60 IN TXT "hi"',
      ],
    },
    {
      name: 'TTL and class in either order, class optional, TTL units',
      text: `a 30 IN A 192.0.2.1\nb IN 40 A 192.0.2.2\nc 1h30m A 192.0.2.3\nd in 1W a 192.0.2.4\n`,
      want: [
        'a.example.internal. 30 IN A 192.0.2.1',
        'b.example.internal. 40 IN A 192.0.2.2',
        'c.example.internal. 5400 IN A 192.0.2.3',
        'd.example.internal. 604800 IN A 192.0.2.4',
      ],
    },
    {
      name: 'no $TTL: the last explicit TTL carries over (RFC 1035 §5.1)',
      text: `a 30 A 192.0.2.1\nb A 192.0.2.2\n`,
      want: ['a.example.internal. 30 IN A 192.0.2.1', 'b.example.internal. 30 IN A 192.0.2.2'],
    },
    {
      name: 'SOA across lines in parentheses with comments; TTL from its minimum when nothing else',
      text: `@ IN SOA ns1 hostmaster.example.internal. ( ; start\n  7 ; serial\n  1h 10m\n  1w 45 )\n`,
      want: ['example.internal. 45 IN SOA ns1.example.internal. hostmaster.example.internal. 7 3600 600 604800 45'],
    },
    {
      name: '$ORIGIN changes relative names, relative $ORIGIN appends',
      text: `$TTL 5\n$ORIGIN sub.example.internal.\nx A 192.0.2.1\n$ORIGIN deeper\ny A 192.0.2.2\n`,
      want: ['x.sub.example.internal. 5 IN A 192.0.2.1', 'y.deeper.sub.example.internal. 5 IN A 192.0.2.2'],
    },
    {
      name: 'TXT: quoted strings with spaces, escapes, semicolons, several strings, unquoted',
      text: `$TTL 5\nt TXT "a b" "q\\"uote" "back\\\\slash" "semi;colon" "\\065\\066" plain\nu TXT ""\n`,
      want: [
        't.example.internal. 5 IN TXT "a b" "q\\"uote" "back\\\\slash" "semi;colon" "AB" "plain"',
        'u.example.internal. 5 IN TXT ""',
      ],
    },
    {
      name: 'MX, SRV, NS, PTR, CNAME targets relative and absolute',
      text: `$TTL 5\n@ MX 10 mail\n@ NS ns1.other.test.\n_s._tcp SRV 1 2 3 host\n1 PTR host.example.internal.\nalias CNAME host\n`,
      want: [
        'example.internal. 5 IN MX 10 mail.example.internal.',
        'example.internal. 5 IN NS ns1.other.test.',
        '_s._tcp.example.internal. 5 IN SRV 1 2 3 host.example.internal.',
        '1.example.internal. 5 IN PTR host.example.internal.',
        'alias.example.internal. 5 IN CNAME host.example.internal.',
      ],
    },
    {
      name: 'type names are case-insensitive, owner case is kept',
      text: `$ttl 5\nWWW cname Host\n*.Wild a 192.0.2.9\n`,
      want: ['WWW.example.internal. 5 IN CNAME Host.example.internal.', '*.Wild.example.internal. 5 IN A 192.0.2.9'],
    },
    {
      name: 'CRLF line ends and a comment-only indented line',
      text: `$TTL 5\r\n   ; only a comment\r\na A 192.0.2.1\r\n`,
      want: ['a.example.internal. 5 IN A 192.0.2.1'],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      expect(await parse(c.text)).toEqual(c.want);
    });
  }

  it('formatRecord output parses back to the same record', async () => {
    const text = [
      'example.internal. 60 IN SOA ns.example.internal. h.example.internal. 1 2 3 4 5',
      'a.example.internal. 60 IN TXT "x\\"y" "tab\\009" "\\195\\169t\\195\\169"',
      'b.example.internal. 60 IN SRV 0 0 0 .',
    ].join('\n');
    const first = await parseZoneText(text, '/zones/t.zone', { origin: '' });
    expect(first[1].rr).toMatchObject({ texts: ['x"y', 'tab\t', 'été'] });
    const again = await parseZoneText(first.map((p) => formatRecord(p.rr)).join('\n'), '/zones/t.zone', { origin: '' });
    expect(again.map((p) => p.rr)).toEqual(first.map((p) => p.rr));
  });
});

describe('parseZoneText: errors name file:line and what is wrong', () => {
  const cases: Array<{ text: string; want: string }> = [
    { text: '$TTL 5\nwww A 300.1.1.1\n', want: "t.zone:2: A address '300.1.1.1' is not an IPv4 address" },
    { text: '$TTL 5\n\nwww AAAA 192.0.2.1\n', want: "t.zone:3: AAAA address '192.0.2.1' is not an IPv6 address" },
    { text: '$TTL 5\nwww A 192.0.2.1 extra\n', want: "t.zone:2: trailing data after A RDATA: 'extra'" },
    { text: '$TTL 5\nwww MX 10\n', want: 't.zone:2: MX needs 2 RDATA fields, got 1' },
    { text: '$TTL 5\nwww MX 70000 mail\n', want: "t.zone:2: MX preference '70000' is not an integer from 0 to 65535" },
    { text: '$TTL 5\nwww HINFO a b\n', want: "t.zone:2: unsupported or missing type 'HINFO'" },
    { text: '$TTL 5\nwww CH A 192.0.2.1\n', want: 't.zone:2: class CH is not supported (only IN)' },
    { text: 'www A 192.0.2.1\n', want: 't.zone:1: record has no TTL and no $TTL is set' },
    { text: '$TTL 5\n  A 192.0.2.1\n', want: 't.zone:2: record has no owner name and there is no previous owner' },
    { text: '$TTL 5\n@ SOA a b (\n 1 2 3 4 5\n', want: "t.zone:2: '(' is never closed" },
    { text: '$TTL 5\n@ A 192.0.2.1 )\n', want: "t.zone:2: ')' without a matching '('" },
    { text: '$TTL 5\n\nt TXT "open\n', want: 't.zone:3: unterminated quoted string' },
    { text: '$TTL 5\na..b A 192.0.2.1\n', want: "t.zone:2: owner 'a..b': empty label" },
    { text: `$TTL 5\n${'x'.repeat(64)} A 192.0.2.1\n`, want: `t.zone:2: owner '${'x'.repeat(64)}': label longer than 63 octets` },
    { text: '$TTL 5\nw\\.x A 192.0.2.1\n', want: "t.zone:2: owner 'w\\.x': escapes in names are not supported" },
    { text: '$TTL 5\nt TXT "\\300"\n', want: 't.zone:2: escape \\300 is not a byte' },
    { text: `$TTL 5\nt TXT "${'y'.repeat(256)}"\n`, want: 't.zone:2: TXT string of 256 octets is longer than 255' },
    { text: '$TTL 5\nt TXT "\\255"\n', want: 't.zone:2: TXT string is not valid UTF-8' },
    { text: '$TTL 99999999999\n', want: "t.zone:1: $TTL '99999999999' is not a TTL" },
    { text: '$TTL 5\n$GENERATE 1-2 a A 192.0.2.$\n', want: 't.zone:2: unknown directive $GENERATE' },
    { text: '$TTL 5\n@ SOA a b 1 2 3 x 5\n', want: "t.zone:2: SOA expire 'x' is not a TTL" },
    { text: '$TTL 5\nwww 10 20 A 192.0.2.1\n', want: "t.zone:2: second TTL '20'" },
    { text: '$TTL 5\nwww\n', want: 't.zone:2: record has no type' },
  ];
  for (const c of cases) {
    it(c.want, async () => {
      const err = await parseError(c.text);
      expect(err.code).toBe('HERALD_ERR_ZONES_PARSE');
      expect(err.message.slice(0, '/zones/'.length + c.want.length)).toBe('/zones/' + c.want);
    });
  }
});

describe('$INCLUDE and zone files on disk', () => {
  let root: string;
  let zdir: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'herald-zonefile-'));
    zdir = path.join(root, 'zones');
    await mkdir(path.join(zdir, 'inc'), { recursive: true });
    await writeFile(path.join(root, 'secret.txt'), 'stolen A 192.0.2.66\n');
    await symlink(path.join(root, 'secret.txt'), path.join(zdir, 'inc', 'link.inc'));
    await writeFile(path.join(zdir, 'inc', 'hosts.inc'), 'h1 A 192.0.2.1\n$INCLUDE more.inc\n');
    await writeFile(path.join(zdir, 'inc', 'more.inc'), 'h2 A 192.0.2.2\n');
    await writeFile(path.join(zdir, 'inc', 'loop.inc'), '$INCLUDE loop.inc\n');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const zoneText = (body: string) =>
    `$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 30\n@ NS ns1\nns1 A 192.0.2.53\n${body}`;

  it('includes relative to the including file, nested, with an optional origin; the origin is restored after', async () => {
    const file = path.join(zdir, 'example.internal.zone');
    await writeFile(file, zoneText('$INCLUDE inc/hosts.inc\n$INCLUDE inc/more.inc sub\nafter A 192.0.2.3\n'));
    const zone = await loadZoneFile(file, zdir);
    expect(zone.origin).toBe('example.internal');
    expect(zone.records.filter((r) => r.type === 'A').map(formatRecord)).toEqual([
      'ns1.example.internal. 60 IN A 192.0.2.53',
      'h1.example.internal. 60 IN A 192.0.2.1',
      'h2.example.internal. 60 IN A 192.0.2.2',
      'h2.sub.example.internal. 60 IN A 192.0.2.2',
      'after.example.internal. 60 IN A 192.0.2.3',
    ]);
  });

  it('refuses an $INCLUDE that leaves the zone directory, by path or by symlink', async () => {
    const file = path.join(zdir, 'escape.test.zone');
    await writeFile(file, zoneText('$INCLUDE ../secret.txt\n'));
    await expect(loadZoneFile(file, zdir)).rejects.toThrow(`${file}:5: $INCLUDE ../secret.txt is outside the zone directory`);
    await writeFile(file, zoneText('$INCLUDE inc/link.inc\n'));
    await expect(loadZoneFile(file, zdir)).rejects.toThrow(`${file}:5: $INCLUDE inc/link.inc is outside the zone directory`);
  });

  it('reports a missing include and bounds include loops, at the $INCLUDE line', async () => {
    const file = path.join(zdir, 'inc-errors.test.zone');
    await writeFile(file, zoneText('$INCLUDE inc/nope.inc\n'));
    await expect(loadZoneFile(file, zdir)).rejects.toThrow(`${file}:5: $INCLUDE inc/nope.inc: ENOENT`);
    await writeFile(file, zoneText('$INCLUDE inc/loop.inc\n'));
    await expect(loadZoneFile(file, zdir)).rejects.toThrow(/loop\.inc:1: \$INCLUDE nested deeper than 8/);
  });

  it('errors inside an included file name that file and its line', async () => {
    await writeFile(path.join(zdir, 'inc', 'bad.inc'), '\n\nbad A 1.2.3\n');
    const file = path.join(zdir, 'bad-inc.test.zone');
    await writeFile(file, zoneText('$INCLUDE inc/bad.inc\n'));
    await expect(loadZoneFile(file, zdir)).rejects.toThrow(`${path.join(zdir, 'inc', 'bad.inc')}:3: A address '1.2.3'`);
  });

  it('takes the origin from the file name when there is no $ORIGIN', async () => {
    const file = path.join(zdir, 'named.test.zone');
    await writeFile(file, '$TTL 10\n@ SOA ns1 hostmaster 1 2 3 4 5\nwww A 192.0.2.1\n');
    const zone = await loadZoneFile(file, zdir);
    expect(zone.origin).toBe('named.test');
    expect(zone.records.map(formatRecord)).toContain('www.named.test. 10 IN A 192.0.2.1');
  });

  it('the SOA owner defines the apex even when the file name says otherwise', async () => {
    const file = path.join(zdir, 'misnamed.zone');
    await writeFile(file, '$TTL 10\nreal.test. SOA ns1.real.test. h.real.test. 1 2 3 4 5\nwww.real.test. A 192.0.2.1\n');
    expect((await loadZoneFile(file, zdir)).origin).toBe('real.test');
  });

  const zoneErrors: Array<{ name: string; text: string; want: string }> = [
    { name: 'no SOA', text: '$TTL 10\nwww A 192.0.2.1\n', want: ':2: no SOA record' },
    {
      name: 'two SOAs',
      text: '$TTL 10\n@ SOA a b 1 2 3 4 5\n\n@ SOA a b 2 2 3 4 5\n',
      want: ':4: second SOA record (the first is at',
    },
    {
      name: 'a record outside the apex',
      text: '$TTL 10\n@ SOA a b 1 2 3 4 5\nelsewhere.test. A 192.0.2.1\n',
      want: ':3: elsewhere.test is outside the zone z.test',
    },
    {
      name: 'CNAME beside other data',
      text: '$TTL 10\n@ SOA a b 1 2 3 4 5\nw A 192.0.2.1\nw CNAME x\n',
      want: ':4: w.z.test: a CNAME cannot share its name with other records',
    },
    {
      name: 'two different CNAMEs',
      text: '$TTL 10\n@ SOA a b 1 2 3 4 5\nw CNAME x\nw CNAME y\n',
      want: ':4: w.z.test: a CNAME cannot share its name',
    },
  ];
  for (const c of zoneErrors) {
    it(`refuses a zone with ${c.name}`, async () => {
      const file = path.join(root, 'z.test.zone');
      await writeFile(file, c.text);
      const err = await loadZoneFile(file, root).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HeraldError);
      expect((err as HeraldError).code).toBe('HERALD_ERR_ZONES_PARSE');
      expect((err as HeraldError).message).toContain(file + c.want);
    });
  }

  it('deduplicates identical records (RFC 2181 §5)', async () => {
    const file = path.join(root, 'dup.test.zone');
    await writeFile(file, '$TTL 10\n@ SOA a b 1 2 3 4 5\nw A 192.0.2.1\nW 20 A 192.0.2.1\n');
    expect((await loadZoneFile(file, root)).records.filter((r) => r.type === 'A')).toHaveLength(1);
  });

  it('loadZoneDirectory: unset or missing directory logs and serves nothing', async () => {
    const lines: string[] = [];
    const log: Logger = { ...silentLogger, info: (m) => lines.push(m), warn: (m) => lines.push(m) };
    expect(await loadZoneDirectory(undefined, log)).toBeUndefined();
    expect(await loadZoneDirectory(path.join(root, 'absent'), log)).toBeUndefined();
    expect(lines).toEqual([
      'no zone directory configured; serving no static zones',
      `zone directory ${path.join(root, 'absent')} does not exist; serving no static zones`,
    ]);
  });

  it('loadZoneDirectory: reads *.zone only, refuses two files for one origin', async () => {
    const dir = path.join(root, 'dirtest');
    await mkdir(dir);
    await writeFile(path.join(dir, 'a.test.zone'), '$TTL 10\n@ SOA a b 1 2 3 4 5\n');
    await writeFile(path.join(dir, 'notes.txt'), 'not a zone');
    await writeFile(path.join(dir, 'frag.inc'), 'junk junk junk');
    const zones = await loadZoneDirectory(dir, silentLogger);
    expect(zones?.map((z) => z.origin)).toEqual(['a.test']);
    await writeFile(path.join(dir, 'b.zone'), '$TTL 10\nA.TEST. SOA a b 1 2 3 4 5\n');
    await expect(loadZoneDirectory(dir, silentLogger)).rejects.toThrow(
      `${path.join(dir, 'b.zone')}:1: zone A.TEST is already loaded from ${path.join(dir, 'a.test.zone')}`,
    );
  });

  it('the shipped zones/example.internal.zone loads', async () => {
    const file = path.resolve(import.meta.dirname, '../../zones/example.internal.zone');
    const zone = await loadZoneFile(file);
    expect(zone.origin).toBe('example.internal');
    const types = new Set(zone.records.map((r) => r.type));
    for (const t of ['SOA', 'NS', 'A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV']) expect(types).toContain(t);
  });
});
