/**
 * Consul's `?filter=` expression language (hashicorp/go-bexpr, the v0.1.x line Consul's HTTP
 * API still uses) compiled to a predicate over plain JSON-like objects. Pure: no I/O, no clock.
 *
 * Grammar (go-bexpr `grammar.peg`, parsed the way its pigeon-generated PEG parser does, so that
 * syntax errors carry the same `<line>:<col> (<byte offset>)` positions and the same
 * "expected" lists):
 *
 *   Input      <- _? Or _? EOF
 *   Or         <- And (_ "or" _ And)*               precedence: not > and > or
 *   And        <- Not (_ "and" _ Not)*
 *   Not        <- "not" _ Not / Paren
 *   Paren      <- "(" _? Or _? ")" / Match
 *   Match      <- Selector ("==" / "!=" / "contains" / "not contains" / "matches" / "not matches") Value
 *               / Selector ("is empty" / "is not empty")
 *               / Value ("in" / "not in") Selector
 *   Selector   <- Identifier ("." Identifier / "[" _? String _? "]")*     Identifier <- [a-zA-Z][a-zA-Z0-9_]*
 *   Value      <- Selector (its dotted text) / Number / String
 *   Number     <- "-"? ("0" / [1-9][0-9]*) ("." [0-9]+)?   followed by whitespace, ")" or EOF
 *   String     <- "…" (Go escapes, strconv.Unquote) / `…` (raw; CRs dropped, as Go does)
 *
 * `==`/`!=` need no surrounding whitespace; word operators (`and`, `in`, `contains`, …) do.
 * Keywords are not reserved: `not == x` compares the field "not".
 *
 * Evaluation follows go-bexpr v0.1.x on Consul's typed structs, adapted to schemaless data:
 * - The raw value is coerced to the type of the value found: strings compare as strings;
 *   booleans via Go's strconv.ParseBool ("true", "T", "1", "false", "f", "0", …); integers via
 *   ParseInt base 0 (so `"0x50"` equals 80); non-integral numbers via ParseFloat.
 * - `in` / `contains`: list → some element equals the value (each element coerced to its own
 *   type); map → has the key; string → substring. `is empty`: list, map or string has length 0.
 * - A list in the middle of a selector is iterated with ANY semantics, the whole operator
 *   (negation included) applied per element: `Checks.Status == passing` is "some check passes",
 *   `Checks.Status != passing` is "some check does not pass", so "all pass" is
 *   `not Checks.Status != passing` (Consul's own subset filters use exactly that). An empty list
 *   there makes every operator false. A list at the end of the selector is not iterated.
 * - A missing key (or a JSON null on the way) behaves like go-bexpr's missing map key:
 *   `==`, `in`, `matches`, `is not empty` are false; `!=`, `not in`, `not matches`, `is empty`
 *   are true.
 *
 * Where Herald diverges from go-bexpr (all because Herald has no schema to check against, or to
 * accept more input, never to change the meaning of an expression Consul accepts):
 * - go-bexpr rejects unknown selectors, operators a field's type does not support (`==` on a
 *   list, `contains` on a number) and values that do not coerce (`Port == abc`) when the filter
 *   is created. Herald cannot know types before it sees data, so such a match is simply false,
 *   for the negated operator too (`Service.Tags != x` is false); a top-level unknown field is
 *   treated as a missing key.
 * - A primitive met with selector parts left over (`Service.Port.x`) is false, like a type error.
 * - `is empty` also works on strings (newer go-bexpr allows it; v0.1.x rejects it).
 * - `\"` inside a double-quoted string is accepted (go-bexpr ends the string at the first `"`
 *   and then fails, so this only turns an error into the obvious meaning).
 * - Regular expressions are Go RE2 in Consul and JS RegExp here. Translated: a leading `(?i)`,
 *   `(?m)`, `(?s)` flag group, `(?P<name>`, `\A`, `\z`, `\Q…\E`, `[[:alpha:]]`-style classes,
 *   `\pL`, `\x{…}`, octal `\123`. Lookaround and backreferences are rejected, as RE2 does;
 *   `(?U)` and flag groups other than a leading one are rejected too (RE2 accepts them), and
 *   JS `.` works on UTF-16 units. An invalid regex fails at compile time, as in go-bexpr v0.1.x.
 *   JS RegExp backtracks where RE2 is linear: a hostile pattern such as `(a+)+$` can take
 *   exponential time on a long value. Callers exposing filters to untrusted clients should
 *   bound the length of the values filtered or of the expression.
 * - Parentheses and `not` may nest at most MAX_NESTING levels (go-bexpr has no limit).
 */

