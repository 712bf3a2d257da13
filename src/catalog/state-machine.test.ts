import { describe, expect, it } from 'vitest';
import { ERR, HeraldError } from '../errors.ts';
import type { StateExtension } from '../plugin.ts';
import { StateMachine } from './state-machine.ts';
import type { ChangeSet, CheckFields, Command, HealthStatus, NodeFields, ServiceFields } from './types.ts';

// ---- command builders ------------------------------------------------------------------------

function node(name: string, over: Partial<NodeFields> = {}): NodeFields {
  return { node: name, id: '', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {}, ...over };
}
function svc(id: string, name = id, over: Partial<ServiceFields> = {}): ServiceFields {
  return {
    id,
    service: name,
    tags: [],
    address: '',
    port: 80,
    meta: {},
    weights: { passing: 1, warning: 1 },
    enableTagOverride: false,
    taggedAddresses: {},
    ...over,
  };
}
function chk(checkId: string, status: HealthStatus, serviceId = '', over: Partial<CheckFields> = {}): CheckFields {
  return { checkId, name: checkId, status, notes: '', output: '', serviceId, serviceName: '', serviceTags: [], type: '', definition: {}, ...over };
}
function reg(n: NodeFields | string, service?: ServiceFields, checks?: CheckFields[]): Command {
  return { type: 'catalog.register', node: typeof n === 'string' ? node(n) : n, ...(service ? { service } : {}), ...(checks ? { checks } : {}) };
}
const dereg = (n: string, ids: { serviceId?: string; checkId?: string } = {}): Command => ({ type: 'catalog.deregister', node: n, ...ids });
const upd = (n: string, checkId: string, status: HealthStatus, output = ''): Command => ({ type: 'check.update', node: n, checkId, status, output });

/** Applies commands at indexes 1..n, recording the change feed. */
function run(cmds: Command[], sm = new StateMachine()): { sm: StateMachine; changes: ChangeSet[] } {
  const changes: ChangeSet[] = [];
  sm.onChange((c) => changes.push(c));
  let i = sm.lastIndex;
  for (const c of cmds) sm.apply(++i, c);
  return { sm, changes };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof HeraldError ? err.code : `not a HeraldError: ${String(err)}`;
  }
  return undefined;
}

// ---- commands -> rows and indexes --------------------------------------------------------------

interface RowCase {
  name: string;
  cmds: Command[];
  /** [node, createIndex, modifyIndex] */
  nodes?: [string, number, number][];
  /** [node, id, createIndex, modifyIndex] */
  services?: [string, string, number, number][];
  /** [node, checkId, status, createIndex, modifyIndex] */
  checks?: [string, string, HealthStatus, number, number][];
  indexes?: Partial<Record<'last' | 'servicesList' | 'nodesList' | 'checks' | 'svc:web' | 'svc:db' | 'node:n1', number>>;
}

