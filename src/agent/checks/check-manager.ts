/**
 * The agent's local checks: one runner (or TTL timer) per check, the local status and output
 * of each, and the decision of when a result becomes a catalog write. That decision mirrors
 * Consul's agent/local State.UpdateCheck: a status change is written at once; an output-only
 * change is deferred and written once per check_update_interval; an identical result writes
 * nothing. The reaper removes services whose check stayed critical for longer than its
 * DeregisterCriticalServiceAfter.
 */
import type { HealthStatus } from '../../catalog/types.ts';
import { ERR, HeraldError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../log.ts';
import type { CheckDefinition } from '../config-types.ts';
import { CheckRunner, type CheckProbe } from './check-runner.ts';
import { realClock, type Clock, type TimerHandle } from './clock.ts';
import { runHttpCheck } from './http-check.ts';
import { runScriptCheck } from './script-check.ts';
import { runTcpCheck } from './tcp-check.ts';
import { TtlCheck } from './ttl-check.ts';

/** Consul's checks.MinInterval: shorter intervals are raised to it (no fork bombs). */
export const MIN_CHECK_INTERVAL_MS = 1_000;
/** Consul's check_reap_interval. */
export const REAP_INTERVAL_MS = 30_000;
/** Consul's check_deregister_interval_min: shorter DeregisterCriticalServiceAfter values are raised to it. */
export const DEREGISTER_MIN_MS = 60_000;

/** Consul's wording (agent.go addCheck), so API clients see the message they expect. */
export const SCRIPTS_DISABLED_LOCAL =
  "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true";
export const SCRIPTS_DISABLED_REMOTE =
  "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true";

/** What the agent knows locally about a check right now (may be ahead of the catalog). */
export interface LocalCheckStatus {
  status: HealthStatus;
  output: string;
}

export interface CheckManagerOptions {
  /** Writes a result to the catalog (a `check.update` command). Called synchronously. */
  write(checkId: string, status: HealthStatus, output: string): void;
  /**
   * Called by the reaper once per service whose check stayed critical too long. The manager
   * has already stopped and dropped that service's checks when it calls this.
   */
  deregisterService(serviceId: string): void;
  /** enable_local_script_checks (|| enable_script_checks) and enable_script_checks. */
  allowScripts: { local: boolean; remote: boolean };
  /** ms; 0 writes every output change at once. */
  checkUpdateInterval: number;
  clock?: Clock;
  /** Uniform [0, 1): first-run stagger and write-deferral jitter. Default Math.random. */
  random?: () => number;
  /** ms between reaper passes, default 30 s. */
  reapInterval?: number;
  /** ms; DeregisterCriticalServiceAfter below this is raised to it. Default 1 m (Consul's). */
  deregisterMinimum?: number;
  /** ms; check intervals below this are raised to it. Default 1 s (Consul's). */
  minInterval?: number;
  /** Test seam: the probe for a script/HTTP/TCP check instead of the real runner. */
  probeFor?: (def: CheckDefinition) => CheckProbe;
  logger?: Logger;
}

interface Entry {
  /** As given: what update() compares. */
  def: CheckDefinition;
  /** Bumped on every (re)start, so a replaced runner's late result is recognised. */
  generation: number;
  runner?: CheckRunner;
  ttl?: TtlCheck;
  status: HealthStatus;
  output: string;
  /** The last state handed to `write` (or the registered initial state). */
  written: LocalCheckStatus;
  /** clock.now() when results turned critical; undefined while not critical. */
  criticalSince?: number;
  deferred?: TimerHandle;
  /** Effective DeregisterCriticalServiceAfter, ms; 0 = never. */
  reapAfter: number;
}

/**
 * Owns the runners of the local checks. All methods are synchronous and never block; results
 * arrive from runners on the event loop. Check IDs are unique per agent.
 */
export class CheckManager {
  private readonly opts: CheckManagerOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly checks = new Map<string, Entry>();
  private reaper: TimerHandle | undefined;

  constructor(opts: CheckManagerOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.log = opts.logger ?? silentLogger;
  }

  /**
   * Starts a check. Its local status starts as `def.status` with empty output, which is taken
   * to be what its registration put in the catalog; nothing is written until a result differs.
   * An existing ID is treated as `update(def)`.
   * Throws HeraldError SCRIPT_CHECKS_DISABLED (Consul's message) for a script check the
   * agent does not allow from `def.source`, CHECK_INVALID for an unusable definition.
   */
  add(def: CheckDefinition): void {
    if (this.checks.has(def.id)) {
      this.update(def);
      return;
    }
    this.validate(def);
    const entry: Entry = {
      def,
      generation: 0,
      status: def.status,
      output: '',
      written: { status: def.status, output: '' },
      reapAfter: 0,
    };
    this.checks.set(def.id, entry);
    this.startEntry(entry);
    this.armReaper();
  }

  /** Takes new script permissions and write interval (reload); running checks keep running. */
  reconfigure(opts: Pick<CheckManagerOptions, 'allowScripts' | 'checkUpdateInterval'>): void {
    this.opts.allowScripts = opts.allowScripts;
    this.opts.checkUpdateInterval = opts.checkUpdateInterval;
  }

  /**
   * Replaces a check's definition. When it is unchanged this does nothing and returns false;
   * otherwise the runner restarts and the check keeps its current status, output and critical
   * time (Consul keeps them so a re-registration does not flap). Unknown IDs are added.
   * Throws like `add`; a refused definition leaves the running check as it was.
   */
  update(def: CheckDefinition): boolean {
    const entry = this.checks.get(def.id);
    if (!entry) {
      this.add(def);
      return true;
    }
    if (canonical(entry.def) === canonical(def)) return false;
    this.validate(def);
    this.stopEntry(entry);
    entry.def = def;
    this.startEntry(entry);
    return true;
  }

  /** Stops and forgets a check, dropping any deferred write. Returns false if unknown. */
  remove(id: string): boolean {
    const entry = this.checks.get(id);
    if (!entry) return false;
    this.stopEntry(entry);
    entry.deferred?.cancel();
    this.checks.delete(id);
    return true;
  }

  /**
   * Sets a TTL check's status (the `/v1/agent/check/pass|warn|fail|update` path) and restarts
   * its TTL. Returns the stored output (cut to 4 KB with Consul's marker).
   * Throws HeraldError CHECK_UNKNOWN for an unknown ID, CHECK_NOT_TTL for another kind.
   */
  ttlUpdate(id: string, status: HealthStatus, output: string): string {
    const entry = this.checks.get(id);
    if (!entry) throw new HeraldError(ERR.CHECK_UNKNOWN, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
    if (!entry.ttl) throw new HeraldError(ERR.CHECK_NOT_TTL, `CheckID "${id}" does not have associated TTL`);
    return entry.ttl.update(status, output);
  }

  /** The local status and output of a check (what anti-entropy registers), or undefined. */
  status(id: string): LocalCheckStatus | undefined {
    const entry = this.checks.get(id);
    return entry ? { status: entry.status, output: entry.output } : undefined;
  }

  /** IDs of the checks this manager runs. */
  ids(): string[] {
    return [...this.checks.keys()];
  }

  /**
   * Runs an interval check now (its result goes through thresholds and write rules as usual)
   * and resolves when handled; joins a run already in flight. TTL checks resolve at once.
   * Throws HeraldError CHECK_UNKNOWN for an unknown ID.
   */
  runNow(id: string): Promise<void> {
    const entry = this.checks.get(id);
    if (!entry) throw new HeraldError(ERR.CHECK_UNKNOWN, `Unknown check ID "${id}"`);
    return entry.runner ? entry.runner.runNow() : Promise.resolve();
  }

  /** Stops every runner, deferred write and the reaper, and forgets all checks. */
  stopAll(): void {
    for (const id of [...this.checks.keys()]) this.remove(id);
    this.reaper?.cancel();
    this.reaper = undefined;
  }

  /** Validates a definition and the script policy; throws, changes nothing. */
  validate(def: CheckDefinition): void {
    if (!def.id) throw new HeraldError(ERR.CHECK_INVALID, 'CheckID missing');
    const interval = def.interval ?? 0;
    const ttl = def.ttl ?? 0;
    if (interval > 0 && ttl > 0) throw new HeraldError(ERR.CHECK_INVALID, 'Interval and TTL cannot both be specified');
    if (def.kind === 'ttl') {
      if (!(ttl > 0)) throw new HeraldError(ERR.CHECK_INVALID, 'TTL must be > 0 for TTL checks');
      return;
    }
    if (!(interval > 0)) throw new HeraldError(ERR.CHECK_INVALID, 'Interval must be > 0 for Script, HTTP, or TCP checks');
    if (def.kind === 'script') {
      if (!def.args || def.args.length === 0) throw new HeraldError(ERR.CHECK_INVALID, 'Script checks need args');
      // enable_script_checks implies local scripts too, as in Consul's config builder.
      if (def.source === 'file' && !(this.opts.allowScripts.local || this.opts.allowScripts.remote)) {
        throw new HeraldError(ERR.SCRIPT_CHECKS_DISABLED, SCRIPTS_DISABLED_LOCAL);
      }
      if (def.source === 'api' && !this.opts.allowScripts.remote) {
        throw new HeraldError(ERR.SCRIPT_CHECKS_DISABLED, SCRIPTS_DISABLED_REMOTE);
      }
    } else if (def.kind === 'http') {
      if (!def.http) throw new HeraldError(ERR.CHECK_INVALID, 'HTTP checks need a URL');
    } else if (def.kind === 'tcp') {
      if (!def.tcp) throw new HeraldError(ERR.CHECK_INVALID, 'TCP checks need host:port');
    } else {
      throw new HeraldError(ERR.CHECK_INVALID, `Check type is not valid: ${String(def.kind)}`);
    }
  }

  private startEntry(entry: Entry): void {
    const def = entry.def;
    const generation = ++entry.generation;
    const sink = (checkId: string, status: HealthStatus, output: string) => {
      if (this.checks.get(checkId) !== entry || entry.generation !== generation) return;
      this.onResult(entry, status, output);
    };

    entry.reapAfter = 0;
    const after = def.deregisterCriticalServiceAfter ?? 0;
    if (after > 0) {
      if (!def.serviceId) {
        this.log.warn(`check ${def.id}: DeregisterCriticalServiceAfter ignored on a node-level check`);
      } else {
        const min = this.opts.deregisterMinimum ?? DEREGISTER_MIN_MS;
        if (after < min) this.log.warn(`check ${def.id}: deregister interval below minimum, raised to ${min}ms`);
        entry.reapAfter = Math.max(after, min);
      }
    }

    if (def.kind === 'ttl') {
      entry.ttl = new TtlCheck({ checkId: def.id, ttl: def.ttl!, sink, clock: this.clock });
      entry.ttl.start();
      return;
    }

    const min = this.opts.minInterval ?? MIN_CHECK_INTERVAL_MS;
    let interval = def.interval!;
    if (interval < min) {
      this.log.warn(`check ${def.id}: interval below minimum, raised to ${min}ms`);
      interval = min;
    }
    entry.runner = new CheckRunner({
      checkId: def.id,
      interval,
      probe: this.opts.probeFor ? this.opts.probeFor(def) : probeFor(def),
      sink,
      successBeforePassing: def.successBeforePassing,
      failuresBeforeCritical: def.failuresBeforeCritical,
      clock: this.clock,
      random: this.random,
      logger: this.log,
    });
    entry.runner.start();
  }

  private stopEntry(entry: Entry): void {
    entry.runner?.stop();
    entry.ttl?.stop();
    entry.runner = undefined;
    entry.ttl = undefined;
  }

  /** Consul's State.UpdateCheck, with the write deferred for output-only changes. */
  private onResult(entry: Entry, status: HealthStatus, output: string): void {
    // Critical time is tracked on every result, written or not.
    if (status === 'critical') entry.criticalSince ??= this.clock.now();
    else entry.criticalSince = undefined;

    if (entry.status === status && entry.output === output) return;

    const interval = this.opts.checkUpdateInterval;
    if (interval > 0 && entry.status === status) {
      entry.output = output;
      if (!entry.deferred) {
        // Consul: d/2 + RandomStagger(d), so many agents do not write in step.
        const wait = interval / 2 + Math.floor(this.random() * interval);
        entry.deferred = this.clock.setTimer(wait, () => {
          entry.deferred = undefined;
          if (this.checks.get(entry.def.id) === entry) this.flush(entry);
        });
      }
      return;
    }

    entry.status = status;
    entry.output = output;
    entry.deferred?.cancel();
    entry.deferred = undefined;
    this.flush(entry);
  }

  /** Writes the local state if it differs from what was last written. */
  private flush(entry: Entry): void {
    if (entry.written.status === entry.status && entry.written.output === entry.output) return;
    entry.written = { status: entry.status, output: entry.output };
    try {
      this.opts.write(entry.def.id, entry.status, entry.output);
    } catch (err) {
      this.log.error(`check ${entry.def.id}: write failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private armReaper(): void {
    if (this.reaper) return;
    this.reaper = this.clock.setTimer(this.opts.reapInterval ?? REAP_INTERVAL_MS, () => {
      this.reaper = undefined;
      this.reap();
      if (this.checks.size > 0) this.armReaper();
    });
  }

  /** Consul's reapServicesInternal: one deregistration per service per pass. */
  private reap(): void {
    const now = this.clock.now();
    const services = new Set<string>();
    for (const entry of this.checks.values()) {
      const sid = entry.def.serviceId;
      if (!sid || entry.reapAfter <= 0 || entry.criticalSince === undefined) continue;
      if (now - entry.criticalSince > entry.reapAfter) services.add(sid);
    }
    for (const sid of services) {
      for (const [id, entry] of [...this.checks]) if (entry.def.serviceId === sid) this.remove(id);
      this.log.info(`check for service ${sid} has been critical for too long; deregistered service`);
      try {
        this.opts.deregisterService(sid);
      } catch (err) {
        this.log.error(`deregistering service ${sid} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** The real probe for an interval check. */
function probeFor(def: CheckDefinition): CheckProbe {
  switch (def.kind) {
    case 'script':
      return (signal) => runScriptCheck({ args: def.args ?? [], timeout: def.timeout }, signal);
    case 'http':
      return (signal) =>
        runHttpCheck(
          {
            url: def.http ?? '',
            method: def.method,
            header: def.header,
            body: def.body,
            tlsSkipVerify: def.tlsSkipVerify,
            timeout: def.timeout,
          },
          signal,
        );
    case 'tcp':
      return (signal) => runTcpCheck({ address: def.tcp ?? '', timeout: def.timeout }, signal);
    default:
      throw new HeraldError(ERR.CHECK_INVALID, `no runner for check kind ${def.kind}`);
  }
}

/** Key-order-independent JSON, so equal definitions compare equal however they were built. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
