/**
 * How the client commands print: through a `CliIo` (stdout lines, stderr lines, environment),
 * in the layouts Consul's CLI uses so scripts that parse `consul ...` output keep working:
 * ryanuber/columnize tables (members, catalog nodes), text/tabwriter pairs (catalog services
 * -tags), and indented JSON for `-format=json`.
 */
import { usageError, type Flag, type FlagSet } from './flag-set.ts';

/** Where a command writes. `out`/`err` take one message and add the newline (mitchellh/cli's Ui). */
export interface CliIo {
  out(message: string): void;
  err(message: string): void;
  env: Record<string, string | undefined>;
}

/** The real process: stdout, stderr, process.env. */
export const processIo: CliIo = {
  out: (message) => void process.stdout.write(message + '\n'),
  err: (message) => void process.stderr.write(message + '\n'),
  env: process.env,
};

/** Characters a terminal shows for `s` (code points; no East Asian width tables). */
function displayWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * columnize.Format with Consul's settings: every cell is trimmed, each column but the last is
 * padded to its widest cell and followed by two spaces, the last is printed as is. Rows may
 * have different lengths (a row pads only the columns it has). No trailing newline.
 */
export function columnize(rows: readonly (readonly string[])[]): string {
  const glue = '  ';
  const trimmed = rows.map((r) => r.map((c) => c.trim()));
  const widths: number[] = [];
  for (const row of trimmed) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell));
    });
  }
  return trimmed
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - displayWidth(cell)) + glue)).join(''))
    .join('\n');
}

/**
 * What `consul catalog services -tags` prints: Go's tabwriter (minwidth 0, padding 6, pad with
 * spaces) over `name\ttags` lines, the whole output then trimmed (strings.TrimSpace), so only
 * the last line loses its trailing padding.
 */
export function tabwriterPairs(rows: readonly (readonly [string, string])[]): string {
  const padding = 6;
  const width = Math.max(0, ...rows.map(([a]) => displayWidth(a))) + padding;
  const text = rows.map(([a, b]) => a + ' '.repeat(width - displayWidth(a)) + b).join('\n');
  return text.trim();
}

/**
 * Re-indents JSON text with four spaces (Go's json.MarshalIndent, as Consul's `-format=json`
 * prints) without parsing values: numbers stay exactly as the API sent them, so uint64 indexes
 * above 2^53 survive (spec section 0). Throws SyntaxError when `text` is not JSON.
 */
export function prettyJson(text: string): string {
  JSON.parse(text); // validate first: the re-indenter below trusts its input
  const indent = '    ';
  let out = '';
  let depth = 0;
  let i = 0;
  const nextSignificant = (from: number): string => {
    let j = from;
    while (j < text.length && ' \t\r\n'.includes(text[j]!)) j++;
    return text[j] ?? '';
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (' \t\r\n'.includes(c)) {
      i++;
      continue;
    }
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      // Go prints an empty object or array as `{}` / `[]`.
      if (nextSignificant(i + 1) === close) {
        out += c + close;
        i = text.indexOf(close, i + 1) + 1;
        continue;
      }
      depth++;
      out += c + '\n' + indent.repeat(depth);
    } else if (c === '}' || c === ']') {
      depth--;
      out += '\n' + indent.repeat(depth) + c;
    } else if (c === ',') {
      out += ',\n' + indent.repeat(depth);
    } else if (c === ':') {
      out += ': ';
    } else {
      out += c;
    }
    i++;
  }
  return out;
}

/** Go's fmt `%s` of a JSON value as Consul prints Stats and tags: strings bare, the rest as JSON. */
export function plainText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** `k1=v1<joiner>k2=v2`, keys in byte order (Consul's mapToKV). Non-objects give ''. */
export function mapToKV(m: unknown, joiner: string): string {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return '';
  return Object.keys(m)
    .sort(byteOrder)
    .map((k) => `${k}=${plainText((m as Record<string, unknown>)[k])}`)
    .join(joiner);
}

/** Go's sort.Strings order for the ASCII names Consul sorts (UTF-16 order otherwise). */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `-format`: `pretty` (the table, the default) or `json` (indented API answer). */
export type OutputFormat = 'pretty' | 'json';

/** Registers `-format` on a list command. Call `formatOrExit` after parsing to validate it. */
export function addFormatFlag(fs: FlagSet): Flag<string> {
  return fs.string('format', 'Output format: pretty (a table, as Consul prints it) or json (the API answer, indented).', {
    default: 'pretty',
    example: 'pretty|json',
  });
}

/** `-format` checked for a list command: the format, or exit code 1 after printing the usage. */
export function formatOrExit(fs: FlagSet, flag: Flag<string>, io: CliIo): OutputFormat | number {
  return outputFormat(flag) ?? usageError(fs, io, `Invalid format: ${JSON.stringify(flag.value)} (use pretty or json)`);
}

/** The validated `-format`; undefined when it names no known format. */
export function outputFormat(flag: Flag<string>): OutputFormat | undefined {
  return flag.value === 'pretty' || flag.value === 'json' ? flag.value : undefined;
}