const rowCases: RowCase[] = [
  {
    name: 'a node alone',
    cmds: [reg('n1')],
    nodes: [['n1', 1, 1]],
    services: [],
    indexes: { last: 1, nodesList: 1, servicesList: 0, 'node:n1': 1 },
  },
  {
    name: 'node + service + check in one command share the index',
    cmds: [reg('n1', svc('web'), [chk('c1', 'passing', 'web')])],
    nodes: [['n1', 1, 1]],
    services: [['n1', 'web', 1, 1]],
    checks: [['n1', 'c1', 'passing', 1, 1]],
    indexes: { last: 1, servicesList: 1, checks: 1, 'svc:web': 1 },
  },
  {
    name: 'identical re-register bumps nothing but lastIndex',
    cmds: [reg('n1', svc('web'), [chk('c1', 'passing', 'web')]), reg('n1', svc('web'), [chk('c1', 'passing', 'web')])],
    nodes: [['n1', 1, 1]],
    services: [['n1', 'web', 1, 1]],
    checks: [['n1', 'c1', 'passing', 1, 1]],
    indexes: { last: 2, servicesList: 1, nodesList: 1, checks: 1, 'svc:web': 1, 'node:n1': 1 },
  },
  {
    name: 'a port change bumps the service but not the services list',
    cmds: [reg('n1', svc('web')), reg('n1', svc('web', 'web', { port: 81 }))],
    services: [['n1', 'web', 1, 2]],
    indexes: { servicesList: 1, 'svc:web': 2, 'node:n1': 2 },
  },
  {
    name: 'a new tag bumps the services list',
    cmds: [reg('n1', svc('web')), reg('n1', svc('web', 'web', { tags: ['v2'] }))],
    indexes: { servicesList: 2, 'svc:web': 2 },
  },
  {
    name: 'a second instance with an existing tag set leaves the list alone',
    cmds: [reg('n1', svc('web', 'web', { tags: ['a'] })), reg('n2', svc('web', 'web', { tags: ['a'] }))],
    indexes: { servicesList: 1, 'svc:web': 2 },
  },
  {
    name: 'a node address change keeps service rows but bumps their service index',
    cmds: [reg('n1', svc('web')), reg(node('n1', { address: '10.0.0.2' }))],
    nodes: [['n1', 1, 2]],
    services: [['n1', 'web', 1, 1]],
    indexes: { nodesList: 2, 'svc:web': 2, servicesList: 1 },
  },
  {
    name: 'another service changing leaves web alone',
    cmds: [reg('n1', svc('web')), reg('n1', svc('db')), reg('n1', svc('db', 'db', { port: 5432 }))],
    indexes: { 'svc:web': 1, 'svc:db': 3, 'node:n1': 3 },
  },
  {
    name: 'check.update changes status; a repeat is a no-op',
    cmds: [reg('n1', svc('web'), [chk('c1', 'passing', 'web')]), upd('n1', 'c1', 'critical', 'down'), upd('n1', 'c1', 'critical', 'down')],
    checks: [['n1', 'c1', 'critical', 1, 2]],
    indexes: { last: 3, checks: 2, 'svc:web': 2 },
  },
  {
    name: 'node names compare case-insensitively',
    cmds: [reg('Node-A', svc('web')), reg(node('NODE-A'), undefined, [chk('c1', 'warning')]), upd('node-a', 'c1', 'critical')],
    nodes: [['NODE-A', 1, 2]],
    services: [['Node-A', 'web', 1, 1]],
    checks: [['NODE-A', 'c1', 'critical', 2, 3]],
  },
  {
    name: 'deregistering a service removes its checks only',
    cmds: [reg('n1', svc('web'), [chk('c1', 'passing', 'web'), chk('serfHealth', 'passing')]), dereg('n1', { serviceId: 'web' })],
    services: [],
    checks: [['n1', 'serfHealth', 'passing', 1, 1]],
    indexes: { servicesList: 2, 'svc:web': 2, checks: 2 },
  },
  {
    name: 'deregistering a node removes its services and checks',
    cmds: [reg('n1', svc('web'), [chk('c1', 'passing', 'web'), chk('serfHealth', 'passing')]), reg('n2', svc('db')), dereg('n1')],
    nodes: [['n2', 2, 2]],
    services: [['n2', 'db', 2, 2]],
    checks: [],
    indexes: { nodesList: 3, servicesList: 3, 'svc:web': 3, 'svc:db': 2, 'node:n1': 3 },
  },
  {
    name: 'deregistering one check; unknown ones are no-ops',
    cmds: [reg('n1', undefined, [chk('a', 'passing'), chk('b', 'passing')]), dereg('n1', { checkId: 'a' }), dereg('n1', { checkId: 'zz' }), dereg('nope')],
    checks: [['n1', 'b', 'passing', 1, 1]],
    indexes: { last: 4, checks: 2 },
  },
  {
    name: 'a service check may bind to the service of the same command or an earlier one',
    cmds: [reg('n1', svc('web')), reg('n1', undefined, [chk('c1', 'warning', 'web')])],
    checks: [['n1', 'c1', 'warning', 2, 2]],
    indexes: { 'svc:web': 2 },
  },
];

