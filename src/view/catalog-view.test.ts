import { describe, expect, it } from 'vitest';
import { StateMachine } from '../catalog/state-machine.ts';
import type { CheckFields, Command, HealthStatus, NodeFields, ServiceFields } from '../catalog/types.ts';
import { HeraldError } from '../errors.ts';
import { canonicalIp, CatalogView } from './catalog-view.ts';

function node(name: string, over: Partial<NodeFields> = {}): NodeFields {
  return { node: name, id: '', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {}, ...over };
}
function svc(id: string, name = id, over: Partial<ServiceFields> = {}): ServiceFields {
  return { id, service: name, tags: [], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false, taggedAddresses: {}, ...over };
}
function chk(checkId: string, status: HealthStatus, serviceId = ''): CheckFields {
  return { checkId, name: checkId, status, notes: '', output: '', serviceId, serviceName: '', serviceTags: [], type: '', definition: {} };
}
function reg(n: NodeFields | string, service?: ServiceFields, checks?: CheckFields[]): Command {
  return { type: 'catalog.register', node: typeof n === 'string' ? node(n) : n, ...(service ? { service } : {}), ...(checks ? { checks } : {}) };
}
const upd = (n: string, checkId: string, status: HealthStatus, output = ''): Command => ({ type: 'check.update', node: n, checkId, status, output });

/** A machine with a view, and a way to apply commands at the next index. */
function setup(cmds: Command[] = []) {
  const sm = new StateMachine();
  const view = new CatalogView(sm);
  const apply = (...cs: Command[]) => {
    for (const c of cs) sm.apply(sm.lastIndex + 1n, c);
  };
  apply(...cmds);
  return { sm, view, apply };
}

const ids = (xs: { node: { node: string }; service: { id: string } }[]) => xs.map((i) => `${i.node.node}/${i.service.id}`);

// ---- health filtering (consul-compat.md §1.5) --------------------------------------------------