/** Most `(` / `not` levels an expression may nest; deeper input is refused, not recursed into. */
export const MAX_NESTING = 200;

/** Stable code carried by every FilterError (to be listed in src/errors.ts). */
export const FILTER_ERROR_CODE = 'HERALD_ERR_HTTP_API_FILTER';

/**
 * A filter expression that cannot be compiled. The message is Consul's:
 * `Failed to create boolean expression evaluator: <line>:<col> (<byte offset>): <reason>`, one
 * line per distinct error. `position` is the UTF-16 index into the expression of the first error
 * (the message keeps Go's byte offset and rune column).
 */
export class FilterError extends Error {
  readonly code = FILTER_ERROR_CODE;
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.name = 'FilterError';
    this.position = position;
  }
}

/** A compiled filter: true when the item matches. Never throws and never mutates the item. */
export type FilterPredicate = (item: unknown) => boolean;

/**
 * Compiles a go-bexpr expression once; the predicate is then cheap to run per item.
 * Throws FilterError on a syntax error or an invalid regular expression.
 */
export function compileFilter(expr: string): FilterPredicate {
  const src = new Source(expr);
  const ast = new Parser(src).parse();
  return compileNode(ast, src);
}

// ---------------------------------------------------------------------------------------------
// AST

type MatchOp = 'eq' | 'in' | 'empty' | 'matches';

interface MatchNode {
  kind: 'match';
  /** The positive operator; `negate` turns it into !=, not in, is not empty, not matches. */
  op: MatchOp;
  negate: boolean;
  selector: string[];
  /** Raw value text (unquoted string, number text, or a selector's dotted text). */
  value: string;
  /** Code-point index of the value, for errors found after parsing (a bad regex). */
  valueAt: number;
}

type Node =
  | { kind: 'or' | 'and'; terms: Node[] }
  | { kind: 'not'; operand: Node }
  | MatchNode;

// ---------------------------------------------------------------------------------------------
// Parser: a hand-written mirror of go-bexpr's PEG with pigeon's error bookkeeping. Every
// terminal attempt reports to fail(); the farthest failed position and what was expected
// there become the "no match found" message. Predicate errors ("Unterminated string literal")
// are collected and win over that message, as in pigeon.

const WS_WANT = '[ \\t\\r\\n]';
const isWs = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
const isAlpha = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isIdentRest = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 0x5f;
const is1to9 = (c: number): boolean => c >= 0x31 && c <= 0x39;

/** Go's strconv.Quote for the ASCII literals of the grammar: how pigeon names them. */
const want = (lit: string): string => JSON.stringify(lit);

interface ParseErr {
  at: number;
  text: string;
}

interface Value {
  raw: string;
  at: number;
}

/** The expression as code points, with pigeon's position arithmetic. */
class Source {
  readonly cps: number[] = [];
  /** UTF-16 index of each code point, plus one past the end. */
  readonly jsIdx: number[] = [];

  constructor(readonly text: string) {
    let j = 0;
    for (const ch of text) {
      this.cps.push(ch.codePointAt(0)!);
      this.jsIdx.push(j);
      j += ch.length;
    }
    this.jsIdx.push(j);
  }

