/**
 * Parses a question name inside the Consul domain into what it asks for (consul-compat.md
 * §1.2). Labels are compared lowercased; the parse scans from the right for the first label
 * that names a lookup kind, so node names may contain dots and `service` may itself be a name.
 */

export type ConsulName =
  | { kind: 'apex' }
  | { kind: 'node'; node: string; dc?: string }
  | { kind: 'service'; service: string; tag?: string; dc?: string; rfc2782: boolean }
  | { kind: 'addr'; hex: string; dc?: string }
  | { kind: 'query'; query: string; dc?: string }
  /** A form Herald does not serve (mesh lookups, other partitions/peers): NXDOMAIN. */
  | { kind: 'invalid'; reason: string };

const KINDS = new Set(['node', 'service', 'query', 'addr', 'connect', 'ingress', 'virtual']);
/** Enterprise/peering qualifiers after the kind: `<value>.<key>` pairs. */
const QUALIFIERS = new Set(['dc', 'ns', 'ap', 'peer', 'sg']);

/**
 * Parse the labels to the left of the domain (lowercased, leftmost first).
 * `labels` empty means the question is the domain apex itself.
 */
export function parseConsulName(labels: readonly string[]): ConsulName {
  if (labels.length === 0) return { kind: 'apex' };
  let k = -1;
  for (let i = labels.length - 1; i >= 0; i--) {
    if (KINDS.has(labels[i]!)) {
      k = i;
      break;
    }
  }
  if (k < 0) {
    // RFC 2782 form without the `service` label: `_svc._tag[.dc]`.
    if (labels.length >= 2 && labels[0]!.startsWith('_') && labels[1]!.startsWith('_')) {
      const tail = parseTail(labels.slice(2));
      if ('error' in tail) return { kind: 'invalid', reason: tail.error };
      return rfc2782(labels[0]!, labels[1]!, tail.dc);
    }
    return { kind: 'invalid', reason: 'no lookup kind label' };
  }
  const head = labels.slice(0, k);
  const tail = parseTail(labels.slice(k + 1));
  if ('error' in tail) return { kind: 'invalid', reason: tail.error };
  const dc = tail.dc;
  switch (labels[k]) {
    case 'node':
      if (head.length === 0) return { kind: 'invalid', reason: 'empty node name' };
      return { kind: 'node', node: head.join('.'), dc };
    case 'service': {
      if (head.length === 0) return { kind: 'invalid', reason: 'empty service name' };
      if (head.length === 2 && head[0]!.startsWith('_') && head[1]!.startsWith('_')) {
        return rfc2782(head[0]!, head[1]!, dc);
      }
      const service = head[head.length - 1]!;
      // Every label left of the service joins into ONE tag (Consul has no tag AND in DNS).
      const tag = head.length > 1 ? head.slice(0, -1).join('.') : undefined;
      return { kind: 'service', service, tag, dc, rfc2782: false };
    }
    case 'addr':
      if (head.length !== 1) return { kind: 'invalid', reason: 'addr takes one label' };
      return { kind: 'addr', hex: head[0]!, dc };
    case 'query':
      if (head.length === 0) return { kind: 'invalid', reason: 'empty query name' };
      return { kind: 'query', query: head.join('.'), dc };
    default:
      return { kind: 'invalid', reason: `${labels[k]} lookups are not served` };
  }
}

function rfc2782(svcLabel: string, tagLabel: string, dc: string | undefined): ConsulName {
  const service = svcLabel.slice(1);
  const tagName = tagLabel.slice(1);
  if (!service) return { kind: 'invalid', reason: 'empty service name' };
  // `_tcp` is the protocol label of plain RFC 2782 names: no tag filter.
  return { kind: 'service', service, tag: tagName === 'tcp' || tagName === '' ? undefined : tagName, dc, rfc2782: true };
}

/**
 * The labels after the kind: nothing, `<dc>`, `<dc>.dc`, legacy `<ns>.<dc>`, or qualifier
 * pairs. OSS accepts only `default` namespaces/partitions and no peers (spec §1.2).
 */
