/**
 * The order of the DNS chain, declared in one place (as CoreDNS's plugin.cfg) so the request
 * path reads top to bottom: the Consul domain first, then static zones, then forwarding to
 * recursors. Hooks of other plugins run after the ones listed here except `forward`, which is
 * always last because it answers everything that reaches it.
 */
import type { DnsHook } from '../plugin.ts';

export const DNS_CHAIN = ['consul', 'zones', 'forward'] as const;

/** Orders hooks by DNS_CHAIN; unlisted hooks keep registration order, before `forward`. */
export function orderHooks(hooks: readonly DnsHook[]): DnsHook[] {
  const rank = (h: DnsHook): number => {
    if (h.name === 'forward') return 1000;
    const i = (DNS_CHAIN as readonly string[]).indexOf(h.name);
    return i >= 0 ? i : DNS_CHAIN.length;
  };
  return hooks
    .map((h, i) => ({ h, i }))
    .sort((a, b) => rank(a.h) - rank(b.h) || a.i - b.i)
    .map((x) => x.h);
}
