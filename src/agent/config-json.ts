/**
 * JSON text to a value plus the place of every key, so a config problem can name the line it is
 * on. A strict RFC 8259 scanner runs first: it finds syntax errors with an exact line:column
 * (JSON.parse in Node 20 reports no position for some errors, e.g. `Unexpected token`), and
 * records where each key path starts. The value itself then comes from JSON.parse.
 */
import { joinIndex, joinKey } from './config-fields.ts';

/** A parsed document: the value, and the 1-based line/column where a key path starts. */
export interface JsonDocument {
  value: unknown;
  locate(path: string): { line: number; column: number } | undefined;
}

/** A syntax error at a 1-based line and column. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

/** Nesting deeper than this is refused: no config needs it, and the scanner recurses. */
const MAX_DEPTH = 256;

/** Offsets of line starts, for offset -> line:column. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function position(starts: number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}

/**
 * Parses JSON text (a leading UTF-8 BOM is skipped). Throws JsonSyntaxError with the line and
 * column of the first error. Duplicate keys keep the last value, as JSON.parse does.
 */
export function parseJsonDocument(text: string): JsonDocument {
  const starts = lineStarts(text);
  const keyAt = new Map<string, number>();
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const fail = (message: string, at = i): never => {
    const p = position(starts, Math.min(at, text.length));
    throw new JsonSyntaxError(message, p.line, p.column);
  };
  const shown = (at: number) => {
    if (at >= text.length) return 'the end of the input';
    const c = text[at]!;
    return c === '\n' ? 'a line break' : `'${c}'`;
  };

  const skipSpace = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else if (c === 0x2f && (text[i + 1] === '/' || text[i + 1] === '*')) fail('comments are not allowed in JSON');
      else return;
    }
  };

  const scanString = (): void => {
    const open = i;
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string', open);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c === 0x0a || c === 0x0d) fail('string not closed before the end of the line (write a line break as \\n)');
      if (c < 0x20) fail('control character in a string (write it as a \\u escape)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('bad \\u escape: four hex digits are needed');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail(`bad escape \\${e ?? ''} in a string`);
      } else i++;
    }
  };

  const scanNumber = (): void => {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) fail(`invalid number starting at ${shown(i)}`);
    i += m![0].length;
    // `01`, `1.`, `1e`: the regex stops early; the next character shows the fault.
    if (/[0-9.eE+-]/.test(text[i] ?? '')) fail(`invalid number (found ${shown(i)} after ${m![0]})`);
  };

  const scanValue = (path: string, depth: number): void => {
    if (depth > MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
    skipSpace();
    const c = text[i];
    if (c === '{') {
      i++;
      skipSpace();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skipSpace();
        if (text[i] !== '"') {
          if (text[i] === '}') fail("trailing comma before '}' (JSON allows none)");
          fail(`expected a double-quoted key, found ${shown(i)}`);
        }
        const keyStart = i;
        scanString();
        const key = JSON.parse(text.slice(keyStart, i)) as string;
        const keyPath = joinKey(path, key);
        keyAt.set(keyPath, keyStart);
        skipSpace();
        if (text[i] !== ':') fail(`expected ':' after key ${JSON.stringify(key)}, found ${shown(i)}`);
        i++;
        scanValue(keyPath, depth + 1);
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`expected ',' or '}' after the value of ${JSON.stringify(key)}, found ${shown(i)}`);
      }
    }
    if (c === '[') {
      i++;
      skipSpace();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        skipSpace();
        if (text[i] === ']') fail("trailing comma before ']' (JSON allows none)");
        const elemPath = joinIndex(path, n);
        keyAt.set(elemPath, i);
        scanValue(elemPath, depth + 1);
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`expected ',' or ']' after an array element, found ${shown(i)}`);
      }
    }
    if (c === '"') return scanString();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return scanNumber();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        if (/[A-Za-z0-9_]/.test(text[i] ?? '')) fail(`unexpected ${shown(i)} after ${word}`);
        return;
      }
    }
    if (c === "'") fail('strings must use double quotes');
    fail(`expected a value, found ${shown(i)}`);
  };

  keyAt.set('', i);
  scanValue('', 0);
  skipSpace();
  if (i < text.length) fail(`unexpected ${shown(i)} after the end of the JSON value`);

  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    // The scanner accepts exactly RFC 8259 JSON, so this is not expected; report it at the start.
    throw new JsonSyntaxError((e as Error).message, 1, 1);
  }
  return {
    value,
    locate(path: string) {
      const at = keyAt.get(path);
      return at === undefined ? undefined : position(starts, at);
    },
  };
}
