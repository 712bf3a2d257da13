/**
 * G6, DNS propagation (Herald only: etcd has no DNS): two client agents (no -server, -retry-join,
 * own data dirs, pinned to the server cores like the servers) join the running 3-server
 * cluster; a service with a TTL check is registered on client A, and the check is flipped
 * (critical, passing, ...) with `PUT /v1/agent/check/fail|pass/<id>` on A while client B's DNS
 * (and, for reference, A's own) is polled for `<service>.service.consul A`. Each flip is timed
 * from just before its request is sent to the first answer reflecting it; the next flip starts
 * once both agents reflect it and the request has answered, after a short random pause.
 *
 * A TTL check flipped over HTTP is the trigger because its moment is exact: a script or HTTP
 * check would add its own interval to the figure, which G6 excludes.
 */
import { join } from 'node:path';
import { freePort, waitForAgent } from '../../plugins/http-api/clients/agent-process.ts';
import type { ProcessReaper } from '../dns/process-reaper.ts';
import { sleep, waitQuiet } from '../quiet-cores.ts';
import { waitForLeader, type Member } from './cluster.ts';
import { coreIds, withCoreBusy } from './core-busy.ts';
import { DnsWatcher } from './dns-watch.ts';
import { REPLICATED_PLUGINS, spawnPinnedAgent, type HeraldCluster } from './herald-cluster.ts';
import { call, singleSocketAgent } from './http-call.ts';
import { dnsFlipSummary, type DnsFlip, type DnsPropagationResult } from './report.ts';
import { summarizeMs } from './stats.ts';

export interface DnsPropagationOptions {
  /** Flips to time, alternating critical and passing (starting with critical). */
  flips: number;
  /** How often each client's DNS is asked, ms. */
  pollMs: number;
  serverCpus: string;
  quietWaitSec: number;
  /** Where the clients' data dirs go. */
  work: string;
  /** The repository root (the agents' working directory). */
  cwd: string;
}

const SERVICE = 'bench-web';
const CHECK_ID = `service:${SERVICE}`;
const DNS_NAME = `${SERVICE}.service.consul`;
/** A flip not reflected on an agent within this counts as failed there. */
const FLIP_DEADLINE_MS = 10_000;
/** The pause between flips is this plus up to as much again at random, so flips do not beat with the Raft tick. */
const FLIP_PAUSE_MS = 50;

/** A client agent: its HTTP API as a Member, and its DNS port. */
interface ClientAgent {
  member: Member;
  dnsPort: number;
}

async function startClient(reaper: ProcessReaper, name: string, joins: string[], o: DnsPropagationOptions): Promise<ClientAgent> {
  const [httpPort, dnsPort] = [await freePort(), await freePort()];
  const member = await spawnPinnedAgent(reaper, name, o.serverCpus, o.cwd, {
    httpPort,
    dnsPort,
    nodeName: name,
    dataDir: join(o.work, name),
    extraArgs: [...REPLICATED_PLUGINS, ...joins.flatMap((j) => ['-retry-join', j])],
  });
  await waitForAgent(member.origin, member.proc.exited, () => member.proc.tail(), 60_000);
  return { member, dnsPort };
}

/** The server a client agent streams the catalog from now, from its log. */
const upstreamOf = (c: ClientAgent) => [...c.member.proc.tail().matchAll(/following the catalog from (\S+)/g)].at(-1)?.[1];

