/**
 * Debian's python3-consul (python-consul 0.7.1), unmodified, against a real `herald agent
 * -plugin http-api -plugin kv` (consul-compat.md §9): python_consul_kv_flow.py runs the
 * client's kv and session calls and reports each step as one JSON line.
 *
 * The interpreter is Debian's /usr/bin/python3 when present (the package installs into its
 * dist-packages, which a pyenv or venv python3 earlier on PATH does not see); HERALD_PYTHON
 * overrides it. A missing client fails the test (CI installs it), never skips it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, runPythonFlow, type PythonFlowResult } from '../../../src/cli/commands/python-flow.ts';
import { startAgent, tempDir, type RunningAgent } from '../../../src/cli/commands/cli-harness.ts';

const SCRIPT = join(import.meta.dirname, 'python_consul_kv_flow.py');
const runFlow = (port: number) => runPythonFlow(SCRIPT, port, 40_000);

let agent: RunningAgent;
let run: PythonFlowResult;

beforeAll(async () => {
  agent = await startAgent({ configDir: tempDir('py-kv'), node: 'py-kv', extraArgs: ['-plugin', 'kv'] });
  run = await runFlow(agent.httpPort);
}, 60_000);

afterAll(() => agent?.kill());

const failed = (prefix: RegExp) =>
  run.steps
    .filter((s) => prefix.test(s.step) && !s.ok)
    .map((s) => JSON.stringify(s))
    .join('\n');

describe('python3-consul kv and sessions against a herald agent', () => {
  it('has the client installed (apt-get install python3-consul; .ci/run installs it)', () => {
    expect(run.code, `${PYTHON} could not import consul: ${run.summary?.error ?? run.stderr}`).not.toBe(3);
  });

  it('ran every step of the flow', () => {
    expect(run.steps.length, run.stderr).toBe(39);
    expect(run.summary, run.stderr).toBeDefined();
  });

  it('reads and writes KV: flags, binary values, recurse, keys with separator, cas, blocking get', () => {
    const bad = failed(/^kv\./);
    expect(bad, `steps that did not match:\n${bad}\nstderr:\n${run.stderr}`).toBe('');
    const byName = new Map(run.steps.map((s) => [s.step, s]));
    // The client sent presence flags its own way and got the answers it tests for.
    expect(byName.get('kv.get keys with separator folds at /')?.http).toEqual(['GET /v1/kv/py/app/?keys=True&separator=%2F -> 200']);
    expect(byName.get('kv.get missing key: (index, None), index still read on the 404')?.http).toEqual(['GET /v1/kv/py/app/missing -> 404']);
    // The writer thread's PUT and the woken GET finish at about the same moment: either may be
    // recorded last, so look for the blocking GET among the step's requests.
    expect(byName.get('kv.get(index, wait) wakes on a write to the key, not before')?.http).toContainEqual(expect.stringMatching(/^GET \/v1\/kv\/py\/watch\?index=\d+&wait=10s -> 200$/));
  });

  it('creates (empty body and lowercase keys), reads, renews and destroys sessions', () => {
    const bad = failed(/^session\./);
    expect(bad, `steps that did not match:\n${bad}`).toBe('');
    const byName = new Map(run.steps.map((s) => [s.step, s]));
    expect(byName.get('session.create with no options (empty body)')?.http).toEqual(['PUT /v1/session/create -> 200']);
  });

  it('runs a lock between two sessions, and a behavior=delete session takes its key with it; exit 0', () => {
    const bad = run.steps.filter((s) => !s.ok).map((s) => JSON.stringify(s)).join('\n');
    expect(bad).toBe('');
    expect(run.summary?.ok).toBe(true);
    expect(run.code).toBe(0);
  });
});
