/**
 * `PUT /v1/txn` (consul-compat.md §3.5; Consul's agent/txn_endpoint.go, the Txn RPC and
 * state/txn.go): up to 64 KV operations applied atomically as one `kv.txn` command, or, when
 * none writes, read at once from the local state without the log (Consul's Txn.Read fast path:
 * consistency flags honoured, KnownLeader/LastContact headers, no blocking).
 *
 * 200 `{"Results":[...],"Errors":null}` on commit; 409 `{"Results":null,"Errors":[{OpIndex,
 * What}]}` on rollback, with Consul's error strings. KV results carry `Value: null` except for
 * get and get-tree; deletes and check-not-exists add no result.
 *
 * Decisions: Node, Service and Check operations are refused with a 409 naming the operation
 * (Herald's catalog changes go through the agent and catalog endpoints); a bad base64 Value is
 * Consul's 400 `Failed to parse body: failed to decode value: illegal base64 data at input byte
 * N` with the operation and key appended.
 */
import type { HttpToolkit } from '../../../src/plugin.ts';
import { decodeGoBase64, goQuote } from '../go-text.ts';
import { GoDecodeError, GoFields, jsonKind, parseJsonLossless } from '../go-json.ts';
import { WRITE_VERBS, type KvOp } from '../kv-ops.ts';
import type { KvRuntime } from '../kv-runtime.ts';
import type { TxnOutcome } from '../kv-state.ts';
import { dirEntryObject } from '../kv-table.ts';

/** Consul's maxTxnOps. */
export const MAX_TXN_OPS = 64;

type TxnError = { opIndex: number; what: string };

/** Decodes the body into KV ops, or the errors that refuse the whole transaction (unsupported kinds). Throws kit errors (400/413). */
function decodeOps(kit: HttpToolkit, text: string, maxValue: number): { ops: KvOp[]; refused: TxnError[] } {
  const fail = (msg: string) => kit.error(400, `Failed to parse body: ${msg}`);
  if (text.trim() === '') throw fail('EOF');
  let parsed: unknown;
  try {
    parsed = parseJsonLossless(text);
  } catch (err) {
    throw fail((err as Error).message);
  }
  if (!Array.isArray(parsed)) throw fail(`json: cannot unmarshal ${jsonKind(parsed)} into Go value of type api.TxnOps`);
  const ops: KvOp[] = [];
  const refused: TxnError[] = [];
  const sizes: { key: string; size: number }[] = [];
  try {
    parsed.forEach((raw, i) => {
      const op = new GoFields(raw, 'api.TxnOp');
      const kvRaw = op.raw('KV');
      if (kvRaw === undefined || kvRaw === null) {
        const kind = ['Node', 'Service', 'Check', 'Session', 'Intention'].find((k) => op.raw(k) !== undefined && op.raw(k) !== null);
        refused.push({ opIndex: i, what: kind ? `${kind} operations are not supported by Herald's /v1/txn (KV only)` : 'no operation specified' });
        ops.push({ verb: '', key: '' });
        return;
      }
      if (typeof kvRaw !== 'object' || Array.isArray(kvRaw)) throw new GoDecodeError(`unexpected raw KV type: ${jsonKind(kvRaw) === 'number' ? 'float64' : jsonKind(kvRaw)}`);
      const kv = new GoFields(kvRaw, 'api.KVTxnOp');
      const key = kv.string('Key') ?? '';
      const out: KvOp = { verb: kv.string('Verb') ?? '', key };
      const value = kv.raw('Value');
      if (value !== undefined && value !== null) {
        if (typeof value !== 'string') throw new GoDecodeError(`unexpected value type: ${jsonKind(value) === 'number' ? 'float64' : jsonKind(value)}`);
        const dec = decodeGoBase64(value);
        if ('error' in dec) throw new GoDecodeError(`failed to decode value: ${dec.error} (operation ${i}, key ${goQuote(key)})`);
        out.value = dec.value;
        sizes.push({ key, size: dec.value === null ? 0 : Buffer.byteLength(dec.value, 'base64') });
      }
      const flags = kv.uint64('Flags');
      if (flags !== undefined) out.flags = flags;
      const index = kv.uint64('Index');
      if (index !== undefined) out.index = index;
      const session = kv.string('Session');
      if (session !== undefined) out.session = session;
      ops.push(out);
    });
  } catch (err) {
    if (err instanceof GoDecodeError) throw fail(err.message);
    throw err;
  }
  if (parsed.length > MAX_TXN_OPS) throw kit.error(413, `Transaction contains too many operations (${parsed.length} > ${MAX_TXN_OPS})`);
  for (const { key, size } of sizes) {
    if (size > maxValue) throw kit.error(413, `Value for key ${goQuote(key)} is too large (${size} > ${maxValue} bytes)`);
  }
  return { ops, refused };
}

function answer(kit: HttpToolkit, req: unknown, reply: unknown, out: TxnOutcome): unknown {
  if ('errors' in out) {
    return kit.sendJson(req, reply, { Results: null, Errors: out.errors.map((e) => ({ OpIndex: e.opIndex, What: e.what })) }, 409);
  }
  return kit.sendJson(req, reply, { Results: out.results.map((r) => ({ KV: dirEntryObject(r.entry, r.withValue) })), Errors: null });
}

export function txnRoutes(server: unknown, kit: HttpToolkit, rt: KvRuntime): void {
  const maxValue = rt.options.kvMaxValueSize;
  // Consul: the larger of txn_max_req_len and kv_max_value_size bounds the whole body.
  const maxLen = Math.max(rt.options.txnMaxReqLen, maxValue);

  kit.routes(server, '/v1/txn', {
    PUT: {
      bodyLimit: maxLen,
      onRequest: (req) => {
        const len = (req as { headers: Record<string, string | undefined> }).headers['content-length'];
        if (len !== undefined && /^\d+$/.test(len) && Number(len) > maxLen) throw kit.error(413, `Request body too large, max size: ${maxLen} bytes`);
      },
      handler: async (req, reply) => {
        const body = kit.body(req);
        const { ops, refused } = decodeOps(kit, body ? body.toString('utf8') : '', maxValue);
        if (refused.length > 0) return answer(kit, req, reply, { errors: refused });
        const writes = ops.some((op) => WRITE_VERBS.has(op.verb));
        if (!writes) {
          kit.checkReadParams(req);
          kit.setLeaderHeaders(reply);
          return answer(kit, req, reply, rt.state.read(ops));
        }
        kit.checkDatacenter(req);
        const { result } = await rt.propose({ type: 'kv.txn', ops, now: rt.now() });
        return answer(kit, req, reply, result as TxnOutcome);
      },
    },
  });
}