describe('CatalogView: health filtering', () => {
  // web runs on four nodes; each case sets the checks of n1 only.
  const others = [reg('n2', svc('web')), reg('n3', svc('web')), reg('n4', svc('web-x', 'web'))];
  const cases: { name: string; checks: CheckFields[]; any: string[]; passing: string[]; status?: HealthStatus }[] = [
    { name: 'no checks: passing', checks: [], any: ['n1/web'], passing: ['n1/web'], status: 'passing' },
    { name: 'critical node check hides the node’s instances', checks: [chk('serfHealth', 'critical')], any: [], passing: [] },
    { name: 'critical service check hides the instance', checks: [chk('serfHealth', 'passing'), chk('svc', 'critical', 'web')], any: [], passing: [] },
    { name: 'warning is kept unless onlyPassing', checks: [chk('svc', 'warning', 'web')], any: ['n1/web'], passing: [], status: 'warning' },
    { name: 'warning node check counts like a service one', checks: [chk('mem', 'warning')], any: ['n1/web'], passing: [], status: 'warning' },
    { name: 'worst wins: warning + critical', checks: [chk('a', 'warning', 'web'), chk('b', 'critical', 'web')], any: [], passing: [] },
    { name: '_node_maintenance is just a critical check', checks: [chk('_node_maintenance', 'critical')], any: [], passing: [] },
    { name: '_service_maintenance:<id> is just a critical check', checks: [chk('_service_maintenance:web', 'critical', 'web')], any: [], passing: [] },
  ];
  it.each(cases)('$name', (c) => {
    const { view } = setup([reg('n1', svc('web'), c.checks), ...others]);
    const rest = ['n2/web', 'n3/web', 'n4/web-x'];
    expect(ids(view.healthyInstances('web', { onlyPassing: false }))).toEqual([...c.any, ...rest]);
    expect(ids(view.healthyInstances('WEB', { onlyPassing: true }))).toEqual([...c.passing, ...rest]);
    const mine = view.instances('web').find((i) => i.node.node === 'n1')!;
    expect(mine.checks.map((k) => k.checkId)).toEqual(c.checks.map((k) => k.checkId).sort((a, b) => {
      // node checks first, then the service's own, each by ID
      const la = c.checks.find((k) => k.checkId === a)!.serviceId === '' ? 0 : 1;
      const lb = c.checks.find((k) => k.checkId === b)!.serviceId === '' ? 0 : 1;
      return la - lb || (a < b ? -1 : 1);
    }));
    if (c.status) expect(mine.status).toBe(c.status);
    expect(view.hasService('web')).toBe(true);
  });

  it('a critical service check on one service leaves the node’s other services alone', () => {
    const { view } = setup([reg('n1', svc('web'), [chk('w', 'critical', 'web')]), reg('n1', svc('db'))]);
    expect(view.healthyInstances('web', { onlyPassing: false })).toEqual([]);
    expect(ids(view.healthyInstances('db', { onlyPassing: false }))).toEqual(['n1/db']);
    expect(view.hasService('web')).toBe(true);
    expect(view.hasService('nope')).toBe(false);
  });

  it('follows status flips in both directions', () => {
    const { view, apply } = setup([reg('n1', svc('web'), [chk('serfHealth', 'passing')])]);
    apply(upd('n1', 'serfHealth', 'critical'));
    expect(view.healthyInstances('web', { onlyPassing: false })).toEqual([]);
    apply(upd('n1', 'serfHealth', 'warning'));
    expect(ids(view.healthyInstances('web', { onlyPassing: false }))).toEqual(['n1/web']);
    expect(view.healthyInstances('web', { onlyPassing: true })).toEqual([]);
    apply(upd('n1', 'serfHealth', 'passing'));
    expect(ids(view.healthyInstances('web', { onlyPassing: true }))).toEqual(['n1/web']);
  });

  it('filters by one tag, case-insensitively, after health', () => {
    const { view } = setup([
      reg('n1', svc('web', 'web', { tags: ['Primary', 'v1'] })),
      reg('n2', svc('web', 'web', { tags: ['replica'] })),
      reg('n3', svc('web', 'web', { tags: ['primary'] }), [chk('c', 'critical', 'web')]),
      reg('n4', svc('web', 'web', { tags: ['PRIMARY'] }), [chk('c', 'warning', 'web')]),
    ]);
    expect(ids(view.healthyInstances('web', { tag: 'primary', onlyPassing: false }))).toEqual(['n1/web', 'n4/web']);
    expect(ids(view.healthyInstances('web', { tag: 'PRIMARY', onlyPassing: true }))).toEqual(['n1/web']);
    expect(ids(view.healthyInstances('web', { tag: 'v1', onlyPassing: false }))).toEqual(['n1/web']);
    expect(view.healthyInstances('web', { tag: 'none', onlyPassing: false })).toEqual([]);
    expect(ids(view.healthyInstances('web', { tag: '', onlyPassing: false }))).toEqual(['n1/web', 'n2/web', 'n4/web']);
  });

  it('keeps a stable order (node, then id) whatever the registration order', () => {
    const { view } = setup([reg('zeta', svc('b', 'api')), reg('Alpha', svc('z', 'api')), reg('alpha', svc('a', 'api')), reg('mid', svc('a', 'api'))]);
    expect(ids(view.healthyInstances('api', { onlyPassing: false }))).toEqual(['alpha/a', 'alpha/z', 'mid/a', 'zeta/b']);
  });

  it('node lookups ignore health, as Consul’s do', () => {
    const { view } = setup([reg(node('Failed-Node', { address: '10.9.9.9' }), svc('web'), [chk('serfHealth', 'critical')])]);
    expect(view.healthyInstances('web', { onlyPassing: false })).toEqual([]);
    expect(view.node('failed-node')).toMatchObject({ node: 'Failed-Node', address: '10.9.9.9' });
    expect(view.nodeByAddress('10.9.9.9')?.node).toBe('Failed-Node');
  });

  it('consulServers: health-filtered instances of `consul`', () => {
    const { view } = setup([
      reg('s1', svc('consul', 'consul', { port: 8300 })),
      reg('s2', svc('consul', 'consul', { port: 8300 }), [chk('serfHealth', 'critical')]),
      reg('s3', svc('consul', 'consul', { port: 8300 }), [chk('serfHealth', 'warning')]),
    ]);
    expect(ids(view.consulServers())).toEqual(['s1/consul', 's3/consul']);
    expect(ids(view.consulServers({ onlyPassing: true }))).toEqual(['s1/consul']);
  });
});

// ---- invalidation ------------------------------------------------------------------------------

