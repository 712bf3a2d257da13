import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/agent/config.ts';
import { benchServiceNames, benchServicesConfig, checkIdOf, instanceId } from './catalog-config.ts';

describe('bench catalog config', () => {
  it('names web first, then zero-padded svc-NN, all distinct', () => {
    const names = benchServiceNames(50);
    expect(names).toHaveLength(50);
    expect(names.slice(0, 3)).toEqual(['web', 'svc-01', 'svc-02']);
    expect(names[49]).toBe('svc-49');
    expect(new Set(names).size).toBe(50);
  });

  it('is a config file Herald loads: every instance with its passing TTL check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-bench-cfg-'));
    try {
      const names = benchServiceNames(50);
      writeFileSync(join(dir, 'bench.json'), JSON.stringify(benchServicesConfig(names, 3)));
      const cfg = loadConfig({ flags: ['-dev', '-config-dir', dir] });
      expect(cfg.services).toHaveLength(150);
      const web2 = cfg.services.find((s) => s.id === instanceId('web', 2));
      expect(web2).toMatchObject({ name: 'web', port: 8002, address: '10.0.0.2' });
      expect(web2!.checks).toHaveLength(1);
      expect(web2!.checks[0]).toMatchObject({ id: checkIdOf('web', 2), status: 'passing' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
