/**
 * Debian's python3-consul (python-consul), unmodified, against a real `herald agent` process
 * (consul-compat.md §9): python_consul_flow.py runs the client's agent, catalog and health calls,
 * with the lowercase JSON keys that client sends, and reports each step as one JSON line.
 *
 * The interpreter is Debian's /usr/bin/python3 when present, because the package installs into
 * its dist-packages, which a pyenv or venv `python3` earlier on PATH does not see; set
 * HERALD_PYTHON to use another. A missing client fails the test (CI installs it), never skips it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, runPythonFlow, type PythonFlowResult } from '../../../src/cli/commands/python-flow.ts';
import { startAgentProcess, type AgentProcess } from './agent-process.ts';

const SCRIPT = join(import.meta.dirname, 'python_consul_flow.py');
const runFlow = (port: number) => runPythonFlow(SCRIPT, port, 30_000);

let agent: AgentProcess;
let run: PythonFlowResult;

beforeAll(async () => {
  agent = await startAgentProcess({ nodeName: 'python-consul-test' });
  run = await runFlow(agent.httpPort);
}, 60_000);

afterAll(async () => {
  await agent?.stop();
});

/** Steps that register and read: the client's lowercase keys, catalog, health, a blocking read. */
const REGISTER_AND_READ = [
  'agent.self Config.Datacenter',
  'agent.service.register with Check.ttl (lowercase keys)',
  'agent.services has the service',
  'agent.checks has the TTL check, critical until passed',
  'agent.check.register with serviceid/notes (lowercase keys)',
  'agent.checks links the extra check to the service',
  'health.service passing=True is empty while critical',
  'catalog.services lists the service and its tags',
  'catalog.services(index, wait) returns with a higher index after a registration',
  'health.service (no passing) still lists the critical instance',
];

/**
 * Steps that pass/fail TTL checks and deregister, and the reads that depend on them. python-consul
 * 0.7.1 (Debian bookworm's python3-consul) sends these calls as GET, as Consul < 1.0 accepted;
 * Consul >= 1.0 serves them on PUT only (405, and the client silently returns False), Herald
 * answers that GET too. The `http` field of a failed step shows the exact request and status.
 */
const CHECK_UPDATES_AND_DEREGISTER = [
  'agent.check.ttl_pass (service check)',
  'agent.check.ttl_pass (extra check)',
  'health.service passing=True has the instance',
  'agent.check.ttl_fail',
  'health.service passing=True is empty after ttl_fail',
  'agent.service.deregister',
  'agent.services no longer has it',
  "agent.checks lost the service's checks",
  'health.service is empty after deregister',
  'agent.service.deregister py-other',
];

function failedAmong(names: string[]): string {
  const bad = run.steps.filter((s) => names.includes(s.step) && !s.ok);
  return bad.map((s) => JSON.stringify({ ...s, got: JSON.stringify(s.got)?.slice(0, 200) })).join('\n');
}

describe('python3-consul against a herald agent', () => {
  it('has the client installed (apt-get install python3-consul; .ci/run installs it)', () => {
    expect(run.code, `${PYTHON} could not import consul: ${run.summary?.error ?? run.stderr}`).not.toBe(3);
  });

  it('ran the whole flow: every step reported, in order', () => {
    const order = run.steps.map((s) => s.step);
    expect(order, run.stderr).toHaveLength(REGISTER_AND_READ.length + CHECK_UPDATES_AND_DEREGISTER.length);
    expect([...order].sort()).toEqual([...REGISTER_AND_READ, ...CHECK_UPDATES_AND_DEREGISTER].sort());
    expect(order[0]).toBe('agent.self Config.Datacenter');
    expect(order.at(-1)).toBe('agent.service.deregister py-other');
  });

  it('registers with lowercase keys and reads agent, catalog and health (blocking included)', () => {
    const failed = failedAmong(REGISTER_AND_READ);
    expect(failed, `steps that did not match:\n${failed}\nstderr:\n${run.stderr}`).toBe('');
    const byName = new Map(run.steps.map((s) => [s.step, s]));
    expect(byName.get('agent.self Config.Datacenter')?.got).toBe('dc1');
    expect(byName.get('agent.services has the service')?.got).toEqual({ 'web-py-1': ['web', 8080, ['py', 'v1'], '10.3.0.1'] });
    // The client sent its lowercase body on PUT and got the 200 it tests for.
    expect(byName.get('agent.service.register with Check.ttl (lowercase keys)')?.http).toEqual(['PUT /v1/agent/service/register -> 200']);
  });

  it('passes and fails the TTL check and deregisters through the client, and exits 0', () => {
    const failed = failedAmong(CHECK_UPDATES_AND_DEREGISTER);
    expect(failed, `steps that did not match:\n${failed}`).toBe('');
    const byName = new Map(run.steps.map((s) => [s.step, s]));
    expect(byName.get('health.service passing=True has the instance')?.got).toEqual([['web-py-1', 8080, ['passing', 'passing', 'passing']]]);
    // Whichever verb this client version uses (0.7.1: GET, later: PUT), the agent answered 200.
    expect(byName.get('agent.check.ttl_pass (service check)')?.http).toEqual([expect.stringMatching(/^(GET|PUT) \/v1\/agent\/check\/pass\/service:web-py-1\?note=ok -> 200$/)]);
    expect(byName.get('agent.service.deregister')?.http).toEqual([expect.stringMatching(/^(GET|PUT) \/v1\/agent\/service\/deregister\/web-py-1 -> 200$/)]);
    expect(run.summary?.ok).toBe(true);
    expect(run.code).toBe(0);
  });
});
