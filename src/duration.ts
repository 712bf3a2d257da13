/**
 * Go duration strings, both ways. Consul's config files, HTTP bodies and query parameters carry
 * durations as Go `time.Duration` strings (`"10s"`, `"1m30s"`, `"0.001s"`, `"30000ms"`), and its
 * responses print them with `Duration.String()`. Herald holds durations as milliseconds (a JS
 * number, fractional when below 1 ms), so these two functions are the only conversion points.
 *
 * Both follow Go's `time` package exactly (ParseDuration / Duration.String): the arithmetic is
 * done in integer nanoseconds (BigInt) so `"1.1s"` is 1100 ms, not 1100.0000000000002.
 */
import { ERR, HeraldError } from './errors.ts';

const NS_PER_MS = 1_000_000n;
/** Go's Duration is an int64 of nanoseconds; anything beyond it is an overflow error. */
const MAX_NS = (1n << 63n) - 1n;

/** Unit multipliers in ns. Go accepts both micro signs: U+00B5 (µ) and U+03BC (μ). */
const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  '\u00b5s': 1_000n,
  '\u03bcs': 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

function invalid(detail: string): HeraldError {
  return new HeraldError(ERR.DURATION_INVALID, detail);
}

const isDigit = (c: string) => c >= '0' && c <= '9';

/**
 * Parses a Go duration string into milliseconds (fractional below 1 ms: `"1500ns"` is 0.0015).
 * Grammar as Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?unit)+` or the bare `0`, with
 * units `ns us µs ms s m h`. Throws HeraldError DURATION_INVALID (message in Go's wording:
 * `invalid duration "x"`, `missing unit in duration "10"`, `unknown unit "d" in duration "1d"`).
 */
export function parseDuration(s: string): number {
  if (typeof s !== 'string') throw invalid(`invalid duration ${JSON.stringify(s)}: not a string`);
  const orig = JSON.stringify(s);
  let rest = s;
  let neg = false;
  if (rest[0] === '-' || rest[0] === '+') {
    neg = rest[0] === '-';
    rest = rest.slice(1);
  }
  // Go special-cases a bare zero: it is the only number that needs no unit.
  if (rest === '0') return 0;
  if (rest === '') throw invalid(`invalid duration ${orig}`);

  let total = 0n;
  while (rest !== '') {
    if (!(rest[0] === '.' || isDigit(rest[0]!))) throw invalid(`invalid duration ${orig}`);
    // Integer part.
    let i = 0;
    let whole = 0n;
    while (i < rest.length && isDigit(rest[i]!)) {
      whole = whole * 10n + BigInt(rest.charCodeAt(i) - 48);
      if (whole > MAX_NS + 1n) throw invalid(`invalid duration ${orig}`);
      i++;
    }
    const pre = i > 0;
    // Fraction part: Go keeps at most the digits that fit an int64 and ignores the rest.
    let frac = 0n;
    let scale = 1;
    let post = false;
    if (rest[i] === '.') {
      i++;
      const start = i;
      let overflow = false;
      while (i < rest.length && isDigit(rest[i]!)) {
        if (!overflow) {
          const next = frac * 10n + BigInt(rest.charCodeAt(i) - 48);
          if (next > MAX_NS) overflow = true;
          else {
            frac = next;
            scale *= 10;
          }
        }
        i++;
      }
      post = i > start;
    }
    if (!pre && !post) throw invalid(`invalid duration ${orig}`);
    rest = rest.slice(i);
    // Unit: everything up to the next digit or dot.
    let u = 0;
    while (u < rest.length && rest[u] !== '.' && !isDigit(rest[u]!)) u++;
    if (u === 0) throw invalid(`missing unit in duration ${orig}`);
    const unitName = rest.slice(0, u);
    rest = rest.slice(u);
    const unit = UNIT_NS[unitName];
    if (unit === undefined) throw invalid(`unknown unit ${JSON.stringify(unitName)} in duration ${orig}`);
    let v = whole * unit;
    if (v > MAX_NS + 1n) throw invalid(`invalid duration ${orig}`);
    if (frac > 0n) {
      // Same float arithmetic as Go: uint64(float64(f) * (float64(unit) / scale)).
      v += BigInt(Math.trunc(Number(frac) * (Number(unit) / scale)));
      if (v > MAX_NS + 1n) throw invalid(`invalid duration ${orig}`);
    }
    total += v;
    if (total > MAX_NS + 1n) throw invalid(`invalid duration ${orig}`);
  }
  // -2^63 ns is representable, +2^63 is not.
  if (!neg && total > MAX_NS) throw invalid(`invalid duration ${orig}`);
  const ms = Number(total / NS_PER_MS) + Number(total % NS_PER_MS) / 1e6;
  return neg ? -ms : ms;
}

/** Fraction digits of v below 10^prec, trailing zeros dropped, '' when all are zero (Go's fmtFrac). */
function fracDigits(v: bigint, prec: number): { text: string; rest: bigint } {
  let digits = '';
  let printed = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    printed = printed || digit !== 0n;
    if (printed) digits = digit.toString() + digits;
    v /= 10n;
  }
  return { text: printed ? '.' + digits : '', rest: v };
}

/**
 * Prints milliseconds the way Go's `Duration.String()` does: `0s`, `500ms`, `1.5µs`, `10s`,
 * `1m30s`, `1h0m0s`, `-2s`. Sub-nanosecond fractions are rounded to the nearest ns; a JS number
 * keeps nanosecond detail only up to about 100 days (beyond that the last digits are float noise). Throws
 * HeraldError DURATION_INVALID for NaN/Infinity or values outside Go's int64 range.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw invalid(`cannot format duration ${ms}`);
  const neg = ms < 0;
  const abs = Math.abs(ms);
  const whole = Math.trunc(abs);
  let ns = BigInt(whole) * NS_PER_MS + BigInt(Math.round((abs - whole) * 1e6));
  if (ns > MAX_NS + (neg ? 1n : 0n)) throw invalid(`duration ${ms}ms is out of range`);
  const sign = neg && ns !== 0n ? '-' : '';
  if (ns === 0n) return '0s';

  if (ns < 1_000_000_000n) {
    // Below one second Go switches to the largest unit that keeps an integer part.
    let prec: number;
    let unit: string;
    if (ns < 1_000n) {
      prec = 0;
      unit = 'ns';
    } else if (ns < 1_000_000n) {
      prec = 3;
      unit = '\u00b5s';
    } else {
      prec = 6;
      unit = 'ms';
    }
    const { text, rest } = fracDigits(ns, prec);
    return `${sign}${rest}${text}${unit}`;
  }

  const { text, rest } = fracDigits(ns, 9);
  ns = rest; // whole seconds
  let out = `${ns % 60n}${text}s`;
  ns /= 60n;
  if (ns > 0n) {
    out = `${ns % 60n}m${out}`;
    ns /= 60n;
    if (ns > 0n) out = `${ns}h${out}`;
  }
  return sign + out;
}
