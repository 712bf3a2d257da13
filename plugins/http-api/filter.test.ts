import { describe, expect, it } from 'vitest';
import { compileFilter, FilterError, MAX_NESTING } from './filter.ts';

/** One /v1/health/service entry, shaped like Consul's JSON. */
const web = {
  Node: {
    ID: 'id-1',
    Node: 'n1',
    Address: '10.0.0.1',
    Datacenter: 'dc1',
    Meta: { rack: 'r1', 'some-key': 'v', blank: '', dotted: 'a.b', quote: 'say "hi"', accent: 'été' },
    TaggedAddresses: null,
  },
  Service: {
    ID: 'web-1',
    Service: 'web',
    Tags: ['v1', 'primary'],
    Address: '',
    Port: 80,
    Meta: {},
    Weights: { Passing: 10, Warning: 1, Ratio: 0.5 },
    EnableTagOverride: false,
    Connect: { Native: true },
  },
  Checks: [
    { CheckID: 'serfHealth', Status: 'passing', ServiceTags: [] },
    { CheckID: 'service:web-1', Status: 'critical', ServiceTags: ['v1'] },
  ],
};
const allPassing = { ...web, Checks: [{ CheckID: 'serfHealth', Status: 'passing', ServiceTags: [] }] };
const noChecks = { ...web, Checks: [] };

type Case = [expr: string, item: unknown, expected: boolean];

function table(cases: Case[]): void {
  it.each(cases)('%s', (expr, item, expected) => {
    expect(compileFilter(expr)(item)).toBe(expected);
  });
}

describe('equality', () => {
  table([
    ['Service.Service == web', web, true],
    ['Service.Service == "web"', web, true],
    ['Service.Service == `web`', web, true],
    ['Service.Service==web', web, true],
    ['Service.Service != web', web, false],
    ['Service.Service == api', web, false],
    ['Service.Service != api', web, true],
    ['Node.Node == n1', web, true],
    ['Service.Address == ""', web, true],
  ]);
});

describe('numbers and booleans coerce to the field type', () => {
  table([
    ['Service.Port == 80', web, true],
    ['Service.Port == "80"', web, true],
    ['Service.Port == "0x50"', web, true], // Go ParseInt base 0
    ['Service.Port == "8_0"', web, true],
    ['Service.Port != 80', web, false],
    ['Service.Port != 443', web, true],
    ['Service.Weights.Passing == 10', web, true],
    ['Service.Weights.Warning != -1', web, true],
    ['Service.Weights.Ratio == 0.5', web, true],
    ['Service.Weights.Ratio == 0.50', web, true],
    // Value does not coerce (go-bexpr: error at creation) → the match is false either way.
    ['Service.Port == eighty', web, false],
    ['Service.Port != eighty', web, false],
    ['Service.Port == 80.0', web, false], // an int field does not parse floats
    ['Service.EnableTagOverride == false', web, true],
    ['Service.EnableTagOverride == "f"', web, true],
    ['Service.EnableTagOverride == 0', web, true],
    ['Service.EnableTagOverride != true', web, true],
    ['Service.Connect.Native == true', web, true],
    ['Service.Connect.Native == True', web, true],
    ['Service.Connect.Native == yes', web, false],
    ['Service.Connect.Native != yes', web, false],
  ]);
});

describe('in / contains', () => {
  table([
    // lists: membership
    ['v1 in Service.Tags', web, true],
    ['"v2" in Service.Tags', web, false],
    ['v2 not in Service.Tags', web, true],
    ['v1 not in Service.Tags', web, false],
    ['Service.Tags contains primary', web, true],
    ['Service.Tags not contains primary', web, false],
    ['1 in Mixed', { Mixed: ['a', 1, true] }, true], // each element coerced to its own type
    ['true in Mixed', { Mixed: ['a', 1, true] }, true],
    ['b in Mixed', { Mixed: ['a', 1, true] }, false],
    // maps: key membership
    ['rack in Node.Meta', web, true],
    ['Node.Meta contains "some-key"', web, true],
    ['zone in Node.Meta', web, false],
    ['zone not in Node.Meta', web, true],
    // strings: substring
    ['eb in Service.Service', web, true],
    ['Service.Service contains w', web, true],
    ['Service.Service not contains x', web, true],
    ['"" in Service.Service', web, true],
    // numbers do not support in (go-bexpr: error at creation) → false either way
    ['8 in Service.Port', web, false],
    ['8 not in Service.Port', web, false],
  ]);
});

describe('is empty', () => {
  table([
    ['Service.Meta is empty', web, true],
    ['Service.Meta is not empty', web, false],
    ['Service.Tags is empty', web, false],
    ['Service.Tags is not empty', web, true],
    ['Service.Address is empty', web, true],
    ['Node.Meta.blank is empty', web, true],
    ['Node.TaggedAddresses is empty', web, true], // JSON null: a nil map in Go
    ['Checks is empty', noChecks, true],
    ['Service.Port is empty', web, false], // no length
    ['Service.Port is not empty', web, false],
  ]);
});

