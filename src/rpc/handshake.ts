/**
 * The handshake: the dialer's HELLO names its node id, cluster id, the protocol versions it
 * speaks and the largest frame it accepts; the listener answers WELCOME (the same fields about
 * itself) or REFUSE with a reason, which the dialer logs. The dialer checks the WELCOME too: it
 * dialed an address expecting a particular node, and talking to whoever answers there instead
 * (a re-used address, a misconfigured peer list) would misroute Raft messages.
 *
 * Pure functions; RpcConnection does the I/O.
 */
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './rpc-config.ts';

/** The body of HELLO and WELCOME. */
export interface Hello {
  readonly node: string;
  readonly cluster: string;
  /** Highest protocol version the sender speaks. */
  readonly version: number;
  /** Lowest protocol version the sender speaks. */
  readonly minVersion: number;
  /** Largest frame payload the sender accepts. */
  readonly maxFrame: number;
}

/** Who this side is. */
export interface LocalIdentity {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly maxFrameBytes: number;
}

/** The HELLO/WELCOME this node sends. */
export function helloFor(local: LocalIdentity): Hello {
  return {
    node: local.nodeId,
    cluster: local.clusterId,
    version: PROTOCOL_VERSION,
    minVersion: MIN_PROTOCOL_VERSION,
    maxFrame: local.maxFrameBytes,
  };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/** The decoded frame value as a Hello, or why it is not one. */
export function parseHello(v: unknown): Hello | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'handshake is not an object';
  const h = v as Record<string, unknown>;
  if (typeof h.node !== 'string' || h.node === '') return 'handshake has no node id';
  if (typeof h.cluster !== 'string') return 'handshake has no cluster id';
  if (!isCount(h.version) || !isCount(h.minVersion) || h.minVersion > h.version) return 'handshake has bad protocol versions';
  if (!isCount(h.maxFrame) || h.maxFrame > 0xffffffff) return 'handshake has a bad maxFrame';
  return { node: h.node, cluster: h.cluster, version: h.version, minVersion: h.minVersion, maxFrame: h.maxFrame };
}

/** The version both sides speak (the highest in both ranges), or undefined when the ranges do not meet. */
export function negotiateVersion(a: Pick<Hello, 'version' | 'minVersion'>, b: Pick<Hello, 'version' | 'minVersion'>): number | undefined {
  const v = Math.min(a.version, b.version);
  return v >= Math.max(a.minVersion, b.minVersion) ? v : undefined;
}

/** The result of checking the other side's Hello. */
export type HandshakeCheck = { readonly ok: true; readonly version: number } | { readonly ok: false; readonly reason: string };

/**
 * Listener side: whether to accept a dialer's HELLO. Refuses another cluster, our own node id
 * (two nodes configured with one id), and versions with no overlap.
 */
export function checkHello(local: LocalIdentity, hello: Hello): HandshakeCheck {
  if (hello.cluster !== local.clusterId) {
    return { ok: false, reason: `cluster id mismatch: peer is in cluster '${hello.cluster}', this node is in '${local.clusterId}'` };
  }
  if (hello.node === local.nodeId) {
    return { ok: false, reason: `peer uses this node's own id '${local.nodeId}'` };
  }
  const version = negotiateVersion(helloFor(local), hello);
  if (version === undefined) {
    return {
      ok: false,
      reason: `protocol version mismatch: peer speaks ${hello.minVersion}..${hello.version}, this node ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`,
    };
  }
  return { ok: true, version };
}

/**
 * Dialer side: whether the WELCOME comes from the node we meant to reach, in our cluster,
 * with a version we speak.
 */
export function checkWelcome(local: LocalIdentity, expectedNode: string, welcome: Hello): HandshakeCheck {
  if (welcome.node !== expectedNode) {
    return { ok: false, reason: `expected node '${expectedNode}' at this address, found '${welcome.node}'` };
  }
  if (welcome.cluster !== local.clusterId) {
    return { ok: false, reason: `cluster id mismatch: peer is in cluster '${welcome.cluster}', this node is in '${local.clusterId}'` };
  }
  const version = negotiateVersion(helloFor(local), welcome);
  if (version === undefined) {
    return {
      ok: false,
      reason: `protocol version mismatch: peer speaks ${welcome.minVersion}..${welcome.version}, this node ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`,
    };
  }
  return { ok: true, version };
}
