/**
 * `/v1/kv/<key>` (consul-compat.md §3.4; Consul's agent/kvs_endpoint.go). The key is the rest
 * of the decoded path: any bytes, `/` included, no length limit beyond the HTTP header limits
 * (Consul's newer strict key validation is deliberately not copied).
 *
 * Reads are a Map lookup (or a sorted prefix scan) and one JSON string; the DirEntry text is
 * cached on the immutable entry. Writes are `kv.op` commands through the log.
 *
 * Decisions: a non-numeric `flags` or `cas` is 400 with Go's strconv text (Consul answers 500
 * with the same text); everything else follows Consul 1.10.
 */
import type { HttpToolkit } from '../../../src/plugin.ts';
import { encodeGoValues, parseUint64 } from '../go-text.ts';
import type { KvOp } from '../kv-ops.ts';
import type { KvRuntime } from '../kv-runtime.ts';
import { dirEntryJson, dirEntryObject, type KvEntry } from '../kv-table.ts';
import { keyWaiter, prefixWaiter } from '../wake-keys.ts';

const RAW_HEADERS = {
  'content-type': 'text/plain',
  'x-content-type-options': 'nosniff',
  'content-security-policy': 'sandbox',
};

/** What a PUT/DELETE asks for, parsed before the body is read. */
const parsedWrites = new WeakMap<object, KvOp>();

function listJson(entries: KvEntry[]): string {
  let s = '[';
  for (let i = 0; i < entries.length; i++) s += (i > 0 ? ',' : '') + dirEntryJson(entries[i]!);
  return s + ']';
}

export function kvRoutes(server: unknown, kit: HttpToolkit, rt: KvRuntime): void {
  const kv = rt.state.kv;
  const limit = rt.options.kvMaxValueSize;

  /** Consul's conflictingFlags: 400 `Conflicting flags: <Values.Encode()>\n`. */
  const conflicting = (req: unknown, ...flags: string[]) => {
    if (flags.filter((f) => kit.hasParam(req, f)).length > 1) throw kit.error(400, `Conflicting flags: ${encodeGoValues(kit.params(req))}\n`);
  };
  const uintParam = (req: unknown, name: string): string => {
    try {
      return parseUint64(kit.param(req, name) ?? '').toString();
    } catch (err) {
      throw kit.error(400, (err as Error).message);
    }
  };

  /** PUT checks in Consul's order, before the body is read (the size check needs only Content-Length). */
  const checkPut = (req: unknown) => {
    kit.checkReadParams(req);
    const key = kit.rest(req);
    if (key === '') throw kit.error(400, 'Missing key name');
    conflicting(req, 'cas', 'acquire', 'release');
    const op: KvOp = { verb: 'set', key };
    if (kit.hasParam(req, 'flags')) op.flags = uintParam(req, 'flags');
    if (kit.hasParam(req, 'cas')) {
      op.index = uintParam(req, 'cas');
      op.verb = 'cas';
    }
    if (kit.hasParam(req, 'acquire')) {
      op.session = kit.param(req, 'acquire') ?? '';
      op.verb = 'lock';
    }
    if (kit.hasParam(req, 'release')) {
      op.session = kit.param(req, 'release') ?? '';
      op.verb = 'unlock';
    }
    const len = (req as { headers: Record<string, string | undefined> }).headers['content-length'];
    if (len !== undefined && /^\d+$/.test(len) && Number(len) > limit) {
      throw kit.error(413, `Request body(${len} bytes) too large, max size: ${limit} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.`);
    }
    parsedWrites.set(req as object, op);
  };

  kit.routes(server, '/v1/kv/*', {
    GET: (req, reply) => {
      const key = kit.rest(req);
      if (kit.hasParam(req, 'keys')) {
        // Consul reads `seperator` (sic) first and lets `separator` override it.
        const sep = kit.hasParam(req, 'separator') ? (kit.param(req, 'separator') ?? '') : kit.hasParam(req, 'seperator') ? (kit.param(req, 'seperator') ?? '') : '';
        return prefixRead(key, () => {
          const keys = kv.keys(key, sep);
          return keys.length === 0 && key !== '' ? { status: 404 } : { json: keys };
        });
      }
      if (kit.hasParam(req, 'recurse')) {
        return prefixRead(key, () => {
          const entries = kv.list(key);
          if (entries.length === 0) return { status: 404 };
          return wantsObjects(req) ? { json: entries.map((e) => dirEntryObject(e)) } : { jsonText: listJson(entries) };
        });
      }
      if (key === '') throw kit.error(400, 'Missing key name');
      const raw = kit.hasParam(req, 'raw');
      return kit.blockingRead(req, reply, {
        key: keyWaiter(key),
        index: () => kv.get(key)?.modifyIndex ?? kv.maxIndex,
        answer: () => {
          const e = kv.get(key);
          if (!e) return { status: 404 };
          if (raw) return { body: e.value === null ? Buffer.alloc(0) : Buffer.from(e.value, 'base64'), headers: RAW_HEADERS };
          return wantsObjects(req) ? { json: [dirEntryObject(e)] } : { jsonText: `[${dirEntryJson(e)}]` };
        },
      });

      function prefixRead(prefix: string, answer: () => { status?: number; json?: unknown; jsonText?: string }) {
        rt.prefixes.add(prefix);
        return kit
          .blockingRead(req, reply, { key: prefixWaiter(prefix), index: () => kv.prefixIndex(prefix), answer })
          .finally(() => rt.prefixes.release(prefix));
      }
    },

    PUT: {
      bodyLimit: limit,
      onRequest: checkPut,
      handler: async (req, reply) => {
        const op = parsedWrites.get(req as object)!;
        const body = kit.body(req);
        op.value = body && body.length > 0 ? body.toString('base64') : null;
        const { result } = await rt.propose({ type: 'kv.op', op, now: rt.now() });
        // Consul answers a plain set with true whatever the store did.
        return kit.sendJson(req, reply, op.verb === 'set' ? true : result === true);
      },
    },

    DELETE: async (req, reply) => {
      kit.checkReadParams(req);
      const key = kit.rest(req);
      conflicting(req, 'recurse', 'cas');
      const op: KvOp = { verb: 'delete', key };
      if (kit.hasParam(req, 'recurse')) op.verb = 'delete-tree';
      else if (key === '') throw kit.error(400, 'Missing key name');
      if (kit.hasParam(req, 'cas')) {
        op.index = uintParam(req, 'cas');
        op.verb = 'delete-cas';
      }
      const { result } = await rt.propose({ type: 'kv.op', op, now: rt.now() });
      return kit.sendJson(req, reply, op.verb === 'delete-cas' ? result === true : true);
    },
  });

  /** Pretty output goes through objects (exact uint64 either way); compact output uses the cached text. */
  function wantsObjects(req: unknown): boolean {
    return kit.pretty(req);
  }
}