describe('matches (regular expressions)', () => {
  table([
    ['Service.Service matches "^w.b$"', web, true],
    ['Service.Service matches `^w`', web, true],
    ['Service.Service not matches `^w`', web, false],
    ['Node.Node matches "^N"', web, false],
    ['Node.Node matches "(?i)^N"', web, true], // RE2 flag group translated
    ['Service.ID matches `-\\d+$`', web, true],
    ['Service.ID matches "-\\\\d+$"', web, true], // Go escape in a double-quoted string
    ['Service.ID matches `\\Aweb`', web, true],
    ['Service.ID matches `web\\z`', web, false],
    ['Service.ID matches `(?P<name>web)-1`', web, true],
    ['Service.ID matches `^[[:alpha:]]+-[[:digit:]]$`', web, true],
    ['Service.ID matches `\\Qweb-1\\E`', web, true],
    ['Node.Meta.accent matches `^\\pL+$`', web, true],
    ['Service.ID matches `^\\167eb`', web, true], // RE2 octal escape: \167 is "w"
    ['Service.ID matches `^(?<n>web)`', web, true], // named group, RE2 form since Go 1.22
    ['Service.Port matches "8"', web, false], // only strings match
    ['Service.Port not matches "8"', web, false],
  ]);

  it('rejects an invalid regular expression when compiling, pointing at the value', () => {
    const err = compileError('Service.Service matches "("');
    expect(err.message).toMatch(/^Failed to create boolean expression evaluator: 1:25 \(24\): Failed to compile regular expression "\(": /);
    expect(err.position).toBe(24);
    expect(compileError('Service.Service matches "(?U)a"').message).toContain('unsupported flag (?U)');
    // RE2 has no lookaround and no backreferences; JS would accept them.
    expect(compileError('Service.Service matches `w(?=e)`').message).toContain('invalid or unsupported Perl syntax: `(?=`');
    expect(compileError('Service.Service matches `(?<!x)w`').message).toContain('invalid or unsupported Perl syntax: `(?<!`');
    expect(compileError('Service.Service matches `(w)\\1`').message).toContain('invalid escape sequence: `\\1`');
  });
});

describe('map keys and selector syntax', () => {
  table([
    ['Node.Meta.rack == r1', web, true],
    ['Node.Meta["some-key"] == v', web, true],
    ['Node.Meta[`some-key`] == v', web, true],
    ['Node.Meta[ "rack" ] == r1', web, true],
    ['Node["Meta"]["rack"] == r1', web, true],
    ['"r1" in Node["Meta"]["rack"]', web, true],
    ['Svc_2.x1 == y', { Svc_2: { x1: 'y' } }, true],
    // a selector as the value stands for its dotted text
    ['Node.Meta.dotted == a.b', web, true],
    ['Node.Meta.dotted == a["b"]', web, true],
    // keywords are not reserved
    ['not == x', { not: 'x' }, true],
    ['and == 1', { and: 1 }, true],
    ['x in or', { or: ['x'] }, true],
    // only own keys are selectable
    ['Node.Meta.constructor is empty', web, true],
    ['constructor in Node.Meta', web, false],
  ]);
});

describe('quoting', () => {
  table([
    ['Node.Meta.quote == "say \\"hi\\""', web, true], // Herald extension: \" inside "…"
    ['Node.Meta.quote == `say "hi"`', web, true],
    ['Node.Meta.accent == "\\u00e9t\\u00e9"', web, true],
    ['Node.Meta.accent == "\\xc3\\xa9t\\303\\251"', web, true], // bytes, as Go strings are
    ['Node.Meta.accent == "été"', web, true],
    ['X == "a\\tb"', { X: 'a\tb' }, true],
    ['X == `a\\tb`', { X: 'a\\tb' }, true], // raw: no escapes
    ['X == `a\r\nb`', { X: 'a\nb' }, true], // raw: CRs dropped, as strconv.Unquote does
    ['X == "\\\\"', { X: '\\' }, true],
  ]);
});

