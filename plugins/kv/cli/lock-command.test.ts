/**
 * `herald lock` as a real process against a real agent (`-plugin http-api -plugin kv`): the
 * child runs while `<prefix>/.lock` is held by the command's session (Consul's key and Flags),
 * a second holder waits (or times out), the lock is released and the key removed when the child
 * ends, and a lost lock or a SIGTERM ends the child. The children are shell scripts that leave
 * marker files; the test waits for those with a bounded poll (no event crosses the processes).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo, startAgent, tempDir, until, type RunningAgent } from '../../../src/cli/commands/cli-harness.ts';
import { runLock } from './lock-command.ts';
import { LOCK_FLAG_VALUE } from './kv-lock.ts';

const HERALD = join(import.meta.dirname, '../../../src/cli/herald.mjs');

let agent: RunningAgent;
let url: string;

beforeAll(async () => {
  agent = await startAgent({ configDir: tempDir('lock'), node: 'lock-cli', extraArgs: ['-plugin', 'kv'] });
  url = `http://${agent.httpAddr}`;
}, 30_000);

afterAll(() => agent?.kill());

interface LockRun {
  pid: number;
  output(): string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  signal(s: NodeJS.Signals): void;
}

/** Starts `herald lock -http-addr=<agent> <args>`; killed after 25 s at the latest. */
function lock(...args: string[]): LockRun {
  const child = spawn(process.execPath, [HERALD, 'lock', `-http-addr=${agent.httpAddr}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { pid: child.pid!, output: () => stdout + stderr, done, signal: (s) => child.kill(s) };
}

interface LockEntry {
  Session?: string;
  Flags: string;
  LockIndex: number;
}

/** The lock key as the agent holds it (Flags kept as text: it is above 2^53), or undefined. */
async function lockEntry(prefix: string): Promise<LockEntry | undefined> {
  const res = await fetch(`${url}/v1/kv/${prefix}/.lock`);
  const text = await res.text();
  if (res.status === 404) return undefined;
  return (JSON.parse(text.replace(/"Flags":\s*(\d+)/, '"Flags":"$1"')) as LockEntry[])[0];
}

async function sessions(): Promise<{ ID: string; Name: string; TTL: string }[]> {
  return (await (await fetch(`${url}/v1/session/list`)).json()) as { ID: string; Name: string; TTL: string }[];
}

const waitFile = (file: string, run: LockRun) =>
  until(`${file} to appear`, async () => existsSync(file), 20_000, () => (run.output().includes('failed') ? run.output() : undefined));

describe('herald lock against a real agent', { timeout: 30_000 }, () => {
  it('runs the child holding the lock, then releases it, destroys the session and removes the key', async () => {
    const dir = tempDir('lock-run');
    const seen = join(dir, 'seen');
    const go = join(dir, 'go');
    const run = lock('-child-exit-code', 'jobs/nightly', `echo "held=$CONSUL_LOCK_HELD" > ${seen}; while [ ! -f ${go} ]; do sleep 0.05; done; exit 3`);
    await waitFile(seen, run);
    expect(readFileSync(seen, 'utf8')).toBe('held=true\n');
    // While the child runs: the key is held by the command's session, with Consul's lock Flags.
    const held = await lockEntry('jobs/nightly');
    expect(held?.Flags).toBe(LOCK_FLAG_VALUE.toString());
    const session = (await sessions()).find((s) => s.ID === held?.Session);
    expect(session).toMatchObject({ TTL: '15s', Name: `Consul lock for 'echo "held=$CONSUL_LOCK_HELD" > ${seen}; while [ ! -f ${go} ]; do sleep 0.05; done; exit 3' at 'jobs/nightly'` });

    writeFileSync(go, '');
    const end = await run.done;
    // -child-exit-code: 2 for any failed child, as Consul.
    expect(end.code).toBe(2);
    expect(end.stderr).toBe('Error running handler: exit status 3\n');
    expect(await lockEntry('jobs/nightly')).toBeUndefined();
    expect((await sessions()).some((s) => s.ID === held?.Session)).toBe(false);
  });

  it('exits 0 after a failing child without -child-exit-code, as Consul does', async () => {
    const end = await lock('jobs/plain', 'exit 5').done;
    expect(end).toEqual({ code: 0, stdout: '', stderr: 'Error running handler: exit status 5\n' });
  });

  it('makes a second holder wait: -timeout gives up, a patient one runs once the first ends', async () => {
    const dir = tempDir('lock-wait');
    const started = join(dir, 'started');
    const go = join(dir, 'go');
    const first = lock('jobs/one', `touch ${started}; while [ ! -f ${go} ]; do sleep 0.05; done`);
    await waitFile(started, first);
    const impatient = await lock('-timeout=300ms', 'jobs/one', 'echo must not run').done;
    expect(impatient).toEqual({ code: 1, stdout: '', stderr: 'Shutdown triggered or timeout during lock acquisition\n' });

    const second = lock('-verbose', 'jobs/one', 'echo second ran');
    await until('the second holder to wait', async () => second.output().includes('Attempting lock acquisition'), 20_000);
    expect(second.output()).not.toContain('second ran');
    writeFileSync(go, '');
    expect((await first.done).code).toBe(0);
    const end = await second.done;
    expect(end.code).toBe(0);
    expect(end.stdout).toContain('second ran\n');
  });

  it('kills the child when the lock is lost (its session destroyed)', async () => {
    const dir = tempDir('lock-lost');
    const started = join(dir, 'started');
    const termed = join(dir, 'termed');
    const run = lock('-child-exit-code', 'jobs/lost', `trap 'touch ${termed}; exit 7' TERM; touch ${started}; while true; do sleep 0.05; done`);
    await waitFile(started, run);
    const held = await lockEntry('jobs/lost');
    expect(held?.Session).toBeTruthy();
    await fetch(`${url}/v1/session/destroy/${held!.Session}`, { method: 'PUT' });
    const end = await run.done;
    expect(end.stderr).toContain('Lock lost, killing child\n');
    expect(existsSync(termed)).toBe(true);
    expect(end.code).toBe(2);
  });

  it('on SIGTERM, passes it to the child, and releases the lock', async () => {
    const dir = tempDir('lock-term');
    const started = join(dir, 'started');
    const termed = join(dir, 'termed');
    const run = lock('jobs/term', `trap 'touch ${termed}; exit 0' TERM; touch ${started}; while true; do sleep 0.05; done`);
    await waitFile(started, run);
    run.signal('SIGTERM');
    const end = await run.done;
    expect(existsSync(termed)).toBe(true);
    expect(end.code).toBe(0);
    expect(await lockEntry('jobs/term')).toBeUndefined();
  });
});

describe('herald lock argument errors (in-process)', () => {
  it.each([
    [['jobs/x'], 'Key prefix and child command must be specified\n'],
    [['-n=0', 'jobs/x', 'true'], 'Lock holder limit must be positive\n'],
    [['-monitor-retry=-1', 'jobs/x', 'true'], "Number for 'monitor-retry' must be >= 0\n"],
    [['-n=2', 'jobs/x', 'true'], 'Lock setup failed: -n=2 asks for a semaphore, which herald lock does not support yet (only -n=1)\n'],
  ])('lock %j', async (argv, stderr) => {
    const io = captureIo({ HERALD_HTTP_ADDR: '127.0.0.1:1' });
    expect(await runLock(argv, io)).toBe(1);
    expect(io.stderr()).toBe(stderr);
  });

  it('refuses a bad -timeout with the usage', async () => {
    const io = captureIo();
    expect(await runLock(['-timeout=soon', 'jobs/x', 'true'], io)).toBe(1);
    expect(io.stderr()).toMatch(/^invalid value "soon" for flag -timeout: parse error\n\nUsage: herald lock/);
  });
});
