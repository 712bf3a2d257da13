import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { HealthStatus } from '../../catalog/types.ts';
import { ERR, HeraldError } from '../../errors.ts';
import type { CheckDefinition } from '../config-types.ts';
import type { CheckProbe, CheckResult } from './check-runner.ts';
import { CheckManager, SCRIPTS_DISABLED_LOCAL, SCRIPTS_DISABLED_REMOTE, type CheckManagerOptions } from './check-manager.ts';
import { FakeClock } from './clock.ts';

const settle = () => new Promise<void>((r) => setImmediate(r));

function def(over: Partial<CheckDefinition> & Pick<CheckDefinition, 'id' | 'kind'>): CheckDefinition {
  return {
    name: over.id,
    notes: '',
    serviceId: '',
    status: 'critical',
    successBeforePassing: 0,
    failuresBeforeCritical: 0,
    source: 'file',
    ...over,
  };
}
const ttlDef = (id: string, over: Partial<CheckDefinition> = {}) => def({ id, kind: 'ttl', ttl: 10_000, ...over });
const tcpDef = (id: string, over: Partial<CheckDefinition> = {}) => def({ id, kind: 'tcp', tcp: '127.0.0.1:1', interval: 10_000, ...over });

/** Scripted probe results per check id, fed by the test; counts runs. */
function scriptedProbes() {
  const queue = new Map<string, CheckResult[]>();
  const runs = new Map<string, number>();
  const probeFor = (d: CheckDefinition): CheckProbe => async () => {
    runs.set(d.id, (runs.get(d.id) ?? 0) + 1);
    return queue.get(d.id)?.shift() ?? { status: 'passing', output: '' };
  };
  const push = (id: string, ...results: CheckResult[]) => queue.set(id, [...(queue.get(id) ?? []), ...results]);
  return { probeFor, push, runs };
}

function setup(over: Partial<CheckManagerOptions> = {}) {
  const clock = new FakeClock();
  const writes: [string, HealthStatus, string][] = [];
  const deregistered: string[] = [];
  const probes = scriptedProbes();
  const mgr = new CheckManager({
    write: (id, s, o) => writes.push([id, s, o]),
    deregisterService: (sid) => deregistered.push(sid),
    allowScripts: { local: true, remote: false },
    checkUpdateInterval: 300_000,
    clock,
    // 0.5 makes the deferral exactly one interval (d/2 + 0.5 d) and staggers first runs by half.
    random: () => 0.5,
    probeFor: probes.probeFor,
    ...over,
  });
  return { clock, writes, deregistered, mgr, probes };
}

