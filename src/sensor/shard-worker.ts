/**
 * Shard worker (a piscina task that runs for the sensor's whole life): pops packet records
 * from its SpscRing, decodes them, runs the flow table, and posts the ended flows' FlowRecords
 * to the main thread in msgpackr-encoded batches whose ArrayBuffer is moved, not copied.
 * Sleeps with Atomics.wait when the ring is empty; ends when the ring is closed and drained.
 */
import { Packr } from 'msgpackr';
import { newRawFrame } from '../capture/reader.js';
import { RingRecord, SpscRing, TAG_PACKET } from '../capture/ring.js';
import { decodeFrame, DecodeCounters, DecodedPacket } from '../decode/index.js';
import { flowToRecord } from '../flow/extract.js';
import type { EndReason, FlowRecord } from '../flow/record.js';
import { FlowTable, type Flow } from '../flow/table.js';
import {
  C_ACTIVE_FLOWS, C_BATCHES, C_BYTES, C_ENDED, C_IP_PACKETS, C_NOT_IP, C_PACKETS, C_RECORDS, C_STALLS, CTL_FLUSH,
  CTL_INFLIGHT, DECODE_COUNTERS, END_REASONS, MAX_INFLIGHT_BATCHES, TAG_FILE, TAG_FILE_END, TAG_LINKTYPE, type ShardTask,
} from './protocol.js';

const END_INDEX: Record<EndReason, number> = Object.fromEntries(END_REASONS.map((r, i) => [r, i])) as Record<EndReason, number>;

/** One shared encoder (typed arrays kept as typed arrays: the features stay Float64Array). */
export const batchPackr = new Packr({ useRecords: false, moreTypes: true });

export default function runShard(t: ShardTask): { shard: number; packets: number; records: number } {
  const ring = new SpscRing(t.ringSab);
  const counters = new Float64Array(t.countersSab);
  const control = new Int32Array(t.controlSab);
  const port = t.port;
  const decodeOpts = { tunnels: t.tunnels };
  const dc = new DecodeCounters();
  const decodeOut = new Float64Array(t.decodeSab);
  const dcFields = dc as unknown as Record<string, number>;
  const publishDecode = () => {
    for (let i = 0; i < DECODE_COUNTERS.length; i++) decodeOut[i] = dcFields[DECODE_COUNTERS[i]!]!;
  };
  const inflight = CTL_INFLIGHT + t.shard;
  const pkt = new DecodedPacket();
  const frame = newRawFrame();
  frame.linkType = t.linkType;
  const rec = new RingRecord();
  const textDecoder = new TextDecoder();
  let file: string | undefined;
  const allFlows = Boolean(t.flow.allFlows);

  let batch: FlowRecord[] = [];
  let batchSince = 0;
  const send = () => {
    if (batch.length === 0) return;
    // Backpressure: while the main thread has not taken MAX_INFLIGHT_BATCHES of ours, wait
    // here; packets meanwhile stay in (or drop from) the ring, and the memory stays bounded.
    for (let out = Atomics.load(control, inflight); out >= MAX_INFLIGHT_BATCHES; out = Atomics.load(control, inflight)) {
      counters[C_STALLS]!++;
      Atomics.wait(control, inflight, out, 100);
    }
    Atomics.add(control, inflight, 1);
    const packed = batchPackr.pack(batch);
    const buf = new ArrayBuffer(packed.length);
    new Uint8Array(buf).set(packed);
    port.postMessage({ type: 'batch', shard: t.shard, buf }, [buf]);
    counters[C_BATCHES]!++;
    batch = [];
  };
  const onEnd = (f: Flow, reason: EndReason) => {
    counters[C_ENDED + END_INDEX[reason]]!++;
    const tls = f.tls !== null && f.tls.status === 'tls';
    if (!tls && !allFlows) return;
    if (batch.length === 0) batchSince = Date.now();
    batch.push(flowToRecord(f, reason, file));
    counters[C_RECORDS]!++;
    if (batch.length >= t.batchSize) send();
  };
  let table = new FlowTable({ ...t.flow, allFlows }, onEnd);

  let packets = 0;
  let bytes = 0;
  let lastExpire = Date.now();
  for (;;) {
    let n = 0;
    while (ring.pop(rec)) {
      if (rec.tag === TAG_PACKET) {
        frame.buf = rec.buf;
        frame.off = rec.off;
        frame.capLen = rec.capLen;
        frame.wireLen = rec.wireLen;
        frame.tsSec = rec.tsSec;
        frame.tsNsec = rec.tsNsec;
        packets++;
        bytes += rec.wireLen;
        if (decodeFrame(frame, pkt, dc, decodeOpts)) {
          counters[C_IP_PACKETS]!++;
          table.onPacket(pkt);
        } else {
          counters[C_NOT_IP]!++;
        }
      } else if (rec.tag === TAG_LINKTYPE && rec.len >= 4) {
        frame.linkType = (rec.buf[rec.off]! | (rec.buf[rec.off + 1]! << 8) | (rec.buf[rec.off + 2]! << 16) | (rec.buf[rec.off + 3]! << 24)) >>> 0;
      } else if (rec.tag === TAG_FILE) {
        file = textDecoder.decode(rec.buf.subarray(rec.off, rec.off + rec.len));
      } else if (rec.tag === TAG_FILE_END) {
        table.flushAll('eof');
        // A new file starts with a new table (and packet clock), as in extractFlows.
        table = new FlowTable({ ...t.flow, allFlows }, onEnd);
      }
      if ((++n & 255) === 0) {
        counters[C_PACKETS] = packets;
        counters[C_BYTES] = bytes;
        counters[C_ACTIVE_FLOWS] = table.size;
        publishDecode();
        if (batch.length > 0 && Date.now() - batchSince >= t.maxWaitMs) send();
      }
    }
    counters[C_PACKETS] = packets;
    counters[C_BYTES] = bytes;
    counters[C_ACTIVE_FLOWS] = table.size;
    publishDecode();
    if (ring.finished) break;
    const now = Date.now();
    if (t.live && now - lastExpire >= 1000) {
      lastExpire = now;
      // Live packet times are wall-clock times: flows expire even when no packet comes.
      const wall = now / 1000;
      if (wall > table.now) table.expire(wall);
    }
    if (batch.length > 0 && now - batchSince >= t.maxWaitMs) send();
    const timeout = batch.length > 0 ? Math.max(1, t.maxWaitMs - (now - batchSince)) : t.live ? 1000 : 500;
    ring.wait(Math.min(timeout, 1000));
  }
  if (Atomics.load(control, CTL_FLUSH) !== 0) table.flushAll('shutdown');
  counters[C_ACTIVE_FLOWS] = table.size;
  send();
  port.postMessage({ type: 'done', shard: t.shard, decode: dc.toJSON() });
  port.close();
  return { shard: t.shard, packets, records: counters[C_RECORDS]! };
}
