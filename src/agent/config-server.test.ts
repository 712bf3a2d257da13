import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

const load = (flags: string[]) => loadConfig({ flags }, { hostname: 'h1' });
const problems = (flags: string[]) => {
  try {
    load(flags);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the config to be refused');
};

describe('server settings', () => {
  it('reads -server, -bootstrap-expect, repeatable -retry-join (port 8300 by default), -server-port and -advertise', () => {
    const c = load(['-server', '-data-dir', '/tmp/x', '-bootstrap-expect', '3', '-retry-join', '10.0.0.1', '-retry-join', '10.0.0.2:9300', '-retry-join', '10.0.0.1', '-server-port', '0', '-advertise', '10.0.0.9']);
    expect(c).toMatchObject({ server: true, bootstrapExpect: 3, retryJoin: ['10.0.0.1:8300', '10.0.0.2:9300'], advertiseAddr: '10.0.0.9', ports: { server: 0 } });
    expect(load(['-dev'])).toMatchObject({ server: false, bootstrapExpect: 0, retryJoin: [], ports: { server: 8300 } });
  });

  it('reads the same keys from a config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-cfg-server-'));
    writeFileSync(join(dir, 's.json'), JSON.stringify({ server: true, bootstrap_expect: 5, retry_join: ['[::1]:8301', 'h2'], advertise_addr: '10.1.1.1', ports: { server: 8399 }, data_dir: dir }));
    expect(load(['-config-dir', dir])).toMatchObject({ server: true, bootstrapExpect: 5, retryJoin: ['[::1]:8301', 'h2:8300'], advertiseAddr: '10.1.1.1', ports: { server: 8399 } });
  });

  it('refuses inconsistent settings with messages naming the field', () => {
    expect(problems(['-dev', '-bootstrap-expect', '3'])).toMatch(/bootstrap_expect \(-bootstrap-expect 3\) is only for servers/);
    expect(problems(['-server', '-bootstrap-expect', '3'])).toMatch(/server \(-server\) keeps the Raft log in the data dir/);
    expect(problems(['-server', '-data-dir', '/tmp/x'])).toMatch(/a server needs bootstrap_expect .* or retry_join/);
    expect(problems(['-server', '-dev', '-retry-join', 'a b'])).toMatch(/-retry-join: must be host or host:port/);
    expect(problems(['-server', '-dev', '-bootstrap-expect', 'three'])).toMatch(/invalid value "three" for flag -bootstrap-expect/);
    expect(problems(['-server', '-dev', '-advertise', 'nope'])).toMatch(/-advertise: must be an IP address/);
    // -dev -server alone is a one-server cluster.
    expect(load(['-dev', '-server'])).toMatchObject({ server: true, dev: true });
  });
});
