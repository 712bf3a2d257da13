/**
 * The fault test's network namespace (fault-netns.ts) as root on the real kernel: reachable
 * from the host over the veth, gone after close(), gone after a SIGTERM to the process that made
 * it, and a dead run's leftovers (namespace, a process inside, veth) removed before a new one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from './commands/cli-harness.ts';
import { FaultNetns, netnsUnavailable, removeLeftovers } from './fault-netns.ts';

const skip = netnsUnavailable();
const namespaces = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
const linkExists = (name: string) => spawnSync('ip', ['link', 'show', name], { stdio: 'ignore' }).status === 0;

describe.skipIf(skip !== undefined)(`fault test network namespace${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('serves the host over the veth, runs close hooks, and leaves nothing after close()', async () => {
    const ns = FaultNetns.create(2);
    let hooked = false;
    ns.onClose(() => (hooked = true));
    try {
      expect(namespaces()).toContain(ns.name);
      expect(linkExists(ns.hostIf)).toBe(true);
      // A listener inside, as uid 64190, on the second namespace address; the host connects to it.
      const [cmd, ...args] = ns.command([process.execPath, '-e', `require('net').createServer((s) => s.end('hi')).listen(7000, '${ns.address(2)}', () => console.log('up'))`], 64190);
      const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        await once(child.stdout!, 'data');
        const sock = net.connect(7000, ns.address(2));
        const [data] = (await once(sock, 'data')) as [Buffer];
        expect(data.toString()).toBe('hi');
        sock.destroy();
        // Every namespace address sits on the namespace's end of the veth.
        expect(ns.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', 'veth0'])).toContain(`${ns.address(1)}/24`);
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      ns.close();
    }
    expect(hooked).toBe(true);
    expect(namespaces()).not.toContain(ns.name);
    expect(linkExists(ns.hostIf)).toBe(false);
  });

  it('is removed when the process that made it gets SIGTERM', async () => {
    const script = `
      import { FaultNetns } from ${JSON.stringify(join(import.meta.dirname, 'fault-netns.ts'))};
      const ns = FaultNetns.create(1);
      process.stdout.write(ns.name + ' ' + ns.hostIf + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
      const [name, hostIf] = chunk.toString().trim().split(' ');
      expect(namespaces()).toContain(name);
      child.kill('SIGTERM');
      const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
      expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' }); // the default action, re-raised
      expect(namespaces()).not.toContain(name);
      expect(linkExists(hostIf!)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("removes a dead run's namespace, the processes left in it, and its veth", async () => {
    const gone = spawn('true');
    await once(gone, 'exit');
    const pid = gone.pid!;
    const name = `herald-faults-${pid}`;
    spawnSync('ip', ['netns', 'add', name]);
    spawnSync('ip', ['link', 'add', `hf${pid}`, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', name]);
    const orphan = spawn('ip', ['netns', 'exec', name, 'sleep', '30'], { stdio: 'ignore' });
    const orphanExit = once(orphan, 'exit');
    try {
      await until('the orphan to enter the namespace', async () => spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.trim() !== '', 5_000);
      const removed = removeLeftovers();
      expect(removed).toContain(name);
      expect((await orphanExit)[1]).toBe('SIGKILL');
      expect(namespaces()).not.toContain(name);
      expect(linkExists(`hf${pid}`)).toBe(false);
    } finally {
      orphan.kill('SIGKILL');
      spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      spawnSync('ip', ['link', 'del', `hf${pid}`], { stdio: 'ignore' });
    }
  });
});

