/**
 * The catalog the HTTP benchmark serves: N services × M instances on the agent's own node, each
 * instance with a passing TTL check, written as one Consul-style config file (`services: [...]`)
 * so the agent starts with it loaded. Service 0 is `web`, the one the endpoint reads.
 */

/** Service names: `web`, then `svc-01`, `svc-02`, ... (zero-padded to keep them sortable). */
export function benchServiceNames(count: number): string[] {
  const width = String(Math.max(1, count - 1)).length;
  return Array.from({ length: count }, (_, i) => (i === 0 ? 'web' : `svc-${String(i).padStart(Math.max(2, width), '0')}`));
}

/** ID of instance `i` (1-based) of `service`. */
export function instanceId(service: string, i: number): string {
  return `${service}-${i}`;
}

/** ID of the TTL check of instance `i` of `service`. */
export function checkIdOf(service: string, i: number): string {
  return `${instanceId(service, i)}-ttl`;
}

/**
 * The config document. Addresses are 10.<s/256>.<s%256>.<i> (s = service number), ports 8000+i,
 * two tags and one meta key per instance so bodies look like a real fleet's. TTL checks start
 * passing and last 24 h: no check flips during a run unless the harness flips one.
 */
export function benchServicesConfig(names: string[], instances: number): { services: Record<string, unknown>[] } {
  const services: Record<string, unknown>[] = [];
  names.forEach((name, s) => {
    for (let i = 1; i <= instances; i++) {
      services.push({
        id: instanceId(name, i),
        name,
        address: `10.${Math.floor(s / 256)}.${s % 256}.${i}`,
        port: 8000 + i,
        tags: ['bench', `v${(i % 2) + 1}`],
        meta: { instance: String(i) },
        check: { id: checkIdOf(name, i), name: `${name} ${i} heartbeat`, ttl: '24h', status: 'passing' },
      });
    }
  });
  return { services };
}