describe('StateMachine: commands -> rows and indexes', () => {
  it.each(rowCases)('$name', (c) => {
    const { sm } = run(c.cmds);
    if (c.nodes) expect(sm.nodes().map((n) => [n.node, Number(n.createIndex), Number(n.modifyIndex)])).toEqual(c.nodes);
    if (c.services) {
      const rows = sm.nodes().flatMap((n) => sm.nodeServices(n.node));
      expect(rows.map((s) => [s.node, s.id, Number(s.createIndex), Number(s.modifyIndex)])).toEqual(c.services);
    }
    if (c.checks) expect(sm.allChecks().map((k) => [k.node, k.checkId, k.status, Number(k.createIndex), Number(k.modifyIndex)])).toEqual(c.checks);
    const got: Record<string, number> = {
      last: Number(sm.lastIndex),
      servicesList: Number(sm.servicesListIndex),
      nodesList: Number(sm.nodesListIndex),
      checks: Number(sm.checksIndex),
      'svc:web': Number(sm.serviceIndex('web')),
      'svc:db': Number(sm.serviceIndex('db')),
      'node:n1': Number(sm.nodeIndex('n1')),
    };
    for (const [k, v] of Object.entries(c.indexes ?? {})) expect([k, got[k]]).toEqual([k, v]);
  });

  it('fills a check’s service name and tags from its service, and keeps them on retag', () => {
    const { sm } = run([reg('n1', svc('web-1', 'web', { tags: ['a'] }), [chk('c1', 'passing', 'web-1', { serviceName: 'lies' })])]);
    expect(sm.checksForService('n1', 'web-1')[0]).toMatchObject({ serviceName: 'web', serviceTags: ['a'], modifyIndex: 1n });
    sm.apply(2n, reg('n1', svc('web-1', 'web', { tags: ['b'] })));
    expect(sm.checksForService('n1', 'web-1')[0]).toMatchObject({ serviceName: 'web', serviceTags: ['b'], createIndex: 1n, modifyIndex: 2n });
  });

  it('stores rows as copies and keeps original node case', () => {
    const n = node('Web-Node');
    const s = svc('web', 'Web', { tags: ['x'] });
    const { sm } = run([reg(n, s)]);
    n.address = '1.2.3.4';
    s.tags.push('mutated');
    expect(sm.getNode('WEB-NODE')).toMatchObject({ node: 'Web-Node', address: '10.0.0.1' });
    expect(sm.serviceRows('WEB')[0]).toMatchObject({ node: 'Web-Node', service: 'Web', tags: ['x'] });
    expect([...sm.serviceNames()]).toEqual([['Web', ['x']]]);
  });

  it('defaults a service ID to its name and an empty check status to critical (Consul catalog register)', () => {
    const { sm } = run([reg('n1', svc('', 'web'), [{ ...chk('c1', 'passing'), status: '' as HealthStatus }])]);
    expect(sm.nodeServices('n1').map((s) => s.id)).toEqual(['web']);
    expect(sm.nodeChecks('n1')[0].status).toBe('critical');
  });

  it('reads: serviceNames unions tags, serviceRows orders by node then id, checksByState filters', () => {
    const { sm } = run([
      reg('b', svc('web-2', 'web', { tags: ['v2', 'x'] }), [chk('c', 'critical', 'web-2')]),
      reg('a', svc('web-9', 'web', { tags: ['v1', 'x'] }), [chk('serfHealth', 'passing')]),
      reg('a', svc('web-1', 'web', { tags: ['v1'] })),
      reg('a', svc('db')),
    ]);
    expect([...sm.serviceNames()]).toEqual([
      ['db', []],
      ['web', ['v1', 'v2', 'x']],
    ]);
    expect(sm.serviceRows('WEB').map((s) => `${s.node}/${s.id}`)).toEqual(['a/web-1', 'a/web-9', 'b/web-2']);
    expect(sm.serviceRowsOnNode('web', 'A').map((s) => s.id)).toEqual(['web-1', 'web-9']);
    expect(sm.checksByState('critical').map((c) => c.checkId)).toEqual(['c']);
    expect(sm.checksByState('passing').map((c) => c.checkId)).toEqual(['serfHealth']);
    expect(sm.checksForService('a', '').map((c) => c.checkId)).toEqual(['serfHealth']);
    expect(sm.counts()).toEqual({ nodes: 2, services: 4, checks: 2 });
  });
});

// ---- refusals ----------------------------------------------------------------------------------

