/**
 * Three etcd 3.4 members on loopback (Debian etcd-server), each with its own data dir (WAL
 * fsync on, etcd's default) and its defaults for timing (heartbeat 100 ms, election 1000 ms),
 * driven through the v3 JSON gateway as bench/kv/etcd.ts does. Pinned with taskset to the
 * server cores.
 */
import { join } from 'node:path';
import { freePort } from '../../plugins/http-api/clients/agent-process.ts';
import type { ProcessReaper } from '../dns/process-reaper.ts';
import { detectGateway, etcdHealthy } from '../kv/etcd.ts';
import { pollUntil, type Cluster, type Member } from './cluster.ts';
import { call } from './http-call.ts';

/** `etcd` arguments for member `name` of the loopback cluster `initialCluster` (name=peerURL,...). */
export function etcdMemberArgs(name: string, dataDir: string, client: number, peer: number, initialCluster: string): string[] {
  const c = `http://127.0.0.1:${client}`;
  const p = `http://127.0.0.1:${peer}`;
  return [
    '--name', name,
    '--data-dir', dataDir,
    '--listen-client-urls', c,
    '--advertise-client-urls', c,
    '--listen-peer-urls', p,
    '--initial-advertise-peer-urls', p,
    '--initial-cluster', initialCluster,
    // Ignored on restart: the member then rejoins from its data dir.
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', 'herald-bench-cluster',
    '--log-level', 'warn',
    '--logger', 'zap',
  ];
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Starts the three members and waits until each reports healthy (which needs a leader). */
export async function startEtcdCluster(reaper: ProcessReaper, work: string, serverCpus: string): Promise<Cluster> {
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < 3; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const initial = ports.map((p, i) => `e${i + 1}=http://127.0.0.1:${p.peer}`).join(',');
  const members: Member[] = [];
  for (let i = 0; i < 3; i++) {
    const p = ports[i]!;
    const cmdArgs = ['-c', serverCpus, 'etcd', ...etcdMemberArgs(`e${i + 1}`, join(work, `etcd-${i + 1}`), p.client, p.peer, initial)];
    const proc = await reaper.spawn(`etcd-e${i + 1}`, 'taskset', cmdArgs, { cwd: work });
    members.push({ name: `e${i + 1}`, origin: `http://127.0.0.1:${p.client}`, cmd: 'taskset', args: cmdArgs, proc });
  }
  await Promise.all(
    members.map((m) =>
      pollUntil(`healthy ${m.name}`, async () => {
        if (m.proc.done) throw new Error(`${m.name} exited: ${m.proc.tail()}`);
        return (await etcdHealthy(m.origin)) || undefined;
      }, 60_000),
    ),
  );
  const gw = await detectGateway(members[0]!.origin);
  if (!gw) throw new Error('etcd answers no v3 JSON gateway (tried /v3, /v3beta)');

  /** [this member's id, the leader's id it knows] from /maintenance/status, or undefined. */
  const status = async (m: Member): Promise<[string, string] | undefined> => {
    const r = await call(m.origin, 'POST', `${gw}/maintenance/status`, '{}', 2000);
    if (r.status !== 200) return undefined;
    try {
      const j = JSON.parse(r.text) as { header?: { member_id?: string }; leader?: string };
      return j.header?.member_id && j.leader ? [j.header.member_id, j.leader] : undefined;
    } catch {
      return undefined;
    }
  };

  return {
    kind: 'etcd',
    members,
    settings: 'etcd defaults (heartbeat 100 ms, election timeout 1000 ms); WAL fsync on (default)',
    async agreedLeader() {
      const live = members.filter((m) => !m.proc.done);
      const st = await Promise.all(live.map(status));
      if (st.some((s) => s === undefined)) return undefined;
      const leaderId = st[0]![1];
      if (leaderId === '0' || st.some((s) => s![1] !== leaderId)) return undefined;
      const i = st.findIndex((s) => s![0] === leaderId);
      return i >= 0 ? live[i] : undefined;
    },
    async put(m, key, value, timeoutMs) {
      const r = await call(m.origin, 'POST', `${gw}/kv/put`, JSON.stringify({ key: b64(key), value: b64(value) }), timeoutMs);
      // The gateway answers 200 with a JSON error body ("error"/"code") when the put failed.
      let failed = r.status !== 200;
      try {
        failed ||= 'error' in (JSON.parse(r.text) as object);
      } catch {
        failed = true;
      }
      return { ok: !failed, detail: r.error ?? `${r.status} ${r.text.slice(0, 80)}` };
    },
    async readLocal(m, key) {
      const r = await call(m.origin, 'POST', `${gw}/kv/range`, JSON.stringify({ key: b64(key), serializable: true }), 2000);
      if (r.status !== 200) return undefined;
      try {
        const kvs = (JSON.parse(r.text) as { kvs?: { value?: string }[] }).kvs;
        return kvs?.[0] ? Buffer.from(kvs[0].value ?? '', 'base64').toString('utf8') : undefined;
      } catch {
        return undefined;
      }
    },
    loadWorkload: 'etcd-put',
    gateway: gw,
  };
}
