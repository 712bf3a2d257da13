import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../test-agent.ts';
import { serverAddress } from './status.ts';

let t: TestAgent;
beforeAll(async () => {
  t = await startTestAgent();
});
afterAll(async () => {
  await t?.stop();
});

describe('/v1/status', () => {
  it('leader is this node at the server port, as a JSON string, without blocking headers', async () => {
    const res = await t.request('GET', '/v1/status/leader');
    expect(JSON.parse(res.body)).toBe('127.0.0.1:8300');
    expect(res.headers['x-consul-index']).toBeUndefined();
  });

  it('peers is this node alone', async () => {
    expect(await t.json('/v1/status/peers')).toEqual(['127.0.0.1:8300']);
  });

  it('brackets IPv6 addresses as net.JoinHostPort does', () => {
    expect(serverAddress('2001:db8::1')).toBe('[2001:db8::1]:8300');
  });
});
