/**
 * The --pcap packet source (a piscina task): reads capture files and pushes their frames into
 * the shard rings, routed by the same symmetric hash as live capture, waiting for room when a
 * ring is full (lossless for files). Before the frames of a file every ring gets TAG_FILE and
 * TAG_LINKTYPE records; after them TAG_FILE_END, so each shard ends the file's flows as 'eof'.
 */
import { LINKTYPE_ETHERNET } from '../capture/afpacket.js';
import { newRawFrame, openCapture } from '../capture/reader.js';
import { PACKET_HEADER_BYTES, shardHash, SpscRing } from '../capture/ring.js';
import { decodeFrame, DecodeCounters, DecodedPacket } from '../decode/index.js';
import { StnnError, toWireError } from '../util/errors.js';
import { CTL_STOP, TAG_FILE, TAG_FILE_END, TAG_LINKTYPE, type ProducerSummary, type ProducerTask } from './protocol.js';

/** LINKTYPE_RAW and its IPv4/IPv6-only variants: frames start at the IP header. */
const RAW_LINKTYPES = new Set([101, 12, 14, 228, 229]);

export default function produce(t: ProducerTask): ProducerSummary {
  const rings = t.ringSabs.map((s) => new SpscRing(s));
  const control = new Int32Array(t.controlSab);
  const nShards = rings.length;
  const linkOf = new Int32Array(nShards).fill(-1);
  const frame = newRawFrame();
  const pkt = new DecodedPacket();
  const dc = new DecodeCounters();
  const enc = new TextEncoder();
  const word = new Uint8Array(4);
  const out: ProducerSummary = { files: 0, frames: 0, truncated: 0, errors: [], failed: null, stopped: false };
  const maxCap = rings.reduce((m, r) => Math.min(m, r.capacity), Infinity) / 4 - PACKET_HEADER_BYTES;

  /** Waits until `len` payload bytes fit in ring k; false when asked to stop. */
  const room = (k: number, len: number): boolean => {
    const r = rings[k]!;
    while (!r.waitForSpace(len, 200)) {
      if (Atomics.load(control, CTL_STOP) !== 0) return false;
    }
    return true;
  };
  const pushRaw = (k: number, tag: number, payload: Uint8Array): boolean => {
    if (!room(k, payload.length)) return false;
    return rings[k]!.push(payload, tag);
  };
  const everyRing = (tag: number, payload: Uint8Array): boolean => {
    for (let k = 0; k < nShards; k++) if (!pushRaw(k, tag, payload)) return false;
    return true;
  };

  try {
    files: for (const path of t.files) {
      if (Atomics.load(control, CTL_STOP) !== 0) break;
      const reader = openCapture(path);
      out.files++;
      if (!everyRing(TAG_FILE, enc.encode(path))) break;
      linkOf.fill(-1);
      try {
        while (reader.next(frame)) {
          if ((++out.frames & 255) === 0 && Atomics.load(control, CTL_STOP) !== 0) break files;
          const lt = frame.linkType;
          let h: number;
          if (lt === LINKTYPE_ETHERNET) h = shardHash(frame.buf, frame.off, frame.capLen, false);
          else if (RAW_LINKTYPES.has(lt)) h = shardHash(frame.buf, frame.off, frame.capLen, true);
          else if (decodeFrame(frame, pkt, dc)) {
            // Other link layers: hash the outer IP packet the decoder found.
            const end = Math.min(frame.off + frame.capLen, frame.buf.length);
            h = shardHash(frame.buf, pkt.l3Off, end - pkt.l3Off, true);
          } else h = 0;
          const k = h % nShards;
          if (linkOf[k] !== lt) {
            word[0] = lt & 0xff; word[1] = (lt >>> 8) & 0xff; word[2] = (lt >>> 16) & 0xff; word[3] = (lt >>> 24) & 0xff;
            if (!pushRaw(k, TAG_LINKTYPE, word)) break files;
            linkOf[k] = lt;
          }
          let cap = frame.capLen;
          if (cap > maxCap) {
            cap = maxCap;
            out.truncated++;
          }
          if (!room(k, PACKET_HEADER_BYTES + cap)) break files;
          rings[k]!.pushPacket(frame.tsSec, frame.tsNsec, Math.max(frame.wireLen, frame.capLen), frame.buf, frame.off, cap);
        }
      } catch (e) {
        if (e instanceof StnnError) out.errors.push(toWireError(e));
        else throw e;
      } finally {
        reader.close();
      }
      if (!everyRing(TAG_FILE_END, new Uint8Array(0))) break;
    }
  } catch (e) {
    // A stream that is not a capture or is cut inside its header (STNN_BAD_INPUT, exit 2), or
    // anything else: returned with its code, which a thrown error would lose on its way to the
    // main thread (structured clone keeps only the message).
    out.failed = toWireError(e);
  } finally {
    out.stopped = Atomics.load(control, CTL_STOP) !== 0;
    for (const r of rings) r.close();
  }
  return out;
}