describe('StateMachine: refused commands apply nothing', () => {
  const base = [reg('n1', svc('web'), [chk('c1', 'passing', 'web')])];
  const cases: { name: string; cmd: Command; code: string }[] = [
    { name: 'unknown type', cmd: { type: 'kv.set', key: 'a' }, code: ERR.COMMAND_UNKNOWN },
    { name: 'check on an unknown service (node in the same command)', cmd: reg('n9', undefined, [chk('c', 'passing', 'ghost')]), code: ERR.SERVICE_UNKNOWN },
    { name: 'check bound to a service of another node', cmd: reg('n2', undefined, [chk('c', 'passing', 'web')]), code: ERR.SERVICE_UNKNOWN },
    { name: 'check.update on an unknown check', cmd: upd('n1', 'nope', 'passing'), code: ERR.CHECK_UNKNOWN },
    { name: 'check.update on an unknown node', cmd: upd('n7', 'c1', 'passing'), code: ERR.CHECK_UNKNOWN },
    { name: 'bad status', cmd: upd('n1', 'c1', 'ok' as HealthStatus), code: ERR.COMMAND_INVALID },
    { name: 'register without an address', cmd: reg(node('n2', { address: '' })), code: ERR.COMMAND_INVALID },
    { name: 'mistyped tags', cmd: reg('n1', { ...svc('web'), tags: 'a' as unknown as string[] }), code: ERR.COMMAND_INVALID },
    { name: 'no type', cmd: { node: 'x' } as unknown as Command, code: ERR.COMMAND_INVALID },
    { name: 'NUL in a node name', cmd: reg('a\0b'), code: ERR.COMMAND_INVALID },
  ];
  it.each(cases)('$name -> $code', ({ cmd, code }) => {
    const { sm, changes } = run(base);
    const before = JSON.stringify(sm.snapshot());
    expect(codeOf(() => sm.validate(cmd))).toBe(code);
    expect(codeOf(() => sm.apply(2n, cmd))).toBe(code);
    expect(sm.lastIndex).toBe(1n);
    expect(JSON.stringify(sm.snapshot())).toBe(before);
    expect(changes).toHaveLength(1);
    // The index it did not take is still free.
    sm.apply(2n, reg('n1', svc('db')));
    expect(sm.lastIndex).toBe(2n);
  });

  it('asserts increasing indexes (gaps allowed)', () => {
    const sm = new StateMachine();
    sm.apply(5n, reg('n1'));
    expect(codeOf(() => sm.apply(5n, reg('n2')))).toBe(ERR.INDEX_NOT_INCREASING);
    expect(codeOf(() => sm.apply(3n, reg('n2')))).toBe(ERR.INDEX_NOT_INCREASING);
    expect(sm.getNode('n2')).toBeUndefined();
    sm.apply(9n, reg('n2'));
    expect(sm.lastIndex).toBe(9n);
  });
});

// ---- change feed -------------------------------------------------------------------------------

