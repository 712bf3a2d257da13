/**
 * Reading Consul-style JSON objects field by field: keys matched without regard to case (as Go's
 * encoding/json and Consul's config decoder do, spec section 0), snake_case and CamelCase
 * spellings of each key, explicit aliases, typed readers, and problems collected as issues that
 * name the key path (`services[0].checks[1].interval`) and, inside a file, its line.
 */
import { parseDuration } from '../duration.ts';
import { ERR, HeraldError, type ErrorCode } from '../errors.ts';

/** One problem found in a config file, a flag, or an API body. */
export interface ConfigIssue {
  code: ErrorCode;
  /** Key path inside the document (`services[0].checks[1].interval`), a flag (`-dns-port`), or ''. */
  path: string;
  /** What is wrong, in Consul's words where Consul has them (`Missing service name`). */
  message: string;
  file?: string;
  line?: number;
  column?: number;
}

/** `file:line: path: message`, leaving out the parts that are unknown. */
export function formatIssue(issue: ConfigIssue): string {
  let where = '';
  if (issue.file !== undefined) {
    where = issue.file;
    if (issue.line !== undefined) where += `:${issue.line}`;
    if (issue.column !== undefined) where += `:${issue.column}`;
    where += ': ';
  }
  return `${where}${issue.path ? issue.path + ': ' : ''}${issue.message}`;
}

/**
 * A refused configuration (or API body). `issues` lists every problem found, in the order found;
 * the message has one line per issue, the first line being the first issue. The code is the first
 * issue's code.
 */
export class ConfigError extends HeraldError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    if (issues.length === 0) throw new Error('ConfigError needs at least one issue');
    super(issues[0]!.code, issues.map(formatIssue).join('\n'));
    this.issues = issues;
    this.name = 'ConfigError';
  }
}

/** Stop collecting after this many: a file that is wrong everywhere should not print forever. */
const MAX_ISSUES = 100;

/**
 * Collects issues for one source (a file, the flags, an API body). Scopes made with `scoped`
 * share one list, so a whole load reports every problem at once.
 */
export class Issues {
  constructor(
    readonly list: ConfigIssue[] = [],
    readonly file?: string,
    readonly code: ErrorCode = ERR.CONFIG_INVALID,
    private readonly locate?: (path: string) => { line: number; column: number } | undefined,
  ) {}

  /** Same list, another source. */
  scoped(
    file: string | undefined,
    code: ErrorCode,
    locate?: (path: string) => { line: number; column: number } | undefined,
  ): Issues {
    return new Issues(this.list, file, code, locate);
  }

  /** Where `path` is in this source: its own line, or the nearest enclosing key's line. */
  where(path: string): { file?: string; line?: number } {
    if (!this.locate) return { file: this.file };
    for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
      const at = this.locate(p);
      if (at) return { file: this.file, line: at.line };
    }
    return { file: this.file };
  }

  add(path: string, message: string, code: ErrorCode = this.code): void {
    this.addAt(this.where(path), path, message, code);
  }

  /** Records an issue at an explicit place (cross-file checks, JSON syntax errors). */
  addAt(
    at: { file?: string; line?: number; column?: number },
    path: string,
    message: string,
    code: ErrorCode = this.code,
  ): void {
    if (this.list.length >= MAX_ISSUES) return;
    const issue: ConfigIssue = { code, path, message };
    if (at.file !== undefined) issue.file = at.file;
    if (at.line !== undefined) issue.line = at.line;
    if (at.column !== undefined) issue.column = at.column;
    this.list.push(issue);
  }

  get count(): number {
    return this.list.length;
  }

  /** Throws a ConfigError carrying every issue collected so far, if there is one. */
  throwIfAny(): void {
    if (this.list.length > 0) throw new ConfigError(this.list.slice());
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const LAST_SEGMENT = /(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])$/;

