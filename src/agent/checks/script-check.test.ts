import { describe, it, expect } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScriptCheck } from './script-check.ts';

/** True once `pid` is gone or a zombie (PID 1 in a container may never reap it). */
async function isDead(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
    throw err;
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name, is the state.
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // vanished between the two looks
  }
}

/** Polls with a bounded deadline: there is no event for another process's death. */
async function waitDead(pid: number, deadlineMs = 5000): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  for (let i = 0; i < 500 && Date.now() < until; i++) {
    if (await isDead(pid)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return isDead(pid);
}

describe('runScriptCheck: exit codes (Nagios convention)', () => {
  const cases: { script: string; status: string; output: string }[] = [
    { script: 'echo ok; exit 0', status: 'passing', output: 'ok\n' },
    { script: 'echo degraded; exit 1', status: 'warning', output: 'degraded\n' },
    { script: 'echo down; exit 2', status: 'critical', output: 'down\n' },
    { script: 'exit 255', status: 'critical', output: '' },
    { script: 'kill -TERM $$', status: 'critical', output: '' },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.script)} -> ${c.status}`, async () => {
      const r = await runScriptCheck({ args: ['sh', '-c', c.script] });
      expect(r).toEqual({ status: c.status, output: c.output });
    });
  }
});

describe('runScriptCheck: output', () => {
  it('collects stdout and stderr into one output', async () => {
    const r = await runScriptCheck({ args: ['sh', '-c', 'echo to-out; echo to-err >&2'] });
    expect(r.status).toBe('passing');
    expect(r.output).toContain('to-out\n');
    expect(r.output).toContain('to-err\n');
  });

  it('runs argv without a shell: metacharacters are plain arguments', async () => {
    const r = await runScriptCheck({ args: ['echo', '$HOME', '&&', 'exit', '3'] });
    expect(r).toEqual({ status: 'passing', output: '$HOME && exit 3\n' });
  });

  it('keeps the first 4096 bytes, drains the rest so the child is not blocked, and says so', async () => {
    const r = await runScriptCheck({
      args: ['sh', '-c', 'head -c 100000 /dev/zero | tr "\\000" a; head -c 50000 /dev/zero | tr "\\000" b >&2'],
    });
    expect(r.status).toBe('passing');
    expect(r.output).toBe('a'.repeat(4096) + ' ... (captured 4096 of 150000 bytes)');
  });

  it('a spawn failure is critical with the error text', async () => {
    const r = await runScriptCheck({ args: ['/nonexistent/herald-check-xyz'] });
    expect(r.status).toBe('critical');
    expect(r.output).toContain('ENOENT');
  });
});

describe('runScriptCheck: timeout', () => {
  it('kills the whole process group, grandchildren included, and reports Consul\'s message', async () => {
    // The child prints its background grandchild's pid, then waits on it.
    const r = await runScriptCheck({ args: ['sh', '-c', 'sleep 60 & echo $!; wait'], timeout: 500 });
    expect(r.status).toBe('critical');
    const m = /^Timed out \(500ms\) running check\n\n(\d+)\n$/.exec(r.output);
    expect(m, r.output).not.toBeNull();
    expect(await waitDead(Number(m![1]))).toBe(true);
  });

  it('a grandchild holding the output pipe after the child exits still ends in a timeout kill', async () => {
    // As with Consul (Go's cmd.Wait waits for the output copy), the run is not over while
    // something still writes to its output; the timeout then kills the group.
    const r = await runScriptCheck({ args: ['sh', '-c', 'sleep 60 & echo $!'], timeout: 500 });
    expect(r.status).toBe('critical');
    const m = /^Timed out \(500ms\) running check\n\n(\d+)\n$/.exec(r.output);
    expect(m, r.output).not.toBeNull();
    expect(await waitDead(Number(m![1]))).toBe(true);
  });

  it('abort kills the process group as well', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-script-'));
    const pidFile = join(dir, 'pid');
    const ac = new AbortController();
    const run = runScriptCheck(
      { args: ['sh', '-c', 'sleep 60 & echo $! > "$1.tmp"; mv "$1.tmp" "$1"; wait', 'sh', pidFile], timeout: 30_000 },
      ac.signal,
    );
    // Bounded poll for the grandchild's pid file (no event exists for it).
    let pid = NaN;
    for (let i = 0; i < 500 && Number.isNaN(pid); i++) {
      pid = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
      if (Number.isNaN(pid)) await new Promise((r) => setTimeout(r, 10));
    }
    expect(pid).toBeGreaterThan(0);
    ac.abort();
    const r = await run;
    expect(r).toEqual({ status: 'critical', output: 'check stopped' });
    expect(await waitDead(pid)).toBe(true);
    await rm(dir, { recursive: true, force: true });
  });
});