describe('StateMachine: change sets name exactly what may differ', () => {
  // n1 runs web and db with a node check; n2 runs web and cache.
  const setup = [
    reg('n1', svc('web'), [chk('serfHealth', 'passing'), chk('web-chk', 'passing', 'web')]),
    reg('n1', svc('db')),
    reg('n2', svc('web')),
    reg('n2', svc('cache')),
  ];
  const cases: { name: string; cmd: Command; services: string[]; nodes: string[]; tables: string[] }[] = [
    { name: 'node check flip touches every service on that node only', cmd: upd('n1', 'serfHealth', 'critical'), services: ['db', 'web'], nodes: ['n1'], tables: ['checks'] },
    { name: 'service check flip touches that service only', cmd: upd('n1', 'web-chk', 'critical'), services: ['web'], nodes: ['n1'], tables: ['checks'] },
    { name: 'check output change still names its service', cmd: upd('n1', 'web-chk', 'passing', 'new output'), services: ['web'], nodes: ['n1'], tables: ['checks'] },
    { name: 'service A change does not name B', cmd: reg('n2', svc('cache', 'cache', { port: 6379 })), services: ['cache'], nodes: ['n2'], tables: ['services'] },
    { name: 'node row change touches all its services', cmd: reg(node('n2', { meta: { rack: 'r1' } })), services: ['cache', 'web'], nodes: ['n2'], tables: ['nodes'] },
    { name: 'renaming a service names old and new', cmd: reg('n2', svc('cache', 'redis')), services: ['cache', 'redis'], nodes: ['n2'], tables: ['services'] },
    { name: 'deregistering a service names it', cmd: dereg('n1', { serviceId: 'web' }), services: ['web'], nodes: ['n1'], tables: ['checks', 'services'] },
    { name: 'deregistering a node names all its services', cmd: dereg('n2'), services: ['cache', 'web'], nodes: ['n2'], tables: ['nodes', 'services'] },
    { name: 'deregistering a node check names all its services', cmd: dereg('n1', { checkId: 'serfHealth' }), services: ['db', 'web'], nodes: ['n1'], tables: ['checks'] },
    { name: 'a new node check on a node names its services', cmd: reg('n2', undefined, [chk('_node_maintenance', 'critical')]), services: ['cache', 'web'], nodes: ['n2'], tables: ['checks'] },
    { name: 'moving a check from web to node level names both sides', cmd: reg('n1', undefined, [chk('web-chk', 'passing')]), services: ['db', 'web'], nodes: ['n1'], tables: ['checks'] },
  ];
  it.each(cases)('$name', (c) => {
    const { sm, changes } = run(setup);
    changes.length = 0;
    sm.apply(5n, c.cmd);
    expect(changes).toHaveLength(1);
    const ch = changes[0];
    expect(ch.index).toBe(5n);
    expect([...ch.services].sort()).toEqual(c.services);
    expect([...ch.nodes].sort()).toEqual(c.nodes);
    expect([...ch.tables].sort()).toEqual(c.tables);
  });

  it('no-op writes publish nothing', () => {
    const { sm, changes } = run(setup);
    changes.length = 0;
    sm.apply(5n, setup[0]);
    sm.apply(6n, dereg('n1', { serviceId: 'ghost' }));
    sm.apply(7n, upd('n1', 'serfHealth', 'passing'));
    expect(changes).toEqual([]);
    expect(sm.lastIndex).toBe(7n);
  });

  it('publishes in index order, lowercased names', () => {
    const { changes } = run([reg('N1', svc('Web')), reg('N1', svc('DB'))]);
    expect(changes.map((c) => [c.index, [...c.services], [...c.nodes]])).toEqual([
      [1n, ['web'], ['n1']],
      [2n, ['db'], ['n1']],
    ]);
  });

  it('a throwing listener goes to onListenerError; the others still run and the entry stays applied', () => {
    const errors: unknown[] = [];
    const sm = new StateMachine({ onListenerError: (e) => errors.push(e) });
    const seen: bigint[] = [];
    sm.onChange(() => {
      throw new Error('boom');
    });
    const off = sm.onChange((c) => seen.push(c.index));
    sm.apply(1n, reg('n1'));
    off();
    sm.apply(2n, reg('n2'));
    expect(seen).toEqual([1n]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom', 'boom']);
    expect(sm.lastIndex).toBe(2n);
  });
});

// ---- indexes -----------------------------------------------------------------------------------

describe('StateMachine: indexes for blocking queries', () => {
  it('a deleted service’s index increases (extinction index) and never goes back', () => {
    const { sm } = run([reg('n1', svc('web')), reg('n1', svc('db'))]);
    expect(sm.serviceIndex('web')).toBe(1n);
    expect(sm.serviceIndex('never-seen')).toBe(0n);
    sm.apply(3n, dereg('n1', { serviceId: 'web' }));
    expect(sm.serviceIndex('web')).toBe(3n);
    expect(sm.serviceIndex('db')).toBe(2n);
    sm.apply(4n, reg('n1', svc('web')));
    expect(sm.serviceIndex('web')).toBe(4n);
    sm.apply(5n, dereg('n1'));
    expect([sm.serviceIndex('web'), sm.serviceIndex('db'), sm.nodeIndex('n1')]).toEqual([5n, 5n, 5n]);
  });

  it('table indexes track their own table only', () => {
    const { sm } = run([reg('n1', svc('web')), reg('n1', undefined, [chk('c', 'passing')]), upd('n1', 'c', 'warning')]);
    expect([sm.tableIndex('nodes'), sm.tableIndex('services'), sm.tableIndex('checks'), sm.checksIndex, sm.tableIndex('kv')]).toEqual([1n, 1n, 3n, 3n, 0n]);
  });
});

// ---- extensions --------------------------------------------------------------------------------

/** A tiny KV extension: deterministic, atomic, JSON snapshot. */
function kvExtension(): StateExtension & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    commands: ['kv.set', 'kv.delete'],
    apply(index, command) {
      const key = String(command.key);
      if (command.type === 'kv.set') {
        if (data.get(key) === command.value) return { tables: [], result: false };
        data.set(key, String(command.value));
        return { tables: ['kv'], result: index };
      }
      if (!data.delete(key)) return { tables: [] };
      return { tables: ['kv'] };
    },
    snapshot: () => Object.fromEntries([...data].sort()),
    restore(d) {
      data.clear();
      for (const [k, v] of Object.entries((d ?? {}) as Record<string, string>)) data.set(k, v);
    },
  };
}

