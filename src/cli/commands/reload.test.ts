/**
 * `herald reload` and `herald leave` as child processes against a real `herald agent -plugin
 * http-api`: a reload picks up a new config file, a bad config is refused (the agent keeps
 * running), and leave stops the agent process with exit code 0.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startAgent, tempDir, until, type RunningAgent } from './cli-harness.ts';

describe('herald reload and leave against a real agent', { timeout: 30_000 }, () => {
  let agent: RunningAgent;
  let addr: string;

  beforeAll(async () => {
    agent = await startAgent({ configDir: tempDir('reload'), node: 'cli-test' });
    addr = agent.httpAddr;
  }, 30_000);

  afterAll(() => agent?.kill());

  const localServices = async (): Promise<Record<string, unknown>> => (await fetch(`http://${addr}/v1/agent/services`)).json() as Promise<Record<string, unknown>>;

  it('triggers a reload that registers a service added to the config dir', async () => {
    expect(await localServices()).not.toHaveProperty('late');
    writeFileSync(join(agent.configDir, 'late.json'), JSON.stringify({ service: { name: 'late', port: 81 } }));
    const r = await runCli(['reload', '-http-addr', addr]);
    expect(r).toEqual({ code: 0, stdout: 'Configuration reload triggered\n', stderr: '' });
    // The API answers once the reload is done or, at the latest, shortly after: poll, bounded.
    await until('late registered', async () => 'late' in (await localServices()), 10_000);
  });

  it("reports a refused reload with the agent's status and body, and the agent keeps running", async () => {
    const bad = join(agent.configDir, 'zz-bad.json');
    writeFileSync(bad, '{\n  "service": {\n    "name": "bad",\n    "port": "eighty"\n  }\n}\n');
    try {
      const r = await runCli(['reload', '-http-addr', addr]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^Error reloading: Unexpected response code: \d{3} \(.*zz-bad\.json/);
      expect(agent.child.exitCode).toBeNull();
      expect(await localServices()).toHaveProperty('late');
    } finally {
      rmSync(bad);
    }
  });

  it('refuses stray arguments to leave without leaving', async () => {
    const r = await runCli(['leave', '-http-addr', addr, 'now']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error found unexpected args: \[now\]\n\nUsage: herald leave/);
    expect((await fetch(`http://${addr}/v1/agent/self`)).status).toBe(200);
  });

  it('makes the agent leave and exit 0', async () => {
    const r = await runCli(['leave', '-http-addr', addr]);
    expect(r).toEqual({ code: 0, stdout: 'Graceful leave complete\n', stderr: '' });
    expect(await agent.exited).toBe(0);
  });

  it('names the failure once the agent is gone', async () => {
    await agent.exited;
    const r = await runCli(['reload', '-http-addr', addr]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `Error reloading: connect ECONNREFUSED ${addr}\n` });
  });
});
