/**
 * Many parked blocking queries over real sockets, for the blocked-watcher figure: each watcher
 * is one `GET <path>?index=<current>&wait=<w>` on its own TCP connection (an http.Agent with no
 * socket limit), opened in batches so the server's listen backlog never overflows into SYN
 * retries. The pool counts, per key (the service a watcher reads), how many have returned.
 */
import http from 'node:http';

export interface WatcherTarget {
  /** What the watcher reads, for counting (e.g. the service name). */
  key: string;
  /** Path and query, e.g. `/v1/health/service/web?index=42&wait=5m`. */
  path: string;
}

export interface ParkResult {
  /** Requests fully written to their sockets. */
  written: number;
  /** Requests that failed before returning (connect errors, resets). */
  errors: string[];
}

/** A set of parked requests; `close()` destroys every socket. */
export class WatcherPool {
  private readonly agent = new http.Agent({ keepAlive: false, maxSockets: Infinity, maxTotalSockets: Infinity });
  private readonly requests: http.ClientRequest[] = [];
  private readonly returnedByKey = new Map<string, number>();
  private readonly statuses = new Map<number, number>();
  private returnedTotal = 0;
  private closing = false;
  private readonly listeners = new Set<() => void>();
  readonly errors: string[] = [];

  constructor(private readonly host: string, private readonly port: number) {}

  /**
   * Sends every target's request, `batch` at a time, each batch waiting until its requests are
   * written (or failed) before the next opens. Rejects if `deadlineMs` passes first.
   */
  async park(targets: WatcherTarget[], batch = 500, deadlineMs = 120_000): Promise<ParkResult> {
    const end = Date.now() + deadlineMs;
    let written = 0;
    for (let i = 0; i < targets.length; i += batch) {
      const slice = targets.slice(i, i + batch);
      const flushed = slice.map((t) => this.send(t));
      const left = end - Date.now();
      if (left <= 0) throw new Error(`parking timed out after ${written} of ${targets.length} requests`);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left)));
      const outcome = await Promise.race([Promise.all(flushed), timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') throw new Error(`parking timed out after ${written} of ${targets.length} requests`);
      written += outcome.filter(Boolean).length;
    }
    return { written, errors: [...this.errors] };
  }

  /** Resolves true once the request is written, false if it failed first. */
  private send(t: WatcherTarget): Promise<boolean> {
    return new Promise((resolve) => {
      const req = http.request({ host: this.host, port: this.port, path: t.path, method: 'GET', agent: this.agent });
      this.requests.push(req);
      req.once('finish', () => resolve(true));
      req.once('error', (err) => {
        if (!this.closing) this.errors.push(`${t.path}: ${err.message}`);
        resolve(false);
      });
      req.once('response', (res) => {
        res.resume();
        this.returnedTotal++;
        this.returnedByKey.set(t.key, (this.returnedByKey.get(t.key) ?? 0) + 1);
        this.statuses.set(res.statusCode ?? 0, (this.statuses.get(res.statusCode ?? 0) ?? 0) + 1);
        for (const l of this.listeners) l();
      });
      req.end();
    });
  }

  /** Watchers that got a response so far. */
  returned(): number {
    return this.returnedTotal;
  }

  /** Responses so far for watchers of `key`. */
  returnedFor(key: string): number {
    return this.returnedByKey.get(key) ?? 0;
  }

  /** Response counts by HTTP status. */
  statusCounts(): Record<string, number> {
    return Object.fromEntries([...this.statuses].map(([k, v]) => [String(k), v]));
  }

  /** Resolves when `cond()` holds (checked on every response), false when `deadlineMs` passes first. */
  waitFor(cond: () => boolean, deadlineMs: number): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!cond()) return;
        finish(true);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), deadlineMs);
      this.listeners.add(check);
    });
  }

  /** Destroys every request and socket (the server sees the clients go away). */
  close(): void {
    this.closing = true;
    for (const r of this.requests) r.destroy();
    this.agent.destroy();
  }
}
