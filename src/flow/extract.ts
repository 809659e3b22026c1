/**
 * Offline pipeline: capture files → decode → flow table → FlowRecords.
 * The live sensor runs the same decode → flow table path with another packet source.
 */
import { isStreamInput, newRawFrame, openCapture, STDIN } from '../capture/reader.js';
import { decodeFrame, DecodeCounters } from '../decode/index.js';
import { DecodedPacket } from '../decode/packet.js';
import { N_FEATURES } from '../features/names.js';
import { StnnError, usageError } from '../util/errors.js';
import { communityId } from './community-id.js';
import { formatIP } from './ip.js';
import type { EndReason, FlowRecord } from './record.js';
import { FlowTable, type Flow, type FlowTableOptions } from './table.js';

export interface ExtractOptions {
  /** Also report flows that are not TLS (default: TLS flows only). */
  allFlows?: boolean;
  /** Follow tunnels (IP-in-IP, GRE, VXLAN, GTP-U) to the inner flows (default true). */
  tunnels?: boolean;
  flow?: Partial<FlowTableOptions>;
  onFlow: (f: FlowRecord) => void;
  /**
   * Awaited about every 64k frames and at the end of each file: lets an async
   * consumer (classification) catch up, which bounds the flows waiting for it.
   */
  drain?: () => Promise<void>;
  /**
   * Called when a file has been opened and recognised as a capture, before its first frame
   * (a stream input is only validated then: see checkCaptures).
   */
  onOpen?: (file: string, fileIndex: number) => void;
  /** Called about every 64k frames and at the end of each file. */
  onProgress?: (p: { file: string; fileIndex: number; files: number; bytesRead: number; totalBytes: number; frames: number }) => void;
}

export interface ExtractSummary {
  files: number;
  frames: number;
  ipPackets: number;
  flows: number;
  tlsFlows: number;
  nonTlsFlows: number;
  emitted: number;
  endReasons: Record<EndReason, number>;
  decode: ReturnType<DecodeCounters['toJSON']>;
  /** Files that stopped early (truncated/corrupt): the flows read before still count. */
  errors: StnnError[];
}

/**
 * network.transport: the IANA protocol keyword, lower-case as ECS asks; the number as text for
 * a protocol not listed here.
 */
const PROTO_NAME: Readonly<Record<number, string>> = {
  1: 'icmp', 2: 'igmp', 4: 'ipv4', 6: 'tcp', 8: 'egp', 17: 'udp', 33: 'dccp', 41: 'ipv6', 46: 'rsvp', 47: 'gre',
  50: 'esp', 51: 'ah', 58: 'ipv6-icmp', 88: 'eigrp', 89: 'ospfigp', 103: 'pim', 112: 'vrrp', 115: 'l2tp',
  132: 'sctp', 136: 'udplite', 137: 'mpls-in-ip',
};

export function flowToRecord(f: Flow, reason: EndReason, file?: string): FlowRecord {
  const n = f.ipVersion === 6 ? 16 : 4;
  const features = new Float64Array(N_FEATURES);
  f.stats?.write(features, 0);
  const isTls = f.tls !== null && f.tls.status === 'tls';
  const rec: FlowRecord = {
    ipVersion: f.ipVersion,
    transport: PROTO_NAME[f.proto] ?? String(f.proto),
    srcIp: formatIP(f.ipVersion, f.cAddr, 0),
    srcPort: f.cPort,
    dstIp: formatIP(f.ipVersion, f.sAddr, 0),
    dstPort: f.sPort,
    vlan: f.vlan,
    start: f.firstTs,
    end: f.lastTs,
    fwdPackets: f.fwdPackets,
    fwdBytes: f.fwdBytes,
    bwdPackets: f.bwdPackets,
    bwdBytes: f.bwdBytes,
    communityId: communityId(f.proto, n, f.cAddr, 0, f.sAddr, 0, f.cPort, f.sPort),
    endReason: reason,
    isTls,
    handshakePackets: f.hsPackets,
    dataPackets: f.dataPackets,
    features,
  };
  if (isTls && f.tls) rec.tls = f.tls.info();
  if (file !== undefined) rec.file = file;
  return rec;
}

/**
 * Opens every regular file first so that a missing or foreign file fails before any work
 * (exit 2). FIFOs, pipes (/dev/stdin) and character devices are left alone: reading their
 * magic would consume it. They are validated when extractFlows opens them, once.
 */
export function checkCaptures(paths: string[]): void {
  // Standard input can be read once: a second '-' would find it at its end ("empty file").
  if (paths.filter((p) => p === STDIN).length > 1) throw usageError(`'${STDIN}' (standard input) given more than once`);
  for (const p of paths) if (!isStreamInput(p)) openCapture(p).close();
}

export async function extractFlows(paths: string[], opts: ExtractOptions): Promise<ExtractSummary> {
  checkCaptures(paths);
  const decodeCounters = new DecodeCounters();
  const summary: ExtractSummary = {
    files: paths.length, frames: 0, ipPackets: 0, flows: 0, tlsFlows: 0, nonTlsFlows: 0, emitted: 0,
    endReasons: { fin: 0, rst: 0, idle: 0, active: 0, evicted: 0, eof: 0, shutdown: 0 },
    decode: {}, errors: [],
  };
  const frame = newRawFrame();
  const pkt = new DecodedPacket();
  const decodeOpts = { tunnels: opts.tunnels !== false };
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i];
    const onEnd = (f: Flow, reason: EndReason) => {
      summary.flows++;
      summary.endReasons[reason]++;
      const tls = f.tls !== null && f.tls.status === 'tls';
      if (tls) summary.tlsFlows++; else summary.nonTlsFlows++;
      if (tls || opts.allFlows) {
        summary.emitted++;
        opts.onFlow(flowToRecord(f, reason, path));
      }
    };
    const table = new FlowTable({ ...opts.flow, allFlows: Boolean(opts.allFlows) }, onEnd);
    const reader = openCapture(path);
    try {
      opts.onOpen?.(path, i);
    } catch (e) {
      reader.close();
      throw e;
    }
    let frames = 0;
    try {
      while (reader.next(frame)) {
        frames++;
        if (decodeFrame(frame, pkt, decodeCounters, decodeOpts)) {
          summary.ipPackets++;
          table.onPacket(pkt);
        }
        if ((frames & 0xffff) === 0) {
          opts.onProgress?.({ file: path, fileIndex: i, files: paths.length, bytesRead: reader.bytesRead, totalBytes: reader.totalBytes, frames: summary.frames + frames });
          if (opts.drain) await opts.drain();
        }
      }
    } catch (err) {
      if (err instanceof StnnError) summary.errors.push(err);
      else throw err;
    } finally {
      summary.frames += frames;
      table.flushAll('eof');
      reader.close();
      opts.onProgress?.({ file: path, fileIndex: i, files: paths.length, bytesRead: reader.totalBytes, totalBytes: reader.totalBytes, frames: summary.frames });
    }
    if (opts.drain) await opts.drain();
  }
  summary.decode = decodeCounters.toJSON();
  return summary;
}
