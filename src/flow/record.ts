/**
 * What the flow engine reports for each ended flow, and the verdict the models
 * add to it. `toEcs` turns both into the ECS-named JSON record of DESIGN.md.
 */
export type EndReason = 'fin' | 'rst' | 'idle' | 'active' | 'eof' | 'evicted' | 'shutdown';

export interface TlsInfo {
  sni?: string;
  alpnOffered: string[];
  alpnNegotiated?: string;
  /** e.g. 'TLSv1.3': highest version the client offered (supported_versions, else legacy). */
  versionOffered?: string;
  /** Version the server chose (supported_versions in ServerHello, else legacy). */
  versionNegotiated?: string;
}

export interface FlowRecord {
  ipVersion: 4 | 6;
  transport: 'tcp' | 'udp' | 'icmp' | string;
  /** Client = source (DESIGN.md's rule). */
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  vlan: number;
  /** First and last packet time, epoch seconds (float, µs precision kept). */
  start: number;
  end: number;
  /** Packets and IP-layer bytes client→server (forward) and server→client (backward). */
  fwdPackets: number;
  fwdBytes: number;
  bwdPackets: number;
  bwdBytes: number;
  communityId: string;
  endReason: EndReason;
  isTls: boolean;
  tls?: TlsInfo;
  handshakePackets: number;
  dataPackets: number;
  /** The 115 features in FEATURE_NAMES order. */
  features: Float64Array;
  /** Capture file the flow came from (offline), for labelling and splits. */
  file?: string;
}

export interface VerdictCandidate {
  app: string;
  /** P_target of this application's classifier. */
  p: number;
  /** q = P_target / P_non-target. */
  q: number;
  /** v_i,gap(q) from the voting list. */
  vote: number;
}

export interface Verdict {
  /** Application name, 'unknown' when no classifier claims the flow, 'unclassified' when not scored. */
  app: string;
  confidence: number;
  candidates: VerdictCandidate[];
  decided_by: 'single' | 'vote' | 'none';
}

export interface EcsOptions {
  /** Include stnn.features (default true; syslog leaves them out). */
  features?: boolean;
  /** Digits after the point for features (default: full precision). */
  featureDigits?: number;
}

const iso = (sec: number) => new Date(Math.floor(sec * 1000)).toISOString();

/** Builds the ECS-named record (plain object, ready for JSON/msgpack). */
export function toEcs(f: FlowRecord, verdict?: Verdict, opts: EcsOptions = {}): Record<string, unknown> {
  const durationNs = Math.max(0, Math.round((f.end - f.start) * 1e9));
  const stnn: Record<string, unknown> = {
    end_reason: f.endReason,
    handshake_packets: f.handshakePackets,
    data_packets: f.dataPackets,
  };
  if (opts.features !== false) {
    const d = opts.featureDigits;
    stnn.features = Array.from(f.features, (x) => (Number.isFinite(x) ? (d === undefined ? x : Number(x.toFixed(d))) : null));
  }
  if (verdict) stnn.verdict = verdict;
  const rec: Record<string, unknown> = {
    '@timestamp': iso(f.end),
    event: {
      kind: 'event',
      category: ['network'],
      type: ['connection', 'end'],
      start: iso(f.start),
      end: iso(f.end),
      duration: durationNs,
    },
    source: { ip: f.srcIp, port: f.srcPort, packets: f.fwdPackets, bytes: f.fwdBytes },
    destination: { ip: f.dstIp, port: f.dstPort, packets: f.bwdPackets, bytes: f.bwdBytes },
    network: {
      transport: f.transport,
      type: f.ipVersion === 6 ? 'ipv6' : 'ipv4',
      ...(f.isTls ? { protocol: 'tls' } : {}),
      community_id: f.communityId,
      ...(verdict ? { application: verdict.app } : {}),
      ...(f.vlan ? { vlan: { id: String(f.vlan) } } : {}),
    },
  };
  if (f.isTls && f.tls) rec.tls = ecsTls(f.tls);
  if (f.file) rec.file = { path: f.file };
  rec.stnn = stnn;
  return rec;
}

