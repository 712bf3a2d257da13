/**
 * `dns_config.service_ttl` matching (consul-compat.md §1.1): an exact name beats a prefix,
 * `foo-*` prefixes match with the longest winning, `*` is the fallback, and nothing gives 0.
 */
export function serviceTtl(table: Readonly<Record<string, number>>, service: string): number {
  const exact = table[service];
  if (exact !== undefined) return exact;
  let best: number | undefined;
  let bestLen = -1;
  for (const [pattern, ttl] of Object.entries(table)) {
    if (!pattern.endsWith('*')) continue;
    const prefix = pattern.slice(0, -1);
    if (service.startsWith(prefix) && prefix.length > bestLen) {
      best = ttl;
      bestLen = prefix.length;
    }
  }
  return best ?? 0;
}
