import { EventEmitter } from 'node:events';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeSet } from '../../src/plugin.ts';
import {
  DEFAULT_WAIT_MS,
  MAX_WAIT_MS,
  WAIT_KEY,
  WaiterRegistry,
  blockUntilChanged,
  parseBlockingParams,
} from './blocking.ts';
import { startTestAgent, type TestAgent } from './test-agent.ts';

const change = (index: bigint, o: { services?: string[]; nodes?: string[]; tables?: string[] } = {}): ChangeSet => ({
  index,
  tables: new Set(o.tables ?? ['services']),
  services: new Set(o.services ?? []),
  nodes: new Set(o.nodes ?? []),
});

describe('parseBlockingParams (Consul parseWait + blockingQuery timeouts)', () => {
  const noJitter = () => 0;
  const fullJitter = () => 0.999999;

  it('index 0 or absent does not block', () => {
    expect(parseBlockingParams({}, noJitter)).toEqual({ index: 0n, timeoutMs: 0 });
    expect(parseBlockingParams({ index: '0', wait: '10s' }, noJitter)).toEqual({ index: 0n, timeoutMs: 0 });
  });

  it('wait takes Go durations, defaults to 5m, is capped at 10m, plus up to wait/16 jitter', () => {
    expect(parseBlockingParams({ index: '5', wait: '30000ms' }, noJitter)).toEqual({ index: 5n, timeoutMs: 30_000 });
    expect(parseBlockingParams({ index: '5', wait: '9.5s' }, noJitter).timeoutMs).toBe(9500);
    expect(parseBlockingParams({ index: '5' }, noJitter).timeoutMs).toBe(DEFAULT_WAIT_MS);
    expect(parseBlockingParams({ index: '5', wait: '0s' }, noJitter).timeoutMs).toBe(DEFAULT_WAIT_MS);
    expect(parseBlockingParams({ index: '5', wait: '1h' }, noJitter).timeoutMs).toBe(MAX_WAIT_MS);
    expect(parseBlockingParams({ index: '5', wait: '16s' }, fullJitter).timeoutMs).toBe(16_999);
  });

  it('keeps uint64 indexes exact', () => {
    expect(parseBlockingParams({ index: '18446744073709551615' }).index).toBe(18446744073709551615n);
  });

  it.each([
    [{ index: '-1' }, 'Invalid index'],
    [{ index: 'abc' }, 'Invalid index'],
    [{ index: '18446744073709551616' }, 'Invalid index'],
    [{ index: '5', wait: '10' }, 'Invalid wait time'],
    [{ wait: 'soon' }, 'Invalid wait time'],
  ])('%j -> 400 %s', (q, message) => {
    expect(() => parseBlockingParams(q)).toThrow(expect.objectContaining({ status: 400, message }));
  });
});

