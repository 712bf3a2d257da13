import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import type { DnsHook, DnsQuery, PluginContext, RuntimeConfig } from '../../src/plugin.ts';
import zones from './index.ts';
import { formatRecord } from './zone-file.ts';

/** A minimal PluginContext: records the hook, reload handler and invalidations. */
function fakeContext(zoneDir: string | undefined, logs: string[] = []) {
  const hooks: DnsHook[] = [];
  const reloads: Array<(c: RuntimeConfig) => void | Promise<void>> = [];
  const invalidated: string[][] = [];
  const config = { zoneDir } as RuntimeConfig;
  const ctx: PluginContext = {
    config,
    // The DNS plugins never read the catalog or the agent.
    catalog: {} as PluginContext['catalog'],
    agent: {} as PluginContext['agent'],
    options: {},
    log: { ...silentLogger, info: (m) => logs.push(m), warn: (m) => logs.push(m) },
    core: {
      propose: () => Promise.reject(new Error('not in this test')),
      onChange: () => () => {},
      invalidateDns: (deps) => invalidated.push(deps),
    },
    dnsHook: (h) => hooks.push(h),
    stateExtension: () => {},
    httpRoutes: () => {},
    onStart: () => {},
    onStop: () => {},
    onReload: (fn) => reloads.push(fn),
  };
  return { ctx, hooks, reloads, invalidated, config };
}

function q(name: string, type = 1): DnsQuery {
  return {
    name,
    lname: name.toLowerCase(),
    type,
    class: 1,
    transport: 'udp',
    packet: Buffer.alloc(0),
    remote: { address: '127.0.0.1', port: 5353 },
    rd: true,
  };
}

async function answerLines(hook: DnsHook, name: string, type = 1): Promise<string[] | undefined> {
  const r = await hook.resolve(q(name, type));
  if (!r) return undefined;
  if (r.kind !== 'answer') throw new Error('zones never relays raw packets');
  return r.answers.map(formatRecord);
}

const zoneA = (addr: string) => `$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 30\nwww A ${addr}\n`;

describe('zones plugin', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'herald-zones-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('registers one hook that answers loaded zones and passes everything else on', async () => {
    await writeFile(path.join(dir, 'a.test.zone'), zoneA('192.0.2.1'));
    const { ctx, hooks } = fakeContext(dir);
    await zones.setup(ctx);
    expect(zones.name).toBe('zones');
    expect(hooks.map((h) => h.name)).toEqual(['zones']);
    expect(await answerLines(hooks[0], 'www.a.test')).toEqual(['www.a.test. 60 IN A 192.0.2.1']);
    expect(await hooks[0].resolve(q('www.elsewhere.test'))).toBeUndefined();
  });

  it('serves the shipped example zone', async () => {
    const { ctx, hooks } = fakeContext(path.resolve(import.meta.dirname, '../../zones'));
    await zones.setup(ctx);
    expect(await answerLines(hooks[0], 'web.example.internal')).toEqual([
      'web.example.internal. 300 IN CNAME www.example.internal.',
      'www.example.internal. 300 IN A 192.0.2.80',
      'www.example.internal. 300 IN A 192.0.2.81',
    ]);
  });

  it('without a zone directory it logs and answers nothing', async () => {
    const logs: string[] = [];
    const { ctx, hooks } = fakeContext(undefined, logs);
    await zones.setup(ctx);
    expect(logs).toContain('no zone directory configured; serving no static zones');
    expect(await hooks[0].resolve(q('www.a.test'))).toBeUndefined();
  });

  it('a broken zone file stops setup with file:line', async () => {
    await writeFile(path.join(dir, 'a.test.zone'), zoneA('192.0.2.1') + 'bad A nope\n');
    const { ctx } = fakeContext(dir);
    await expect(zones.setup(ctx)).rejects.toMatchObject({
      code: 'HERALD_ERR_ZONES_PARSE',
      message: `${path.join(dir, 'a.test.zone')}:4: A address 'nope' is not an IPv4 address`,
    });
  });

  it('reload swaps to the new zones and invalidates old and new origins', async () => {
    await writeFile(path.join(dir, 'a.test.zone'), zoneA('192.0.2.1'));
    await writeFile(path.join(dir, 'gone.test.zone'), zoneA('192.0.2.9'));
    const { ctx, hooks, reloads, invalidated, config } = fakeContext(dir);
    await zones.setup(ctx);
    await writeFile(path.join(dir, 'a.test.zone'), zoneA('192.0.2.2'));
    await unlink(path.join(dir, 'gone.test.zone'));
    await writeFile(path.join(dir, 'new.test.zone'), zoneA('192.0.2.3'));
    await reloads[0](config);
    expect(await answerLines(hooks[0], 'www.a.test')).toEqual(['www.a.test. 60 IN A 192.0.2.2']);
    expect(await answerLines(hooks[0], 'www.new.test')).toEqual(['www.new.test. 60 IN A 192.0.2.3']);
    expect(await hooks[0].resolve(q('www.gone.test'))).toBeUndefined();
    expect(invalidated.length).toBe(1);
    expect([...invalidated[0]].sort()).toEqual(['zone:a.test', 'zone:gone.test', 'zone:new.test']);
  });

  it('reload follows a changed zoneDir in the new config', async () => {
    const other = await mkdtemp(path.join(tmpdir(), 'herald-zones-other-'));
    try {
      await writeFile(path.join(dir, 'a.test.zone'), zoneA('192.0.2.1'));
      await writeFile(path.join(other, 'b.test.zone'), zoneA('192.0.2.7'));
      const { ctx, hooks, reloads, config } = fakeContext(dir);
      await zones.setup(ctx);
      await reloads[0]({ ...config, zoneDir: other });
      expect(await hooks[0].resolve(q('www.a.test'))).toBeUndefined();
      expect(await answerLines(hooks[0], 'www.b.test')).toEqual(['www.b.test. 60 IN A 192.0.2.7']);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('a reload with a broken file is refused and the old zones keep serving', async () => {
    await writeFile(path.join(dir, 'a.test.zone'), zoneA('192.0.2.1'));
    const { ctx, hooks, reloads, invalidated, config } = fakeContext(dir);
    await zones.setup(ctx);
    // One good change and one broken file: nothing of the new directory may be served.
    await writeFile(path.join(dir, 'a.test.zone'), zoneA('192.0.2.2'));
    await writeFile(path.join(dir, 'b.test.zone'), zoneA('192.0.2.3') + '\n@ SOA ns1 hostmaster 2 1 1 1 1\n');
    await expect(reloads[0](config)).rejects.toMatchObject({
      code: 'HERALD_ERR_ZONES_PARSE',
      message: expect.stringContaining(`${path.join(dir, 'b.test.zone')}:5: second SOA record`),
    });
    expect(await answerLines(hooks[0], 'www.a.test')).toEqual(['www.a.test. 60 IN A 192.0.2.1']);
    expect(await hooks[0].resolve(q('www.b.test'))).toBeUndefined();
    expect(invalidated).toEqual([]);
  });
});