describe('CatalogView: invalidation keys', () => {
  // n1: web (with a service check) and db, node check serfHealth. n2: web with its own IP.
  const base = [
    reg('n1', svc('web'), [chk('serfHealth', 'passing'), chk('web-chk', 'passing', 'web')]),
    reg('n1', svc('db')),
    reg(node('n2', { address: '10.0.0.2' }), svc('web', 'web', { address: '192.0.2.10' })),
  ];
  const cases: { name: string; cmds: Command[]; deps: string[] }[] = [
    { name: 'service check goes critical', cmds: [upd('n1', 'web-chk', 'critical')], deps: ['svc:web'] },
    { name: 'check output alone changes nothing DNS shows', cmds: [upd('n1', 'web-chk', 'passing', 'fine, still')], deps: [] },
    { name: 'node check flip: every service on the node, not the node', cmds: [upd('n1', 'serfHealth', 'critical')], deps: ['svc:db', 'svc:web'] },
    { name: 'node address change', cmds: [reg(node('n1', { address: '10.0.0.9' }))], deps: ['addr', 'node:n1', 'svc:db', 'svc:web'] },
    { name: 'node meta change (TXT) keeps PTR', cmds: [reg(node('n1', { meta: { rack: 'r2' } }))], deps: ['node:n1', 'svc:db', 'svc:web'] },
    { name: 'new service without its own address', cmds: [reg('n1', svc('api'))], deps: ['svc:api'] },
    { name: 'new service with an IP address', cmds: [reg('n1', svc('api', 'api', { address: '192.0.2.77' }))], deps: ['addr', 'svc:api'] },
    { name: 'service port change', cmds: [reg('n1', svc('db', 'db', { port: 5433 }))], deps: ['svc:db'] },
    { name: 'service IP change', cmds: [reg(node('n2', { address: '10.0.0.2' }), svc('web', 'web', { address: '192.0.2.11' }))], deps: ['addr', 'svc:web'] },
    { name: 'renaming a service with an IP', cmds: [reg(node('n2', { address: '10.0.0.2' }), svc('web', 'www', { address: '192.0.2.10' }))], deps: ['addr', 'svc:web', 'svc:www'] },
    { name: 'deregister a service', cmds: [{ type: 'catalog.deregister', node: 'n1', serviceId: 'db' }], deps: ['svc:db'] },
    { name: 'deregister a node', cmds: [{ type: 'catalog.deregister', node: 'n2' }], deps: ['addr', 'node:n2', 'svc:web'] },
    { name: 'new node without services', cmds: [reg(node('n3', { address: '10.0.0.3' }))], deps: ['addr', 'node:n3'] },
    { name: 'identical re-register', cmds: [base[0]], deps: [] },
    { name: 'new passing check on a passing service', cmds: [reg('n1', undefined, [chk('extra', 'passing', 'db')])], deps: [] },
    { name: 'a plugin table change', cmds: [{ type: 'kv.set' }], deps: [] },
  ];
  it.each(cases)('$name -> $deps', (c) => {
    const { sm, view, apply } = setup();
    sm.registerExtension({ commands: ['kv.set'], apply: () => ({ tables: ['kv'] }), snapshot: () => null, restore: () => {} });
    apply(...base);
    const got: string[][] = [];
    view.onInvalidate((deps) => got.push([...deps].sort()));
    apply(...c.cmds);
    expect(got).toEqual(c.deps.length ? [c.deps] : []);
  });

  it('fires synchronously inside the apply, and stops after unsubscribe', () => {
    const { sm, view, apply } = setup(base);
    let fired = 0;
    const off = view.onInvalidate(() => fired++);
    sm.apply(sm.lastIndex + 1n, upd('n1', 'web-chk', 'critical'));
    expect(fired).toBe(1);
    off();
    apply(upd('n1', 'web-chk', 'passing'));
    expect(fired).toBe(1);
  });

  it('a restore invalidates every service, node and the PTR answers', () => {
    const { sm, view } = setup(base);
    const other = new StateMachine();
    other.apply(1n, reg('n9', svc('cache')));
    const got: string[][] = [];
    view.onInvalidate((deps) => got.push([...deps].sort()));
    sm.restore(other.snapshot());
    expect(got).toEqual([['addr', 'node:n1', 'node:n2', 'node:n9', 'svc:cache', 'svc:db', 'svc:web']]);
    expect(view.hasService('web')).toBe(false);
    expect(ids(view.healthyInstances('cache', { onlyPassing: false }))).toEqual(['n9/cache']);
  });
});

// ---- PTR ---------------------------------------------------------------------------------------

