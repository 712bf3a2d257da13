/**
 * zones: serves static RFC 1035 master files from `zoneDir` authoritatively. See README.md.
 *
 * Loading happens in setup (a broken zone file stops start-up with file:line) and again on
 * every reload, where the whole directory is read before anything changes: a broken file
 * refuses the reload and the running zones keep answering.
 */
import type { HeraldPlugin } from '../../src/plugin.ts';
import { loadZoneDirectory } from './zone-file.ts';
import { ZoneStore } from './zone-store.ts';

/** The zones plugin: one DNS hook, `zones`, answering names inside loaded zones. */
const zones: HeraldPlugin = {
  name: 'zones',
  async setup(ctx) {
    const log = ctx.log;
    const describe = (s: ZoneStore) => (s.origins.length ? s.origins.map((o) => o || '.').join(', ') : 'none');
    let store = new ZoneStore((await loadZoneDirectory(ctx.config.zoneDir, log)) ?? []);
    log.info(`serving zones: ${describe(store)}`);

    ctx.dnsHook({ name: 'zones', resolve: (query) => store.resolve(query) });

    ctx.onReload(async (config) => {
      // Throws on the first bad file, before the swap: the old store keeps serving.
      const next = new ZoneStore((await loadZoneDirectory(config.zoneDir, log)) ?? []);
      const deps = [...new Set([...store.deps, ...next.deps])];
      store = next;
      ctx.core.invalidateDns(deps);
      log.info(`reloaded zones: ${describe(store)}`);
    });
  },
};

export default zones;