describe('WaiterRegistry', () => {
  const lists = { servicesListIndex: 0n, nodesListIndex: 0n };

  it('wakes only the waiters of the keys a change names, re-checking each once', async () => {
    const reg = new WaiterRegistry(lists);
    let aChecks = 0;
    let bChecks = 0;
    let aIndex = 5n;
    const a = reg.wait(WAIT_KEY.service('web'), () => (aChecks++, aIndex > 5n), 60_000);
    const b = reg.wait(WAIT_KEY.service('db'), () => (bChecks++, false), 60_000);
    expect(reg.size).toBe(2);

    reg.onChange(change(6n, { services: ['web'] }));
    reg.flush();
    // Woken, not ready (index unchanged): parked again.
    expect([aChecks, bChecks, reg.sizeOf('svc:web')]).toEqual([1, 0, 1]);

    aIndex = 7n;
    reg.onChange(change(7n, { services: ['web'] }));
    reg.flush();
    await expect(a).resolves.toBe('changed');
    expect([aChecks, bChecks, reg.size, reg.sizeOf('svc:db')]).toEqual([2, 0, 1, 1]);

    reg.releaseAll();
    await expect(b).resolves.toBe('timeout');
    expect(bChecks).toBe(0);
    expect(reg.size).toBe(0);
  });

  it('re-checks on the next turn of the event loop, once per burst', async () => {
    const reg = new WaiterRegistry(lists);
    let checks = 0;
    void reg.wait('svc:a', () => (checks++, false), 60_000);
    reg.onChange(change(1n, { services: ['a'] }));
    reg.onChange(change(2n, { services: ['a'] }));
    expect(checks).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(checks).toBe(1);
    reg.releaseAll();
  });

  it('maps nodes, list indexes and the checks table to their keys', async () => {
    const idx = { servicesListIndex: 0n, nodesListIndex: 0n };
    const reg = new WaiterRegistry(idx);
    const woken: string[] = [];
    for (const key of [WAIT_KEY.node('Node1'), WAIT_KEY.serviceList, WAIT_KEY.nodeList, WAIT_KEY.checks]) {
      void reg.wait(key, () => (woken.push(key), false), 60_000);
    }
    reg.onChange(change(2n, { nodes: ['node1'], tables: ['nodes'] }));
    reg.flush();
    expect(woken).toEqual(['node:node1']);
    idx.servicesListIndex = 3n;
    reg.onChange(change(3n, { tables: ['services'] }));
    reg.flush();
    expect(woken).toEqual(['node:node1', 'list:services']);
    idx.nodesListIndex = 4n;
    reg.onChange(change(4n, { tables: ['checks'] }));
    reg.flush();
    expect(woken).toEqual(['node:node1', 'list:services', 'list:nodes', 'checks']);
    reg.releaseAll();
  });

  it('a change whose index goes backwards (restore) re-checks every waiter', () => {
    const reg = new WaiterRegistry(lists);
    const woken: string[] = [];
    void reg.wait('svc:a', () => (woken.push('a'), false), 60_000);
    void reg.wait('node:b', () => (woken.push('b'), false), 60_000);
    reg.onChange(change(10n));
    reg.flush();
    reg.onChange(change(4n));
    reg.flush();
    expect(woken.sort()).toEqual(['a', 'b']);
    reg.releaseAll();
  });

  it('notify wakes the waiters of plugin keys it names (next turn), notifyAll every waiter', async () => {
    const reg = new WaiterRegistry(lists);
    const woken: string[] = [];
    void reg.wait('kv:a', () => (woken.push('a'), false), 60_000);
    void reg.wait('kv:b', () => (woken.push('b'), false), 60_000);
    expect(reg.watched('kv:a')).toBe(true);
    expect(reg.watched('kv:zzz')).toBe(false);
    reg.notify(['kv:a', 'kv:nobody']);
    expect(woken).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(woken).toEqual(['a']);
    reg.notifyAll();
    await new Promise((r) => setImmediate(r));
    expect(woken.sort()).toEqual(['a', 'a', 'b']);
    reg.releaseAll();
  });

  it('10,000 waiters on one key: a change elsewhere checks none of them (registry alone)', async () => {
    const reg = new WaiterRegistry(lists);
    let checks = 0;
    const before = process.memoryUsage().heapUsed;
    const all = Array.from({ length: 10_000 }, (_, i) => reg.wait(WAIT_KEY.service(i % 2 ? 'a' : 'b'), () => (checks++, true), 600_000, new EventEmitter()));
    const used = process.memoryUsage().heapUsed - before;
    for (let i = 0; i < 100; i++) {
      reg.onChange(change(BigInt(i + 1), { services: ['c'], nodes: ['n'] }));
      reg.flush();
    }
    expect([checks, reg.size]).toEqual([0, 10_000]);
    reg.onChange(change(101n, { services: ['a'] }));
    reg.flush();
    expect([checks, reg.size]).toEqual([5000, 5000]);
    reg.releaseAll();
    await Promise.all(all);
    console.log(`registry alone: 10,000 waiters (with their response emitters) ~${Math.round(used / 10_000)} bytes each`);
  });

  it('ends at the deadline', async () => {
    const reg = new WaiterRegistry(lists);
    await expect(reg.wait('svc:a', () => false, 5)).resolves.toBe('timeout');
    expect(reg.size).toBe(0);
  });

  it('leaves the registry when the client goes away (close)', async () => {
    const reg = new WaiterRegistry(lists);
    const res = new EventEmitter();
    const p = reg.wait('svc:a', () => false, 60_000, res);
    expect(reg.sizeOf('svc:a')).toBe(1);
    res.emit('close');
    await expect(p).resolves.toBe('closed');
    expect([reg.size, reg.sizeOf('svc:a'), res.listenerCount('close')]).toEqual([0, 0, 0]);
  });

  it('blockUntilChanged returns at once when the index is already past, and on a drop', async () => {
    const reg = new WaiterRegistry(lists);
    let idx = 9n;
    expect(await blockUntilChanged(reg, { index: 8n, timeoutMs: 60_000 }, 'svc:a', () => idx)).toBe('immediate');
    expect(await blockUntilChanged(reg, { index: 0n, timeoutMs: 0 }, 'svc:a', () => idx)).toBe('immediate');
    // Client ahead of the server (index 20 > 9): blocks, as Consul does...
    const ahead = blockUntilChanged(reg, { index: 20n, timeoutMs: 60_000 }, 'svc:a', () => idx);
    reg.onChange(change(10n, { services: ['a'] }));
    reg.flush();
    expect(reg.sizeOf('svc:a')).toBe(1);
    // ...until the index falls under what it saw (a restore): then it returns.
    idx = 3n;
    reg.onChange(change(11n, { services: ['a'] }));
    reg.flush();
    await expect(ahead).resolves.toBe('changed');
  });
});