  /** `<line>:<col> (<byte offset>)` as pigeon's read() counts: col in runes, offset in UTF-8 bytes. */
  where(at: number): string {
    let line = 1;
    let col = 0;
    let offset = 0;
    let width = 0;
    for (let k = 0; k <= at; k++) {
      offset += width;
      const c = this.cps[k];
      width = c === undefined ? 0 : c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      col++;
      if (c === 0x0a) {
        line++;
        col = 0;
      }
    }
    return `${line}:${col} (${offset})`;
  }

  slice(from: number, to: number): string {
    return this.text.slice(this.jsIdx[from], this.jsIdx[to]);
  }
}

class Parser {
  private readonly cps: number[];
  private pos = 0;
  private invert = false;
  private maxFail = 0;
  private readonly expected = new Set<string>();
  private readonly errors: ParseErr[] = [];
  private readonly orMemo = new Map<number, { node: Node | null; end: number }>();
  private depth = 0;

  constructor(private readonly src: Source) {
    this.cps = src.cps;
  }

  parse(): Node {
    let node: Node | null = null;
    try {
      node = this.input();
    } catch (e) {
      if (!(e instanceof NestingError)) throw e;
      this.errors.push({ at: e.at, text: `${this.src.where(e.at)}: expression nests more than ${MAX_NESTING} levels of parentheses or "not"` });
    }
    if (this.errors.length > 0) throw this.toError(this.errors);
    if (node === null) {
      const exp = [...this.expected];
      const eof = exp.includes('!.');
      const list = exp.filter((e) => e !== '!.').sort(byBytes);
      if (eof) list.push('EOF');
      throw this.toError([{ at: this.maxFail, text: `${this.src.where(this.maxFail)}: no match found, expected: ${listJoin(list)}` }]);
    }
    return node;
  }

