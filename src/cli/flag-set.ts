/**
 * Command-line flags for the `herald` client commands, parsed the way Go's `flag` package
 * parses them for Consul's CLI: `-x`, `--x`, `-x=v` and `-x v`; a boolean flag takes a value
 * only as `-x=false`; parsing stops at the first argument that is not a flag (or after `--`),
 * so flags come before positional arguments; `-h`/`-help` ask for the usage text. The usage
 * text is laid out as Consul's `flags.Usage` does (HTTP API Options, then Command Options).
 */
import { ERR, HeraldError } from '../errors.ts';
import type { CliIo } from './output.ts';

/** A parsed flag's value, filled in by `FlagSet.parse`. `set` is true when it was given. */
export interface Flag<T> {
  value: T;
  set: boolean;
}

/** A refused command line (unknown flag, missing or malformed value, bad arguments). */
export class FlagError extends HeraldError {
  constructor(message: string) {
    super(ERR.FLAG_INVALID, message);
    this.name = 'FlagError';
  }
}

type Kind = 'bool' | 'string' | 'int' | 'uint64' | 'list' | 'map';

interface FlagDef {
  name: string;
  kind: Kind;
  usage: string;
  /** What the usage line shows as the value (`-http-addr=<address>`). */
  example: string;
  /** Shown after the usage as `(default)`, when not empty. */
  defaultText: string;
  group: 'http' | 'command';
  flag: Flag<unknown>;
}

/** Go's strconv.ParseBool, which the flag package uses for `-flag=value`. */
const BOOLS: Record<string, boolean> = {
  '1': true, t: true, T: true, true: true, TRUE: true, True: true,
  '0': false, f: false, F: false, false: false, FALSE: false, False: false,
};

/** Consul's usage text wraps flag descriptions at 72 columns, indented by 5. */
const USAGE_WIDTH = 72;
const USAGE_PAD = 5;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The flags of one command and its usage text. Define flags, then call `parse` once. */
export class FlagSet {
  private readonly defs = new Map<string, FlagDef>();

  /** `usage` is the command's help text (`Usage: herald members [options]` and a summary). */
  constructor(private readonly usageText: string) {}

  private define<T>(name: string, kind: Kind, usage: string, initial: T, opts: FlagOptions): Flag<T> {
    if (this.defs.has(name)) throw new Error(`flag redefined: ${name}`);
    const flag: Flag<T> = { value: initial, set: false };
    this.defs.set(name, {
      name,
      kind,
      usage,
      example: opts.example ?? (kind === 'bool' ? '' : 'value'),
      defaultText: opts.defaultText ?? '',
      group: opts.group ?? 'command',
      flag: flag as Flag<unknown>,
    });
    return flag;
  }

  bool(name: string, usage: string, opts: FlagOptions = {}): Flag<boolean> {
    return this.define(name, 'bool', usage, false, opts);
  }

  string(name: string, usage: string, opts: FlagOptions & { default?: string } = {}): Flag<string> {
    return this.define(name, 'string', usage, opts.default ?? '', { defaultText: opts.default, ...opts });
  }

  /** A Go `int` flag: decimal, or 0x/0o/0b prefixed, optionally signed. */
  int(name: string, usage: string, opts: FlagOptions & { default?: number } = {}): Flag<number> {
    return this.define(name, 'int', usage, opts.default ?? 0, opts);
  }

  /**
   * A Go `uint64` flag (Consul's `-flags`, `-modify-index`) as a bigint, so values above 2^53
   * survive: decimal, or 0x/0o/0b prefixed, no sign.
   */
  uint64(name: string, usage: string, opts: FlagOptions = {}): Flag<bigint> {
    return this.define(name, 'uint64', usage, 0n, opts);
  }

  /** Repeatable: every occurrence is kept, in order (Consul's AppendSliceValue). */
  list(name: string, usage: string, opts: FlagOptions = {}): Flag<string[]> {
    return this.define<string[]>(name, 'list', usage, [], opts);
  }

  /**
   * Repeatable `key=value` (Consul's FlagMapValue): split at the first `=`; a later key
   * replaces an earlier one. A value without `=` is refused.
   */
  map(name: string, usage: string, opts: FlagOptions = {}): Flag<Record<string, string>> {
    return this.define<Record<string, string>>(name, 'map', usage, {}, { example: 'key=value', ...opts });
  }

