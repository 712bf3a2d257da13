import { describe, expect, it } from 'vitest';
import { decodeAddrLabel, encodeAddrLabel, parseConsulName, reverseNameToIp } from './consul-name.ts';

const parse = (s: string) => parseConsulName(s === '' ? [] : s.split('.'));

describe('Consul DNS name grammar (spec 1.2)', () => {
  it.each([
    ['', { kind: 'apex' }],
    ['web.service', { kind: 'service', service: 'web', tag: undefined, dc: undefined, rfc2782: false }],
    ['v1.web.service', { kind: 'service', service: 'web', tag: 'v1', dc: undefined, rfc2782: false }],
    ['a.b.web.service', { kind: 'service', service: 'web', tag: 'a.b', dc: undefined, rfc2782: false }],
    ['web.service.dc1', { kind: 'service', service: 'web', tag: undefined, dc: 'dc1', rfc2782: false }],
    ['web.service.dc1.dc', { kind: 'service', service: 'web', tag: undefined, dc: 'dc1', rfc2782: false }],
    ['web.service.default.dc1', { kind: 'service', service: 'web', tag: undefined, dc: 'dc1', rfc2782: false }],
    ['web.service.default.ns.dc1.dc', { kind: 'service', service: 'web', tag: undefined, dc: 'dc1', rfc2782: false }],
    ['_web._tcp.service', { kind: 'service', service: 'web', tag: undefined, dc: undefined, rfc2782: true }],
    ['_web._v1.service', { kind: 'service', service: 'web', tag: 'v1', dc: undefined, rfc2782: true }],
    ['_web._tcp', { kind: 'service', service: 'web', tag: undefined, dc: undefined, rfc2782: true }],
    ['_web._tcp.dc1', { kind: 'service', service: 'web', tag: undefined, dc: 'dc1', rfc2782: true }],
    ['service.service', { kind: 'service', service: 'service', tag: undefined, dc: undefined, rfc2782: false }],
    ['foo.node', { kind: 'node', node: 'foo', dc: undefined }],
    ['foo.bar.node.dc2', { kind: 'node', node: 'foo.bar', dc: 'dc2' }],
    ['c000020a.addr', { kind: 'addr', hex: 'c000020a', dc: undefined }],
    ['q1.query', { kind: 'query', query: 'q1', dc: undefined }],
  ])('%s', (name, expected) => expect(parse(name)).toEqual(expected));

  it.each(['web', 'web.connect', 'node', 'web.service.a.b.c', 'web.service.other.ns.dc1.dc', 'web.service.p.peer', 'a.b.addr'])(
    '%s is invalid (NXDOMAIN)',
    (name) => expect(parse(name).kind).toBe('invalid'),
  );
});

describe('addr labels', () => {
  it('round-trips IPv4', () => {
    expect(encodeAddrLabel('192.0.2.10')).toBe('c000020a');
    expect(decodeAddrLabel('c000020a')).toEqual({ family: 4, address: '192.0.2.10' });
  });
  it('round-trips IPv6', () => {
    expect(encodeAddrLabel('2001:db8::1')).toBe('20010db8000000000000000000000001');
    expect(decodeAddrLabel('20010db8000000000000000000000001')).toEqual({ family: 6, address: '2001:db8::1' });
  });
  it('bad hex is null (NXDOMAIN), odd length undefined (NODATA)', () => {
    expect(decodeAddrLabel('zz00020a')).toBeNull();
    expect(decodeAddrLabel('c00002')).toBeUndefined();
  });
});

describe('reverse names', () => {
  it.each([
    ['10.2.0.192.in-addr.arpa', '192.0.2.10'],
    ['1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa', '2001:db8::1'],
    ['2.0.192.in-addr.arpa', undefined],
    ['300.2.0.192.in-addr.arpa', undefined],
  ])('%s -> %s', (name, ip) => expect(reverseNameToIp(name)).toBe(ip));
});