  private toError(errs: ParseErr[]): FilterError {
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const e of errs) {
      if (seen.has(e.text)) continue;
      seen.add(e.text);
      lines.push(e.text);
    }
    const first = errs[0]!;
    return new FilterError(`Failed to create boolean expression evaluator: ${lines.join('\n')}`, this.src.jsIdx[first.at]!);
  }

  private addErr(rule: string, msg: string, at = this.pos): void {
    this.errors.push({ at, text: `${this.src.where(at)}: rule "${rule}": ${msg}` });
  }

  // ----- pigeon terminals

  private fail(matched: boolean, at: number, what: string): void {
    if (matched !== this.invert || at < this.maxFail) return;
    if (at > this.maxFail) {
      this.maxFail = at;
      this.expected.clear();
    }
    this.expected.add(this.invert ? `!${what}` : what);
  }

  private lit(s: string): boolean {
    const start = this.pos;
    for (let k = 0; k < s.length; k++) {
      if (this.cps[start + k] !== s.charCodeAt(k)) {
        this.fail(false, start, want(s));
        return false;
      }
    }
    this.pos = start + s.length;
    this.fail(true, start, want(s));
    return true;
  }

  private cls(test: (c: number) => boolean, what: string): boolean {
    const c = this.cps[this.pos];
    if (c !== undefined && test(c)) {
      this.pos++;
      this.fail(true, this.pos - 1, what);
      return true;
    }
    this.fail(false, this.pos, what);
    return false;
  }

  private any(): boolean {
    if (this.pos >= this.cps.length) {
      this.fail(false, this.pos, '.');
      return false;
    }
    this.pos++;
    this.fail(true, this.pos - 1, '.');
    return true;
  }

  /** `!e`: succeeds, consuming nothing, when e fails; expectations inside are inverted. */
  private not(e: () => boolean): boolean {
    const save = this.pos;
    this.invert = !this.invert;
    const ok = e();
    this.invert = !this.invert;
    this.pos = save;
    return !ok;
  }

  /** `&e`: succeeds, consuming nothing, when e does. */
  private and(e: () => boolean): boolean {
    const save = this.pos;
    const ok = e();
    this.pos = save;
    return ok;
  }

  /** `_ <- [ \t\r\n]+` */
  private ws(): boolean {
    if (!this.cls(isWs, WS_WANT)) return false;
    while (this.cls(isWs, WS_WANT));
    return true;
  }

  /** `EOF <- !.` */
  private eof(): boolean {
    return this.not(() => this.any());
  }

  // ----- rules

  private input(): Node | null {
    this.ws();
    const e = this.or();
    if (e === null) return null;
    this.ws();
    return this.eof() ? e : null;
  }

  /** Memoised: the third alternative of Paren re-parses the same Or (pigeon's exponential case). */
  private or(): Node | null {
    const start = this.pos;
    const hit = this.orMemo.get(start);
    if (hit !== undefined && !this.invert) {
      this.pos = hit.end;
      return hit.node;
    }
    const node = this.chain('or', () => this.andExpr());
    if (!this.invert) this.orMemo.set(start, { node, end: this.pos });
    return node;
  }

  private andExpr(): Node | null {
    return this.chain('and', () => this.notExpr());
  }

  /** `X (_ kw _ X)*`, the loop form of go-bexpr's right-recursive `X _ kw _ Self / X`. */
  private chain(kw: 'or' | 'and', term: () => Node | null): Node | null {
    const first = term();
    if (first === null) return null;
    const terms = [first];
    for (;;) {
      const save = this.pos;
      if (this.ws() && this.lit(kw) && this.ws()) {
        const next = term();
        if (next !== null) {
          terms.push(next);
          continue;
        }
      }
      this.pos = save;
      break;
    }
    return terms.length === 1 ? first : { kind: kw, terms };
  }

  private notExpr(): Node | null {
    const save = this.pos;
    if (this.lit('not') && this.ws()) {
      this.enter(save);
      const e = this.notExpr();
      this.depth--;
      if (e !== null) return e.kind === 'not' ? e.operand : { kind: 'not', operand: e };
    }
    this.pos = save;
    return this.paren();
  }

  private enter(at: number): void {
    if (++this.depth > MAX_NESTING) throw new NestingError(at);
  }

  private paren(): Node | null {
    const save = this.pos;
    if (this.lit('(')) {
      this.ws();
      this.enter(save);
      const e = this.or();
      this.depth--;
      if (e !== null) {
        this.ws();
        if (this.lit(')')) return e;
      }
    }
    this.pos = save;
    const m = this.match();
    if (m !== null) return m;
    this.pos = save;
    if (this.lit('(')) {
      this.ws();
      if (this.or() !== null) {
        this.ws();
        if (this.not(() => this.lit(')'))) this.addErr('grouping', 'Unmatched parentheses');
      }
    }
    this.pos = save;
    return null;
  }

  private match(): MatchNode | null {
    const save = this.pos;
    // Selector (== / != / contains / not contains / matches / not matches) Value
    let sel = this.selector();
    if (sel !== null) {
      const op = this.valueOp();
      if (op !== null) {
        const v = this.value();
        if (v !== null) return { kind: 'match', ...op, selector: sel, value: v.raw, valueAt: v.at };
      }
    }
    this.pos = save;
    // Selector (is empty / is not empty)
    sel = this.selector();
    if (sel !== null) {
      if (this.words(['is', 'empty'], false)) return { kind: 'match', op: 'empty', negate: false, selector: sel, value: '', valueAt: save };
      if (this.words(['is', 'not', 'empty'], false)) return { kind: 'match', op: 'empty', negate: true, selector: sel, value: '', valueAt: save };
    }
    this.pos = save;
    // Value (in / not in) Selector
    let v = this.value();
    if (v !== null) {
      const negate = this.inOp();
      if (negate !== null) {
        sel = this.selector();
        if (sel !== null) return { kind: 'match', op: 'in', negate, selector: sel, value: v.raw, valueAt: v.at };
      }
    }
    this.pos = save;
    v = this.value();
    if (v !== null && this.inOp() !== null && this.not(() => this.selector() !== null)) {
      this.addErr('match', 'Invalid selector');
    }
    this.pos = save;
    return null;
  }

  private valueOp(): { op: MatchOp; negate: boolean } | null {
    const save = this.pos;
    for (const [sym, negate] of [['==', false], ['!=', true]] as const) {
      this.ws();
      if (this.lit(sym)) {
        this.ws();
        return { op: 'eq', negate };
      }
      this.pos = save;
    }
    if (this.words(['contains'], true)) return { op: 'in', negate: false };
    if (this.words(['not', 'contains'], true)) return { op: 'in', negate: true };
    if (this.words(['matches'], true)) return { op: 'matches', negate: false };
    if (this.words(['not', 'matches'], true)) return { op: 'matches', negate: true };
    return null;
  }

  /** `_ "in" _` → false, `_ "not" _ "in" _` → true, else null. */
  private inOp(): boolean | null {
    if (this.words(['in'], true)) return false;
    if (this.words(['not', 'in'], true)) return true;
    return null;
  }

  /** `_ w1 _ w2 … wn` and, if trailing, a final `_`; restores the position on failure. */
  private words(ws: readonly string[], trailing: boolean): boolean {
    const save = this.pos;
    for (const w of ws) {
      if (!this.ws() || !this.lit(w)) {
        this.pos = save;
        return false;
      }
    }
    if (trailing && !this.ws()) {
      this.pos = save;
      return false;
    }
    return true;
  }

  private selector(): string[] | null {
    const first = this.identifier();
    if (first === null) return null;
    const path = [first];
    for (;;) {
      const save = this.pos;
      if (this.lit('.')) {
        const id = this.identifier();
        if (id !== null) {
          path.push(id);
          continue;
        }
      }
      this.pos = save;
      const key = this.index();
      if (key === null) break;
      path.push(key);
    }
    return path;
  }

  private identifier(): string | null {
    const start = this.pos;
    if (!this.cls(isAlpha, '[a-zA-Z]')) return null;
    while (this.cls(isIdentRest, '[a-zA-Z0-9_]'));
    return this.text(start, this.pos);
  }

  /** `"[" _? String _? "]"`, with go-bexpr's two diagnostic alternatives. */
  private index(): string | null {
    const save = this.pos;
    if (this.lit('[')) {
      this.ws();
      const key = this.string();
      if (key !== null) {
        this.ws();
        if (this.lit(']')) return key;
      }
    }
    this.pos = save;
    if (this.lit('[')) {
      this.ws();
      if (this.not(() => this.string() !== null)) this.addErr('index', 'Invalid index');
    }
    this.pos = save;
    if (this.lit('[')) {
      this.ws();
      if (this.string() !== null) {
        this.ws();
        if (this.not(() => this.lit(']'))) this.addErr('index', 'Unclosed index expression');
      }
    }
    this.pos = save;
    return null;
  }

  private value(): Value | null {
    const at = this.pos;
    const sel = this.selector();
    if (sel !== null) return { raw: sel.join('.'), at };
    this.pos = at;
    const num = this.number();
    if (num !== null) return { raw: num, at };
    this.pos = at;
    const str = this.string();
    if (str !== null) return { raw: str, at };
    this.pos = at;
    return null;
  }

  private number(): string | null {
    const save = this.pos;
    this.lit('-');
    if (this.integerOrFloat() && this.and(() => this.afterNumber())) return this.text(save, this.pos);
    this.pos = save;
    this.lit('-');
    if (this.integerOrFloat() && this.not(() => this.afterNumber())) this.addErr('number', 'Invalid number literal');
    this.pos = save;
    return null;
  }

  /** `AfterNumbers <- &(_ / EOF / ")")` */
  private afterNumber(): boolean {
    return this.and(() => this.ws() || this.eof() || this.lit(')'));
  }

  private integerOrFloat(): boolean {
    if (!this.lit('0')) {
      if (!this.cls(is1to9, '[1-9]')) return false;
      while (this.cls(isDigit, '[0-9]'));
    }
    const save = this.pos;
    if (this.lit('.') && this.cls(isDigit, '[0-9]')) {
      while (this.cls(isDigit, '[0-9]'));
    } else {
      this.pos = save;
    }
    return true;
  }

  private string(): string | null {
    const start = this.pos;
    if (this.lit('`')) {
      while (this.rawChar());
      if (this.lit('`')) return this.text(start + 1, this.pos - 1).replace(/\r/g, '');
    }
    this.pos = start;
    if (this.lit('"')) {
      while (this.dqChar());
      if (this.lit('"')) {
        const s = unquoteGo(this.text(start + 1, this.pos - 1));
        if (s !== undefined) return s;
        // pigeon records the action's error and carries on with Unquote's "" result.
        this.addErr('string', 'invalid syntax', start);
        return '';
      }
    }
    this.pos = start;
    let open = false;
    if (this.lit('`')) {
      while (this.rawChar());
      open = true;
    } else if (this.lit('"')) {
      while (this.dqChar());
      open = true;
    }
    if (open && this.eof()) this.addErr('string', 'Unterminated string literal');
    this.pos = start;
    return null;
  }

  private rawChar(): boolean {
    return this.not(() => this.lit('`')) && this.any();
  }

  /** go-bexpr: `!'"' .`; Herald also lets `\"` (any backslash pair) through. */
  private dqChar(): boolean {
    if (this.cps[this.pos] === 0x5c && this.pos + 1 < this.cps.length) {
      this.pos += 2;
      return true;
    }
    return this.not(() => this.lit('"')) && this.any();
  }

  private text(from: number, to: number): string {
    return this.src.slice(from, to);
  }
}