  /**
   * Fills in the flags from `argv` and returns the positional arguments (everything from the
   * first non-flag argument on, or after `--`). `help` is true when `-h`, `-help` or `--help`
   * came before any positional argument; parsing stops there. Throws FlagError with Go's
   * messages (`flag provided but not defined: -x`, `flag needs an argument: -x`, ...).
   */
  parse(argv: readonly string[]): { args: string[]; help: boolean } {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (arg === '--') return { args: argv.slice(i + 1), help: false };
      if (arg.length < 2 || arg[0] !== '-') return { args: argv.slice(i), help: false };
      const body = arg[1] === '-' ? arg.slice(2) : arg.slice(1);
      if (body === '' || body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${arg}`);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      const def = this.defs.get(name);
      if (!def) {
        if (name === 'h' || name === 'help') return { args: [], help: true };
        throw new FlagError(`flag provided but not defined: -${name}`);
      }
      if (def.kind === 'bool') {
        let v = true;
        if (eq >= 0) {
          const text = body.slice(eq + 1);
          if (!Object.hasOwn(BOOLS, text)) throw new FlagError(`invalid boolean value ${JSON.stringify(text)} for -${name}: parse error`);
          v = BOOLS[text]!;
        }
        def.flag.value = v;
        def.flag.set = true;
        continue;
      }
      let value: string;
      if (eq >= 0) value = body.slice(eq + 1);
      else {
        // As in Go, the next argument is the value even when it starts with a dash.
        if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: -${name}`);
        value = argv[++i]!;
      }
      this.assign(def, value);
    }
    return { args: [], help: false };
  }

  private assign(def: FlagDef, value: string): void {
    const bad = (why: string): FlagError => new FlagError(`invalid value ${JSON.stringify(value)} for flag -${def.name}: ${why}`);
    switch (def.kind) {
      case 'string':
        def.flag.value = value;
        break;
      case 'int': {
        const n = parseGoInt(value);
        if (n === undefined) throw bad('parse error');
        def.flag.value = n;
        break;
      }
      case 'uint64': {
        const n = parseGoUint64(value);
        if (n === undefined) throw bad(/^\d+$/.test(value) ? 'value out of range' : 'parse error');
        def.flag.value = n;
        break;
      }
      case 'list':
        (def.flag.value as string[]).push(value);
        break;
      case 'map': {
        const eq = value.indexOf('=');
        if (eq < 0) throw bad(`Missing "=" value in argument: ${value}`);
        // defineProperty: a key such as `__proto__` must become a plain entry, not a prototype.
        Object.defineProperty(def.flag.value, value.slice(0, eq), {
          value: value.slice(eq + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        break;
      }
      case 'bool':
        break;
    }
    def.flag.set = true;
  }

  /** The help text: the command's usage, then its flags grouped as Consul prints them. */
  usage(): string {
    const parts = [this.usageText.trim(), ''];
    for (const [group, title] of [['http', 'HTTP API Options'], ['command', 'Command Options']] as const) {
      const defs = [...this.defs.values()].filter((d) => d.group === group).sort((a, b) => (a.name < b.name ? -1 : 1));
      if (defs.length === 0) continue;
      parts.push(title, '');
      for (const d of defs) {
        parts.push(d.example ? `  -${d.name}=<${d.example}>` : `  -${d.name}`);
        const text = d.defaultText ? `${d.usage} (default: ${d.defaultText})` : d.usage;
        for (const line of wrap(text, USAGE_WIDTH - USAGE_PAD)) parts.push(' '.repeat(USAGE_PAD) + line);
        parts.push('');
      }
    }
    return parts.join('\n').trimEnd() + '\n';
  }
}

export interface FlagOptions {
  /** The placeholder in the usage line (`-http-addr=<address>`). */
  example?: string;
  /** Default shown in the usage text. */
  defaultText?: string;
  /** `http` groups the flag under "HTTP API Options" as Consul does. */
  group?: 'http' | 'command';
}

/** strconv.ParseInt(s, 0, 64) within JS's safe integers; undefined when it is not one. */
export function parseGoInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const digits = m[2]!;
  let n: number;
  // Go's base-0 rule: a bare leading 0 means octal.
  if (/^0[0-7]+$/.test(digits)) n = parseInt(digits.slice(1), 8);
  else n = Number(digits);
  if (m[1] === '-') n = -n;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** strconv.ParseUint(s, 0, 64) as a bigint; undefined when it is not one or exceeds 2^64-1. */
export function parseGoUint64(s: string): bigint | undefined {
  // ParseUint permits no sign.
  const m = /^(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const digits = m[1]!;
  // Go's base-0 rule: a bare leading 0 means octal.
  const n = /^0[0-7]+$/.test(digits) ? BigInt('0o' + digits.slice(1)) : BigInt(digits);
  return n <= 0xffff_ffff_ffff_ffffn ? n : undefined;
}

/**
 * Parses a command's argv for its `run`: returns the positional arguments, or the exit code
 * when the command must stop here: 0 after printing the usage for `-h`/`-help` (stdout), 1
 * after printing the error and the usage for a bad command line (stderr).
 */
export function parseOrExit(fs: FlagSet, argv: readonly string[], io: CliIo): string[] | number {
  let parsed: { args: string[]; help: boolean };
  try {
    parsed = fs.parse(argv);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    return usageError(fs, io, err.message);
  }
  if (parsed.help) {
    io.out(fs.usage().trimEnd());
    return 0;
  }
  return parsed.args;
}

/**
 * Parse a command that takes flags only: the exit code to return (help, a bad flag, or a
 * positional argument), or undefined to go on.
 */
export function parseNoArgs(fs: FlagSet, argv: readonly string[], io: CliIo): number | undefined {
  const args = parseOrExit(fs, argv, io);
  if (typeof args === 'number') return args;
  if (args.length > 0) return usageError(fs, io, `Too many arguments (expected 0, got ${args.length})`);
  return undefined;
}

/** Prints `message`, a blank line and the usage to stderr; returns exit code 1. */
export function usageError(fs: FlagSet, io: CliIo, message: string): number {
  io.err(`${message}\n\n${fs.usage().trimEnd()}`);
  return 1;
}

/**
 * Run `<group> <sub> ...` from a table of subcommands: help on `-h`, the group's usage (exit 1)
 * when no subcommand or an unknown one is given, as Consul's CLI does.
 */
export function dispatchSubcommand(
  group: string,
  argv: readonly string[],
  table: Record<string, (rest: string[], io: CliIo) => Promise<number>>,
  help: string,
  io: CliIo,
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== undefined && Object.hasOwn(table, sub)) return table[sub]!(rest, io);
  if (sub === '-h' || sub === '-help' || sub === '--help') {
    io.out(help.trim());
    return Promise.resolve(0);
  }
  io.err(sub === undefined ? help.trim() : `Unknown subcommand: "${group} ${sub}"\n\n${help.trim()}`);
  return Promise.resolve(1);
}