describe('CheckManager: when results are written (Consul State.UpdateCheck)', () => {
  it('writes a status change at once', () => {
    const { mgr, writes } = setup();
    mgr.add(ttlDef('t'));
    mgr.ttlUpdate('t', 'passing', 'up');
    expect(writes).toEqual([['t', 'passing', 'up']]);
    expect(mgr.status('t')).toEqual({ status: 'passing', output: 'up' });
  });

  it('writes nothing for a result identical to the local state', () => {
    const { mgr, writes, clock } = setup();
    mgr.add(ttlDef('t', { status: 'passing', ttl: 3_600_000 }));
    mgr.ttlUpdate('t', 'passing', ''); // equals the registered initial state
    mgr.ttlUpdate('t', 'warning', 'w');
    mgr.ttlUpdate('t', 'warning', 'w');
    clock.advance(600_000 - 1);
    expect(writes).toEqual([['t', 'warning', 'w']]);
  });

  it('defers output-only changes and writes the latest output once per interval', () => {
    const { mgr, writes, clock } = setup();
    mgr.add(ttlDef('t', { ttl: 3_600_000 }));
    mgr.ttlUpdate('t', 'passing', 'load 1');
    mgr.ttlUpdate('t', 'passing', 'load 2');
    clock.advance(100_000);
    mgr.ttlUpdate('t', 'passing', 'load 3');
    expect(writes).toEqual([['t', 'passing', 'load 1']]);
    // Local state already has the newest output.
    expect(mgr.status('t')).toEqual({ status: 'passing', output: 'load 3' });
    clock.advance(199_999);
    expect(writes).toHaveLength(1);
    clock.advance(1); // 300 s after the first deferred change
    expect(writes).toEqual([
      ['t', 'passing', 'load 1'],
      ['t', 'passing', 'load 3'],
    ]);
    // The next output-only change starts a new deferral.
    mgr.ttlUpdate('t', 'passing', 'load 4');
    clock.advance(299_999);
    expect(writes).toHaveLength(2);
    clock.advance(1);
    expect(writes[2]).toEqual(['t', 'passing', 'load 4']);
  });

  it('uses Consul jitter d/2 + random*d for the deferral', () => {
    const { mgr, writes, clock } = setup({ random: () => 0 });
    mgr.add(ttlDef('t', { ttl: 3_600_000 }));
    mgr.ttlUpdate('t', 'passing', 'a');
    mgr.ttlUpdate('t', 'passing', 'b');
    clock.advance(149_999);
    expect(writes).toHaveLength(1);
    clock.advance(1);
    expect(writes).toHaveLength(2);
  });

  it('writes nothing at the deferral when the output went back to what was written', () => {
    const { mgr, writes, clock } = setup();
    mgr.add(ttlDef('t', { ttl: 3_600_000 }));
    mgr.ttlUpdate('t', 'passing', 'A');
    mgr.ttlUpdate('t', 'passing', 'B');
    mgr.ttlUpdate('t', 'passing', 'A');
    clock.advance(1_000_000);
    expect(writes).toEqual([['t', 'passing', 'A']]);
  });

  it('a status change during a deferral writes at once and cancels the deferred write', () => {
    const { mgr, writes, clock } = setup();
    mgr.add(ttlDef('t', { ttl: 3_600_000 }));
    mgr.ttlUpdate('t', 'passing', 'A');
    mgr.ttlUpdate('t', 'passing', 'B');
    mgr.ttlUpdate('t', 'critical', 'C');
    expect(writes).toEqual([
      ['t', 'passing', 'A'],
      ['t', 'critical', 'C'],
    ]);
    clock.advance(1_000_000);
    expect(writes).toHaveLength(2);
  });

  it('checkUpdateInterval 0 writes output changes at once', () => {
    const { mgr, writes } = setup({ checkUpdateInterval: 0 });
    mgr.add(ttlDef('t'));
    mgr.ttlUpdate('t', 'passing', 'A');
    mgr.ttlUpdate('t', 'passing', 'B');
    expect(writes.map((w) => w[2])).toEqual(['A', 'B']);
  });

  it('a first result with the initial status but new output is deferred (as Consul)', () => {
    const { mgr, writes, clock } = setup();
    mgr.add(ttlDef('t', { ttl: 3_600_000 }));
    mgr.ttlUpdate('t', 'critical', 'not ready');
    expect(writes).toEqual([]);
    clock.advance(300_000);
    expect(writes).toEqual([['t', 'critical', 'not ready']]);
  });

  it('results from interval checks go through thresholds, then the write rules', async () => {
    const { mgr, writes, probes } = setup();
    mgr.add(tcpDef('c', { status: 'passing', failuresBeforeCritical: 2 }));
    probes.push('c', { status: 'critical', output: 'x' });
    await mgr.runNow('c'); // first result is always reported
    expect(writes).toEqual([['c', 'critical', 'x']]);
    probes.push('c', { status: 'passing', output: 'ok' }, { status: 'critical', output: 'y' }, { status: 'critical', output: 'x' });
    await mgr.runNow('c');
    await mgr.runNow('c');
    await mgr.runNow('c');
    // passing at once; then one critical held back; then two in a row flip it.
    expect(writes).toEqual([
      ['c', 'critical', 'x'],
      ['c', 'passing', 'ok'],
      ['c', 'critical', 'x'],
    ]);
  });
});

