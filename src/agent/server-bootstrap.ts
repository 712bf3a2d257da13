/**
 * When a new server forms a cluster (Consul's bootstrap_expect), decided from what it has
 * learned through `herald.join` (server-join.ts). Pure: no I/O, so the rules are unit-tested.
 *
 * - A contacted server already in a cluster decides it: when that cluster's voters include
 *   this server (it was bootstrapped with us and we lost our state before writing it, or we
 *   learned of the cluster late), start with the same voter list; otherwise start empty and be
 *   added by the leader with a single-server membership change (§4.1).
 * - Otherwise, once `expect` servers (this one included) know each other, the `expect` lowest
 *   node ids are the initial voters. Every one of them computes the same list from the same
 *   set and bootstraps with it (the driver's "same list on every initial member"); a server
 *   outside the list waits and is added once the cluster exists.
 *
 * Known limit: with more than `expect` servers starting at once, two servers that have seen
 * different sets could compute different lists; run exactly `expect` servers at first start
 * (as Consul advises).
 */

/** A server as the join exchange describes it. */
export interface ServerInfo {
  readonly id: string;
  readonly name: string;
  /** Its server RPC address, `host:port`. */
  readonly address: string;
  /** Its replicated-state plugins, sorted. */
  readonly plugins: readonly string[];
}

/** A contacted server's own cluster, when it has one: its voters' id -> address. */
export interface ClusterSeen {
  readonly via: ServerInfo;
  readonly voters: Readonly<Record<string, string>>;
}

export type BootstrapDecision =
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'bootstrap'; readonly voters: Readonly<Record<string, string>> }
  | { readonly kind: 'join'; readonly via: ServerInfo };

/** What a fresh server does next, from itself, bootstrap_expect and what it has learned. */
export function decideBootstrap(self: ServerInfo, expect: number, known: readonly ServerInfo[], clusters: readonly ClusterSeen[]): BootstrapDecision {
  const cluster = clusters[0];
  if (cluster) {
    if (self.id in cluster.voters) return { kind: 'bootstrap', voters: { ...cluster.voters, [self.id]: self.address } };
    return { kind: 'join', via: cluster.via };
  }
  if (expect <= 0) return { kind: 'wait', reason: 'no server contacted is in a cluster yet (bootstrap_expect is not set)' };
  const all = new Map<string, ServerInfo>();
  for (const s of known) all.set(s.id, s);
  all.set(self.id, self);
  if (all.size < expect) return { kind: 'wait', reason: `${all.size} of ${expect} expected servers known` };
  const chosen = [...all.keys()].sort().slice(0, expect);
  if (!chosen.includes(self.id)) return { kind: 'wait', reason: `the first ${expect} servers (${chosen.join(', ')}) form the cluster; waiting to be added` };
  return { kind: 'bootstrap', voters: Object.fromEntries(chosen.map((id) => [id, all.get(id)!.address])) };
}

/**
 * The replicated-state plugins that differ between two servers, or undefined when the sets are
 * equal. Servers must apply the same commands the same way, so they must run the same set.
 */
export function pluginMismatch(mine: readonly string[], theirs: readonly string[]): { onlyHere: string[]; onlyThere: string[] } | undefined {
  const a = new Set(mine);
  const b = new Set(theirs);
  const onlyHere = [...a].filter((p) => !b.has(p)).sort();
  const onlyThere = [...b].filter((p) => !a.has(p)).sort();
  return onlyHere.length + onlyThere.length === 0 ? undefined : { onlyHere, onlyThere };
}

/** The refusal text for a plugin mismatch, from the point of view of `here` (this server). */
export function describeMismatch(here: string, there: string, m: { onlyHere: string[]; onlyThere: string[] }): string {
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : '(none)');
  return (
    `server ${there} runs different replicated-state plugins than ${here}: ` +
    `only on ${here}: ${list(m.onlyHere)}; only on ${there}: ${list(m.onlyThere)}. ` +
    'Every server must run the same replicated-state plugins'
  );
}