describe('StateMachine: extensions', () => {
  it('dispatches commands, returns results and publishes their tables', () => {
    const sm = new StateMachine();
    const kv = kvExtension();
    sm.registerExtension(kv);
    const { changes } = run([], sm);
    expect(sm.apply(1n, { type: 'kv.set', key: 'a', value: '1' })).toEqual({ result: 1n });
    expect(sm.apply(2n, { type: 'kv.set', key: 'a', value: '1' })).toEqual({ result: false });
    expect(changes.map((c) => [c.index, [...c.tables], c.services.size, c.nodes.size])).toEqual([[1n, ['kv'], 0, 0]]);
    expect(sm.tableIndex('kv')).toBe(1n);
    expect(sm.lastIndex).toBe(2n);
  });

  it('refuses duplicate command types and prefixes, core ones included', () => {
    const sm = new StateMachine();
    sm.registerExtension(kvExtension());
    const ext = (commands: string[]): StateExtension => ({ ...kvExtension(), commands });
    expect(codeOf(() => sm.registerExtension(ext(['kv.set'])))).toBe(ERR.COMMAND_DUPLICATE);
    expect(codeOf(() => sm.registerExtension(ext(['kv.other'])))).toBe(ERR.COMMAND_DUPLICATE);
    expect(codeOf(() => sm.registerExtension(ext(['catalog.register'])))).toBe(ERR.COMMAND_DUPLICATE);
    expect(codeOf(() => sm.registerExtension(ext(['check.x'])))).toBe(ERR.COMMAND_DUPLICATE);
    expect(codeOf(() => sm.registerExtension(ext(['acl.a', 'acl.a'])))).toBe(ERR.COMMAND_DUPLICATE);
    expect(codeOf(() => sm.registerExtension(ext(['acl.a', 'events.b'])))).toBe(ERR.COMMAND_INVALID);
    expect(codeOf(() => sm.registerExtension(ext(['noprefix'])))).toBe(ERR.COMMAND_INVALID);
    sm.registerExtension(ext(['acl.a']));
    expect(codeOf(() => sm.validate({ type: 'acl.a' }))).toBeUndefined();
  });

  it('onCatalogChange runs inside a core apply that changed nodes, and its tables join that ChangeSet', () => {
    const sm = new StateMachine();
    const seen: [bigint, string[], string | undefined][] = [];
    let failNext = false;
    const errors: unknown[] = [];
    const ext: StateExtension = {
      ...kvExtension(),
      commands: ['sess.x'],
      onCatalogChange(index, change) {
        if (failNext) throw new Error('hook bug');
        // Reads the catalog as it is after the core change, before the ChangeSet goes out.
        seen.push([index, [...change.nodes], sm.nodeChecks('n1').find((c) => c.checkId === 'c')?.status]);
        return change.nodes.has('n1') ? { tables: ['sessions'] } : undefined;
      },
    };
    const sm2 = new StateMachine({ onListenerError: (e) => errors.push(e) });
    for (const m of [sm, sm2]) m.registerExtension(ext);
    const { changes } = run([reg('n1', undefined, [chk('c', 'passing')]), upd('n1', 'c', 'critical'), upd('n1', 'c', 'critical'), reg('n2')], sm);
    // The no-op update (index 3) changed nothing: no hook call.
    expect(seen).toEqual([
      [1n, ['n1'], 'passing'],
      [2n, ['n1'], 'critical'],
      [4n, ['n2'], 'critical'],
    ]);
    expect(changes.map((c) => [c.index, [...c.tables].sort()])).toEqual([
      [1n, ['checks', 'nodes', 'sessions']],
      [2n, ['checks', 'sessions']],
      [4n, ['nodes']],
    ]);
    expect(sm.tableIndex('sessions')).toBe(2n);
    // A throwing hook is reported; the core change still lands and is published.
    failNext = true;
    const feed: ChangeSet[] = [];
    sm2.onChange((c) => feed.push(c));
    sm2.apply(1n, reg('n9'));
    expect(errors).toHaveLength(1);
    expect(sm2.getNode('n9')).toBeDefined();
    expect(feed.map((c) => c.index)).toEqual([1n]);
  });
});

// ---- determinism and snapshots -----------------------------------------------------------------