class NestingError extends Error {
  constructor(readonly at: number) {
    super('nesting');
  }
}

/** Go's sort.Strings order (bytes); the expected items are ASCII. */
function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function listJoin(list: string[]): string {
  if (list.length <= 1) return list.join('');
  return `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
}

// ---------------------------------------------------------------------------------------------
// Go strconv emulation

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c, '"': 0x22 };
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** strconv.Unquote of a double-quoted body; undefined where Go returns ErrSyntax. */
function unquoteGo(body: string): string | undefined {
  if (!body.includes('\\')) return body.includes('\n') ? undefined : body;
  const bytes: number[] = [];
  const pushRune = (cp: number): void => {
    for (const b of utf8.encode(String.fromCodePoint(cp))) bytes.push(b);
  };
  for (let i = 0; i < body.length; ) {
    const cp = body.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (cp === 0x0a) return undefined;
    if (cp !== 0x5c) {
      pushRune(cp);
      i += width;
      continue;
    }
    const e = body[i + 1];
    if (e === undefined) return undefined;
    if (e in SIMPLE_ESCAPES) {
      bytes.push(SIMPLE_ESCAPES[e]!);
      i += 2;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) return undefined;
      const v = parseInt(hex, 16);
      if (e === 'x') bytes.push(v);
      else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return undefined;
      else pushRune(v);
      i += 2 + n;
    } else if (e >= '0' && e <= '7') {
      const oct = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct)) return undefined;
      const v = parseInt(oct, 8);
      if (v > 255) return undefined;
      bytes.push(v);
      i += 4;
    } else {
      return undefined;
    }
  }
  return utf8Decoder.decode(new Uint8Array(bytes));
}

/** strconv.ParseInt(s, 0, 64): sign, 0x / 0o / 0b / leading-0 octal prefixes, `_` separators. */
function parseGoInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)$/.exec(s);
  if (m === null) return undefined;
  const body = m[2]!.replace(/_/g, '');
  let v: bigint;
  if (/^0[xXbBoO]/.test(body)) v = BigInt(body.toLowerCase());
  else if (body.length > 1 && body[0] === '0') v = BigInt(`0o${body.slice(1)}`);
  else v = BigInt(body);
  if (m[1] === '-') v = -v;
  if (v > 0x7fffffffffffffffn || v < -0x8000000000000000n) return undefined;
  return Number(v);
}

/** strconv.ParseFloat(s, 64) for decimal forms, inf and nan. */
function parseGoFloat(s: string): number | undefined {
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return NaN;
  const digits = '[0-9](?:_?[0-9])*';
  const re = new RegExp(`^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  if (!re.test(s)) return undefined;
  return Number(s.replace(/_/g, ''));
}

