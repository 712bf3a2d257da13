/**
 * RocksDB on its own thread: a `RawRocks` whose calls are forwarded to a worker_threads Worker
 * (rocks-worker.mjs) that owns the database. The binding performs writes, and their fsync,
 * synchronously on the calling thread (0.5-0.9 ms per sync measured here); on the JS thread
 * that would stall every DNS answer behind every group commit. Here the JS thread only packs
 * the batch, posts it and awaits the answer.
 *
 * Contract, same as the binding's: requests are served in call order, one at a time (a batch
 * resolves before a later get runs); errors reject with the binding's `message` and `code`
 * (LEVEL_NOT_FOUND, LEVEL_IO_ERROR, LEVEL_LOCKED ...); close() resolves once the database is
 * closed (its LOCK released) and the thread has exited. The worker keeps the process alive
 * only while a request is outstanding, so an idle open store never holds the process open.
 */
import { Worker } from 'node:worker_threads';
import type { RawBatchOp, RawRocks } from './rocksdb-storage.ts';

const PUT = 1;
const DEL = 2;

/** Packs batch ops as `[u8 type][u32 klen][key]([u32 vlen][value])...` into a fresh ArrayBuffer. */
export function packOps(ops: readonly RawBatchOp[]): ArrayBuffer {
  let size = 0;
  for (const op of ops) size += 5 + op.key.length + (op.type === 'put' ? 4 + op.value.length : 0);
  const ab = new ArrayBuffer(size);
  const out = Buffer.from(ab);
  let at = 0;
  for (const op of ops) {
    out[at] = op.type === 'put' ? PUT : DEL;
    out.writeUInt32BE(op.key.length, at + 1);
    out.set(op.key, at + 5);
    at += 5 + op.key.length;
    if (op.type === 'put') {
      out.writeUInt32BE(op.value.length, at);
      out.set(op.value, at + 4);
      at += 4 + op.value.length;
    }
  }
  return ab;
}

/** Unpacks `[u32 klen][key][u32 vlen][value]...`; the Buffers are views into `ab`. */
export function unpackEntries(ab: ArrayBuffer): Array<[Buffer, Buffer]> {
  const buf = Buffer.from(ab);
  const out: Array<[Buffer, Buffer]> = [];
  let at = 0;
  while (at < buf.length) {
    const klen = buf.readUInt32BE(at);
    const key = buf.subarray(at + 4, at + 4 + klen);
    at += 4 + klen;
    const vlen = buf.readUInt32BE(at);
    out.push([key, buf.subarray(at + 4, at + 4 + vlen)]);
    at += 4 + vlen;
  }
  return out;
}

function copyIn(b: Buffer): ArrayBuffer {
  const ab = new ArrayBuffer(b.length);
  new Uint8Array(ab).set(b);
  return ab;
}

interface Reply {
  id: number;
  ok: boolean;
  value?: ArrayBuffer;
  error?: RemoteError;
}

interface RemoteError {
  message: string;
  code?: string;
  name?: string;
  cause?: { message: string; code?: string };
}

type Pending = { resolve: (v: ArrayBuffer | undefined) => void; reject: (e: Error) => void };

const WORKER_URL = new URL('./rocks-worker.mjs', import.meta.url);

/** The binding's error, rebuilt on this side with its message, code and cause. */
function remoteError(e: RemoteError): Error {
  const cause = e.cause && Object.assign(new Error(e.cause.message), e.cause.code === undefined ? {} : { code: e.cause.code });
  const err = new Error(e.message, cause ? { cause } : undefined) as Error & { code?: string };
  if (e.code !== undefined) err.code = e.code;
  return err;
}

/**
 * A RawRocks over a RocksDB at `location`, served by a fresh worker thread. Not opened yet
 * (call open(), as with the binding). One database per worker; close() ends the thread.
 */
export function threadRocks(location: string): RawRocks {
  // execArgv: []: the worker runs plain JavaScript and needs none of the parent's loader flags.
  const worker = new Worker(WORKER_URL, { execArgv: [] });
  worker.unref();
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let nextIterator = 1;
  let dead: Error | undefined;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  const failAll = (err: Error) => {
    dead ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) worker.unref();
    if (m.ok) p.resolve(m.value);
    else p.reject(remoteError(m.error!));
  });
  worker.on('error', (err) => failAll(Object.assign(new Error(`storage thread failed: ${err.message}`), { code: 'LEVEL_IO_ERROR' })));
  worker.on('exit', (code) => failAll(Object.assign(new Error(`storage thread exited (code ${code})`), { code: 'LEVEL_DATABASE_NOT_OPEN' })));

  function call(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<ArrayBuffer | undefined> {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      // Referenced only while something is outstanding: a pending write keeps the process up.
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...msg }, transfer);
    });
  }
  /** Posts a request that gets no answer (iterator creation; its failure shows on nextv). */
  function post(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): void {
    if (!dead) worker.postMessage({ id: 0, ...msg }, transfer);
  }

  return {
    async open() {
      await call({ op: 'open', location });
    },
    async close() {
      try {
        if (!dead) await call({ op: 'close' });
      } finally {
        // Keep the process up until the thread is gone (the LOCK is released before that).
        worker.ref();
        await exited;
      }
    },
    async get(key) {
      const k = copyIn(key);
      return Buffer.from((await call({ op: 'get', key: k }, [k]))!);
    },
    async batch(ops, options) {
      const packed = packOps(ops);
      await call({ op: 'batch', ops: packed, sync: options.sync }, [packed]);
    },
    iterator(options) {
      const it = nextIterator++;
      const wire: Record<string, unknown> = {};
      const transfer: ArrayBuffer[] = [];
      for (const k of ['gt', 'gte', 'lt', 'lte'] as const) {
        const b = options[k];
        if (b !== undefined) {
          const ab = copyIn(b);
          wire[k] = ab;
          transfer.push(ab);
        }
      }
      if (options.limit !== undefined) wire.limit = options.limit;
      if (options.reverse !== undefined) wire.reverse = options.reverse;
      post({ op: 'iter', it, options: wire }, transfer);
      return {
        async nextv(size) {
          return unpackEntries((await call({ op: 'nextv', it, size }))!);
        },
        async close() {
          await call({ op: 'iterClose', it });
        },
      };
    },
  };
}