// ECS writes versions as '1.2' with version_protocol 'tls' (SSLv3 → '3.0', 'ssl')
const ecsVersion = (v: string) => /^TLSv(\d\.\d)$/.exec(v)?.[1] ?? (v === 'SSLv3' ? '3.0' : v);

/** The `tls` object of an ECS record. */
function ecsTls(t: TlsInfo): Record<string, unknown> {
  const tls: Record<string, unknown> = {};
  if (t.versionNegotiated) {
    tls.version = ecsVersion(t.versionNegotiated);
    tls.version_protocol = t.versionNegotiated === 'SSLv3' ? 'ssl' : 'tls';
  }
  if (t.alpnNegotiated) tls.next_protocol = t.alpnNegotiated;
  const client: Record<string, unknown> = {};
  if (t.sni) client.server_name = t.sni;
  if (t.alpnOffered.length) client.supported_alpn = t.alpnOffered;
  if (t.versionOffered) client.offered_version = ecsVersion(t.versionOffered);
  if (Object.keys(client).length) tls.client = client;
  return tls;
}

/** A number as JSON.stringify writes it (non-finite → null). */
const jnum = (x: number) => (Number.isFinite(x) ? String(x) : 'null');
const jstr = (x: string) => JSON.stringify(x);
/**
 * Reused for the features when all are finite: a packed array of doubles (built by push, never
 * holding anything but doubles), which JSON.stringify walks on its fast path without boxing
 * each number. (An array made by new Array(n) is holey, and one that once held null holds
 * boxed numbers: both take the slow path, a third slower.)
 */
let featScratch: number[] = [];
function doubleArray(n: number): number[] {
  const a: number[] = [];
  for (let i = 0; i < n; i++) a.push(0.5);
  return a;
}

/**
 * `JSON.stringify(toEcs(f))` (no verdict, default options), written directly instead of
 * building the nested objects first: `stnn features` writes one per flow. The same
 * keys in the same order, the same text (test/flow/record.test.ts checks it).
 */
export function ecsJson(f: FlowRecord): string {
  const durationNs = Math.max(0, Math.round((f.end - f.start) * 1e9));
  const end = iso(f.end);
  let s = `{"@timestamp":"${end}","event":{"kind":"event","category":["network"],"type":["connection","end"],` +
    `"start":"${iso(f.start)}","end":"${end}","duration":${jnum(durationNs)}},` +
    `"source":{"ip":${jstr(f.srcIp)},"port":${jnum(f.srcPort)},"packets":${jnum(f.fwdPackets)},"bytes":${jnum(f.fwdBytes)}},` +
    `"destination":{"ip":${jstr(f.dstIp)},"port":${jnum(f.dstPort)},"packets":${jnum(f.bwdPackets)},"bytes":${jnum(f.bwdBytes)}},` +
    `"network":{"transport":${jstr(f.transport)},"type":"${f.ipVersion === 6 ? 'ipv6' : 'ipv4'}",` +
    (f.isTls ? '"protocol":"tls",' : '') + `"community_id":${jstr(f.communityId)}` +
    (f.vlan ? `,"vlan":{"id":${jstr(String(f.vlan))}}` : '') + '}';
  if (f.isTls && f.tls) s += `,"tls":${JSON.stringify(ecsTls(f.tls))}`;
  if (f.file) s += `,"file":{"path":${jstr(f.file)}}`;
  const x = f.features;
  if (featScratch.length !== x.length) featScratch = doubleArray(x.length);
  let a: (number | null)[] = featScratch;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v - v !== 0) {
      // a non-finite feature is written as null, as JSON.stringify does
      a = Array.from(x, (y) => (Number.isFinite(y) ? y : null));
      break;
    }
    featScratch[i] = v;
  }
  s += `,"stnn":{"end_reason":${jstr(f.endReason)},"handshake_packets":${jnum(f.handshakePackets)},` +
    `"data_packets":${jnum(f.dataPackets)},"features":${JSON.stringify(a)}}}`;
  return s;
}