describe('CheckManager: lifecycle', () => {
  it('staggers the first run, raises short intervals to 1 s, and keeps running', async () => {
    const { mgr, probes, clock } = setup();
    mgr.add(tcpDef('c', { interval: 10 }));
    clock.advance(499);
    expect(probes.runs.get('c')).toBeUndefined();
    clock.advance(1);
    await settle();
    expect(probes.runs.get('c')).toBe(1);
    clock.advance(999);
    await settle();
    expect(probes.runs.get('c')).toBe(1);
    clock.advance(1);
    await settle();
    expect(probes.runs.get('c')).toBe(2);
    mgr.stopAll();
  });

  it('update with an unchanged definition does nothing; a changed one restarts and keeps the status', async () => {
    const { mgr, writes, clock } = setup();
    mgr.add(ttlDef('t'));
    mgr.ttlUpdate('t', 'passing', 'fine');
    clock.advance(9_000);
    // Same content, different key order: no restart, so the TTL is not re-armed.
    const same = Object.fromEntries(Object.entries(ttlDef('t')).reverse()) as unknown as CheckDefinition;
    expect(mgr.update(same)).toBe(false);
    clock.advance(1_000);
    expect(writes.at(-1)).toEqual(['t', 'critical', 'TTL expired (last output before timeout follows): fine']);

    mgr.ttlUpdate('t', 'passing', 'again');
    expect(mgr.update(ttlDef('t', { ttl: 60_000, notes: 'changed' }))).toBe(true);
    expect(mgr.status('t')).toEqual({ status: 'passing', output: 'again' });
    clock.advance(59_999);
    expect(writes.at(-1)![1]).toBe('passing');
    clock.advance(1);
    // The restarted TTL timer has no last output of its own.
    expect(writes.at(-1)).toEqual(['t', 'critical', 'TTL expired']);
  });

  it('remove stops the runner and drops a pending deferred write', async () => {
    const { mgr, writes, clock, probes } = setup();
    mgr.add(ttlDef('t', { ttl: 3_600_000 }));
    mgr.ttlUpdate('t', 'passing', 'A');
    mgr.ttlUpdate('t', 'passing', 'B');
    mgr.add(tcpDef('c'));
    expect(mgr.remove('t')).toBe(true);
    expect(mgr.remove('c')).toBe(true);
    expect(mgr.remove('c')).toBe(false);
    clock.advance(3_600_000);
    await settle();
    expect(writes).toEqual([['t', 'passing', 'A']]);
    expect(probes.runs.get('c')).toBeUndefined();
    expect(mgr.status('t')).toBeUndefined();
  });

  it('a result from a replaced runner is ignored', async () => {
    const clock = new FakeClock();
    const writes: string[] = [];
    let release: ((r: CheckResult) => void) | undefined;
    const mgr = new CheckManager({
      write: (_id, _s, o) => writes.push(o),
      deregisterService: () => {},
      allowScripts: { local: false, remote: false },
      checkUpdateInterval: 0,
      clock,
      probeFor: (d) => async () =>
        d.notes === 'old' ? new Promise<CheckResult>((r) => (release = r)) : { status: 'passing', output: 'new' },
    });
    mgr.add(tcpDef('c', { notes: 'old' }));
    const oldRun = mgr.runNow('c');
    mgr.update(tcpDef('c', { notes: 'new' }));
    release!({ status: 'passing', output: 'old' });
    await oldRun;
    await mgr.runNow('c');
    expect(writes).toEqual(['new']);
    mgr.stopAll();
  });

  it('stopAll leaves no timers behind', () => {
    const { mgr, clock } = setup();
    mgr.add(ttlDef('t'));
    mgr.add(tcpDef('c'));
    mgr.ttlUpdate('t', 'critical', 'x'); // starts a deferral
    mgr.stopAll();
    expect(clock.pending()).toBe(0);
    expect(mgr.ids()).toEqual([]);
  });
});

