/**
 * Reads the per-flow lines of nDPI's reference results (corpus/ndpi/result/*.out):
 *   <tab>N<tab>TCP a:p <-> b:q [proto: 91.178/TLS.Amazon]...[24 pkts/2404 bytes <-> 24 pkts/19825 bytes]...[Hostname/SNI: x]
 * Bytes there are frame bytes; packet counts are per direction as nDPI saw them
 * (left = the endpoint nDPI took as the flow's source).
 */
import { readFileSync } from 'node:fs';

export interface NdpiFlow {
  transport: string;
  a: string; aPort: number;
  b: string; bPort: number;
  proto: string;
  /** TLS family (nDPI master protocol 91), found by DPI rather than by port/IP guess. */
  tlsByDpi: boolean;
  aPackets: number; bPackets: number;
  sni?: string;
  line: string;
}

function splitEndpoint(s: string): [string, number] {
  // IPv4 "1.2.3.4:443", IPv6 "[2001:db8::1]:443"
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(s);
  if (!m) return [s, 0];
  return [m[1], Number(m[2])];
}

export function parseNdpiResult(path: string): NdpiFlow[] {
  const text = readFileSync(path, 'latin1');
  const flows: NdpiFlow[] = [];
  for (const line of text.split('\n')) {
    const m = /^\t\d+\t(TCP|UDP|ICMP|ICMPV6|\S+) (\S+) <-> (\S+) \[proto: ([^\]]*)\]/.exec(line);
    if (!m) continue;
    const [a, aPort] = splitEndpoint(m[2]);
    const [b, bPort] = splitEndpoint(m[3]);
    const pk = /\[(\d+) pkts\/\d+ bytes <-> (\d+) pkts\/\d+ bytes\]/.exec(line);
    const sni = /\[Hostname\/SNI: ([^\]]*)\]/.exec(line);
    const proto = m[4];
    flows.push({
      transport: m[1].toLowerCase(),
      a, aPort, b, bPort,
      proto,
      tlsByDpi: /^91(\.|\/)/.test(proto) && /\[Confidence: DPI\]/.test(line),
      aPackets: pk ? Number(pk[1]) : 0,
      bPackets: pk ? Number(pk[2]) : 0,
      sni: sni ? sni[1] : undefined,
      line,
    });
  }
  return flows;
}