describe('missing fields behave like a missing map key', () => {
  table([
    ['Node.Meta.zone == z', web, false],
    ['Node.Meta.zone != z', web, true],
    ['z in Node.Meta.zone', web, false],
    ['z not in Node.Meta.zone', web, true],
    ['Node.Meta.zone contains z', web, false],
    ['Node.Meta.zone not contains z', web, true],
    ['Node.Meta.zone matches "."', web, false],
    ['Node.Meta.zone not matches "."', web, true],
    ['Node.Meta.zone is empty', web, true],
    ['Node.Meta.zone is not empty', web, false],
    ['Nope == x', web, false],
    ['Nope != x', web, true],
    ['Node.TaggedAddresses.lan == x', web, false], // through a JSON null
    ['Node.TaggedAddresses.lan != x', web, true],
    ['Service.Port.x == 1', web, false], // a primitive cannot be selected into
    ['Service.Port.x != 1', web, false],
    ['Service.Tags == v1', web, false], // == on a list is a type error in go-bexpr
    ['Service.Tags != v1', web, false],
  ]);
});

describe('lists of objects: ANY semantics, as go-bexpr v0.1.x does for Consul', () => {
  table([
    ['Checks.Status == passing', web, true],
    ['Checks.Status == warning', web, false],
    ['Checks.Status != passing', web, true], // some check is not passing
    ['not Checks.Status != passing', web, false], // "all checks passing"
    ['not Checks.Status != passing', allPassing, true],
    ['Checks.Status == passing', noChecks, false],
    ['Checks.Status != passing', noChecks, false], // empty list: every operator false
    ['not Checks.Status == passing', noChecks, true],
    ['v1 in Checks.ServiceTags', web, true],
    ['Checks.ServiceTags is empty', web, true], // the first check has none
    ['Checks.ServiceTags is not empty', allPassing, false],
    ['Checks.CheckID matches "^service:"', web, true],
    ['Deep.L.x == 1', { Deep: [{ L: [{ x: 2 }, { x: 1 }] }] }, true], // nested lists flatten
  ]);
});

describe('precedence: not > and > or, parentheses override', () => {
  table([
    ['Service.Service == web or Service.Service == api and Service.Port == 1', web, true],
    ['(Service.Service == web or Service.Service == api) and Service.Port == 1', web, false],
    ['Service.Port == 1 and Service.Service == api or Service.Service == web', web, true],
    ['Service.Port == 1 and (Service.Service == api or Service.Service == web)', web, false],
    ['not Service.Service == api and Service.Port == 80', web, true],
    ['not (Service.Service == web and Service.Port == 1)', web, true],
    ['not Service.Service == web or Service.Port == 80', web, true],
    ['not (Service.Service == web or Service.Port == 1)', web, false],
    ['not not Service.Service == web', web, true],
    ['not not not Service.Service == web', web, false],
    ['((Service.Service == web))', web, true],
    ['( Service.Port == 80 )', web, true],
    ['(Service.Port == 80)', web, true], // a number may touch ")"
    ['\t Service.Service\n==\r\nweb  ', web, true],
    ['Service.Port == 1 or Service.Port == 2 or Service.Port == 80', web, true],
    ['Service.Port == 80 and Service.Service == web and v1 in Service.Tags', web, true],
    ['Service.Port == 80 and Service.Service == web and v9 in Service.Tags', web, false],
  ]);
});

function compileError(expr: string): FilterError {
  try {
    compileFilter(expr);
  } catch (e) {
    if (e instanceof FilterError) return e;
    throw e;
  }
  throw new Error(`compiled without error: ${expr}`);
}