describe('CheckManager: errors', () => {
  it('ttlUpdate: CHECK_UNKNOWN for an unknown id, CHECK_NOT_TTL for another kind', () => {
    const { mgr } = setup();
    mgr.add(tcpDef('c'));
    expect(() => mgr.ttlUpdate('nope', 'passing', '')).toThrow(expect.objectContaining({ code: ERR.CHECK_UNKNOWN }));
    expect(() => mgr.ttlUpdate('c', 'passing', '')).toThrow(expect.objectContaining({ code: ERR.CHECK_NOT_TTL }));
    mgr.stopAll();
  });

  // source x (enable_local_script_checks, enable_script_checks) -> allowed, or the message.
  const policy: { source: 'file' | 'api'; local: boolean; remote: boolean; refused?: string }[] = [
    { source: 'file', local: false, remote: false, refused: SCRIPTS_DISABLED_LOCAL },
    { source: 'file', local: true, remote: false },
    { source: 'file', local: false, remote: true },
    { source: 'api', local: false, remote: false, refused: SCRIPTS_DISABLED_REMOTE },
    { source: 'api', local: true, remote: false, refused: SCRIPTS_DISABLED_REMOTE },
    { source: 'api', local: true, remote: true },
  ];
  for (const p of policy) {
    it(`script check from ${p.source} with local=${p.local} remote=${p.remote}: ${p.refused ? 'refused' : 'allowed'}`, () => {
      const { mgr } = setup({ allowScripts: { local: p.local, remote: p.remote } });
      const d = def({ id: 's', kind: 'script', args: ['true'], interval: 10_000, source: p.source });
      if (p.refused) {
        let err: unknown;
        try {
          mgr.add(d);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(HeraldError);
        expect((err as HeraldError).code).toBe(ERR.SCRIPT_CHECKS_DISABLED);
        expect((err as HeraldError).message).toBe(p.refused);
        expect(mgr.status('s')).toBeUndefined();
      } else {
        mgr.add(d);
        expect(mgr.status('s')).toEqual({ status: 'critical', output: '' });
      }
      mgr.stopAll();
    });
  }

  it('a refused update leaves the running check as it was', () => {
    const { mgr } = setup({ allowScripts: { local: true, remote: false } });
    mgr.add(ttlDef('x'));
    mgr.ttlUpdate('x', 'passing', 'ok');
    const script = def({ id: 'x', kind: 'script', args: ['true'], interval: 10_000, source: 'api' });
    expect(() => mgr.update(script)).toThrow(SCRIPTS_DISABLED_REMOTE);
    expect(mgr.ttlUpdate('x', 'passing', 'still ttl')).toBe('still ttl');
    mgr.stopAll();
  });

  const invalid: [string, CheckDefinition][] = [
    ['TTL must be > 0 for TTL checks', def({ id: 'a', kind: 'ttl' })],
    ['Interval must be > 0 for Script, HTTP, or TCP checks', def({ id: 'b', kind: 'http', http: 'http://127.0.0.1/' })],
    ['Interval and TTL cannot both be specified', def({ id: 'c', kind: 'tcp', tcp: '127.0.0.1:1', interval: 1000, ttl: 1000 })],
  ];
  for (const [msg, d] of invalid) {
    it(`CHECK_INVALID: ${msg}`, () => {
      const { mgr } = setup();
      expect(() => mgr.add(d)).toThrow(expect.objectContaining({ code: ERR.CHECK_INVALID, message: msg }));
    });
  }
});

describe('CheckManager: DeregisterCriticalServiceAfter reaper', () => {
  it('deregisters a service whose check stayed critical longer than the limit, once, with its checks', () => {
    const { mgr, clock, deregistered } = setup();
    mgr.add(ttlDef('web:ttl', { serviceId: 'web', ttl: 10_000, deregisterCriticalServiceAfter: 60_000 }));
    mgr.add(ttlDef('web:ttl2', { serviceId: 'web', ttl: 10_000, deregisterCriticalServiceAfter: 60_000 }));
    mgr.add(ttlDef('db:ttl', { serviceId: 'db', ttl: 3_600_000 }));
    mgr.ttlUpdate('db:ttl', 'passing', '');
    // TTLs expire at 10 s; reaper passes at 30, 60, 90 s: critical for 20, 50, 80 s.
    clock.advance(60_000);
    expect(deregistered).toEqual([]);
    clock.advance(30_000);
    expect(deregistered).toEqual(['web']);
    expect(mgr.status('web:ttl')).toBeUndefined();
    expect(mgr.status('web:ttl2')).toBeUndefined();
    expect(mgr.status('db:ttl')).toEqual({ status: 'passing', output: '' });
    clock.advance(300_000);
    expect(deregistered).toEqual(['web']);
    mgr.stopAll();
  });

  it('a non-critical result resets the critical clock', () => {
    const { mgr, clock, deregistered } = setup();
    mgr.add(ttlDef('w', { serviceId: 'web', ttl: 3_600_000, deregisterCriticalServiceAfter: 60_000 }));
    mgr.ttlUpdate('w', 'critical', 'down');
    clock.advance(50_000);
    mgr.ttlUpdate('w', 'warning', 'limping');
    mgr.ttlUpdate('w', 'critical', 'down');
    clock.advance(60_000); // passes at 60 and 90 s: critical for 10 and 40 s
    expect(deregistered).toEqual([]);
    clock.advance(30_000); // 120 s: critical for 70 s
    expect(deregistered).toEqual(['web']);
  });

  it("raises a limit below Consul's 1 minute minimum", () => {
    const { mgr, clock, deregistered } = setup();
    mgr.add(ttlDef('w', { serviceId: 'web', ttl: 3_600_000, deregisterCriticalServiceAfter: 1_000 }));
    mgr.ttlUpdate('w', 'critical', 'down');
    clock.advance(60_000); // critical for exactly 60 s: not longer than the minimum
    expect(deregistered).toEqual([]);
    clock.advance(30_000);
    expect(deregistered).toEqual(['web']);
  });

  it('the minimum and the reap period are injectable', () => {
    const { mgr, clock, deregistered } = setup({ deregisterMinimum: 0, reapInterval: 1_000 });
    mgr.add(ttlDef('w', { serviceId: 'web', ttl: 3_600_000, deregisterCriticalServiceAfter: 1_500 }));
    mgr.ttlUpdate('w', 'critical', 'down');
    clock.advance(1_000);
    expect(deregistered).toEqual([]);
    clock.advance(1_000);
    expect(deregistered).toEqual(['web']);
  });

  it('ignores node-level checks and checks without the setting', () => {
    const { mgr, clock, deregistered } = setup();
    mgr.add(ttlDef('node', { ttl: 1_000, deregisterCriticalServiceAfter: 60_000 }));
    mgr.add(ttlDef('svc', { serviceId: 'web', ttl: 1_000 }));
    clock.advance(3_600_000);
    expect(deregistered).toEqual([]);
    mgr.stopAll();
  });
});

describe('CheckManager with real runners (integration)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('runs script, HTTP, TCP and TTL checks and writes their results', async () => {
    const httpServer = http.createServer((_req, res) => res.writeHead(503).end('down for maintenance'));
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => httpServer.close(() => r())));
    const tcpServer = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => tcpServer.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => tcpServer.close(() => r())));
    const httpUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/health`;
    const tcpAddr = `127.0.0.1:${(tcpServer.address() as AddressInfo).port}`;

    const writes = new Map<string, [HealthStatus, string]>();
    let wake: () => void = () => {};
    const mgr = new CheckManager({
      write: (id, s, o) => {
        writes.set(id, [s, o]);
        wake();
      },
      deregisterService: () => {},
      allowScripts: { local: true, remote: false },
      checkUpdateInterval: 300_000,
      random: () => 0, // first runs start at once
    });
    cleanups.push(() => mgr.stopAll());

    mgr.add(def({ id: 'script', kind: 'script', args: ['sh', '-c', 'echo degraded; exit 1'], interval: 60_000 }));
    mgr.add(def({ id: 'http', kind: 'http', http: httpUrl, interval: 60_000, status: 'passing' }));
    mgr.add(def({ id: 'tcp', kind: 'tcp', tcp: tcpAddr, interval: 60_000 }));
    mgr.add(def({ id: 'ttl', kind: 'ttl', ttl: 50 }));
    mgr.ttlUpdate('ttl', 'passing', 'heartbeat');

    // Wait on the write events, bounded by a deadline.
    const want = ['script', 'http', 'tcp', 'ttl'];
    const done = () => want.every((id) => writes.has(id)) && writes.get('ttl')![0] === 'critical';
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out; writes: ${JSON.stringify([...writes])}`)), 8_000);
      wake = () => {
        if (done()) {
          clearTimeout(deadline);
          resolve();
        }
      };
      wake();
    });

    expect(writes.get('script')).toEqual(['warning', 'degraded\n']);
    expect(writes.get('http')).toEqual(['critical', `HTTP GET ${httpUrl}: 503 Service Unavailable Output: down for maintenance`]);
    expect(writes.get('tcp')).toEqual(['passing', `TCP connect ${tcpAddr}: Success`]);
    expect(writes.get('ttl')).toEqual(['critical', 'TTL expired (last output before timeout follows): heartbeat']);
    expect(mgr.status('tcp')).toEqual({ status: 'passing', output: `TCP connect ${tcpAddr}: Success` });
  });
});