describe('CatalogView: address lookups for PTR', () => {
  it('finds nodes first by name order, then services by their own address', () => {
    const { view, apply } = setup([
      reg(node('zz', { address: '10.1.1.1' })),
      reg(node('aa', { address: '10.1.1.1' })),
      reg(node('h', { address: 'db.example.com' })),
      reg(node('n2', { address: '10.1.1.2' }), svc('web', 'web', { address: '192.0.2.5' })),
      reg(node('n1', { address: '10.1.1.3' }), svc('web', 'web', { address: '192.0.2.5' })),
      reg(node('n3', { address: '10.1.1.4' }), svc('api', 'api')),
    ]);
    expect(view.nodeByAddress('10.1.1.1')?.node).toBe('aa');
    expect(view.nodeByAddress('10.1.1.9')).toBeUndefined();
    expect(view.nodeByAddress('db.example.com')).toBeUndefined();
    const s = view.serviceByAddress('192.0.2.5');
    expect([s?.node, s?.service]).toEqual(['n1', 'web']);
    // A service without its own address is found through its node, never as a service.
    expect(view.serviceByAddress('10.1.1.4')).toBeUndefined();

    apply({ type: 'catalog.deregister', node: 'aa' });
    expect(view.nodeByAddress('10.1.1.1')?.node).toBe('zz');
    apply({ type: 'catalog.deregister', node: 'n1', serviceId: 'web' });
    expect(view.serviceByAddress('192.0.2.5')?.node).toBe('n2');
    apply(reg(node('zz', { address: '10.1.1.7' })));
    expect(view.nodeByAddress('10.1.1.1')).toBeUndefined();
    expect(view.nodeByAddress('10.1.1.7')?.node).toBe('zz');
  });

  it('matches IPv6 in any textual form (RFC 5952 canonical)', () => {
    const { view } = setup([reg(node('v6', { address: '2001:DB8:0:0:0:0:0:1' }), svc('web', 'web', { address: '2001:db8::a:0:0:2' }))]);
    expect(view.nodeByAddress('2001:db8::1')?.node).toBe('v6');
    expect(view.nodeByAddress('2001:0db8:0000:0000:0000:0000:0000:0001')?.node).toBe('v6');
    expect(view.serviceByAddress('2001:db8:0:0:a::2')?.id).toBe('web');
    expect(canonicalIp('2001:DB8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('300.0.0.1')).toBeUndefined();
    expect(canonicalIp('example.com')).toBeUndefined();
    expect(canonicalIp('::g')).toBeUndefined();
  });
});

// ---- incremental == from scratch ---------------------------------------------------------------

describe('CatalogView: incremental updates equal a fresh build', () => {
  it('after every entry of a seeded stream', () => {
    let s = 99;
    const rnd = (k: number) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s % k;
    };
    const statuses: HealthStatus[] = ['passing', 'warning', 'critical'];
    const { sm, view } = setup();
    const snapshotOf = (v: CatalogView) => {
      const out: unknown[] = [];
      for (const name of sm.serviceNames().keys()) {
        for (const onlyPassing of [false, true]) {
          out.push(name, onlyPassing, v.healthyInstances(name, { onlyPassing }).map((i) => [i.node, i.service, i.checks, i.status]));
          out.push(v.healthyInstances(name, { onlyPassing, tag: 't1' }).map((i) => i.service.id));
        }
      }
      for (const n of sm.nodes()) out.push(v.node(n.node), v.nodeByAddress(n.address)?.node);
      for (let i = 0; i < 4; i++) out.push(v.serviceByAddress(`192.0.2.${i}`));
      return out;
    };
    let index = 0n;
    for (let step = 0; step < 400; step++) {
      const nn = `node-${rnd(5)}`;
      const sid = `s${rnd(6)}`;
      const cmd: Command = [
        () => reg(node(nn, { address: `10.0.0.${rnd(3)}` }), svc(sid, `name-${rnd(3)}`, { tags: [`t${rnd(3)}`], address: rnd(2) ? `192.0.2.${rnd(4)}` : '' }), [chk(`${sid}-c`, statuses[rnd(3)], sid)]),
        () => reg(node(nn, { address: `10.0.0.${rnd(3)}` }), undefined, [chk('serfHealth', statuses[rnd(3)])]),
        () => upd(nn, rnd(2) ? 'serfHealth' : `${sid}-c`, statuses[rnd(3)]),
        (): Command => ({ type: 'catalog.deregister', node: nn, ...(rnd(3) ? { serviceId: sid } : {}) }),
      ][rnd(4)]();
      try {
        sm.apply(++index, cmd);
      } catch (err) {
        if (!(err instanceof HeraldError)) throw err;
      }
      const fresh = new CatalogView(sm);
      expect(snapshotOf(view)).toEqual(snapshotOf(fresh));
      fresh.close();
    }
    expect(sm.counts().services).toBeGreaterThan(0);
  });
});
