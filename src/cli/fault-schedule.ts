/**
 * The nemesis's plan for the real-process fault test (src/cli/cluster-faults.test.ts), drawn
 * from a seed so a run's schedule replays (HERALD_FAULT_SEED). Every plan holds the three faults
 * issue 5 names (a leader SIGKILL, a leader SIGSTOP, a leader isolation) and `others` distinct
 * faults drawn from the rest, in a seeded order. Which follower or client agent a fault hits is
 * drawn too (`pick`); "the leader" is whoever leads when the fault starts. Pure; test-only.
 */
import { seededRandom } from '../seeded-random.ts';

/** Faults every plan contains. */
export const REQUIRED_FAULTS = ['kill-leader', 'pause-leader', 'isolate-leader'] as const;
/** Faults a plan draws its others from. */
export const OTHER_FAULTS = [
  'kill-follower',
  'pause-follower',
  'isolate-follower',
  /** One way: the leader's packets to a follower are dropped, the follower's reach it. */
  'cut-leader-to-follower',
  'cut-follower-to-leader',
  /** SIGKILL a client agent while a write through it is in flight, then restart it. */
  'kill-client-agent',
] as const;

export type FaultKind = (typeof REQUIRED_FAULTS)[number] | (typeof OTHER_FAULTS)[number];

export interface PlannedFault {
  readonly kind: FaultKind;
  /** Which follower (0-based, of the followers sorted by name) or client agent; 0 for leader faults. */
  readonly pick: number;
}

export interface ScheduleShape {
  /** How many other faults besides the required ones. */
  readonly others: number;
  /** Followers of the cluster (servers - 1). */
  readonly followers: number;
  readonly clientAgents: number;
}

/** The plan for `seed`: the required faults plus `others` distinct other kinds, shuffled. */
export function faultSchedule(seed: number, shape: ScheduleShape): PlannedFault[] {
  // Its own stream (the workload's clients draw from seed * 31 + n).
  const rnd = seededRandom(seed ^ 0x6e656d65);
  const shuffle = <T>(xs: T[]): T[] => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
  const kinds: FaultKind[] = shuffle([...REQUIRED_FAULTS, ...shuffle([...OTHER_FAULTS]).slice(0, shape.others)]);
  return kinds.map((kind) => {
    const among = kind === 'kill-client-agent' ? shape.clientAgents : kind.includes('follower') ? shape.followers : 0;
    return { kind, pick: among ? Math.floor(rnd() * among) : 0 };
  });
}

/** One line: each fault's kind, with `#n` where it targets a follower or client agent. */
export function describePlan(plan: readonly PlannedFault[]): string {
  return plan.map((f) => (f.kind.includes('follower') || f.kind === 'kill-client-agent' ? `${f.kind}#${f.pick}` : f.kind)).join(', ');
}
