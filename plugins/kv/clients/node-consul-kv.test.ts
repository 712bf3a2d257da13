/**
 * The npm `consul` package (node-consul 2.x), unmodified, against a real `herald agent -plugin
 * http-api -plugin kv` (consul-compat.md §9): kv.set/get/keys/del (recurse included), and its
 * watch helper on kv.get, which must see every change of its key and must not be woken by
 * writes to other keys (the agent's blocking query for one key waits on that key alone).
 */
import Consul from 'consul';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, tempDir, type RunningAgent } from '../../../src/cli/commands/cli-harness.ts';

interface KvPair {
  Key: string;
  Value: string | null;
  Flags: number;
  ModifyIndex: number;
}

let agent: RunningAgent;
let consul: Consul;

beforeAll(async () => {
  agent = await startAgent({ configDir: tempDir('node-kv'), node: 'node-kv', extraArgs: ['-plugin', 'kv'] });
  consul = new Consul({ host: '127.0.0.1', port: agent.httpPort });
}, 30_000);

afterAll(() => {
  consul?.destroy();
  agent?.kill();
});

describe('npm consul 2.x kv against a herald agent', { timeout: 30_000 }, () => {
  it('sets, gets, lists keys and deletes, with recurse', async () => {
    expect(await consul.kv.set('node/app/name', 'web')).toBe(true);
    expect(await consul.kv.set({ key: 'node/app/port', value: '8080', flags: 42 })).toBe(true);
    expect(await consul.kv.set('node/app/deep/x', 'x')).toBe(true);
    expect(await consul.kv.set('node/other', 'o')).toBe(true);

    const one = (await consul.kv.get('node/app/name')) as KvPair;
    expect(one).toMatchObject({ Key: 'node/app/name', Value: 'web', Flags: 0 });
    expect((await consul.kv.get('node/app/port')) as KvPair).toMatchObject({ Value: '8080', Flags: 42 });
    // node-consul maps a 404 to undefined.
    expect(await consul.kv.get('node/missing')).toBeUndefined();

    const all = (await consul.kv.get({ key: 'node/app/', recurse: true })) as KvPair[];
    expect(all.map((p) => [p.Key, p.Value])).toEqual([['node/app/deep/x', 'x'], ['node/app/name', 'web'], ['node/app/port', '8080']]);
    expect(await consul.kv.keys('node/')).toEqual(['node/app/deep/x', 'node/app/name', 'node/app/port', 'node/other']);
    expect(await consul.kv.keys({ key: 'node/', separator: '/' })).toEqual(['node/app/', 'node/other']);

    // cas: a stale index is refused, the current one accepted. (node-consul turns the agent's
    // `false` body into undefined, for Consul too: papi drops a falsy result.)
    expect(await consul.kv.set({ key: 'node/app/name', value: 'stale', cas: one.ModifyIndex - 1 })).toBeFalsy();
    expect(((await consul.kv.get('node/app/name')) as KvPair).Value).toBe('web');
    expect(await consul.kv.set({ key: 'node/app/name', value: 'web2', cas: one.ModifyIndex })).toBe(true);
    expect(((await consul.kv.get('node/app/name')) as KvPair).Value).toBe('web2');

    expect(await consul.kv.del('node/app/name')).toBe(true);
    expect(await consul.kv.get('node/app/name')).toBeUndefined();
    expect(await consul.kv.del({ key: 'node/app/', recurse: true })).toBe(true);
    expect(await consul.kv.get({ key: 'node/app/', recurse: true })).toBeUndefined();
    expect(await consul.kv.keys('node/')).toEqual(['node/other']);
  });

  it('watches kv.get: every change of the key, and no wake-up for writes to other keys', async () => {
    // Its own client, so the response counter sees only the watch's requests.
    const watcher = new Consul({ host: '127.0.0.1', port: agent.httpPort });
    let watchReads = 0;
    (watcher as unknown as { _ext(name: string, fn: (req: { opts: { name?: string } }, next: () => void) => void): void })._ext('onResponse', (req, next) => {
      if (req.opts.name === 'kv.get') watchReads++;
      next();
    });
    await consul.kv.set('watched/key', 'v0');
    const watch = watcher.watch({ method: watcher.kv.get, options: { key: 'watched/key' } as unknown as Record<string, string>, maxAttempts: 0 });
    const changes: { value: string | null; index: bigint }[] = [];
    const errors: Error[] = [];
    let wake: (() => void) | undefined;
    watch.on('change', (data: KvPair | undefined, res: { headers: Record<string, string> }) => {
      changes.push({ value: data?.Value ?? null, index: BigInt(res.headers['x-consul-index']!) });
      wake?.();
    });
    watch.on('error', (err: Error) => {
      errors.push(err);
      wake?.();
    });
    /** Resolves once `n` changes have been seen (bounded); rejects on a watch error. */
    const changesSeen = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const settle = (err?: Error) => {
          clearTimeout(timer);
          wake = undefined;
          if (err) reject(err);
          else resolve();
        };
        const timer = setTimeout(() => settle(new Error(`only ${changes.length} of ${n} changes within 10 s: ${JSON.stringify(changes.map((c) => c.value))}`)), 10_000);
        wake = () => {
          if (errors.length) settle(new Error(`watch error: ${errors.map((e) => e.message).join('; ')}`));
          else if (changes.length >= n) settle();
        };
        wake();
      });
    try {
      await changesSeen(1);
      expect(changes[0]!.value).toBe('v0');
      const readsAfterFirst = watchReads;

      // Writes to other keys, including one that shares the prefix: the parked read stays parked.
      for (let i = 0; i < 5; i++) await consul.kv.set(i % 2 ? 'watched/key2' : 'elsewhere', `noise ${i}`);
      await consul.kv.set('watched/key', 'v1');
      await changesSeen(2);
      await consul.kv.set('watched/key', 'v2');
      await changesSeen(3);
      await consul.kv.del('watched/key');
      await changesSeen(4);

      expect(changes.map((c) => c.value)).toEqual(['v0', 'v1', 'v2', null]);
      expect(changes[1]!.index).toBeGreaterThan(changes[0]!.index);
      expect(changes[2]!.index).toBeGreaterThan(changes[1]!.index);
      // One answer per change: had any of the five other writes woken the parked read, the
      // watch would have received (and counted) an answer with the unchanged index.
      expect(watchReads - readsAfterFirst).toBe(3);
    } finally {
      watch.end();
      watcher.destroy();
    }
  });
});