function parseTail(tail: readonly string[]): { dc?: string } | { error: string } {
  if (tail.length === 0) return {};
  if (tail.length === 1) return { dc: tail[0] };
  const hasQualifier = tail.length % 2 === 0 && tail.every((l, i) => i % 2 === 0 || QUALIFIERS.has(l));
  if (!hasQualifier) {
    if (tail.length === 2) {
      // Legacy `svc.service.<ns>.<dc>`.
      if (tail[0] !== 'default') return { error: `namespace ${tail[0]} does not exist` };
      return { dc: tail[1] };
    }
    return { error: 'too many labels after the lookup kind' };
  }
  let dc: string | undefined;
  for (let i = 0; i < tail.length; i += 2) {
    const value = tail[i]!;
    switch (tail[i + 1]) {
      case 'dc':
        dc = value;
        break;
      case 'ns':
      case 'ap':
        if (value !== 'default') return { error: `${tail[i + 1]} ${value} does not exist` };
        break;
      case 'peer':
        return { error: 'cluster peering is not served' };
      case 'sg':
        break;
    }
  }
  return { dc };
}

/**
 * Decode an `addr` label: 8 hex digits give an IPv4 address, 32 give IPv6. Returns
 * `undefined` for other lengths (empty NOERROR) and `null` for bad hex (NXDOMAIN).
 */
export function decodeAddrLabel(hex: string): { family: 4 | 6; address: string } | undefined | null {
  if (hex.length !== 8 && hex.length !== 32) return undefined;
  if (!/^[0-9a-f]+$/.test(hex)) return null;
  if (hex.length === 8) {
    const b = Buffer.from(hex, 'hex');
    return { family: 4, address: `${b[0]}.${b[1]}.${b[2]}.${b[3]}` };
  }
  const groups: string[] = [];
  for (let i = 0; i < 32; i += 4) groups.push(parseInt(hex.slice(i, i + 4), 16).toString(16));
  return { family: 6, address: compressIpv6(groups) };
}

/** Encode an IP as the `addr` label Consul uses for SRV targets (`c000020a` for 192.0.2.10). */
export function encodeAddrLabel(ip: string): string {
  if (ip.includes(':')) return expandIpv6(ip).map((g) => g.padStart(4, '0')).join('');
  return ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('');
}

/** The eight groups of an IPv6 address, expanded (`::1` -> 0,0,0,0,0,0,0,1). */
export function expandIpv6(ip: string): string[] {
  let head = ip;
  let v4: string[] = [];
  const lastColon = ip.lastIndexOf(':');
  if (ip.slice(lastColon + 1).includes('.')) {
    const o = ip.slice(lastColon + 1).split('.').map(Number);
    v4 = [((o[0]! << 8) | o[1]!).toString(16), ((o[2]! << 8) | o[3]!).toString(16)];
    head = ip.slice(0, lastColon + 1) + '0';
  }
  const [l, r] = head.split('::') as [string, string | undefined];
  const left = l ? l.split(':') : [];
  const right = r !== undefined && r !== '' ? r.split(':') : [];
  let groups: string[];
  if (r === undefined) groups = left;
  else groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  if (v4.length) groups = [...groups.slice(0, 6), ...v4];
  return groups.map((g) => (g === '' ? '0' : g.toLowerCase()));
}

function compressIpv6(groups: string[]): string {
  // RFC 5952 §4.2: replace the longest run (>= 2) of zero groups with `::`.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/**
 * The IP a reverse name asks about (`4.3.2.1.in-addr.arpa` -> 1.2.3.4), or undefined when
 * it is not a complete reverse name (RFC 1035 §3.5, RFC 3596 §2.5).
 */
export function reverseNameToIp(lname: string): string | undefined {
  if (lname.endsWith('.in-addr.arpa')) {
    const parts = lname.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) < 256)) return undefined;
    return parts.reverse().join('.');
  }
  if (lname.endsWith('.ip6.arpa')) {
    const nibbles = lname.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const hex = nibbles.reverse().join('');
    return (decodeAddrLabel(hex) as { address: string }).address;
  }
  return undefined;
}
