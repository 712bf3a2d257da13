import { describe, expect, it } from 'vitest';
import { BodyFields } from './body-fields.ts';

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};

describe('BodyFields', () => {
  it('matches keys without regard to case, preferring an exact match (Go encoding/json)', () => {
    const b = BodyFields.of({ node: 'n1', ADDRESS: '10.0.0.1', Name: 'exact', name: 'other' });
    expect(b.string('Node')).toBe('n1');
    expect(b.string('Address')).toBe('10.0.0.1');
    expect(b.string('Name')).toBe('exact');
  });

  it('reads null as absent and an absent body as an empty object', () => {
    expect(BodyFields.of({ Service: null }).object('Service')).toBeUndefined();
    expect(BodyFields.of(undefined).string('Node')).toBeUndefined();
  });

  it('names the field by its Consul path when a type is wrong', () => {
    const b = BodyFields.of({ Service: { Port: '80', Tags: ['a', 1] } });
    const s = b.object('Service')!;
    expect(message(() => s.int('Port', 0, 65535))).toBe('Request decode failed: Service.Port: expected an integer, got string');
    expect(message(() => s.stringList('Tags'))).toBe('Request decode failed: Service.Tags[1]: expected a string, got number');
    expect(message(() => BodyFields.of({ Checks: [{}, 3] }).objectList('Checks'))).toBe('Request decode failed: Checks[1]: expected a JSON object, got number');
    expect(message(() => BodyFields.of([1]))).toBe('Request decode failed: body: expected a JSON object, got array');
    expect(message(() => BodyFields.of({ Port: 70000 }).int('Port', 0, 65535))).toBe('Request decode failed: Port: 70000 is out of range 0-65535');
  });

  it('reads durations as Go strings or nanosecond numbers', () => {
    const d = BodyFields.of({ Interval: '1m30s', Timeout: 5_000_000_000, TTL: 'x' });
    expect(d.duration('Interval')).toBe(90_000);
    expect(d.duration('Timeout')).toBe(5000);
    expect(message(() => d.duration('TTL'))).toMatch(/^Request decode failed: TTL: invalid duration "x"/);
  });
});
