/**
 * Test harness for the real-client suites that drive Debian's python3-consul: runs a flow
 * script (`<script> <http port>`) that prints one JSON line per step and a final summary line,
 * and collects them.
 *
 * The interpreter is Debian's /usr/bin/python3 when present, because the package installs into
 * its dist-packages, which a pyenv or venv `python3` earlier on PATH does not see; set
 * HERALD_PYTHON to use another.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';

export const PYTHON = process.env.HERALD_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

/** One step the script reports. */
export interface StepLine {
  step: string;
  ok: boolean;
  got: unknown;
  expected?: unknown;
  /** `METHOD path -> status` of each request the client made for this step. */
  http: string[];
}

export interface PythonFlowResult {
  code: number | null;
  stdout: string;
  stderr: string;
  steps: StepLine[];
  summary?: { ok: boolean; failed: string[]; error?: string };
}

/** Runs `script` against `port` to completion (bounded: SIGKILL after `deadlineMs`). */
export function runPythonFlow(script: string, port: number, deadlineMs: number): Promise<PythonFlowResult> {
  return new Promise((resolve, reject) => {
    // consul_flow_steps.py (the step recorder the scripts share) sits beside this file.
    const pythonPath = [import.meta.dirname, process.env.PYTHONPATH].filter(Boolean).join(delimiter);
    const child = spawn(PYTHON, [script, String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: pythonPath },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${PYTHON} (install python3 and python3-consul): ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const steps: StepLine[] = [];
      let summary: PythonFlowResult['summary'];
      for (const line of stdout.split('\n')) {
        if (!line.trim()) continue;
        const obj = JSON.parse(line) as StepLine | { summary: PythonFlowResult['summary'] };
        if ('summary' in obj) summary = obj.summary;
        else steps.push(obj);
      }
      resolve({ code, stdout, stderr, steps, summary });
    });
  });
}