describe('blocking queries over HTTP', () => {
  let t: TestAgent;
  const register = (id: string, name: string, tags: string[] = []) =>
    t.request('PUT', '/v1/catalog/register', { Node: 'node-w', Address: '10.9.0.1', Service: { ID: id, Service: name, Port: 1, Tags: tags } });

  beforeAll(async () => {
    t = await startTestAgent();
    await register('a-1', 'svc-a');
    await register('b-1', 'svc-b');
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** Polls (bounded) until `cond`; used where there is no event to await (requests reaching the registry). */
  async function until(cond: () => boolean, what: string, deadlineMs = 15_000): Promise<void> {
    const end = Date.now() + deadlineMs;
    for (let i = 0; i < 1_000_000 && !cond(); i++) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setImmediate(r));
    }
  }

  it('10,000 parked watchers: a change to service A returns exactly A\'s watchers', async () => {
    const reg = t.api.waiters;
    const ia = BigInt((await t.request('GET', '/v1/health/service/svc-a')).headers['x-consul-index'] as string);
    const ib = BigInt((await t.request('GET', '/v1/health/service/svc-b')).headers['x-consul-index'] as string);
    const PER = 5000;
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const done = { a: 0, b: 0 };
    const watch = (svc: 'a' | 'b', index: bigint) =>
      t.request('GET', `/v1/health/service/svc-${svc}?index=${index}&wait=5m`).then((res) => {
        done[svc]++;
        return res;
      });
    const a = Array.from({ length: PER }, () => watch('a', ia));
    const b = Array.from({ length: PER }, () => watch('b', ib));
    await until(() => reg.size === 2 * PER, '10,000 parked requests');
    global.gc?.();
    const heapParked = process.memoryUsage().heapUsed;
    expect([reg.sizeOf(WAIT_KEY.service('svc-a')), reg.sizeOf(WAIT_KEY.service('svc-b'))]).toEqual([PER, PER]);

    await register('a-2', 'svc-a');
    const answers = await Promise.all(a);
    expect(answers.every((r) => r.statusCode === 200 && BigInt(r.headers['x-consul-index'] as string) > ia)).toBe(true);
    expect(answers.every((r) => (JSON.parse(r.body) as unknown[]).length === 2)).toBe(true);
    // B's watchers were never touched: still parked, none answered.
    expect([done.a, done.b, reg.size, reg.sizeOf(WAIT_KEY.service('svc-b'))]).toEqual([PER, 0, PER, PER]);

    // A write to B returns B's.
    await register('b-2', 'svc-b');
    await Promise.all(b);
    expect(reg.size).toBe(0);
    const perWatcher = (heapParked - heapBefore) / (2 * PER);
    console.log(
      `10,000 parked blocking requests (inject): heap +${((heapParked - heapBefore) / 1048576).toFixed(1)} MiB, ` +
        `~${Math.round(perWatcher)} bytes per request (fastify request/reply and light-my-request objects included)` +
        (global.gc ? '' : '; no --expose-gc, so figures include garbage'),
    );
  }, 60_000);

  it('a client that goes away leaves the registry (real socket)', async () => {
    const reg = t.api.waiters;
    const idx = (await t.request('GET', '/v1/catalog/services')).headers['x-consul-index'] as string;
    const req = http.get({ host: '127.0.0.1', port: t.api.port, path: `/v1/catalog/services?index=${idx}&wait=5m` });
    req.on('error', () => {});
    await until(() => reg.sizeOf(WAIT_KEY.serviceList) === 1, 'the request to park');
    req.destroy();
    await until(() => reg.size === 0, 'the waiter to leave');
    expect(reg.sizeOf(WAIT_KEY.serviceList)).toBe(0);
  });

  it('an aborted inject leaves the registry too', async () => {
    const reg = t.api.waiters;
    const idx = (await t.request('GET', '/v1/catalog/nodes')).headers['x-consul-index'] as string;
    const ac = new AbortController();
    const p = t.api.app.inject({ method: 'GET', url: `/v1/catalog/nodes?index=${idx}`, signal: ac.signal }).catch((e: Error) => e);
    await until(() => reg.sizeOf(WAIT_KEY.nodeList) === 1, 'the request to park');
    ac.abort();
    await p;
    await until(() => reg.size === 0, 'the waiter to leave');
  });

  it('times out with the same index and body', async () => {
    const first = await t.request('GET', '/v1/catalog/service/svc-a');
    const idx = first.headers['x-consul-index'] as string;
    const again = await t.request('GET', `/v1/catalog/service/svc-a?index=${idx}&wait=20ms`);
    expect([again.statusCode, again.headers['x-consul-index'], again.body]).toEqual([200, idx, first.body]);
  });

  it('unrelated writes do not end a wait early', async () => {
    const idx = (await t.request('GET', '/v1/health/service/svc-a')).headers['x-consul-index'] as string;
    let answered = false;
    const p = t.request('GET', `/v1/health/service/svc-a?index=${idx}&wait=5m`).then((r) => ((answered = true), r));
    await until(() => t.api.waiters.sizeOf(WAIT_KEY.service('svc-a')) === 1, 'the request to park');
    await register('c-1', 'svc-c');
    await t.request('PUT', '/v1/catalog/register', { Node: 'other-node', Address: '10.9.0.2' });
    expect(answered).toBe(false);
    await register('a-3', 'svc-a');
    const res = await p;
    expect(BigInt(res.headers['x-consul-index'] as string)).toBeGreaterThan(BigInt(idx));
  });
});
