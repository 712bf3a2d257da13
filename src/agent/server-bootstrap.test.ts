import { describe, expect, it } from 'vitest';
import { decideBootstrap, describeMismatch, pluginMismatch, type ServerInfo } from './server-bootstrap.ts';

const s = (id: string, plugins: string[] = ['kv']): ServerInfo => ({ id, name: `n-${id}`, address: `10.0.0.${id.charCodeAt(0) - 96}:8300`, plugins });

describe('decideBootstrap', () => {
  it('waits until bootstrap_expect servers know each other, then every one picks the same voters', () => {
    expect(decideBootstrap(s('b'), 3, [s('a')], [])).toEqual({ kind: 'wait', reason: '2 of 3 expected servers known' });
    const voters = { a: '10.0.0.1:8300', b: '10.0.0.2:8300', c: '10.0.0.3:8300' };
    expect(decideBootstrap(s('b'), 3, [s('a'), s('c')], [])).toEqual({ kind: 'bootstrap', voters });
    expect(decideBootstrap(s('a'), 3, [s('c'), s('b')], [])).toEqual({ kind: 'bootstrap', voters });
    expect(decideBootstrap(s('c'), 3, [s('b'), s('a'), s('c')], [])).toEqual({ kind: 'bootstrap', voters });
  });

  it('a server beyond the expected count waits to be added; one with expect 1 bootstraps alone', () => {
    expect(decideBootstrap(s('d'), 3, [s('a'), s('b'), s('c')], []).kind).toBe('wait');
    expect(decideBootstrap(s('a'), 1, [], [])).toEqual({ kind: 'bootstrap', voters: { a: '10.0.0.1:8300' } });
  });

  it('an existing cluster wins: join it, or take its voter list when it already names this server', () => {
    const cluster = { via: s('a'), voters: { a: '10.0.0.1:8300', b: '10.0.0.2:8300', c: '10.0.0.3:8300' } };
    expect(decideBootstrap(s('d'), 3, [s('a'), s('b'), s('c')], [cluster])).toEqual({ kind: 'join', via: s('a') });
    expect(decideBootstrap(s('c'), 3, [], [cluster])).toEqual({ kind: 'bootstrap', voters: cluster.voters });
    expect(decideBootstrap(s('d'), 0, [], [cluster]).kind).toBe('join');
    expect(decideBootstrap(s('d'), 0, [s('a')], []).kind).toBe('wait');
  });
});

describe('pluginMismatch', () => {
  it('names the plugins that differ on each side', () => {
    expect(pluginMismatch(['kv'], ['kv'])).toBeUndefined();
    const m = pluginMismatch([], ['kv'])!;
    expect(m).toEqual({ onlyHere: [], onlyThere: ['kv'] });
    expect(describeMismatch('s1', 's2', m)).toBe(
      'server s2 runs different replicated-state plugins than s1: only on s1: (none); only on s2: kv. Every server must run the same replicated-state plugins',
    );
  });
});