/** Runs the G6 phase against the running cluster `c`; the client agents are stopped at the end. */
export async function dnsPropagation(reaper: ProcessReaper, c: HeraldCluster, o: DnsPropagationOptions, log: (msg: string) => void): Promise<DnsPropagationResult> {
  const leader = await waitForLeader(c);
  const [f1, f2] = c.members.filter((m) => m !== leader) as [Member, Member];
  // A client streams from (and writes to) the first server of its retry_join list: A goes through
  // one follower and B follows the other, so a flip takes the longest path a healthy cluster
  // has (A -> follower -> leader -> quorum -> other follower -> B). The leader is listed last,
  // for failing over only.
  const names = new Map(c.members.map((m) => [c.rpcAddress(m), m.name]));
  const a = await startClient(reaper, 'client-a', [f1, f2, leader].map(c.rpcAddress), o);
  const b = await startClient(reaper, 'client-b', [f2, f1, leader].map(c.rpcAddress), o);
  const watchers: DnsWatcher[] = [];
  const flipAgent = singleSocketAgent();
  try {
    const reg = await call(
      a.member.origin,
      'PUT',
      '/v1/agent/service/register',
      // The check's ID is then `service:<ID>`; a TTL far beyond the phase: only the flips change the status.
      JSON.stringify({ ID: SERVICE, Name: SERVICE, Port: 8080, Check: { TTL: '24h', Status: 'passing' } }),
      15_000,
    );
    if (reg.status !== 200) throw new Error(`registering ${SERVICE} on client A: ${reg.status} ${reg.error ?? reg.text}\n${a.member.proc.tail()}`);
    const wb = new DnsWatcher(DNS_NAME, b.dnsPort, o.pollMs);
    const wa = new DnsWatcher(DNS_NAME, a.dnsPort, o.pollMs);
    watchers.push(wb, wa);
    if (!(await wb.next(true, 30_000)) || !(await wa.next(true, 30_000))) {
      throw new Error(`${DNS_NAME} never answered on both clients (B: ${wb.last?.rcode ?? 'no answer'}, A: ${wa.last?.rcode ?? 'no answer'})\n${b.member.proc.tail()}`);
    }
    const role = (addr: string | undefined) => (addr === undefined ? 'unknown (no log line)' : `${names.get(addr) ?? addr} (${names.get(addr) === leader.name ? 'the leader' : 'a follower'})`);
    const path = `client A follows ${role(upstreamOf(a))}, client B follows ${role(upstreamOf(b))}; leader ${leader.name}; all five processes on CPU ${o.serverCpus}`;
    log(`herald dns propagation: ${path}`);

    if (!(await waitQuiet(coreIds(), o.quietWaitSec))) log('the cores did not get quiet before the DNS propagation phase');
    wb.takeGaps();
    wa.takeGaps();
    const flips: DnsFlip[] = [];
    let stopped: string | undefined;
    const [, coreBusy] = await withCoreBusy(async () => {
      for (let flip = 1; flip <= o.flips; flip++) {
        const to = flip % 2 === 1 ? 'critical' : 'passing';
        const present = to === 'passing';
        // Each flip must start from the other state on both agents, or its "first answer
        // reflecting it" could be an answer that never changed.
        if (wb.last?.present !== !present || wa.last?.present !== !present) {
          stopped = `before flip ${flip} (to ${to}) the answers were not settled: B ${wb.last?.rcode ?? '?'} present=${wb.last?.present}, A present=${wa.last?.present}`;
          break;
        }
        const seenB = wb.next(present, FLIP_DEADLINE_MS);
        const seenA = wa.next(present, FLIP_DEADLINE_MS);
        const t0 = performance.now();
        const r = await call(a.member.origin, 'PUT', `/v1/agent/check/${present ? 'pass' : 'fail'}/${CHECK_ID}`, '', FLIP_DEADLINE_MS, flipAgent);
        const httpMs = performance.now() - t0;
        const [sb, sa] = await Promise.all([seenB, seenA]);
        const f: DnsFlip = { flip, to, remoteMs: sb && sb.at - t0, localMs: sa && sa.at - t0, httpMs, httpStatus: r.status, remoteRcode: sb?.rcode ?? '' };
        flips.push(f);
        if (f.remoteMs === undefined || r.status !== 200) {
          log(`herald dns flip ${flip} (to ${to}): HTTP ${r.status} ${r.error ?? r.text.slice(0, 80)} after ${httpMs.toFixed(1)} ms; B ${f.remoteMs === undefined ? 'never reflected it' : `${f.remoteMs.toFixed(1)} ms`}`);
        }
        if (flip % 20 === 0 || flip === o.flips) {
          const s = summarizeMs(flips.map((x) => x.remoteMs).filter((x): x is number => x !== undefined));
          log(`herald dns propagation: ${flip}/${o.flips} flips, B p50 ${s.p50.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`);
        }
        await sleep(FLIP_PAUSE_MS * (1 + Math.random()));
      }
    });
    const gapsB = wb.takeGaps();
    const gapsA = wa.takeGaps();
    return {
      trigger: `a TTL check (${CHECK_ID}, TTL 24h) on service ${SERVICE} registered on client A, flipped by PUT /v1/agent/check/fail|pass/${CHECK_ID} on A, alternating critical and passing; each flip starts once both clients reflect the previous one, after a ${FLIP_PAUSE_MS}-${2 * FLIP_PAUSE_MS} ms random pause`,
      path,
      timed:
        `from just before the flip request is sent to A to the arrival of client B's first UDP answer for ${DNS_NAME} A reflecting it (no A record for critical, the record for passing). ` +
        "It includes the HTTP request to A (A answers once its local check status changed, as Consul does, and writes the catalog without waiting); A's check.update command sent over RPC to the server A follows, which forwards it to the leader; the leader's append, fsync and replication to a quorum, commit and apply; " +
        "the server B follows learning the commit and applying it; that server's change stream to B; B's replica apply and DNS answer-cache invalidation; and up to one poll gap on B's DNS",
      pollIntervalMs: o.pollMs,
      pollGap: { remote: summarizeMs(gapsB), local: summarizeMs(gapsA) },
      lostQueries: wb.counts.lost + wa.counts.lost,
      ...(stopped ? { stopped } : {}),
      flips,
      ...dnsFlipSummary(flips),
      coreBusy,
    };
  } finally {
    for (const w of watchers) w.close();
    flipAgent.destroy();
    // The clients would only load the server cores during the failover phase that follows.
    await Promise.all([reaper.stop(a.member.proc), reaper.stop(b.member.proc)]);
  }
}
