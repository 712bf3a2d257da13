/**
 * Test tooling: a cluster of real RaftDrivers in one process — each with its own transport
 * (in-memory or TCP), storage (memory or RocksDB) and catalog StateMachine — that can be
 * stopped (as a crash would: driver and transport gone, storage kept) and restarted from its
 * storage. Not part of the product.
 */
import { StateMachine } from '../catalog/state-machine.ts';
import type { Command } from '../catalog/types.ts';
import type { Transport } from '../rpc/transport.ts';
import type { Storage } from '../storage/storage.ts';
import type { RaftDriverTuning } from './driver-config.ts';
import { RaftDriver, type RaftStateMachine } from './raft-driver.ts';
import { catalogStateMachine, RaftLog } from './raft-log.ts';

/** One server of the cluster; `driver`, `transport` and `sm` are replaced by a restart. */
export interface TestServer {
  readonly id: string;
  address: string;
  storage: Storage;
  transport: Transport;
  sm: StateMachine;
  driver: RaftDriver;
  log: RaftLog;
  up: boolean;
  /** Snapshot restores since the current incarnation's start() resolved (an InstallSnapshot from the leader). */
  restoresAfterStart: number;
}

export interface HarnessOptions {
  readonly ids: readonly string[];
  /** A started transport for `id`, listening on `listen` (undefined: pick an address; a restart passes the old one). */
  readonly transport: (id: string, listen: string | undefined) => Promise<Transport>;
  /** Storage for `id`; `previous` is the one from before a restart (reuse or reopen it). */
  readonly storage: (id: string, previous: Storage | undefined) => Promise<Storage>;
  /** Called when a server stops, after its driver and transport: close what must be closed (e.g. RocksDB). */
  readonly releaseStorage?: (storage: Storage) => Promise<void>;
  readonly tuning?: Partial<RaftDriverTuning>;
  /** Per-server overrides on top of `tuning`. */
  readonly tuningFor?: (id: string) => Partial<RaftDriverTuning> | undefined;
}

/** Polls `cond` until true; throws naming `what` after `ms`. For states no single event announces. */
export async function waitUntil(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A catalog register command for node `name` with one service. */
export function registerCommand(name: string, service = 'web'): Command {
  return {
    type: 'catalog.register',
    node: { node: name, id: '', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
    service: { id: service, service, tags: [], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false, taggedAddresses: {} },
  };
}

export class DriverHarness {
  readonly servers = new Map<string, TestServer>();

  constructor(private readonly opts: HarnessOptions) {}

  /** Starts every server of a brand-new cluster bootstrapped with all of them as voters. */
  async start(): Promise<void> {
    const transports = new Map<string, Transport>();
    for (const id of this.opts.ids) transports.set(id, await this.opts.transport(id, undefined));
    const bootstrap = Object.fromEntries([...transports].map(([id, t]) => [id, t.address!]));
    await Promise.all(this.opts.ids.map((id) => this.launch(id, transports.get(id)!, undefined, bootstrap)));
  }

  /** Starts a server that is not in the cluster yet (no bootstrap): it waits to be added. */
  async startNew(id: string): Promise<TestServer> {
    return this.launch(id, await this.opts.transport(id, undefined), undefined, undefined);
  }

  private async launch(id: string, transport: Transport, previous: Storage | undefined, bootstrap: Record<string, string> | undefined): Promise<TestServer> {
    const storage = await this.opts.storage(id, previous);
    const sm = new StateMachine();
    const inner = catalogStateMachine(sm);
    let started = false;
    const server = {} as TestServer;
    const counting: RaftStateMachine = {
      ...inner,
      restore: (data, index) => {
        if (started) server.restoresAfterStart++;
        inner.restore(data, index);
      },
    };
    const driver = new RaftDriver({
      id,
      storage,
      transport,
      stateMachine: counting,
      ...(bootstrap ? { bootstrap } : {}),
      tuning: { ...this.opts.tuning, ...this.opts.tuningFor?.(id) },
    });
    Object.assign(server, { id, address: transport.address!, storage, transport, sm, driver, log: new RaftLog(driver), up: true, restoresAfterStart: 0 });
    this.servers.set(id, server);
    await driver.start();
    started = true;
    return server;
  }

  get(id: string): TestServer {
    const s = this.servers.get(id);
    if (!s) throw new Error(`no server ${id}`);
    return s;
  }

  live(): TestServer[] {
    return [...this.servers.values()].filter((s) => s.up);
  }

  /** Waits until every live server (or those in `among`) agrees on one live leader; returns it. */
  async leader(among: readonly TestServer[] = this.live(), ms = 5_000): Promise<TestServer> {
    let found: TestServer | undefined;
    await waitUntil(
      `one leader among ${among.map((s) => s.id).join(', ')}`,
      () => {
        const l = among.find((s) => s.driver.isLeader);
        if (!l) return false;
        found = l;
        return among.every((s) => s.driver.leaderHint()?.id === l.id);
      },
      ms,
    );
    return found!;
  }

  /** Waits until every live server has applied `index`. */
  async allApplied(index: bigint, ms = 10_000): Promise<void> {
    await Promise.all(this.live().map((s) => s.driver.waitForApplied(index, ms)));
  }

  /** The catalog snapshot JSON of a server (byte-identical on replicas that applied the same entries). */
  static state(s: TestServer): string {
    return JSON.stringify(s.sm.snapshot());
  }

  /** Stops a server as a crash would: driver and transport go, storage is kept. */
  async stop(id: string): Promise<void> {
    const s = this.get(id);
    s.up = false;
    await s.driver.stop();
    await s.transport.close();
    await this.opts.releaseStorage?.(s.storage);
  }

  /** Starts a stopped server again from its storage, at its old address. */
  async restart(id: string): Promise<TestServer> {
    const s = this.get(id);
    const transport = await this.opts.transport(id, s.address);
    return this.launch(id, transport, s.storage, undefined);
  }

  async close(): Promise<void> {
    for (const s of this.servers.values()) {
      if (!s.up) continue;
      s.up = false;
      await s.driver.stop();
      await s.transport.close();
      await this.opts.releaseStorage?.(s.storage);
    }
  }
}