/** A seeded command stream touching every command kind (deterministic: the seed is fixed). */
function commandStream(n: number, seed: number): Command[] {
  let s = seed >>> 0;
  const rnd = (k: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % k;
  };
  const statuses: HealthStatus[] = ['passing', 'warning', 'critical'];
  const out: Command[] = [];
  for (let i = 0; i < n; i++) {
    const nn = `node-${rnd(6)}`;
    const sid = `svc-${rnd(8)}`;
    switch (rnd(7)) {
      case 0:
      case 1:
        out.push(reg(node(nn, { address: `10.0.0.${rnd(4)}`, meta: { r: String(rnd(2)) } }), svc(sid, `name-${rnd(4)}`, { tags: [`t${rnd(3)}`], port: rnd(3) }), [chk(`${sid}-chk`, statuses[rnd(3)], sid)]));
        break;
      case 2:
        out.push(reg(node(nn), undefined, [chk('serfHealth', statuses[rnd(3)])]));
        break;
      case 3:
        out.push(upd(nn, rnd(2) ? 'serfHealth' : `${sid}-chk`, statuses[rnd(3)], `out ${rnd(2)}`));
        break;
      case 4:
        out.push(dereg(nn, { serviceId: sid }));
        break;
      case 5:
        out.push(rnd(4) === 0 ? dereg(nn) : dereg(nn, { checkId: 'serfHealth' }));
        break;
      default:
        out.push({ type: 'kv.set', key: `k${rnd(5)}`, value: String(rnd(3)) });
    }
  }
  return out;
}

/** Applies what the machine accepts, skipping refused commands (as a Raft FSM would). */
function applyAll(sm: StateMachine, cmds: Command[], from = 1n): number {
  let refused = 0;
  let i = from;
  for (const c of cmds) {
    try {
      sm.apply(i++, c);
    } catch (err) {
      if (!(err instanceof HeraldError)) throw err;
      refused++;
    }
  }
  return refused;
}

function machine(): StateMachine {
  const sm = new StateMachine();
  sm.registerExtension(kvExtension());
  return sm;
}

describe('StateMachine: change feed and indexes match what really changed (seeded stream)', () => {
  const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
  /** Everything a health read of a service shows. */
  const serviceView = (sm: StateMachine, name: string) =>
    json(sm.serviceRows(name).map((r) => [sm.getNode(r.node), r, sm.checksForService(r.node, ''), sm.checksForService(r.node, r.id)]));
  const nodeView = (sm: StateMachine, name: string) => json([sm.getNode(name), sm.nodeServices(name), sm.nodeChecks(name)]);

  it('after every entry: ChangeSet names exactly the changed services/nodes, and only their indexes move', () => {
    const sm = machine();
    let last: ChangeSet | undefined;
    sm.onChange((c) => (last = c));
    const cmds = commandStream(700, 1234);
    let index = 0n;
    let checked = 0;
    for (const cmd of cmds) {
      const names = new Set([...sm.serviceNames().keys()].map((n) => n.toLowerCase()));
      const nodes = new Set(sm.nodes().map((n) => n.node.toLowerCase()));
      const before = new Map([...names].map((n) => [n, serviceView(sm, n)]));
      const beforeNodes = new Map([...nodes].map((n) => [n, nodeView(sm, n)]));
      const listBefore = json([...sm.serviceNames()]);
      const nodesBefore = json(sm.nodes());
      const ixBefore = new Map([...names].map((n) => [n, sm.serviceIndex(n)]));
      last = undefined;
      index++;
      try {
        sm.apply(index, cmd);
      } catch (err) {
        if (!(err instanceof HeraldError)) throw err;
        continue;
      }
      for (const n of sm.serviceNames().keys()) names.add(n.toLowerCase());
      for (const n of sm.nodes()) nodes.add(n.node.toLowerCase());
      const changedServices = [...names].filter((n) => before.get(n) !== serviceView(sm, n)).sort();
      const changedNodes = [...nodes].filter((n) => beforeNodes.get(n) !== nodeView(sm, n)).sort();
      const c = last as ChangeSet | undefined;
      expect([...(c?.services ?? [])].sort()).toEqual(changedServices);
      if (cmd.type !== 'kv.set') expect([...(c?.nodes ?? [])].sort()).toEqual(changedNodes);
      for (const n of names) {
        // Watchers of a service wake exactly when what they read changed (#1244, #3890).
        if (changedServices.includes(n)) expect([n, sm.serviceIndex(n)]).toEqual([n, index]);
        else expect([n, sm.serviceIndex(n)]).toEqual([n, ixBefore.get(n)]);
      }
      expect(sm.servicesListIndex === index).toBe(json([...sm.serviceNames()]) !== listBefore);
      expect(sm.nodesListIndex === index).toBe(json(sm.nodes()) !== nodesBefore);
      checked++;
    }
    expect(checked).toBeGreaterThan(400);
  });
});

