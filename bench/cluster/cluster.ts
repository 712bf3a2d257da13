/**
 * What the cluster benchmark needs from a 3-member system under test, so one harness drives
 * Herald and etcd the same way: find the leader, write through any member, read a member's own
 * copy (to see a restarted member has caught up), SIGKILL a member and start it again from its
 * data directory.
 */
import type { ProcessReaper, Tracked } from '../dns/process-reaper.ts';

export interface Member {
  name: string;
  /** `http://127.0.0.1:<port>`: the member's HTTP API (Herald) or client URL (etcd). */
  origin: string;
  /** The command line that starts (and restarts) the member. */
  cmd: string;
  args: string[];
  proc: Tracked;
}

export interface WriteOutcome {
  ok: boolean;
  /** The status and a short body or error, for the report when a write is refused. */
  detail: string;
}

export interface Cluster {
  kind: 'herald' | 'etcd';
  members: Member[];
  /** The Raft settings in force, in words, for the report. */
  settings: string;
  /** The member every live member names as leader, or undefined while they disagree or have none. */
  agreedLeader(): Promise<Member | undefined>;
  /** One write of `value` under `key` through `m`, bounded by `timeoutMs`. */
  put(m: Member, key: string, value: string, timeoutMs: number): Promise<WriteOutcome>;
  /** `key` as `m` holds it locally (a stale/serializable read), or undefined. */
  readLocal(m: Member, key: string): Promise<string | undefined>;
  /** The path and body shape of a write, for the load runner (bench/kv/load-runner.ts). */
  loadWorkload: 'herald-put' | 'etcd-put';
  /** etcd's gateway prefix (load runner), unused for Herald. */
  gateway: string;
}

/** SIGKILLs the member's process group and waits for the exit (bounded by the reaper's drain). */
export async function killMember(m: Member): Promise<void> {
  try {
    process.kill(-m.proc.pid, 'SIGKILL');
  } catch {
    // ESRCH: already gone.
  }
  await m.proc.exited;
}

/** Starts `m` again with the same command line (and so the same data directory). */
export async function restartMember(reaper: ProcessReaper, m: Member, cwd: string): Promise<void> {
  if (!m.proc.done) throw new Error(`${m.name} is still running`);
  m.proc = await reaper.spawn(m.name, m.cmd, m.args, { cwd });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 20 ms until it returns a value; throws with `what` after `deadlineMs`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs: number, context: () => string = () => ''): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (let i = 0; i < 1_000_000; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`no ${what} within ${deadlineMs} ms ${context()}`.trim());
    await sleep(20);
  }
  throw new Error(`no ${what}`);
}

/** Waits until every live member names the same leader; returns it. */
export function waitForLeader(c: Cluster, deadlineMs = 30_000): Promise<Member> {
  return pollUntil(`${c.kind} leader agreed by every member`, () => c.agreedLeader(), deadlineMs, () =>
    c.members.filter((m) => m.proc.done).map((m) => `${m.name} exited: ${m.proc.tail()}`).join('\n'),
  );
}
