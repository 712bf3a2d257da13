import { describe, expect, it } from 'vitest';
import type { Entry } from '../core/index.ts';
import { encodeCommand, KvStateMachine, type KvCommand } from './kv-state-machine.ts';

let next = 0n;
const cmd = (c: KvCommand): Entry => ({ index: ++next, term: 1n, kind: 'normal', data: encodeCommand(c) });

describe('KvStateMachine', () => {
  it('versions are log indexes; cas compares versions (0: absent)', () => {
    next = 0n;
    const sm = new KvStateMachine();
    expect(sm.apply(cmd({ c: 1, s: 1, op: 'cas', k: 'x', e: 0, v: 'a' }))).toEqual({ kind: 'cas', ok: true });
    expect(sm.read('x')).toEqual({ value: 'a', version: 1 });
    expect(sm.apply(cmd({ c: 1, s: 2, op: 'put', k: 'x', v: 'b' }))).toEqual({ kind: 'put', version: 2 });
    expect(sm.apply(cmd({ c: 1, s: 3, op: 'cas', k: 'x', e: 1, v: 'c' }))).toEqual({ kind: 'cas', ok: false });
    expect(sm.apply(cmd({ c: 1, s: 4, op: 'cas', k: 'x', e: 2, v: 'c' }))).toEqual({ kind: 'cas', ok: true });
    expect(sm.apply(cmd({ c: 1, s: 5, op: 'get', k: 'x' }))).toEqual({ kind: 'get', value: { value: 'c', version: 4 } });
    expect(sm.apply(cmd({ c: 1, s: 6, op: 'del', k: 'x' }))).toEqual({ kind: 'del' });
    expect(sm.read('x')).toBeNull();
    expect(sm.apply(cmd({ c: 1, s: 7, op: 'reg', k: 'svc/web', v: 'n1' }))).toEqual({ kind: 'put', version: 7 });
    expect(sm.read('svc/web')).toEqual({ value: 'n1', version: 7 });
    expect(sm.applied).toBe(7n);
  });

  it('applies a retried command once and answers the first result again (sessions)', () => {
    next = 0n;
    const sm = new KvStateMachine();
    const put = { c: 2, s: 1, op: 'put', k: 'x', v: 'a' } as const;
    expect(sm.apply(cmd(put))).toEqual({ kind: 'put', version: 1 });
    sm.apply(cmd({ c: 3, s: 1, op: 'put', k: 'x', v: 'other' }));
    expect(sm.apply(cmd(put))).toEqual({ kind: 'put', version: 1 }); // the retry: no effect
    expect(sm.read('x')).toEqual({ value: 'other', version: 2 });
    sm.apply(cmd({ c: 2, s: 2, op: 'del', k: 'y' }));
    expect(sm.apply(cmd(put))).toEqual({ kind: 'stale' }); // older than the client's latest
    expect(sm.read('x')?.value).toBe('other');
  });

  it('noop and conf entries move applied only; a snapshot restores the same state', () => {
    next = 0n;
    const sm = new KvStateMachine();
    sm.apply(cmd({ c: 1, s: 1, op: 'put', k: 'a', v: '1' }));
    expect(sm.apply({ index: ++next, term: 1n, kind: 'noop', data: Buffer.alloc(0) })).toBeUndefined();
    expect(sm.applied).toBe(2n);
    const copy = new KvStateMachine();
    copy.restore(sm.snapshot(), sm.applied);
    expect(copy.fingerprint()).toBe(sm.fingerprint());
    // The session survives the snapshot too.
    expect(copy.apply(cmd({ c: 1, s: 1, op: 'put', k: 'a', v: '1' }))).toEqual({ kind: 'put', version: 1 });
    copy.restore(Buffer.alloc(0), 0n);
    expect(copy.read('a')).toBeNull();
  });
});
