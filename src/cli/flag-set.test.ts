import { describe, expect, it } from 'vitest';
import { ERR } from '../errors.ts';
import { FlagError, FlagSet, parseGoInt, parseGoUint64, parseOrExit } from './flag-set.ts';
import type { CliIo } from './output.ts';

function sample() {
  const fs = new FlagSet('Usage: herald thing [options] [FILE...]\n\n  Does a thing.');
  return {
    fs,
    name: fs.string('name', 'Name.'),
    detailed: fs.bool('detailed', 'More.'),
    port: fs.int('port', 'Port.'),
    tag: fs.list('tag', 'Tag, repeatable.'),
    meta: fs.map('meta', 'Meta, repeatable.'),
    status: fs.string('status', 'Status regexp.', { default: '.*' }),
  };
}

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (m) => stdout.push(m), err: (m) => stderr.push(m), env: {} };
}

describe('FlagSet.parse (Go flag package rules)', () => {
  it('takes -x v, -x=v, --x v and --x=v alike', () => {
    for (const argv of [['-name', 'web'], ['-name=web'], ['--name', 'web'], ['--name=web']]) {
      const s = sample();
      expect(s.fs.parse(argv)).toEqual({ args: [], help: false });
      expect(s.name).toEqual({ value: 'web', set: true });
    }
  });

  it('keeps defaults for flags not given, and marks them unset', () => {
    const s = sample();
    s.fs.parse([]);
    expect(s.status).toEqual({ value: '.*', set: false });
    expect(s.port).toEqual({ value: 0, set: false });
    expect(s.detailed.value).toBe(false);
  });

  it('stops at the first positional argument; later dashes are arguments', () => {
    const s = sample();
    expect(s.fs.parse(['-detailed', 'web.json', '-name', 'x']).args).toEqual(['web.json', '-name', 'x']);
    expect(s.name.set).toBe(false);
    expect(s.detailed.value).toBe(true);
  });

  it('treats a lone dash as an argument and consumes `--`', () => {
    expect(sample().fs.parse(['-', 'a']).args).toEqual(['-', 'a']);
    expect(sample().fs.parse(['--', '-name', 'x']).args).toEqual(['-name', 'x']);
  });

  it('takes a boolean value only as -x=value, with Go ParseBool spellings', () => {
    const s = sample();
    s.fs.parse(['-detailed=false']);
    expect(s.detailed).toEqual({ value: false, set: true });
    const t = sample();
    // `-detailed false`: false is the first positional argument, as in Go.
    expect(t.fs.parse(['-detailed', 'false']).args).toEqual(['false']);
    expect(t.detailed.value).toBe(true);
    expect(() => sample().fs.parse(['-detailed=yes'])).toThrow('invalid boolean value "yes" for -detailed: parse error');
  });

  it('uses the next argument as the value even when it starts with a dash', () => {
    const s = sample();
    s.fs.parse(['-name', '-x']);
    expect(s.name.value).toBe('-x');
  });

  it('parses ints like strconv.ParseInt(s, 0, 64) and refuses the rest', () => {
    const s = sample();
    s.fs.parse(['-port=8080']);
    expect(s.port.value).toBe(8080);
    expect(parseGoInt('0x1F')).toBe(31);
    expect(parseGoInt('010')).toBe(8);
    expect(parseGoInt('-5')).toBe(-5);
    expect(parseGoInt('8o')).toBeUndefined();
    expect(parseGoInt('')).toBeUndefined();
    expect(() => sample().fs.parse(['-port', 'http'])).toThrow('invalid value "http" for flag -port: parse error');
  });

  it('parses uint64 flags as bigints like strconv.ParseUint(s, 0, 64), above 2^53 included', () => {
    const fs = new FlagSet('Usage: test');
    const flags = fs.uint64('flags', 'Flags.');
    fs.parse(['-flags', '3304740253564472344']);
    expect(flags.value).toBe(3304740253564472344n);
    expect(parseGoUint64('0x2ddccbc058a50c18')).toBe(0x2ddccbc058a50c18n);
    expect(parseGoUint64('18446744073709551615')).toBe(2n ** 64n - 1n);
    expect(parseGoUint64('18446744073709551616')).toBeUndefined();
    expect(parseGoUint64('010')).toBe(8n);
    expect(parseGoUint64('-1')).toBeUndefined();
    expect(parseGoUint64('+1')).toBeUndefined();
    const bad = new FlagSet('Usage: test');
    bad.uint64('modify-index', 'Index.');
    expect(() => bad.parse(['-modify-index=-3'])).toThrow('invalid value "-3" for flag -modify-index: parse error');
    expect(() => bad.parse(['-modify-index=99999999999999999999'])).toThrow('invalid value "99999999999999999999" for flag -modify-index: value out of range');
  });

  it('appends repeatable flags in order and splits map flags at the first =', () => {
    const s = sample();
    s.fs.parse(['-tag', 'a', '-tag=b', '-meta', 'k=v=w', '-meta=e=', '-meta', 'k=2']);
    expect(s.tag.value).toEqual(['a', 'b']);
    expect(s.meta.value).toEqual({ k: '2', e: '' });
    expect(() => sample().fs.parse(['-meta', 'novalue'])).toThrow('Missing "=" value in argument: novalue');
  });

  it('keeps a __proto__ map key as a plain entry', () => {
    const s = sample();
    s.fs.parse(['-meta', '__proto__=x']);
    expect(Object.keys(s.meta.value)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(s.meta.value)).toBe(Object.prototype);
  });

  it('refuses unknown flags, missing values and bad syntax with Go messages and FLAG_INVALID', () => {
    const cases: [string[], string][] = [
      [['-nope'], 'flag provided but not defined: -nope'],
      [['-name'], 'flag needs an argument: -name'],
      [['---name=x'], 'bad flag syntax: ---name=x'],
      [['-=x'], 'bad flag syntax: -=x'],
    ];
    for (const [argv, message] of cases) {
      let caught: unknown;
      try {
        sample().fs.parse(argv);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(FlagError);
      expect((caught as FlagError).message).toBe(message);
      expect((caught as FlagError).code).toBe(ERR.FLAG_INVALID);
    }
  });

  it('reports -h, -help and --help as a help request', () => {
    for (const h of ['-h', '-help', '--help']) expect(sample().fs.parse(['-detailed', h]).help).toBe(true);
  });
});

describe('FlagSet.usage', () => {
  it('lists HTTP flags and command flags in Consul layout, sorted, with placeholders and defaults', () => {
    const fs = new FlagSet('Usage: herald x [options]');
    fs.string('token', 'The token.', { group: 'http' });
    fs.string('http-addr', 'The address.', { group: 'http', example: 'address' });
    fs.bool('detailed', 'More detail.');
    fs.string('status', 'Status filter.', { default: '.*', example: 'regexp' });
    expect(fs.usage()).toBe(
      [
        'Usage: herald x [options]',
        '',
        'HTTP API Options',
        '',
        '  -http-addr=<address>',
        '     The address.',
        '',
        '  -token=<value>',
        '     The token.',
        '',
        'Command Options',
        '',
        '  -detailed',
        '     More detail.',
        '',
        '  -status=<regexp>',
        '     Status filter. (default: .*)',
        '',
      ].join('\n'),
    );
  });

  it('wraps long descriptions within 72 columns', () => {
    const fs = new FlagSet('Usage: herald x');
    fs.bool('long', 'word '.repeat(40).trim());
    const lines = fs.usage().split('\n');
    expect(lines.length).toBeGreaterThan(6);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(72);
  });
});

describe('parseOrExit', () => {
  it('prints the usage on stdout and exits 0 for -h', () => {
    const io = capture();
    expect(parseOrExit(sample().fs, ['-h'], io)).toBe(0);
    expect(io.stdout.join('\n')).toMatch(/^Usage: herald thing/);
    expect(io.stderr).toEqual([]);
  });

  it('prints the error then the usage on stderr and exits 1 for a bad command line', () => {
    const io = capture();
    expect(parseOrExit(sample().fs, ['-bogus'], io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/^flag provided but not defined: -bogus\n\nUsage: herald thing/);
    expect(io.stdout).toEqual([]);
  });

  it('returns the positional arguments otherwise', () => {
    expect(parseOrExit(sample().fs, ['-detailed', 'a', 'b'], capture())).toEqual(['a', 'b']);
  });
});