const GO_BOOLS: Record<string, boolean> = {
  1: true, t: true, T: true, TRUE: true, true: true, True: true,
  0: false, f: false, F: false, FALSE: false, false: false, False: false,
};

// ---------------------------------------------------------------------------------------------
// Compilation to closures

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function compileNode(node: Node, src: Source): FilterPredicate {
  switch (node.kind) {
    case 'or': {
      const fns = node.terms.map((t) => compileNode(t, src));
      return (item) => {
        for (const f of fns) if (f(item)) return true;
        return false;
      };
    }
    case 'and': {
      const fns = node.terms.map((t) => compileNode(t, src));
      return (item) => {
        for (const f of fns) if (!f(item)) return false;
        return true;
      };
    }
    case 'not': {
      const f = compileNode(node.operand, src);
      return (item) => !f(item);
    }
    case 'match':
      return compileMatch(node, src);
  }
}

/** 1 match, 0 no match, -1 the value's type does not support the operator or the raw value. */
type Test = (v: unknown) => 1 | 0 | -1;

function compileMatch(m: MatchNode, src: Source): FilterPredicate {
  const test = makeTest(m, src);
  const { selector, negate } = m;
  const last = selector.length;
  // go-bexpr's NotPresentDisposition: only `is empty` holds for a missing key, negations flip.
  const missing = (m.op === 'empty') !== negate;

  const walk = (value: unknown, i: number): boolean => {
    let v = value;
    for (;;) {
      if (v === null || v === undefined) return missing;
      if (i === last) {
        const r = test(v);
        return r < 0 ? false : negate ? r === 0 : r === 1;
      }
      if (Array.isArray(v)) {
        for (const el of v) if (walk(el, i)) return true;
        return false;
      }
      if (typeof v !== 'object') return false;
      const key = selector[i]!;
      if (!hasOwn(v, key)) return missing;
      v = (v as Record<string, unknown>)[key];
      i++;
    }
  };
  return (item) => walk(item, 0);
}

