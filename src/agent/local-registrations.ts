/**
 * The agent's own registrations made through the HTTP API (services with their checks,
 * standalone checks, maintenance modes), kept in the data dir so a restart registers them
 * again, as Consul keeps them under `data_dir/services` and `data_dir/checks`. Without this the
 * first anti-entropy sync after a restart would remove them from the restored catalog, since
 * the agent no longer knows it owns them. Services and checks from config files are not kept:
 * the files are read again on start.
 *
 * Stored as one JSON document under the storage's stable key `agent/local-registrations` (a
 * synced write). Saves coalesce: a save issued while one is in flight waits for the next write,
 * which captures the state as it is when that write starts, so every caller's change is on
 * disk when its save resolves, with at most one write in flight.
 */
import type { CheckFields } from '../catalog/types.ts';
import type { StableStore } from '../storage/storage.ts';
import type { CheckDefinition, ServiceDefinition } from './config-types.ts';

const KEY = 'agent/local-registrations';
const VERSION = 1;

/** What is kept. */
export interface LocalRegistrationsState {
  services: ServiceDefinition[];
  /** Standalone checks (node-level, or bound to a service by serviceId). */
  checks: CheckDefinition[];
  /** Maintenance-mode checks (`_node_maintenance`, `_service_maintenance:<id>`). */
  maintenance: CheckFields[];
}

export class LocalRegistrations {
  /** Until load() has read the previous run's document, saving would overwrite it: no-op. */
  private loaded = false;
  private last = '';
  private writing: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly stable: StableStore,
    private readonly current: () => LocalRegistrationsState,
  ) {}

  /** What the previous run kept (empty on a fresh data dir). Rejects STORAGE_CORRUPT, or on bad JSON. */
  async load(): Promise<LocalRegistrationsState> {
    const raw = await this.stable.get(KEY);
    this.loaded = true;
    if (!raw) return { services: [], checks: [], maintenance: [] };
    this.last = raw.toString('utf8');
    const doc = JSON.parse(this.last) as Partial<LocalRegistrationsState> & { version?: number };
    if (doc.version !== VERSION) throw new Error(`${KEY}: unknown version ${JSON.stringify(doc.version)}`);
    return { services: doc.services ?? [], checks: doc.checks ?? [], maintenance: doc.maintenance ?? [] };
  }

  /**
   * Makes the current registrations durable; resolves once a write that includes them is
   * synced. Does nothing before load().
   */
  save(): Promise<void> {
    if (!this.loaded) return Promise.resolve();
    if (!this.writing) return (this.writing = this.write());
    // One write in flight: join the single next one (it reads the state when it starts).
    this.queued ??= this.writing.catch(() => {}).then(() => {
      this.queued = undefined;
      return (this.writing = this.write());
    });
    return this.queued;
  }

  private async write(): Promise<void> {
    try {
      const text = JSON.stringify({ version: VERSION, ...this.current() });
      if (text === this.last) return;
      await this.stable.set(KEY, Buffer.from(text));
      this.last = text;
    } finally {
      this.writing = undefined;
    }
  }
}
