/**
 * nDPI's per-flow results (the corpus's result/*.out, written by ndpiReader) as a source of
 * labels: parse the flow lines, find the nDPI flow of each of our flows by its 5-tuple, and take
 * the application nDPI named.
 *
 * A flow line looks like
 *   <tab>N<tab>TCP a:p <-> b:q [VLAN: 5][proto: 91.178/TLS.Amazon][IP: …][Encrypted][Confidence: DPI]…
 *       …[24 pkts/2404 bytes <-> 24 pkts/19825 bytes]…[Hostname/SNI: x]…
 * '<->' when both directions were seen, '->' when only a → b. Bytes there are frame bytes; packet
 * counts are per direction as nDPI saw them (left = the endpoint nDPI took as the flow's source).
 * The protocol is 'id/Name' or 'master.app/Master.App', optionally behind a tunnel prefix
 * ('VXLAN:91.119/TLS.Facebook', 'GTP:91/TLS').
 *
 * Labels (ndpiAppLabel): the application is the part after the master protocol's name
 * ('TLS.Amazon' → 'Amazon', 'QUIC.YouTube' → 'YouTube', 'IMAPS.ntop' → 'ntop'), as nDPI spells
 * it, when nDPI found it by inspecting the flow (confidence 'DPI', including its '(cache)',
 * '(partial)' and '(aggressive)' variants). A protocol without an application part ('91/TLS',
 * '51/IMAPS', '0/Unknown'), a guess by port, IP address or custom rule, and a flow nDPI does not
 * list are no application: 'background'.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BACKGROUND } from '../eval/metrics.js';
import { extractFlows } from '../flow/extract.js';
import type { FlowRecord } from '../flow/record.js';
import { DatasetBuilder, type BuildCounts } from './build.js';
import type { Dataset } from './io.js';

export interface NdpiFlow {
  transport: string;
  a: string; aPort: number;
  b: string; bPort: number;
  /** '<->' (both directions seen) rather than '->' (a → b only). */
  bidirectional: boolean;
  /** The '[VLAN: n]' field before the protocol, when there is one. */
  vlan?: number;
  /** As printed, tunnel prefix included: '91.178/TLS.Amazon', 'VXLAN:91.119/TLS.Facebook'. */
  proto: string;
  /** '[Confidence: …]': 'DPI', 'DPI (cache)', 'Match by port', 'Unknown', … */
  confidence?: string;
  /** TLS family (nDPI master protocol 91, no tunnel prefix), found by DPI rather than by port/IP guess. */
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

const FLOW_LINE = /^\t\d+\t(\S+) (\S+) (<->|->) (\S+) (?:\[VLAN: (\d+)\])?\[proto: ([^\]]*)\]/;

/** The flow lines of one .out file's text. */
export function parseNdpiResultText(text: string): NdpiFlow[] {
  const flows: NdpiFlow[] = [];
  for (const line of text.split('\n')) {
    const m = FLOW_LINE.exec(line);
    if (!m) continue;
    const [a, aPort] = splitEndpoint(m[2]);
    const [b, bPort] = splitEndpoint(m[4]);
    const pk = /\[(\d+) pkts\/\d+ bytes <?-> (\d+) pkts\/\d+ bytes\]/.exec(line);
    const sni = /\[Hostname\/SNI: ([^\]]*)\]/.exec(line);
    const confidence = /\[Confidence: ([^\]]*)\]/.exec(line)?.[1];
    const proto = m[6];
    flows.push({
      transport: m[1].toLowerCase(),
      a, aPort, b, bPort,
      bidirectional: m[3] === '<->',
      vlan: m[5] === undefined ? undefined : Number(m[5]),
      proto,
      confidence,
      tlsByDpi: /^91(\.|\/)/.test(proto) && confidence === 'DPI',
      aPackets: pk ? Number(pk[1]) : 0,
      bPackets: pk ? Number(pk[2]) : 0,
      sni: sni ? sni[1] : undefined,
      line,
    });
  }
  return flows;
}

