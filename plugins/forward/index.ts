/**
 * forward: relays every question that reaches it to the configured recursors (consul-compat
 * §1.10). Last in the DNS chain (src/dns/chain.ts). See README.md.
 */
import { setMaxListeners } from 'node:events';
import { RCODE } from '../../src/plugin.ts';
import type { DnsAnswer, DnsHook, HeraldPlugin, Logger, RuntimeConfig } from '../../src/plugin.ts';
import { forwardQuery, parseRecursor } from './recursor-client.ts';
import type { Upstream } from './recursor-client.ts';

/**
 * Forwarded queries in flight at once; beyond it new ones get SERVFAIL without being sent.
 * Each holds a socket (and a file descriptor) until its reply or timeout, so a flood of
 * misses for outside names must not be able to exhaust descriptors.
 */
export const MAX_IN_FLIGHT = 1024;

/** What the hook reads from the config; rebuilt whole on reload. */
export interface ForwardSettings {
  upstreams: Upstream[];
  timeoutMs: number;
  strategy: 'sequential' | 'random';
}

/** Parses the forwarding part of a config. Throws HERALD_ERR_CONFIG_INVALID on a bad recursor. */
export function forwardSettings(config: RuntimeConfig): ForwardSettings {
  return {
    upstreams: config.recursors.map(parseRecursor),
    timeoutMs: config.dnsConfig.recursorTimeout,
    strategy: config.dnsConfig.recursorStrategy,
  };
}

function bare(rcode: number): DnsAnswer {
  // No `cache`: forwarded outcomes belong to the upstream, and Herald never caches them.
  return { kind: 'answer', rcode, authoritative: false, answers: [], authority: [], additional: [] };
}

export interface ForwardHookOptions {
  log: Logger;
  /** Aborting it ends every attempt in flight and fails new queries (plugin stop). */
  signal: AbortSignal;
  maxInFlight?: number;
  random?: () => number;
  newId?: () => number;
}

/**
 * The `forward` DNS hook. No recursors: REFUSED (§1.8). Otherwise a DnsRawReply with the
 * upstream's reply and the client's ID, or SERVFAIL when every recursor failed. `settings` is
 * read per query, so a reload applies to the next one.
 */
export function createForwardHook(settings: () => ForwardSettings, opts: ForwardHookOptions): DnsHook {
  const max = opts.maxInFlight ?? MAX_IN_FLIGHT;
  // Every attempt in flight listens on the stop signal; the cap bounds them.
  setMaxListeners(max + 1, opts.signal);
  let inFlight = 0;
  return {
    name: 'forward',
    resolve(query) {
      const s = settings();
      if (s.upstreams.length === 0) return bare(RCODE.REFUSED);
      if (inFlight >= max || opts.signal.aborted) return bare(RCODE.SERVFAIL);
      inFlight++;
      return forwardQuery(query.packet, s.upstreams, {
        transport: query.transport,
        timeoutMs: s.timeoutMs,
        strategy: s.strategy,
        random: opts.random,
        newId: opts.newId,
        signal: opts.signal,
      })
        .then((result) => {
          if (result.reply) return { kind: 'raw' as const, packet: result.reply };
          opts.log.debug(
            `all recursors failed for ${query.name || '.'} type ${query.type}: ` +
              result.attempts.map((a) => `${a.upstream} ${a.outcome}${a.detail ? ` (${a.detail})` : ''}`).join(', '),
          );
          return bare(RCODE.SERVFAIL);
        })
        .finally(() => {
          inFlight--;
        });
    },
  };
}

/** The forward plugin: one DNS hook, `forward`; follows recursors and dns_config on reload. */
const forward: HeraldPlugin = {
  name: 'forward',
  setup(ctx) {
    let settings = forwardSettings(ctx.config);
    const stopping = new AbortController();
    ctx.dnsHook(createForwardHook(() => settings, { log: ctx.log, signal: stopping.signal }));
    ctx.onReload((config) => {
      // Parse first: a bad recursor throws and refuses the reload with the old settings intact.
      settings = forwardSettings(config);
    });
    ctx.onStop(() => stopping.abort());
  },
};

export default forward;
