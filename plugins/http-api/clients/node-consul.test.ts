/**
 * The npm `consul` package (node-consul 2.x), unmodified, against a real `herald agent` process
 * with `-plugin http-api` (consul-compat.md §9): register a service with a TTL check, read the
 * catalog and health with `passing`, flip the check, follow it with the package's watch helper
 * (which needs a non-zero X-Consul-Index and real blocking), deregister.
 */
import Consul from 'consul';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess } from './agent-process.ts';

type Watch = ReturnType<Consul['watch']>;

interface HealthEntry {
  Node: { Node: string; Address: string };
  Service: { ID: string; Service: string; Port: number; Address: string; Tags: string[]; Meta: Record<string, string> };
  Checks: { CheckID: string; Status: string; ServiceID: string; Notes: string }[];
}

/** node-consul's own name for a service's single embedded check: `service:<service id>`. */
const CHECK_ID = 'service:web-1';

let agent: AgentProcess;
let consul: Consul;

beforeAll(async () => {
  agent = await startAgentProcess({ nodeName: 'node-consul-test' });
  consul = new Consul({ host: '127.0.0.1', port: agent.httpPort });
}, 40_000);

afterAll(async () => {
  consul?.destroy();
  await agent?.stop();
});

/**
 * Records every `change` (and `error`) of a watch from the moment it is created, so none is
 * missed between two awaits: the watch may deliver a change before the write that caused it has
 * even returned its reply to us. `next()` takes the first recorded change after the previous one
 * taken that satisfies `accept`, waiting (up to `deadlineMs`) for it; it rejects on a watch error
 * (node-consul emits one for a missing/zero X-Consul-Index or a failed request).
 */
