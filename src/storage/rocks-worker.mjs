// The RocksDB thread: a worker_threads Worker that owns one RocksDB handle, so the binding's
// synchronous work (batch_write runs the WAL write and its fsync on the calling thread) never
// runs on the JS thread that answers DNS. rocks-thread.ts is the other end; this file is plain
// JavaScript because workers get neither the tsx loader nor vitest's transforms.
//
// Protocol (one MessagePort, requests answered in arrival order):
//   -> { id, op: 'open', location }            <- { id, ok: true }
//   -> { id, op: 'close' }                     <- { id, ok: true }, then this thread exits
//   -> { id, op: 'get', key }                  <- { id, ok: true, value: ArrayBuffer }
//   -> { id, op: 'batch', ops, sync }          <- { id, ok: true }
//   -> { id, op: 'iter', it, options }         (no answer; a failure surfaces on the next nextv)
//   -> { id, op: 'nextv', it, size }           <- { id, ok: true, value: ArrayBuffer }
//   -> { id, op: 'iterClose', it }             <- { id, ok: true }
//   failures: <- { id, ok: false, error: { message, code, name, cause?: { message, code } } }
// Keys, values and batches travel as packed, transferred ArrayBuffers (see pack/unpack below
// and their twins in rocks-thread.ts): one copy on each side, never a structured clone of a
// Buffer's whole (pooled) backing store.
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';

const { RocksLevel } = createRequire(import.meta.url)('@nxtedition/rocksdb');

const PUT = 1;
const DEL = 2;

/** Batch ops from `[u8 type][u32 klen][key]([u32 vlen][value] for puts)...`. Views, no copies. */
function unpackOps(ab) {
  const buf = Buffer.from(ab);
  const ops = [];
  let at = 0;
  while (at < buf.length) {
    const type = buf[at];
    const klen = buf.readUInt32BE(at + 1);
    const key = buf.subarray(at + 5, at + 5 + klen);
    at += 5 + klen;
    if (type === PUT) {
      const vlen = buf.readUInt32BE(at);
      ops.push({ type: 'put', key, value: buf.subarray(at + 4, at + 4 + vlen) });
      at += 4 + vlen;
    } else if (type === DEL) {
      ops.push({ type: 'del', key });
    } else {
      throw new Error(`rocks worker: bad batch op type ${type}`);
    }
  }
  return ops;
}

/** `[u32 klen][key][u32 vlen][value]...` in a fresh ArrayBuffer (transferable). */
function packEntries(entries) {
  let size = 0;
  for (const [k, v] of entries) size += 8 + k.length + v.length;
  const ab = new ArrayBuffer(size);
  const out = Buffer.from(ab);
  let at = 0;
  for (const [k, v] of entries) {
    out.writeUInt32BE(k.length, at);
    out.set(k, at + 4);
    at += 4 + k.length;
    out.writeUInt32BE(v.length, at);
    out.set(v, at + 4);
    at += 4 + v.length;
  }
  return ab;
}

function copyOut(value) {
  const ab = new ArrayBuffer(value.length);
  new Uint8Array(ab).set(value);
  return ab;
}

function iteratorOptions(o) {
  const out = {};
  for (const k of ['gt', 'gte', 'lt', 'lte']) if (o[k] !== undefined) out[k] = Buffer.from(o[k]);
  if (o.limit !== undefined) out.limit = o.limit;
  if (o.reverse !== undefined) out.reverse = o.reverse;
  return out;
}

let db;
const iterators = new Map();

function needDb() {
  if (!db) throw Object.assign(new Error('database is not open'), { code: 'LEVEL_DATABASE_NOT_OPEN' });
  return db;
}

async function handle(msg) {
  switch (msg.op) {
    case 'open': {
      const next = new RocksLevel(msg.location, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await next.open();
      db = next;
      return {};
    }
    case 'close': {
      for (const it of iterators.values()) await it.close().catch(() => {});
      iterators.clear();
      if (db) await db.close();
      db = undefined;
      return {};
    }
    case 'get': {
      const v = await needDb().get(Buffer.from(msg.key));
      const value = copyOut(v);
      return { value, transfer: [value] };
    }
    case 'batch':
      await needDb().batch(unpackOps(msg.ops), { sync: msg.sync });
      return {};
    case 'iter': {
      try {
        iterators.set(msg.it, needDb().iterator(iteratorOptions(msg.options)));
      } catch (err) {
        iterators.set(msg.it, { failed: err });
      }
      return undefined;
    }
    case 'nextv': {
      const it = iterators.get(msg.it);
      if (!it) throw new Error(`rocks worker: no iterator ${msg.it}`);
      if (it.failed) throw it.failed;
      const value = packEntries(await it.nextv(msg.size));
      return { value, transfer: [value] };
    }
    case 'iterClose': {
      const it = iterators.get(msg.it);
      iterators.delete(msg.it);
      if (it && !it.failed) await it.close();
      return {};
    }
    default:
      throw new Error(`rocks worker: unknown op ${String(msg.op)}`);
  }
}

// Requests run one at a time in arrival order: the main thread relies on a batch being
// written before a later read, exactly as with a single-threaded handle.
let chain = Promise.resolve();
parentPort.on('message', (msg) => {
  chain = chain.then(async () => {
    try {
      const out = await handle(msg);
      if (out === undefined) return;
      parentPort.postMessage({ id: msg.id, ok: true, value: out.value }, out.transfer ?? []);
    } catch (err) {
      const e = err ?? {};
      parentPort.postMessage({
        id: msg.id,
        ok: false,
        error: {
          message: String(e.message ?? e),
          code: e.code,
          name: e.name,
          // abstract-level wraps open failures (LEVEL_DATABASE_NOT_OPEN) around the real one.
          cause: e.cause ? { message: String(e.cause.message ?? e.cause), code: e.cause.code } : undefined,
        },
      });
    }
    // After close the thread has nothing left to do; closing the port lets it exit.
    if (msg.op === 'close') parentPort.close();
  });
});