/** `base.key`, or `base["odd key"]` when the key is not an identifier. */
export function joinKey(base: string, key: string): string {
  if (IDENT.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}

/** `base[i]`. */
export function joinIndex(base: string, i: number): string {
  return `${base}[${i}]`;
}

/** The enclosing path ('' for a top-level key), undefined for ''. */
export function parentPath(path: string): string | undefined {
  if (path === '') return undefined;
  const m = LAST_SEGMENT.exec(path);
  if (m) return path.slice(0, m.index);
  // A bare top-level identifier.
  return '';
}

/** A key's canonical snake_case name, plus extra spellings beyond snake_case and CamelCase. */
export type Schema = Record<string, readonly string[]>;

/** Keys that are Consul's but not Herald's, with the reason shown when one is set. */
export type Unsupported = Record<string, string>;

export interface ReadMode {
  /** 'error' for config files (Consul refuses unknown keys), 'ignore' for API bodies (Go's json does). */
  unknownKeys: 'error' | 'ignore';
  source: 'file' | 'api';
}

/** Lowercased, underscores dropped: the spelling Go's case-insensitive match of a CamelCase field sees. */
const squash = (s: string) => s.toLowerCase().replace(/_/g, '');

interface Entry {
  key: string;
  value: unknown;
}

function lookupTable(schema: Schema): Map<string, string> {
  const table = new Map<string, string>();
  for (const [canonical, extra] of Object.entries(schema)) {
    table.set(canonical.toLowerCase(), canonical);
    table.set(squash(canonical), canonical);
    for (const alias of extra) {
      table.set(alias.toLowerCase(), canonical);
      table.set(squash(alias), canonical);
    }
  }
  return table;
}

const tables = new WeakMap<Schema, Map<string, string>>();
const unsupportedTables = new WeakMap<Unsupported, Map<string, string>>();

function tableFor(schema: Schema): Map<string, string> {
  let t = tables.get(schema);
  if (!t) tables.set(schema, (t = lookupTable(schema)));
  return t;
}

function unsupportedFor(u: Unsupported): Map<string, string> {
  let t = unsupportedTables.get(u);
  if (!t) {
    t = new Map();
    for (const [k, reason] of Object.entries(u)) {
      t.set(k.toLowerCase(), reason);
      t.set(squash(k), reason);
    }
    unsupportedTables.set(u, t);
  }
  return t;
}

/**
 * A duration value in ms, or undefined after recording an issue. Strings are Go durations.
 * Numbers: in API bodies they are nanoseconds (Consul's CheckType.UnmarshalJSON takes a float64
 * as a time.Duration); in config files only 0 is accepted, because Consul's file decoder turns a
 * number into a string that then lacks a unit. Values below `min` (default 0) are refused.
 */
export function readDuration(
  v: unknown,
  path: string,
  issues: Issues,
  source: 'file' | 'api',
  min = 0,
): number | undefined {
  let ms: number;
  if (typeof v === 'string') {
    try {
      ms = parseDuration(v);
    } catch (e) {
      issues.add(path, (e as Error).message);
      return undefined;
    }
  } else if (typeof v === 'number' && Number.isFinite(v)) {
    if (source === 'api') ms = v / 1e6;
    else if (v === 0) ms = 0;
    else {
      issues.add(path, `missing unit in duration ${v}: config files take duration strings such as "10s" or "1m30s"`);
      return undefined;
    }
  } else {
    issues.add(path, `must be a duration string such as "10s", not ${describe(v)}`);
    return undefined;
  }
  if (ms < min) {
    issues.add(path, min === 0 ? 'must not be negative' : min <= Number.MIN_VALUE ? 'must be greater than 0' : `must be at least ${min}ms`);
    return undefined;
  }
  return ms;
}

/** An empty value (`""`, 0, false, null, `[]`, `{}`): what clients send for a field they do not use. */
export function isEmptyValue(v: unknown): boolean {
  if (v === null || v === undefined || v === '' || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What a JSON value is, for messages: `a string`, `an array`, `null` ... */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  return typeof v;
}

/**
 * The fields of one JSON object, matched against a schema. `null` values count as absent
 * (the Go client sends `"Check": null`). Typed readers return undefined for absent or wrong
 * values, recording an issue for the wrong ones.
 */
export class Fields {
  /** True when a key from the `unsupported` list was set (callers skip follow-on checks then). */
  unsupportedSeen = false;

  private constructor(
    readonly path: string,
    readonly issues: Issues,
    readonly mode: ReadMode,
    private readonly entries: Map<string, Entry>,
  ) {}

  /**
   * Matches `value`'s keys against `schema`. Returns undefined (with an issue) when `value` is not
   * an object. Unknown keys are issues in 'error' mode; keys in `unsupported` are issues whenever
   * set to a non-empty value, in both modes (silently ignoring them would change meaning).
   */
  static read(
    value: unknown,
    path: string,
    schema: Schema,
    issues: Issues,
    mode: ReadMode,
    unsupported?: Unsupported,
  ): Fields | undefined {
    if (!isPlainObject(value)) {
      issues.add(path, `must be an object, not ${describe(value)}`);
      return undefined;
    }
    const table = tableFor(schema);
    const unsup = unsupported ? unsupportedFor(unsupported) : undefined;
    const entries = new Map<string, Entry>();
    let unsupportedSeen = false;
    for (const key of Object.keys(value)) {
      const v = value[key];
      const lower = key.toLowerCase();
      const canonical = table.get(lower) ?? table.get(squash(key));
      if (canonical === undefined) {
        const reason = unsup?.get(lower) ?? unsup?.get(squash(key));
        if (reason !== undefined) {
          if (!isEmptyValue(v)) {
            issues.add(joinKey(path, key), reason);
            unsupportedSeen = true;
          }
        } else if (mode.unknownKeys === 'error') {
          issues.add(joinKey(path, key), `unknown key ${JSON.stringify(key)}`);
        }
        continue;
      }
      const prev = entries.get(canonical);
      if (prev) {
        issues.add(joinKey(path, key), `${JSON.stringify(prev.key)} and ${JSON.stringify(key)} both set ${canonical}`);
        continue;
      }
      if (v === null) continue;
      entries.set(canonical, { key, value: v });
    }
    const fields = new Fields(path, issues, mode, entries);
    fields.unsupportedSeen = unsupportedSeen;
    return fields;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The raw value (undefined when absent or null). */
  raw(name: string): unknown {
    return this.entries.get(name)?.value;
  }

  /** The key's path as written in the document, or with the canonical name when absent. */
  pathOf(name: string): string {
    return joinKey(this.path, this.entries.get(name)?.key ?? name);
  }

  /** The key as written (for messages), or the canonical name. */
  keyOf(name: string): string {
    return this.entries.get(name)?.key ?? name;
  }

  private bad(name: string, expected: string, v: unknown): undefined {
    this.issues.add(this.pathOf(name), `must be ${expected}, not ${describe(v)}`);
    return undefined;
  }

  string(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return this.bad(name, 'a string', v);
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') return this.bad(name, 'true or false', v);
    return v;
  }

  /** An integer in [min, max]. */
  int(name: string, min: number, max: number): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) return this.bad(name, 'an integer', v);
    if (v < min || v > max) {
      this.issues.add(this.pathOf(name), `must be between ${min} and ${max}, not ${v}`);
      return undefined;
    }
    return v;
  }

  /**
   * A duration in ms. Strings are Go durations. Numbers: in API bodies they are nanoseconds (Consul's
   * CheckType.UnmarshalJSON takes a float64 as a time.Duration); in config files only 0 is accepted,
   * because Consul's file decoder turns a number into a string that then lacks a unit.
   */
  duration(name: string, opts: { min?: number } = {}): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    return readDuration(v, this.pathOf(name), this.issues, this.mode.source, opts.min);
  }

  /** An array of strings (`null` elements are refused). */
  stringList(name: string): string[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return this.bad(name, 'an array of strings', v);
    const out: string[] = [];
    let ok = true;
    v.forEach((item, i) => {
      if (typeof item !== 'string') {
        this.issues.add(joinIndex(this.pathOf(name), i), `must be a string, not ${describe(item)}`);
        ok = false;
      } else out.push(item);
    });
    return ok ? out : undefined;
  }

  /** An object whose values are all strings; keys are data, kept exactly as written. */
  stringMap(name: string): Record<string, string> | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!isPlainObject(v)) return this.bad(name, 'an object of strings', v);
    const out: Record<string, string> = Object.create(null);
    let ok = true;
    for (const [k, item] of Object.entries(v)) {
      if (typeof item !== 'string') {
        this.issues.add(joinKey(this.pathOf(name), k), `must be a string, not ${describe(item)}`);
        ok = false;
      } else out[k] = item;
    }
    return ok ? { ...out } : undefined;
  }

  /** A nested object read against its own schema. */
  object(name: string, schema: Schema, unsupported?: Unsupported): Fields | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    return Fields.read(v, this.pathOf(name), schema, this.issues, this.mode, unsupported);
  }

  /**
   * One object or an array of them, each with its path: `service` and `services` both take
   * either form (HCL repeats `service {}` blocks, which decode to a list).
   */
  objectList(name: string): { value: unknown; path: string }[] {
    const v = this.raw(name);
    if (v === undefined) return [];
    const path = this.pathOf(name);
    if (Array.isArray(v)) return v.map((item, i) => ({ value: item, path: joinIndex(path, i) }));
    return [{ value: v, path }];
  }
}