describe('StateMachine: determinism and snapshots', () => {
  it('replaying the same commands on two machines gives identical snapshot JSON', () => {
    const cmds = commandStream(600, 42);
    const a = machine();
    const b = machine();
    const refusedA = applyAll(a, cmds);
    const refusedB = applyAll(b, cmds);
    expect(refusedA).toBe(refusedB);
    expect(refusedA).toBeGreaterThan(0); // the stream does exercise refusals
    expect(a.counts().services).toBeGreaterThan(0);
    expect(JSON.stringify(a.snapshot())).toBe(JSON.stringify(b.snapshot()));
  });

  it('restore round-trips: same JSON, same reads, and the restored machine continues identically', () => {
    const cmds = commandStream(800, 7);
    const head = cmds.slice(0, 400);
    const tail = cmds.slice(400);
    const full = machine();
    applyAll(full, cmds);

    const a = machine();
    applyAll(a, head);
    const snap = JSON.parse(JSON.stringify(a.snapshot()));
    const b = machine();
    b.restore(snap);
    expect(JSON.stringify(b.snapshot())).toBe(JSON.stringify(a.snapshot()));
    expect(b.lastIndex).toBe(a.lastIndex);
    expect(b.allChecks()).toEqual(a.allChecks());
    expect([...b.serviceNames()]).toEqual([...a.serviceNames()]);
    for (const name of a.serviceNames().keys()) expect(b.serviceIndex(name)).toBe(a.serviceIndex(name));

    applyAll(b, tail, 401n);
    expect(JSON.stringify(b.snapshot())).toBe(JSON.stringify(full.snapshot()));
  });

  it('snapshot encodes bigints as decimal strings', () => {
    const sm = new StateMachine();
    sm.apply(18446744073709551615n, reg('n1', svc('web')));
    const snap = sm.snapshot() as { lastIndex: string; nodes: { createIndex: string }[] };
    expect(snap.lastIndex).toBe('18446744073709551615');
    expect(snap.nodes[0].createIndex).toBe('18446744073709551615');
    const b = new StateMachine();
    b.restore(JSON.parse(JSON.stringify(snap)));
    expect(b.getNode('n1')!.createIndex).toBe(18446744073709551615n);
  });

  it('restore emits one ChangeSet covering everything before and after', () => {
    const src = machine();
    applyAll(src, [reg('a', svc('web')), { type: 'kv.set', key: 'x', value: '1' }]);
    const dst = machine();
    const { changes } = run([reg('b', svc('db'))], dst);
    changes.length = 0;
    dst.restore(src.snapshot());
    expect(changes).toHaveLength(1);
    expect(changes[0].index).toBe(2n);
    expect([...changes[0].services].sort()).toEqual(['db', 'web']);
    expect([...changes[0].nodes].sort()).toEqual(['a', 'b']);
    expect([...changes[0].tables].sort()).toEqual(['checks', 'kv', 'nodes', 'services']);
    expect(dst.getNode('b')).toBeUndefined();
  });

  it('a bad snapshot changes nothing', () => {
    const sm = machine();
    applyAll(sm, [reg('a', svc('web'))]);
    const before = JSON.stringify(sm.snapshot());
    const good = JSON.parse(before);
    const broken = [
      {},
      { ...good, version: 99 },
      { ...good, lastIndex: 5 },
      { ...good, services: [{ ...good.services[0], node: 'ghost' }] },
      { ...good, checks: [{ node: 'a', checkId: 'c', status: 'passing', serviceId: 'ghost', createIndex: '1', modifyIndex: '1' }] },
      { ...good, nodes: [{ ...good.nodes[0], address: 7 }] },
      { ...good, extensions: { acl: {} } },
    ];
    for (const b of broken) {
      expect(codeOf(() => sm.restore(b))).toBe(ERR.SNAPSHOT_INVALID);
      expect(JSON.stringify(sm.snapshot())).toBe(before);
    }
  });
});
