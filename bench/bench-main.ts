/**
 * What every bench harness does at its edges: run as a script only when invoked directly, and
 * write its report as JSON + markdown under bench/out/ while printing the markdown (the section
 * to paste into bench/RESULTS.md).
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VERSION } from '../src/version.ts';

/** The machine facts every report starts with (os.cpus(), not availableParallelism(): the harness itself is pinned to one core). */
export function hostFacts(): { cpu: string; cpus: number; kernel: string; node: string; herald: string } {
  return {
    cpu: /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown',
    cpus: cpus().length,
    kernel: release(),
    node: process.version,
    herald: VERSION,
  };
}

/** A harness's last step on every exit path: stop every child (naming any that would not stop), then remove its work dir. */
export async function stopBench(reaper: { stopAll(): Promise<string[]> }, work: string, log: (msg: string) => void, uninstall?: () => void): Promise<void> {
  const stuck = await reaper.stopAll();
  if (stuck.length) log(`could not stop: ${stuck.join(', ')}`);
  uninstall?.();
  await rm(work, { recursive: true, force: true });
}

/** Writes `<out>/<name>-<when>.{json,md}`, prints the markdown; returns the path stem written. */
export async function writeBenchReport(out: string, name: string, when: string, report: unknown, md: string): Promise<string> {
  await mkdir(out, { recursive: true });
  const stem = join(out, `${name}-${when.replace(/[:.]/g, '-')}`);
  await writeFile(`${stem}.json`, JSON.stringify(report, null, 2));
  await writeFile(`${stem}.md`, md);
  process.stdout.write(md);
  return stem;
}

/** Runs `main` when the module at `moduleUrl` is the process's entry point; a failure is logged and sets exit code 1. */
export function runAsMain(moduleUrl: string, main: () => Promise<void>, log: (msg: string) => void): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main().catch((err: Error) => {
    log(`failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  });
}
