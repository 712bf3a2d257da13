import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { groupPids } from './proc-status.ts';
import { ProcessReaper } from './process-reaper.ts';

/** Running (not a zombie waiting for init to reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Waits (bounded, polling: there is no event for another process's death) until `pid` is gone. */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !alive(pid);
}

describe('ProcessReaper', () => {
  it('stops a child and the helpers it forked (whole process group)', async () => {
    const reaper = new ProcessReaper();
    const t = await reaper.spawn('forker', 'sh', ['-c', 'sleep 30 & echo $!; wait'], { captureStdout: true });
    await once(t.child.stdout!, 'data');
    const helper = Number(t.stdout().trim());
    expect(alive(helper)).toBe(true);
    expect(await reaper.stop(t, 2000)).toBe(true);
    expect(await goneWithin(helper, 2000)).toBe(true);
    expect(groupPids(t.pid)).toEqual([]);
  });

  it('SIGKILLs a child that ignores SIGTERM once the grace period ends', async () => {
    const reaper = new ProcessReaper();
    const t = await reaper.spawn('stubborn', 'sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 1; done']);
    await once(t.child.stdout!, 'data');
    expect(await reaper.stop(t, 200)).toBe(true);
    const ex = await t.exited;
    expect(ex.signal).toBe('SIGKILL');
  });

  it('stopAll stops everything and keeps the tail of each child output', async () => {
    const reaper = new ProcessReaper();
    const a = await reaper.spawn('a', 'sh', ['-c', 'echo to-stderr >&2; sleep 30']);
    const b = await reaper.spawn('b', 'sleep', ['30']);
    await once(a.child.stderr!, 'data');
    expect(reaper.running().map((t) => t.name).sort()).toEqual(['a', 'b']);
    expect(await reaper.stopAll(1000)).toEqual([]);
    expect(a.done && b.done).toBe(true);
    expect(a.tail()).toContain('to-stderr');
  });

  it('rejects when the executable does not exist', async () => {
    const reaper = new ProcessReaper();
    await expect(reaper.spawn('nope', '/nonexistent/binary', [])).rejects.toMatchObject({ code: 'ENOENT' });
    expect(reaper.running()).toEqual([]);
  });

  it('on SIGTERM to the harness, stops its children before exiting', async () => {
    // A real harness process: a reaper with signal handlers and one long-lived child.
    const script = `
      import { ProcessReaper } from ${JSON.stringify(join(resolve(__dirname), 'process-reaper.ts'))};
      const r = new ProcessReaper();
      r.installSignalHandlers(() => {});
      const t = await r.spawn('sleeper', 'sleep', ['30']);
      process.stdout.write(String(t.pid) + '\\n');
      setInterval(() => {}, 1000);
    `;
    const harness = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: resolve(__dirname, '../..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [chunk] = (await once(harness.stdout!, 'data')) as [Buffer];
      const sleeper = Number(chunk.toString().trim());
      expect(alive(sleeper)).toBe(true);
      harness.kill('SIGTERM');
      const [code] = (await once(harness, 'exit')) as [number | null];
      expect(code).toBe(143);
      expect(await goneWithin(sleeper, 2000)).toBe(true);
    } finally {
      harness.kill('SIGKILL');
    }
  });
});
