/**
 * A small DNS client for tests: real UDP and TCP sockets on loopback, dns-packet for
 * encoding and decoding (speed does not matter here). Every call has a deadline.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

export type Decoded = dnsPacket.Packet;

export interface AskOptions {
  port: number;
  host?: string;
  type?: string;
  edns?: number;
  id?: number;
  timeoutMs?: number;
}

export function encodeQuery(name: string, type: string, opts: { id?: number; edns?: number } = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? Math.floor(Math.random() * 65535),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as dnsPacket.RecordType, name, class: 'IN' }],
    additionals: opts.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: opts.edns } as unknown as dnsPacket.Answer] : [],
  });
}

/** Send raw bytes over UDP and resolve with the raw reply (or undefined on timeout). */
export function udpRaw(packet: Buffer, port: number, host = '127.0.0.1', timeoutMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      resolve(undefined);
    }, timeoutMs);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(msg);
    });
    sock.send(packet, port, host);
  });
}

export async function askUdp(name: string, opts: AskOptions): Promise<Decoded & { raw: Buffer }> {
  const raw = await udpRaw(encodeQuery(name, opts.type ?? 'A', opts), opts.port, opts.host, opts.timeoutMs);
  if (!raw) throw new Error(`no UDP reply for ${name} ${opts.type ?? 'A'}`);
  return Object.assign(dnsPacket.decode(raw), { raw });
}

/** Send several framed queries on one TCP connection and collect that many replies. */
export function tcpRaw(packets: Buffer[], port: number, host = '127.0.0.1', timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    const replies: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TCP: ${replies.length}/${packets.length} replies before the deadline`));
    }, timeoutMs);
    sock.on('connect', () => {
      sock.write(Buffer.concat(packets.map((p) => Buffer.concat([Buffer.from([p.length >> 8, p.length & 255]), p]))));
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        replies.push(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
      }
      if (replies.length === packets.length) {
        clearTimeout(timer);
        sock.destroy();
        resolve(replies);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export async function askTcp(name: string, opts: AskOptions): Promise<Decoded & { raw: Buffer }> {
  const [raw] = await tcpRaw([encodeQuery(name, opts.type ?? 'A', opts)], opts.port, opts.host, opts.timeoutMs);
  return Object.assign(dnsPacket.decode(raw!), { raw: raw! });
}

/** The data of answers of one type, sorted, for order-free comparisons. */
export function dataOf(p: Decoded, type: string, section: 'answers' | 'additionals' | 'authorities' = 'answers'): string[] {
  return (p[section] ?? [])
    .filter((a) => a.type === type)
    .map((a) => {
      const d = (a as { data: unknown }).data;
      if (type === 'SRV') {
        const s = d as { priority: number; weight: number; port: number; target: string };
        return `${s.priority} ${s.weight} ${s.port} ${s.target}`;
      }
      if (type === 'TXT') return (d as Buffer[]).map((b) => b.toString()).join('');
      return String(d);
    })
    .sort();
}

export function rcodeOf(p: Decoded): string {
  return (p as unknown as { rcode: string }).rcode;
}