function recordChanges(watch: Watch) {
  const seen: { data: HealthEntry[]; index: bigint }[] = [];
  const errors: Error[] = [];
  const wake = new Set<() => void>();
  watch.on('change', (data: HealthEntry[], res: { headers: Record<string, string> }) => {
    seen.push({ data, index: BigInt(res.headers['x-consul-index']!) });
    for (const w of wake) w();
  });
  watch.on('error', (err: Error) => {
    errors.push(err);
    for (const w of wake) w();
  });
  let cursor = 0;
  const next = (what: string, accept: (data: HealthEntry[]) => boolean, deadlineMs = 10_000) =>
    new Promise<{ data: HealthEntry[]; index: bigint }>((resolve, reject) => {
      const check = (): boolean => {
        if (errors.length) {
          finish();
          reject(new Error(`watch error while waiting for ${what}: ${errors.map((e) => e.message).join('; ')}`));
          return true;
        }
        for (let i = cursor; i < seen.length; i++) {
          if (accept(seen[i]!.data)) {
            cursor = i + 1;
            finish();
            resolve(seen[i]!);
            return true;
          }
        }
        return false;
      };
      const finish = () => {
        clearTimeout(timer);
        wake.delete(onWake);
      };
      const onWake = () => void check();
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no watch change within ${deadlineMs} ms: ${what} (changes seen: ${seen.map((c) => `${c.index}:${c.data.length}`).join(', ')})`));
      }, deadlineMs);
      if (!check()) wake.add(onWake);
    });
  return { next, errors };
}

describe('npm consul 2.x against a herald agent', () => {
  it('registers a service with a TTL check; catalog and health follow the check', async () => {
    await consul.agent.service.register({
      name: 'web',
      id: 'web-1',
      address: '10.1.0.1',
      port: 8080,
      tags: ['v1', 'prod'],
      meta: { version: '1.2.3' },
      // The package's typings demand `name` and `timeout` on every check; a TTL check needs neither.
      check: { ttl: '30s', notes: 'app heartbeat' } as unknown as { name: string; timeout: string },
    });

    // The agent's own view: the service and its check, which starts critical (Consul's TTL default).
    const services = (await consul.agent.service.list()) as Record<string, { ID: string; Service: string; Port: number; Tags: string[] }>;
    expect(services['web-1']).toMatchObject({ ID: 'web-1', Service: 'web', Port: 8080, Tags: ['v1', 'prod'] });
    const checks = (await consul.agent.check.list()) as Record<string, { CheckID: string; Status: string; ServiceID: string }>;
    expect(checks[CHECK_ID]).toMatchObject({ CheckID: CHECK_ID, Status: 'critical', ServiceID: 'web-1' });

    // Critical: registered in the catalog, absent from `passing`.
    expect(await consul.health.service({ service: 'web', passing: true })).toEqual([]);
    const all = (await consul.health.service('web')) as HealthEntry[];
    expect(all.map((e) => e.Service.ID)).toEqual(['web-1']);

    await consul.agent.check.pass({ id: CHECK_ID, note: 'all good' });

    const catalog = (await consul.catalog.service.list()) as Record<string, string[]>;
    expect(Object.keys(catalog)).toEqual(expect.arrayContaining(['consul', 'web']));
    expect([...catalog['web']!].sort()).toEqual(['prod', 'v1']);
    const nodes = (await consul.catalog.service.nodes('web')) as { Node: string; ServiceID: string; ServiceAddress: string; ServicePort: number }[];
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({ Node: 'node-consul-test', ServiceID: 'web-1', ServiceAddress: '10.1.0.1', ServicePort: 8080 });

    const passing = (await consul.health.service({ service: 'web', passing: true })) as HealthEntry[];
    expect(passing).toHaveLength(1);
    expect(passing[0]!.Node.Node).toBe('node-consul-test');
    expect(passing[0]!.Service).toMatchObject({ ID: 'web-1', Service: 'web', Port: 8080, Address: '10.1.0.1', Meta: { version: '1.2.3' } });
    const own = passing[0]!.Checks.find((c) => c.CheckID === CHECK_ID);
    expect(own).toMatchObject({ Status: 'passing', ServiceID: 'web-1' });
    expect(passing[0]!.Checks.every((c) => c.Status === 'passing')).toBe(true);
  }, 30_000);

  it('watches health.service with passing: a change event follows each flip of the TTL check', async () => {
    const watch = consul.watch({
      method: consul.health.service,
      // The package's typings declare string options; `passing: true` is what its README shows.
      options: { service: 'web', passing: true } as unknown as Record<string, string>,
      maxAttempts: 0,
    });
    const changes = recordChanges(watch);
    try {
      // The first change is the initial read (previous index 0): web-1 is passing.
      const first = await changes.next('initial read with web-1 passing', (d) => d.length === 1);
      expect(first.index).toBeGreaterThan(0n);
      expect(first.data[0]!.Service.ID).toBe('web-1');

      // The watch re-reads with ?index=<first.index>, which parks until a change: the failed check.
      await consul.agent.check.fail({ id: CHECK_ID, note: 'down' });
      const down = await changes.next('web-1 leaves passing after check.fail', (d) => d.length === 0);
      expect(down.index).toBeGreaterThan(first.index);

      await consul.agent.check.pass({ id: CHECK_ID });
      const up = await changes.next('web-1 back in passing after check.pass', (d) => d.length === 1);
      expect(up.index).toBeGreaterThan(down.index);
      expect(up.data[0]!.Checks.find((c) => c.CheckID === CHECK_ID)?.Status).toBe('passing');
    } finally {
      watch.end();
    }
    expect(changes.errors.map((e) => e.message)).toEqual([]);
    expect(watch.isRunning()).toBe(false);
  }, 30_000);

  it('deregisters: the service and its check leave the agent, the catalog and health', async () => {
    await consul.agent.service.deregister('web-1');
    const services = (await consul.agent.service.list()) as Record<string, unknown>;
    expect(services['web-1']).toBeUndefined();
    const checks = (await consul.agent.check.list()) as Record<string, unknown>;
    expect(checks[CHECK_ID]).toBeUndefined();
    expect(await consul.health.service('web')).toEqual([]);
    expect(await consul.catalog.service.nodes('web')).toEqual([]);
    const catalog = (await consul.catalog.service.list()) as Record<string, string[]>;
    expect(Object.keys(catalog)).not.toContain('web');
    expect(Object.keys(catalog)).toContain('consul');
  }, 30_000);
});
