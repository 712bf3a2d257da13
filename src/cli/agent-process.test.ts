/**
 * `herald agent` as users run it: a real child process, config files on disk, a real script
 * check, SIGHUP reloads (good and bad), and a clean SIGTERM. Waits are on DNS answers and
 * process events, each bounded by a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { askUdp, dataOf, rcodeOf } from '../dns/dns-test-client.ts';
import { freePort } from './commands/cli-harness.ts';

const HERALD = join(import.meta.dirname, 'herald.mjs');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

function startAgent(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [HERALD, 'agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Poll until `probe` holds, with a deadline; DNS has no push notification to wait on. */
async function until(what: string, probe: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('herald agent process', () => {
  it('follows a failing script check, reloads on SIGHUP, refuses a bad reload, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-proc-'));
    const flag = join(dir, 'healthy');
    writeFileSync(flag, '');
    writeFileSync(
      join(dir, 'web.json'),
      JSON.stringify({
        service: {
          name: 'web',
          port: 80,
          address: '10.9.0.1',
          // Exit 1 would be `warning` (still in DNS); exit 2 is critical.
          check: { args: ['sh', '-c', `test -f ${flag} || exit 2`], interval: '1s', status: 'passing' },
        },
      }),
    );
    const port = await freePort();
    const agent = startAgent(['-dev', '-config-dir', dir, '-dns-port', String(port), '-node', 'proc1', '-plugin', 'none']);
    const web = () => askUdp('web.service.consul', { port, timeoutMs: 500 });

    await until('web answers', async () => dataOf(await web(), 'A').join() === '10.9.0.1');

    // The check starts failing: the instance leaves DNS within about one interval.
    rmSync(flag);
    await until('web leaves DNS', async () => rcodeOf(await web()) === 'NXDOMAIN');
    writeFileSync(flag, '');
    await until('web comes back', async () => dataOf(await web(), 'A').join() === '10.9.0.1');

    // A good reload adds a service.
    writeFileSync(join(dir, 'api.json'), JSON.stringify({ service: { name: 'api', port: 81, address: '10.9.0.2' } }));
    agent.child.kill('SIGHUP');
    await until('api answers after SIGHUP', async () => dataOf(await askUdp('api.service.consul', { port, timeoutMs: 500 }), 'A').join() === '10.9.0.2');

    // A bad reload is refused with the file and line; the running config keeps answering.
    writeFileSync(join(dir, 'zz-bad.json'), '{\n  "service": {\n    "name": "bad",\n    "port": "eighty"\n  }\n}\n');
    agent.child.kill('SIGHUP');
    await until('the refusal is logged', async () => /reload refused/.test(agent.output()));
    expect(agent.output()).toMatch(/zz-bad\.json/);
    expect(agent.output()).toMatch(/:4/); // the line of "port"
    expect(dataOf(await askUdp('api.service.consul', { port }), 'A')).toEqual(['10.9.0.2']);
    expect(agent.child.exitCode).toBeNull();

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  }, 60_000);

  it('refuses to start on a bad config file, naming the file, the line and the problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-proc-bad-'));
    writeFileSync(join(dir, 'broken.json'), '{\n  "service": {\n    "name": "x",\n    "port": 1,\n  }\n}\n');
    const agent = startAgent(['-dev', '-config-dir', dir, '-dns-port', String(await freePort()), '-plugin', 'none']);
    expect(await agent.exited).toBe(1);
    expect(agent.output()).toMatch(/broken\.json/);
    expect(agent.output()).toMatch(/:5/);
  }, 30_000);

  it('refuses unknown flags', async () => {
    const agent = startAgent(['-dev', '-no-such-flag']);
    expect(await agent.exited).toBe(1);
    expect(agent.output()).toMatch(/no-such-flag/);
  }, 30_000);
});