function makeTest(m: MatchNode, src: Source): Test {
  const raw = m.value;
  const asInt = parseGoInt(raw);
  const asFloat = parseGoFloat(raw);
  const asBool = hasOwn(GO_BOOLS, raw) ? GO_BOOLS[raw] : undefined;

  const equals: Test = (v) => {
    switch (typeof v) {
      case 'string':
        return v === raw ? 1 : 0;
      case 'number': {
        const want = Number.isInteger(v) ? asInt : asFloat;
        return want === undefined ? -1 : v === want ? 1 : 0;
      }
      case 'boolean':
        return asBool === undefined ? -1 : v === asBool ? 1 : 0;
      default:
        return -1;
    }
  };

  switch (m.op) {
    case 'eq':
      return equals;
    case 'in':
      return (v) => {
        if (typeof v === 'string') return v.includes(raw) ? 1 : 0;
        if (Array.isArray(v)) {
          for (const el of v) if (equals(el) === 1) return 1;
          return 0;
        }
        if (typeof v === 'object' && v !== null) return hasOwn(v, raw) ? 1 : 0;
        return -1;
      };
    case 'empty':
      return (v) => {
        if (typeof v === 'string' || Array.isArray(v)) return v.length === 0 ? 1 : 0;
        if (typeof v === 'object' && v !== null) {
          for (const k in v) if (hasOwn(v, k)) return 0;
          return 1;
        }
        return -1;
      };
    case 'matches': {
      const re = compileRegex(m, src);
      return (v) => (typeof v === 'string' ? (re.test(v) ? 1 : 0) : -1);
    }
  }
}

