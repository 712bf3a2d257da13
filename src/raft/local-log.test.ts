import { describe, expect, it } from 'vitest';
import { StateMachine } from '../catalog/state-machine.ts';
import type { ChangeSet, Command } from '../catalog/types.ts';
import { ERR, HeraldError } from '../errors.ts';
import { LocalLog, type ReplicatedLog } from './local-log.ts';

const reg = (n: string, service?: string): Command => ({
  type: 'catalog.register',
  node: { node: n, id: '', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
  ...(service
    ? { service: { id: service, service, tags: [], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false, taggedAddresses: {} } }
    : {}),
});

describe('LocalLog', () => {
  it('assigns increasing indexes and resolves with them', async () => {
    const sm = new StateMachine();
    const log: ReplicatedLog = new LocalLog(sm);
    expect(await log.propose(reg('a'))).toEqual({ index: 1n });
    expect(await log.propose(reg('b'))).toEqual({ index: 2n });
    expect(log.lastIndex).toBe(2n);
    expect(sm.lastIndex).toBe(2n);
    expect(sm.getNode('b')!.createIndex).toBe(2n);
  });

  it('applies and publishes the change before propose() returns', () => {
    const sm = new StateMachine();
    const log = new LocalLog(sm);
    const seen: bigint[] = [];
    sm.onChange((c) => seen.push(c.index));
    const p = log.propose(reg('a', 'web'));
    // No await: the change feed already ran, so a DNS cache hanging off it is already clean.
    expect(seen).toEqual([1n]);
    expect(sm.serviceRows('web')).toHaveLength(1);
    return p;
  });

  it('a refused command rejects with its code, applies nothing and consumes no index', async () => {
    const sm = new StateMachine();
    const log = new LocalLog(sm);
    await log.propose(reg('a'));
    const refused = log.propose({ type: 'nope.cmd' });
    await expect(refused).rejects.toBeInstanceOf(HeraldError);
    await expect(refused).rejects.toMatchObject({ code: ERR.COMMAND_UNKNOWN });
    await expect(log.propose({ type: 'check.update', node: 'a', checkId: 'x', status: 'passing', output: '' })).rejects.toMatchObject({
      code: ERR.CHECK_UNKNOWN,
    });
    expect(log.lastIndex).toBe(1n);
    expect(await log.propose(reg('b'))).toEqual({ index: 2n });
  });

  it('starts after startIndex, and never below the state machine', async () => {
    const sm = new StateMachine();
    expect(await new LocalLog(sm, { startIndex: 41n }).propose(reg('a'))).toEqual({ index: 42n });
    // A second log over the same machine continues from the machine's index.
    expect(await new LocalLog(sm).propose(reg('b'))).toEqual({ index: 43n });
  });

  it('passes an extension’s result through', async () => {
    const sm = new StateMachine();
    sm.registerExtension({
      commands: ['echo.say'],
      apply: (index, c) => ({ tables: ['echo'], result: `${String(c.text)}@${index}` }),
      snapshot: () => null,
      restore: () => {},
    });
    expect(await new LocalLog(sm).propose({ type: 'echo.say', text: 'hi' })).toEqual({ index: 1n, result: 'hi@1' });
  });

  it('a listener that proposes gets the next index, and every listener sees changes in index order', async () => {
    const sm = new StateMachine();
    const log = new LocalLog(sm);
    const first: bigint[] = [];
    const second: bigint[] = [];
    const nested: Promise<unknown>[] = [];
    sm.onChange((c: ChangeSet) => {
      first.push(c.index);
      // React to a new node once, as a leader turning membership into a serfHealth check would.
      if (c.nodes.has('a') && sm.getNode('a') && sm.nodeChecks('a').length === 0) {
        nested.push(
          log.propose({
            type: 'catalog.register',
            node: { node: 'a', id: '', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
            checks: [{ checkId: 'serfHealth', name: 'Serf Health Status', status: 'passing', notes: '', output: '', serviceId: '', serviceName: '', serviceTags: [], type: 'serf', definition: {} }],
          }),
        );
      }
    });
    sm.onChange((c) => second.push(c.index));
    expect(await log.propose(reg('a'))).toEqual({ index: 1n });
    expect(await Promise.all(nested)).toEqual([{ index: 2n }]);
    expect(first).toEqual([1n, 2n]);
    expect(second).toEqual([1n, 2n]);
    expect(log.lastIndex).toBe(2n);
  });
});
