/**
 * The watcher pool over real sockets against a local server that parks every request until told
 * to release one key: all requests get written on their own connections, and the counts follow
 * exactly the responses the server sent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { WatcherPool, type WatcherTarget } from './blocked-watchers.ts';

const parked = new Map<string, http.ServerResponse[]>();
const sockets = new Set<unknown>();
let onPark: (() => void) | undefined;
const server = http.createServer((req, res) => {
  const key = new URL(req.url!, 'http://x').pathname.split('/').pop()!;
  parked.set(key, [...(parked.get(key) ?? []), res]);
  onPark?.();
});
server.on('connection', (s) => sockets.add(s));

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const count = () => [...parked.values()].reduce((n, l) => n + l.length, 0);

describe('WatcherPool', () => {
  it('parks N requests on N sockets and counts returns per key', async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    const keys = ['a', 'b', 'c'];
    const targets: WatcherTarget[] = Array.from({ length: 300 }, (_, i) => ({ key: keys[i % 3]!, path: `/v1/health/service/${keys[i % 3]}?index=5&wait=5m` }));
    const pool = new WatcherPool('127.0.0.1', port);
    try {
      const result = await pool.park(targets, 64, 20_000);
      expect(result).toEqual({ written: 300, errors: [] });
      // Wait (event-driven, bounded) until the server has read every request.
      if (count() < 300) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`server saw ${count()} of 300`)), 10_000);
          onPark = () => {
            if (count() >= 300) {
              clearTimeout(t);
              resolve();
            }
          };
        });
      }
      expect(sockets.size).toBe(300);
      expect(pool.returned()).toBe(0);

      for (const res of parked.get('b')!) res.end('[]');
      expect(await pool.waitFor(() => pool.returnedFor('b') === 100, 10_000)).toBe(true);
      expect(pool.returned()).toBe(100);
      expect(pool.returnedFor('a')).toBe(0);
      expect(pool.statusCounts()).toEqual({ '200': 100 });
      expect(await pool.waitFor(() => pool.returnedFor('a') > 0, 50)).toBe(false);
    } finally {
      pool.close();
      server.closeAllConnections();
    }
  }, 30_000);
});
