/**
 * A full anti-entropy sync of thousands of services must not stall DNS: the single-node log
 * applies synchronously, so the sync returns to the event loop between batches.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Agent } from './agent.ts';
import { loadConfig } from './config.ts';
import { effectivePlugins } from '../cli/agent-command.ts';
import { silentLogger } from '../log.ts';
import { askUdp, dataOf } from '../dns/dns-test-client.ts';

let agent: Agent | undefined;
afterAll(async () => agent?.stop());

it('answers DNS while a full sync of 5,000 services is still running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-ae-'));
  const services = Array.from({ length: 5000 }, (_, i) => ({ id: `s-${i}`, name: `svc-${i % 500}`, port: 1000 + i, address: `10.3.${i >> 8}.${i & 255}` }));
  writeFileSync(join(dir, 'svc.json'), JSON.stringify({ services }));
  agent = await Agent.start(
    effectivePlugins(loadConfig({ flags: ['-dev', '-config-dir', dir, '-dns-port', '0', '-node', 'ae', '-plugin', 'none'] })),
    { log: silentLogger },
  );
  const nodeChecks = agent.sm.nodeChecks('ae').filter((c) => c.checkId === 'serfHealth');
  let syncDone = false;
  const sync = agent.local.syncAll(nodeChecks).then(() => (syncDone = true));
  const reply = await askUdp('svc-7.service.consul', { port: agent.dnsPort, edns: 4096 });
  expect(syncDone).toBe(false);
  expect(dataOf(reply, 'A')).toHaveLength(10);
  await sync;
  expect(syncDone).toBe(true);
}, 60_000);

it("keeps the server's own `consul` service through a full sync (NS answers are built from it)", async () => {
  const dev = await Agent.start(
    effectivePlugins(loadConfig({ flags: ['-dev', '-dns-port', '0', '-node', 'ae-ns', '-plugin', 'none'] })),
    { log: silentLogger },
  );
  try {
    expect(dev.sm.serviceRows('consul')).toHaveLength(1);
    const nodeChecks = dev.sm.nodeChecks('ae-ns').filter((c) => c.checkId === 'serfHealth');
    await dev.local.syncAll(nodeChecks);
    expect(dev.sm.serviceRows('consul')).toHaveLength(1);
    const reply = await askUdp('consul.service.consul', { port: dev.dnsPort });
    expect(dataOf(reply, 'A')).toEqual(['127.0.0.1']);
  } finally {
    await dev.stop();
  }
});