function compileRegex(m: MatchNode, src: Source): RegExp {
  try {
    const { source, flags } = translateRe2(m.value);
    return new RegExp(source, flags);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new FilterError(
      `Failed to create boolean expression evaluator: ${src.where(m.valueAt)}: Failed to compile regular expression ${JSON.stringify(m.value)}: ${reason}`,
      src.jsIdx[m.valueAt]!,
    );
  }
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ', upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

/** Rewrites the RE2 constructs JS spells differently; throws on the ones it cannot express. */
function translateRe2(src: string): { source: string; flags: string } {
  let flags = '';
  let i = 0;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(src);
  if (lead !== null) {
    for (const f of lead[1]!) {
      if (f !== 'i' && f !== 'm' && f !== 's') throw new Error(`unsupported flag (?${f}) (RE2 flags i, m, s are translated)`);
      if (!flags.includes(f)) flags += f;
    }
    i = lead[0].length;
  }
  let out = '';
  let inClass = false;
  let unicode = false;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\\') {
      const d = src[i + 1];
      if (d === undefined) throw new Error('trailing backslash at end of expression');
      if (d === 'Q') {
        const end = src.indexOf('\\E', i + 2);
        const lit = src.slice(i + 2, end < 0 ? src.length : end);
        out += lit.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
        i = end < 0 ? src.length : end + 2;
      } else if (!inClass && d === 'z') {
        out += '(?![\\s\\S])';
        i += 2;
      } else if (!inClass && d === 'A') {
        out += '(?<![\\s\\S])';
        i += 2;
      } else if (d === 'p' || d === 'P') {
        unicode = true;
        if (src[i + 2] === '{') {
          const end = src.indexOf('}', i + 3);
          if (end < 0) throw new Error('invalid character class range');
          out += src.slice(i, end + 1);
          i = end + 1;
        } else {
          if (src[i + 2] === undefined) throw new Error('invalid character class range');
          out += `\\${d}{${src[i + 2]}}`;
          i += 3;
        }
      } else if (d >= '0' && d <= '9') {
        // RE2: \0-\7 start an octal escape of up to three digits; a backreference is an error.
        const oct = /^[0-7]{1,3}/.exec(src.slice(i + 1))?.[0];
        if (oct === undefined || (d !== '0' && oct.length === 1)) throw new Error(`invalid escape sequence: \`\\${d}\``);
        out += `\\u${parseInt(oct, 8).toString(16).padStart(4, '0')}`;
        i += 1 + oct.length;
      } else if (d === 'x' && src[i + 2] === '{') {
        const end = src.indexOf('}', i + 3);
        if (end < 0) throw new Error('invalid escape sequence');
        out += `\\u{${src.slice(i + 3, end)}}`;
        unicode = true;
        i = end + 1;
      } else {
        out += c + d;
        i += 2;
      }
      continue;
    }
    if (inClass) {
      if (c === '[' && src[i + 1] === ':') {
        const end = src.indexOf(':]', i + 2);
        if (end >= 0) {
          const name = src.slice(i + 2, end);
          const range = POSIX_CLASSES[name];
          if (range === undefined) throw new Error(`invalid character class range: [:${name}:]`);
          out += range;
          i = end + 2;
          continue;
        }
      }
      if (c === ']') inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i++;
      if (src[i] === '^') {
        out += '^';
        i++;
      }
      // RE2: a `]` first in a class is literal; in JS `[]` is the empty class.
      if (src[i] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (/^\(\?(=|!|<=|<!)/.test(src.slice(i, i + 4))) {
      throw new Error(`invalid or unsupported Perl syntax: \`${src.slice(i, src[i + 2] === '<' ? i + 4 : i + 3)}\``);
    }
    if (src.startsWith('(?P<', i)) {
      out += '(?<';
      i += 4;
      continue;
    }
    out += c;
    i++;
  }
  return { source: out, flags: unicode ? `${flags}u` : flags };
}