export function parseNdpiResult(path: string): NdpiFlow[] {
  return parseNdpiResultText(readFileSync(path, 'latin1'));
}

/**
 * The application nDPI named in a protocol field, or null (see the module note): the part after
 * the master protocol, when the confidence is DPI.
 */
export function ndpiAppName(proto: string, confidence: string | undefined): string | null {
  if (!confidence || !/^DPI\b/.test(confidence)) return null;
  const name = proto.replace(/^[A-Za-z0-9_-]+:(?=\d)/, '').split('/')[1];
  if (!name) return null;
  const dot = name.indexOf('.');
  if (dot < 0) return null;
  const app = name.slice(dot + 1);
  return app && app !== 'Unknown' ? app : null;
}

/** The label of one of our flows from its nDPI flow (undefined: nDPI lists none): the application or 'background'. */
export function ndpiAppLabel(f: Pick<NdpiFlow, 'proto' | 'confidence'> | undefined): string {
  return (f && ndpiAppName(f.proto, f.confidence)) ?? BACKGROUND;
}

/** Canonical text of an address: nDPI prints IPv6 with '::' for a single zero group. */
export function canonIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

/** Key of a directed (address, port) pair. */
export function tupleKey(a: string, ap: number, b: string, bp: number): string {
  return `${canonIp(a)}|${ap}|${canonIp(b)}|${bp}`;
}

/** Looks up nDPI's flow for one of ours: same transport, same endpoints in either order (first listed wins). */
export class NdpiIndex {
  private readonly byKey = new Map<string, NdpiFlow>();
  constructor(flows: readonly NdpiFlow[]) {
    for (const f of flows) {
      const k = `${f.transport}|${tupleKey(f.a, f.aPort, f.b, f.bPort)}`;
      if (!this.byKey.has(k)) this.byKey.set(k, f);
    }
  }
  find(r: Pick<FlowRecord, 'transport' | 'srcIp' | 'srcPort' | 'dstIp' | 'dstPort'>): NdpiFlow | undefined {
    return this.byKey.get(`${r.transport}|${tupleKey(r.srcIp, r.srcPort, r.dstIp, r.dstPort)}`)
      ?? this.byKey.get(`${r.transport}|${tupleKey(r.dstIp, r.dstPort, r.srcIp, r.srcPort)}`);
  }
}

export interface NdpiBuildResult {
  dataset: Dataset;
  counts: BuildCounts;
  /** Captures that have a result file and were read. */
  captures: number;
  /** Kept TLS flows that nDPI lists, and those it does not (labelled background). */
  matched: number;
  unmatched: number;
  /** Captures that stopped early (truncated or not a capture): their flows read before still count. */
  errors: string[];
}

/**
 * Every TLS flow of the captures in `pcapDir` that have a result file `<name>.out` in
 * `resultDir`, labelled from nDPI's application (ndpiAppLabel). The rows' split is all train (0):
 * the caller splits.
 */
export async function buildNdpiDataset(pcapDir: string, resultDir: string): Promise<NdpiBuildResult> {
  let index = new NdpiIndex([]);
  let matched = 0;
  let unmatched = 0;
  const builder = new DatasetBuilder({
    splitBy: 'flow', seed: 0, fractions: [1, 0, 0],
    labelOf: (f) => {
      const n = index.find(f);
      if (n) matched++;
      else unmatched++;
      return ndpiAppLabel(n);
    },
  });
  const errors: string[] = [];
  let captures = 0;
  for (const name of readdirSync(resultDir).sort()) {
    if (!name.endsWith('.out')) continue;
    const pcap = join(pcapDir, name.slice(0, -4));
    if (!existsSync(pcap)) continue;
    index = new NdpiIndex(parseNdpiResult(join(resultDir, name)));
    captures++;
    try {
      const s = await extractFlows([pcap], { onFlow: (f) => builder.add(f) });
      errors.push(...s.errors.map((e) => e.message));
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  const dataset = builder.finish({ labels: `nDPI results (${resultDir})`, captures });
  return { dataset, counts: builder.counts, captures, matched, unmatched, errors };
}