describe('syntax errors carry go-bexpr positions and reasons', () => {
  const PREFIX = 'Failed to create boolean expression evaluator: ';
  // The first nine messages are go-bexpr's own test fixtures (grammar_test.go).
  it.each([
    // unterminated strings
    ['foo == "12x', 11, '1:12 (11): rule "string": Unterminated string literal'],
    ['foo == `12x', 11, '1:12 (11): rule "string": Unterminated string literal'],
    // bad literals and selectors
    ['foo == 3x', 8, '1:9 (8): rule "number": Invalid number literal'],
    ['foo[3] == abc', 4, '1:5 (4): rule "index": Invalid index'],
    ['x in foo["abc"', 14, '1:15 (14): rule "index": Unclosed index expression'],
    ['x in 32', 5, '1:6 (5): rule "match": Invalid selector'],
    ['32 == 32', 3, '1:4 (3): no match found, expected: "in", "not" or [ \\t\\r\\n]'],
    // trailing garbage
    ['x in foo abc', 9, '1:10 (9): no match found, expected: "and", "or", [ \\t\\r\\n] or EOF'],
    ['Service.Port == 80)', 18, '1:19 (18): no match found, expected: ".", [ \\t\\r\\n], [0-9] or EOF'],
    // missing operands
    ['x in foo and ', 13, '1:14 (13): no match found, expected: "(", "-", "0", "\\"", "`", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]'],
    [
      'x in foo or not ',
      16,
      '1:17 (16): no match found, expected: "!=", "(", "-", "0", "==", "\\"", "`", "contains", "in", "is", "matches", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
    ],
    ['Service.Port ==', 15, '1:16 (15): no match found, expected: "-", "0", "\\"", "`", [ \\t\\r\\n], [1-9] or [a-zA-Z]'],
    ['', 0, '1:1 (0): no match found, expected: "(", "-", "0", "\\"", "`", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]'],
    // bad operators
    ['Service.Port = 80', 13, '1:14 (13): no match found, expected: "!=", "==", "contains", "in", "is", "matches", "not" or [ \\t\\r\\n]'],
    ['Service.Port >= 80', 13, '1:14 (13): no match found, expected: "!=", "==", "contains", "in", "is", "matches", "not" or [ \\t\\r\\n]'],
    ['Service.Tags is nonempty', 16, '1:17 (16): no match found, expected: "empty", "not" or [ \\t\\r\\n]'],
    // grouping
    ['(foo == 4', 9, '1:10 (9): rule "grouping": Unmatched parentheses'],
    // bad escape: Go's strconv.Unquote error, at the string's start
    ['foo == "a\\q"', 7, '1:8 (7): rule "string": invalid syntax'],
    ['foo == "a\nb"', 7, '1:8 (7): rule "string": invalid syntax'],
    // lines, rune columns, byte offsets
    ['a == 1 and\n(b == 2', 18, '2:8 (18): rule "grouping": Unmatched parentheses'],
    ['Node.Meta["é"] == "x', 20, '1:21 (21): rule "string": Unterminated string literal'],
  ] as const)('%j', (expr, position, message) => {
    const err = compileError(expr);
    expect(err).toBeInstanceOf(FilterError);
    expect(err.code).toBe('HERALD_ERR_HTTP_API_FILTER');
    expect(err.message).toBe(PREFIX + message);
    expect(err.position).toBe(position);
  });

  it('reports each distinct error once, one per line', () => {
    // The index and the string inside it are both broken: pigeon reports both.
    expect(compileError('foo["abc == x').message).toBe(
      `${PREFIX}1:14 (13): rule "string": Unterminated string literal\n1:5 (4): rule "index": Invalid index`,
    );
  });

  it(`refuses more than ${MAX_NESTING} levels of nesting instead of overflowing the stack`, () => {
    const ok = `${'('.repeat(MAX_NESTING)}a == 1${')'.repeat(MAX_NESTING)}`;
    expect(compileFilter(ok)({ a: 1 })).toBe(true);
    const deep = `${'('.repeat(MAX_NESTING + 1)}a == 1${')'.repeat(MAX_NESTING + 1)}`;
    expect(compileError(deep).message).toMatch(/nests more than 200 levels/);
    expect(compileError(`${'not '.repeat(MAX_NESTING + 1)}a == 1`).position).toBe(MAX_NESTING * 4);
  });

  it('parses unbalanced nested parentheses in linear time', () => {
    // go-bexpr's PEG re-parses each failed group: exponential without memoisation.
    const err = compileError(`${'('.repeat(150)}a == 1`);
    expect(err.message).toBe(`${PREFIX}1:157 (156): rule "grouping": Unmatched parentheses`);
  });
});

describe('scale', () => {
  it('compiles a 100-term expression and evaluates 10,000 items', () => {
    const terms: string[] = [];
    for (let i = 0; i < 100; i++) {
      const kind = i % 4;
      if (kind === 0) terms.push(`Service.Port == ${1000 + i}`);
      else if (kind === 1) terms.push(`"t${i}" in Service.Tags`);
      else if (kind === 2) terms.push(`(Node.Meta.rack == r${i} and Service.Service matches "^svc-${i}$")`);
      else terms.push(`not Checks.Status != passing and Service.Meta["k-${i}"] == v`);
    }
    const filter = compileFilter(terms.join(' or '));
    const items = Array.from({ length: 10_000 }, (_, n) => ({
      Node: { Node: `n${n}`, Meta: { rack: `r${n % 100}` } },
      Service: { Service: `svc-${n % 100}`, Port: 1000 + (n % 200), Tags: [`t${n % 300}`], Meta: { [`k-${n % 100}`]: n % 2 ? 'v' : 'w' } },
      Checks: [{ Status: n % 3 ? 'passing' : 'critical' }],
    }));
    let matched = 0;
    for (const item of items) if (filter(item)) matched++;
    // Same answer computed by hand, term kind by term kind.
    let expected = 0;
    for (let n = 0; n < 10_000; n++) {
      const port = 1000 + (n % 200) - 1000;
      const tag = n % 300;
      const i = n % 100;
      const hit =
        (port < 100 && port % 4 === 0) ||
        (tag < 100 && tag % 4 === 1) ||
        (i % 4 === 2) ||
        (i % 4 === 3 && n % 3 !== 0 && n % 2 === 1);
      if (hit) expected++;
    }
    expect(matched).toBe(expected);
  });
});
