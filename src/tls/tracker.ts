/**
 * Per-flow TLS tracking: recognition, record boundaries per direction in TCP
 * sequence order, ClientHello/ServerHello extraction, and the handshake/data phase
 * of every packet (DESIGN.md "Features", last paragraph).
 *
 * Streams. Each direction has its own cursor. Its stream starts at ISN+1 when the
 * SYN (or SYN-ACK) was seen, else at the sequence number of the first payload seen.
 * Bytes already consumed (retransmissions, overlaps) are ignored, and so is a bare
 * ACK or SYN (no PSH/FIN) with 1..6 payload bytes that are all zero: Ethernet
 * padding that some capture paths count in the IP length (`ack_padding`; nDPI's
 * corpus has such flows, where the "payload" sits at the next real segment's
 * sequence number and would otherwise corrupt the stream). If the next segment
 * then starts right after those bytes, they were data after all and are fed as the
 * zeros they were. A segment that starts beyond the next expected byte waits in a
 * small per-direction store (`oooMaxSegments` segments, `oooMaxBytes` captured
 * bytes). A hole is given up when the other direction has acknowledged past it (the
 * bytes reached the peer but not the capture: `holes_acked`; needs the ACK number,
 * the optional last argument of onPacket), or when the store is full (the earliest
 * hole, `reorder_dropped`). Missing bytes (a hole given up, or bytes cut by the snap
 * length: payload captured < wire) are harmless when they lie inside the body of a
 * record nothing is gathered from: the cursor just moves over them
 * (`holes_skipped`). If they hide a record header, that direction stops for good
 * (`gaps`); if they fall inside a Hello still being gathered, that Hello is
 * abandoned (`hello_gaps`) and the records are still followed.
 *
 * Records. The 5-byte header is read through a resumable cursor (any split works);
 * a header with a content type outside 20..24, a version major other than 3 or a
 * length over 2^14+2048 is a bad record (`bad_records`, `oversize_records`) and
 * stops that direction. Zero-length records are counted and followed. Record
 * bodies are skipped without copying, except handshake bytes up to and including
 * each side's Hello, which are gathered across records and segments (zero-copy
 * when the whole message lies in one segment; otherwise into a buffer of exactly
 * the message's length, at most `maxHelloBytes`, else `hello_too_large`), parsed,
 * then freed. A server HelloRequest is skipped; a HelloRetryRequest keeps the
 * server side waiting for the real ServerHello.
 *
 * Recognition (`status`). Decided from the client's first bytes in sequence order:
 * a record header with type 22, version 0x03xx and a length 1..2^14+2048, whose
 * first handshake message type is 1 (ClientHello) → 'tls'; anything else, including
 * an SSLv2-format ClientHello (counted as `sslv2_hellos`; such clients are obsolete
 * and carry no SNI), → 'not-tls'. If the client direction stops before its first
 * six bytes are known, the flow is 'not-tls'. Server bytes that arrive while the
 * status is undecided are held in the server's store and followed only once the
 * flow is TLS, so non-TLS server-first protocols do not pollute the counters.
 *
 * Phase of a packet (return value of onPacket: 0 = handshake, 1 = data):
 *  - TLS ≤ 1.2, and any flow whose ServerHello has not been parsed: the handshake
 *    ends at the first ApplicationData record (content type 23) in either direction;
 *    the packet whose arrival delivers the first byte of that record header is the
 *    first data packet. Exception: when the ClientHello announced early data
 *    (ext 42), client type-23 records before the ServerHello are 0-RTT data and do
 *    not end the handshake.
 *  - TLS 1.3 (ServerHello supported_versions 0x0304, or a 1.3 draft): the
 *    handshake ends with the client's first type-23 record read after the
 *    ServerHello was parsed (its Finished): that packet is the last handshake
 *    packet, later packets are data.
 *  - Packets without payload (SYN, pure ACK, FIN), retransmissions and packets held
 *    in the reorder store take the phase current when they arrive; a packet whose
 *    arrival fills a hole gets the phase that the bytes it releases produce. So
 *    records are followed in stream order and phases are assigned in capture order.
 *  - Fallbacks when tracking stopped: in TLS 1.3, if the client direction stopped
 *    before its Finished was read, the first client packet with payload arriving
 *    after the ServerHello was parsed (or the packet that stopped it, if that came
 *    after) is taken as the last handshake packet (`phase_fallback`). Otherwise a
 *    handshake whose end can no longer be observed never ends: the remaining packets
 *    stay in the handshake view. Non-TLS and undecided flows: every packet is
 *    handshake (phase 0), i.e. a flow that never completes a handshake has all its
 *    packets in the handshake view.
 *
 * Once the handshake is over and both Hellos are parsed (or their sides stopped),
 * the tracker releases everything and answers 1 at once for the rest of the flow.
 *
 * Memory: `stateBytes()` counts the bytes held in buffers: per direction at most
 * `oooMaxSegments`-bounded `oooMaxBytes` in the store plus one Hello buffer of at
 * most `maxHelloBytes`, so at most 2 × (oooMaxBytes + maxHelloBytes) — 196,608
 * bytes with the defaults; 0 once the handshake is done, and 0 in the common case
 * of in-order Hellos that each fit in one segment. The fixed part of a tracker
 * (two cursors, the extracted fields) measured 610 bytes of V8 heap per fresh
 * tracker (Node 20; store arrays are allocated on first use). Per packet nothing
 * is allocated, except a copy of a segment put in the reorder store and the Hello
 * buffer (once per side) when a Hello spans segments.
 *
 * Hostile input never throws: every length is checked before use.
 */
import { StnnError } from '../util/errors.js';
import type { TlsInfo } from '../flow/record.js';
import { TlsCounters } from './counters.js';
import { SH_OK, SH_RETRY, isTls13Like, parseClientHello, parseServerHello, versionName, type HelloSink } from './hello.js';

export { TlsCounters } from './counters.js';

/** Largest record length accepted: 2^14 plaintext + 2048 of expansion (RFC 5246 §6.2.3). */
export const MAX_RECORD_LENGTH = 16384 + 2048;

export interface TlsLimits {
  /** Largest Hello message gathered (bytes of the message body). */
  maxHelloBytes: number;
  /** Segments held per direction while waiting for a hole to fill. */
  oooMaxSegments: number;
  /** Captured bytes held per direction while waiting for a hole to fill. */
  oooMaxBytes: number;
}

export const DEFAULT_TLS_LIMITS: Readonly<TlsLimits> = Object.freeze({
  maxHelloBytes: 65536,
  oooMaxSegments: 16,
  oooMaxBytes: 32768,
});

const LIMIT_KEYS = ['maxHelloBytes', 'oooMaxSegments', 'oooMaxBytes'] as const;

function checkLimits(limits: TlsLimits): void {
  for (const k of LIMIT_KEYS) {
    const v = limits[k];
    if (!Number.isInteger(v) || v < 1 || v > 1 << 24) {
      throw new StnnError('STNN_CONFIG', `tls limits: ${k} must be an integer in 1..16777216, got ${String(v)}`);
    }
  }
}

/** Upper bound of stateBytes() for the given limits. */
export function tlsStateBound(l: TlsLimits = DEFAULT_TLS_LIMITS): number {
  return 2 * (l.oooMaxBytes + l.maxHelloBytes);
}

/** Counters used by trackers built without their own (one per thread, i.e. per shard). */
export const defaultTlsCounters = new TlsCounters();

const SYN = 0x02;
const RST = 0x04;
const FIN = 0x01;
const PSH = 0x08;
const ACK = 0x10;

function allZero(buf: Uint8Array, off: number, n: number): boolean {
  if (off < 0 || off + n > buf.length) return false;
  for (let i = 0; i < n; i++) if (buf[off + i] !== 0) return false;
  return true;
}

const ST_UNDECIDED: number = 0;
const ST_TLS: number = 1;
const ST_NOT_TLS: number = 2;

/** Handshake message gathering state of a side. */
const HS_HDR: number = 0; // reading a 4-byte handshake message header
const HS_BODY: number = 1; // gathering a Hello body
const HS_SKIP: number = 2; // skipping a message before the Hello (HelloRequest)
const HS_DONE: number = 3; // Hello parsed or given up: handshake bytes are skipped

/** How the handshake ended. */
const END_FIRST_DATA = 1; // this packet is the first data packet
const END_LAST_HS = 2; // this packet is the last handshake packet

/** Shared empty store arrays: a side gets its own on its first out-of-order segment (oN is 0 until then). */
const NO_NUMS: number[] = [];
const NO_BUFS: Uint8Array[] = [];
const NO_STRINGS = Object.freeze([]) as unknown as string[];

class Side {
  started = false;
  /** Some stream bytes (or a hole) were followed. */
  fed = false;
  /**
   * Next expected stream sequence number. Sequence and acknowledgement numbers are kept as
   * int32 (`| 0`), not uint32: only their differences (`(a - b) | 0`) and equality matter, and
   * a uint32 of 2^31 or more passed to a function V8 does not inline is a heap-allocated number.
   */
  nextSeq = -0; // (-0: a double from the start, see DecodedPacket)
  stopped = false;
  /** Record header cursor: bytes of the header read (0..4), 5 = inside a body. */
  hdrGot = 0;
  recType = 0;
  recVer = 0;
  recLen = 0;
  recRemain = 0;
  /** Handshake message gathering. */
  hsState = HS_HDR;
  hsHdrGot = 0;
  hsType = 0;
  hsLen = 0;
  hsSkip = 0;
  hsBody: Uint8Array | null = null;
  hsHave = 0;
  /** Highest acknowledgement number the other direction sent for this stream. */
  acked = -0;
  ackValid = false;
  /** Last segment taken as ACK padding (its bytes are zeros), padLen 0 = none. */
  padSeq = -0;
  padLen = 0;
  /** Out-of-order store (parallel arrays, `oN` used). */
  oSeq: number[] = NO_NUMS;
  oData: Uint8Array[] = NO_BUFS;
  oWire: number[] = NO_NUMS;
  oN = 0;
  oBytes = 0;

  /** Back to the state of a new Side. */
  reset(): void {
    this.started = false;
    this.fed = false;
    this.nextSeq = 0;
    this.stopped = false;
    this.hdrGot = 0;
    this.recType = 0;
    this.recVer = 0;
    this.recLen = 0;
    this.recRemain = 0;
    this.hsState = HS_HDR;
    this.hsHdrGot = 0;
    this.hsType = 0;
    this.hsLen = 0;
    this.hsSkip = 0;
    this.hsBody = null;
    this.hsHave = 0;
    this.acked = 0;
    this.ackValid = false;
    this.padSeq = 0;
    this.padLen = 0;
    this.clearStore();
    this.oSeq = NO_NUMS;
    this.oData = NO_BUFS;
    this.oWire = NO_NUMS;
  }

  clearStore(): void {
    for (let i = 0; i < this.oN; i++) this.oData[i] = EMPTY;
    this.oN = 0;
    this.oBytes = 0;
  }
  freeHello(): void {
    this.hsBody = null;
    this.hsHave = 0;
  }
}

const EMPTY = new Uint8Array(0);
const ZEROS = new Uint8Array(6);

export class TlsTracker implements HelloSink {
  private st = ST_UNDECIDED;
  private hsEnded = false;
  private endKind = 0;
  private mode13 = false;
  private serverHelloSeen = false;
  /** The current packet's payload was taken as padding. */
  private padHit = false;
  /** Nothing can change any more: buffers released, onPacket answers at once. */
  private final = false;
  private readonly c = new Side();
  private readonly s = new Side();
  private readonly counters: TlsCounters;
  private readonly limits: TlsLimits;

  // HelloSink fields (filled by the Hello parsers)
  sni: string | undefined = undefined;
  alpnOffered: string[] = NO_STRINGS;
  alpnNegotiated: string | undefined = undefined;
  versionOffered = 0;
  versionNegotiated = 0;
  earlyData = false;

  constructor(counters: TlsCounters = defaultTlsCounters, limits: TlsLimits = DEFAULT_TLS_LIMITS) {
    if (limits !== DEFAULT_TLS_LIMITS) checkLimits(limits);
    this.counters = counters;
    this.limits = limits;
  }

  get status(): 'undecided' | 'tls' | 'not-tls' {
    return this.st === ST_TLS ? 'tls' : this.st === ST_NOT_TLS ? 'not-tls' : 'undecided';
  }

  get handshakeDone(): boolean {
    return this.hsEnded;
  }

  info(): TlsInfo {
    const r: TlsInfo = { alpnOffered: this.alpnOffered.slice() };
    if (this.sni !== undefined) r.sni = this.sni;
    if (this.alpnNegotiated !== undefined) r.alpnNegotiated = this.alpnNegotiated;
    if (this.versionOffered !== 0) r.versionOffered = versionName(this.versionOffered);
    if (this.versionNegotiated !== 0) r.versionNegotiated = versionName(this.versionNegotiated);
    return r;
  }

  stateBytes(): number {
    const c = this.c, s = this.s;
    return c.oBytes + s.oBytes + (c.hsBody !== null ? c.hsBody.length : 0) + (s.hsBody !== null ? s.hsBody.length : 0);
  }

  /**
   * Back to the state of a new tracker (same counters and limits), so that a flow
   * table can reuse trackers instead of allocating one per TCP flow.
   */
  reset(): void {
    this.st = ST_UNDECIDED;
    this.hsEnded = false;
    this.endKind = 0;
    this.mode13 = false;
    this.serverHelloSeen = false;
    this.padHit = false;
    this.final = false;
    this.c.reset();
    this.s.reset();
    this.sni = undefined;
    this.alpnOffered = NO_STRINGS;
    this.alpnNegotiated = undefined;
    this.versionOffered = 0;
    this.versionNegotiated = 0;
    this.earlyData = false;
  }

  release(): void {
    this.final = true;
    this.c.clearStore();
    this.s.clearStore();
    this.c.freeHello();
    this.s.freeHello();
  }

  /**
   * Follows one TCP packet of the flow and returns its phase (0 = handshake, 1 = data).
   * `ack` (optional) is the packet's acknowledgement number: with it, a hole in the
   * other direction's stream that the peer has acknowledged is known to be a capture
   * loss and is given up at once instead of waiting for the reorder store to fill.
   */
  onPacket(dir: 0 | 1, seq: number, flags: number, buf: Uint8Array, off: number, capLen: number, wireLen: number, ack?: number): 0 | 1 {
    if (this.final) return this.hsEnded ? 1 : 0;
    const before = this.hsEnded;
    const mode13Before = this.mode13;
    const hasPayload = wireLen > 0 && (flags & RST) === 0;
    this.padHit = false;
    if (ack !== undefined && (flags & (ACK | RST)) === ACK) this.peerAck(dir === 0 ? this.s : this.c, dir === 0 ? 1 : 0, ack | 0);
    this.packet(dir === 0 ? this.c : this.s, dir, seq | 0, flags, buf, off, capLen, wireLen);
    if (!this.hsEnded && dir === 0 && hasPayload && !this.padHit && mode13Before && this.c.stopped && this.st === ST_TLS) {
      // TLS 1.3 fallback: the client's Finished cannot be read any more
      this.hsEnded = true;
      this.endKind = END_LAST_HS;
      this.counters.phase_fallback++;
    }
    this.checkFinal();
    if (before) return 1;
    if (!this.hsEnded) return 0;
    return this.endKind === END_LAST_HS ? 0 : 1;
  }

  // ---- segments ----

  private packet(d: Side, dir: 0 | 1, seq: number, flags: number, buf: Uint8Array, off: number, capLen: number, wireLen: number): void {
    if ((flags & RST) !== 0) return; // RST payloads are diagnostics, not stream data
    if ((flags & SYN) !== 0) {
      // a SYN seen again before any byte of this side was followed may carry a new ISN
      if (!d.started || !d.fed) {
        d.started = true;
        d.nextSeq = (seq + 1) | 0;
      }
      seq = (seq + 1) | 0; // data on a SYN (TCP Fast Open) follows the SYN's sequence number
    }
    if ((flags & (PSH | FIN)) === 0 && wireLen > 0 && wireLen <= 6 && capLen === wireLen && allZero(buf, off, capLen)) {
      // Ethernet padding counted in the IP length by some capture paths: a bare ACK or SYN
      // "carrying" up to 6 zero bytes at the sequence number of the next real segment. Not stream
      // data; had the bytes been real, the next segment starts after them and they are fed then.
      this.counters.ack_padding++;
      this.padHit = true;
      d.padSeq = seq;
      d.padLen = wireLen;
      return;
    }
    if (!(wireLen > 0) || d.stopped || this.final) return;
    if (!(capLen > 0)) capLen = 0;
    if (capLen > wireLen) capLen = wireLen;
    if (off < 0 || off + capLen > buf.length) capLen = Math.max(0, Math.min(capLen, buf.length - off));
    if (capLen < wireLen) this.counters.snap_cut_segments++;
    if (this.sideIdle(d)) return;
    if (dir === 1 && this.st === ST_UNDECIDED) {
      this.hold(d, seq, buf, off, capLen, wireLen);
      return;
    }
    if (!d.started) {
      d.started = true;
      d.nextSeq = seq;
    }
    this.segment(d, dir, seq, buf, off, capLen, wireLen);
  }

  /** A side has nothing left to tell once the handshake is over and its Hello is done. */
  private sideIdle(d: Side): boolean {
    if (!this.hsEnded || d.hsState !== HS_DONE) return false;
    if (d.oN > 0) d.clearStore();
    return true;
  }

  private segment(d: Side, dir: 0 | 1, seq: number, buf: Uint8Array, off: number, capLen: number, wireLen: number): void {
    for (;;) {
      const diff = (seq - d.nextSeq) | 0;
      if (diff > 0 && diff === d.padLen && d.padSeq === d.nextSeq) {
        // what looked like padding was real data (zeros): the next segment starts right after it
        d.padLen = 0;
        this.inOrder(d, dir, ZEROS, 0, diff, 0);
        if (d.stopped || this.st === ST_NOT_TLS) return;
        this.drain(d, dir);
        if (d.stopped || this.st === ST_NOT_TLS) return;
        continue;
      }
      if (diff > 0 && d.ackValid && ((d.acked - seq) | 0) >= 0) {
        // the peer already acknowledged the missing bytes: they will not come again
        this.counters.holes_acked++;
        if (!this.skipTo(d, dir, seq)) return;
        continue;
      }
      if (diff > 0) {
        if (this.store(d, seq, buf, off, capLen, wireLen)) return;
        // store full: give up the earliest hole, then retry this segment
        this.counters.reorder_dropped++;
        let target = seq;
        for (let i = 0; i < d.oN; i++) if (((d.oSeq[i]! - target) | 0) < 0) target = d.oSeq[i]!;
        if (!this.skipTo(d, dir, target)) return;
        continue;
      }
      const skip = 0 - diff; // (not -diff: -0 is a double, and would make recRemain one)
      if (skip >= wireLen) {
        this.counters.retransmissions++;
        return;
      }
      if (skip < capLen) this.inOrder(d, dir, buf, off + skip, capLen - skip, wireLen - capLen);
      else this.inOrder(d, dir, buf, off, 0, wireLen - skip);
      if (d.stopped || this.st === ST_NOT_TLS) return;
      this.drain(d, dir);
      return;
    }
  }

  /** Gives up the bytes from nextSeq to `target` (hole rules), then feeds what became contiguous. */
  private skipTo(d: Side, dir: 0 | 1, target: number): boolean {
    const gap = (target - d.nextSeq) | 0;
    if (gap > 0) this.inOrder(d, dir, EMPTY, 0, 0, gap);
    if (d.stopped || this.st === ST_NOT_TLS || this.final) return false;
    this.drain(d, dir);
    return !(d.stopped || this.st === ST_NOT_TLS || this.final);
  }

  /** The other direction acknowledged up to `ack` of side d's stream. */
  private peerAck(d: Side, dir: 0 | 1, ack: number): void {
    if (!d.ackValid || ((ack - d.acked) | 0) > 0) {
      d.acked = ack;
      d.ackValid = true;
    }
    if (d.oN === 0 || d.stopped || !d.started || (dir === 1 && this.st === ST_UNDECIDED)) return;
    while (d.oN > 0) {
      let target = d.oSeq[0]!;
      for (let i = 1; i < d.oN; i++) if (((d.oSeq[i]! - target) | 0) < 0) target = d.oSeq[i]!;
      if (((d.acked - target) | 0) < 0) return;
      this.counters.holes_acked++;
      if (!this.skipTo(d, dir, target)) return;
    }
  }

  /** Stream bytes at nextSeq: `n` captured bytes then `missing` bytes not captured. */
  private inOrder(d: Side, dir: 0 | 1, buf: Uint8Array, off: number, n: number, missing: number): void {
    d.fed = true;
    if (n > 0) {
      this.consume(d, dir, buf, off, n);
      d.nextSeq = (d.nextSeq + n) | 0;
    }
    if (missing > 0 && !d.stopped && this.st !== ST_NOT_TLS) {
      this.hole(d, dir, missing);
      d.nextSeq = (d.nextSeq + missing) | 0;
    }
  }

  private store(d: Side, seq: number, buf: Uint8Array, off: number, capLen: number, wireLen: number): boolean {
    for (let i = 0; i < d.oN; i++) {
      if (d.oSeq[i] === seq && d.oWire[i]! >= wireLen && d.oData[i]!.length >= capLen) {
        this.counters.retransmissions++;
        return true;
      }
    }
    if (d.oN >= this.limits.oooMaxSegments || d.oBytes + capLen > this.limits.oooMaxBytes) return false;
    if (d.oData === NO_BUFS) {
      d.oSeq = [];
      d.oData = [];
      d.oWire = [];
    }
    d.oSeq[d.oN] = seq;
    const copy = new Uint8Array(capLen); // (a copy: buf.slice of a Buffer would be a view of the reused input buffer)
    copy.set(buf.subarray(off, off + capLen));
    d.oData[d.oN] = copy;
    d.oWire[d.oN] = wireLen;
    d.oN++;
    d.oBytes += capLen;
    this.counters.reorder_stored++;
    return true;
  }

  /** Server bytes before the status is known: keep them (arrival order) until it is. */
  private hold(d: Side, seq: number, buf: Uint8Array, off: number, capLen: number, wireLen: number): void {
    if (!this.store(d, seq, buf, off, capLen, wireLen)) {
      this.counters.reorder_dropped++;
      this.stop(d, 1);
    }
  }

  /** Feeds stored segments that have become contiguous with the stream. */
  private drain(d: Side, dir: 0 | 1): void {
    for (;;) {
      let k = -1;
      for (let i = 0; i < d.oN; i++) {
        if (((d.oSeq[i]! - d.nextSeq) | 0) <= 0) { k = i; break; }
      }
      if (k < 0) return;
      const seq = d.oSeq[k]!, data = d.oData[k]!, wire = d.oWire[k]!;
      const last = d.oN - 1;
      d.oSeq[k] = d.oSeq[last]!;
      d.oData[k] = d.oData[last]!;
      d.oWire[k] = d.oWire[last]!;
      d.oData[last] = EMPTY;
      d.oN = last;
      d.oBytes -= data.length;
      const skip = (d.nextSeq - seq) >>> 0;
      if (skip >= wire) { this.counters.retransmissions++; continue; }
      if (skip < data.length) this.inOrder(d, dir, data, skip, data.length - skip, wire - data.length);
      else this.inOrder(d, dir, data, 0, 0, wire - skip);
      if (d.stopped || this.st === ST_NOT_TLS || this.final) return;
    }
  }

  // ---- records ----

  private consume(d: Side, dir: 0 | 1, buf: Uint8Array, off: number, n: number): void {
    while (n > 0) {
      if (d.stopped || this.st === ST_NOT_TLS) return;
      if (d.hdrGot < 5) {
        if (d.hdrGot === 0) {
          const t = buf[off]!;
          if (t === 23 && this.st === ST_TLS) this.appData(dir);
          if (n >= 5) {
            d.recType = t;
            d.recVer = (buf[off + 1]! << 8) | buf[off + 2]!;
            d.recLen = (buf[off + 3]! << 8) | buf[off + 4]!;
            off += 5;
            n -= 5;
            this.header(d, dir);
            continue;
          }
        }
        const b = buf[off++]!;
        n--;
        switch (d.hdrGot++) {
          case 0: d.recType = b; break;
          case 1: d.recVer = b << 8; break;
          case 2: d.recVer |= b; break;
          case 3: d.recLen = b << 8; break;
          default: d.recLen |= b; this.header(d, dir); break;
        }
        continue;
      }
      const k = n < d.recRemain ? n : d.recRemain;
      if (d.recType === 22 && d.hsState !== HS_DONE) this.gather(d, dir, buf, off, k);
      off += k;
      n -= k;
      d.recRemain -= k;
      if (d.recRemain === 0) d.hdrGot = 0;
    }
  }

  /** A complete record header is in d.rec*: validate, enter the body. */
  private header(d: Side, dir: 0 | 1): void {
    const type = d.recType, ver = d.recVer, len = d.recLen;
    d.hdrGot = 0;
    if (dir === 0 && this.st === ST_UNDECIDED) {
      if (type !== 22 || (ver >> 8) !== 3 || len === 0 || len > MAX_RECORD_LENGTH) {
        // SSLv2 CLIENT-HELLO: 2-byte length with the top bit set, msg type 1, version 3.x
        if ((type & 0x80) !== 0 && (ver & 0xff) === 1 && (len >> 8) === 3) this.counters.sslv2_hellos++;
        this.decide(false);
        return;
      }
    }
    if (type < 20 || type > 24 || (ver >> 8) !== 3 || len > MAX_RECORD_LENGTH) {
      this.counters.bad_records++;
      if (len > MAX_RECORD_LENGTH) this.counters.oversize_records++;
      this.stop(d, dir);
      return;
    }
    // the client's first record is counted once it is known to be TLS (decide)
    if (dir === 1 || this.st === ST_TLS) this.counters.records++;
    if (len === 0) {
      this.counters.empty_records++;
      return;
    }
    d.recRemain = len;
    d.hdrGot = 5;
  }

  /** Missing bytes at the cursor. */
  private hole(d: Side, dir: 0 | 1, m: number): void {
    if (d.hdrGot === 5 && m <= d.recRemain) {
      if (d.recType === 22 && d.hsState !== HS_DONE) {
        if (dir === 0 && this.st === ST_UNDECIDED) {
          // the client's first message type is unknown
          this.counters.gaps++;
          this.stop(d, dir);
          return;
        }
        this.counters.hello_gaps++;
        d.hsState = HS_DONE;
        d.freeHello();
      }
      this.counters.holes_skipped++;
      d.recRemain -= m;
      if (d.recRemain === 0) d.hdrGot = 0;
      return;
    }
    this.counters.gaps++;
    this.stop(d, dir);
  }

  private stop(d: Side, dir: 0 | 1): void {
    d.stopped = true;
    d.clearStore();
    d.freeHello();
    if (dir === 0 && this.st === ST_UNDECIDED) this.decide(false);
  }

  private decide(tls: boolean): void {
    if (this.st !== ST_UNDECIDED) return;
    if (!tls) {
      this.st = ST_NOT_TLS;
      this.counters.not_tls_flows++;
      this.release();
      return;
    }
    this.st = ST_TLS;
    this.counters.tls_flows++;
    this.counters.records++; // the client's first record
    const s = this.s;
    if (s.oN > 0 && !s.stopped) {
      if (!s.started) {
        s.started = true;
        s.nextSeq = s.oSeq[0]!; // the first server payload seen
      }
      this.drain(s, 1);
    }
  }

  // ---- handshake messages ----

  private gather(d: Side, dir: 0 | 1, buf: Uint8Array, off: number, n: number): void {
    while (n > 0) {
      switch (d.hsState) {
        case HS_DONE:
          return;
        case HS_HDR: {
          if (d.hsHdrGot === 0 && n >= 4) {
            d.hsType = buf[off]!;
            d.hsLen = (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
            off += 4;
            n -= 4;
          } else {
            const b = buf[off++]!;
            n--;
            if (d.hsHdrGot === 0) {
              d.hsType = b;
              d.hsLen = 0;
            } else {
              d.hsLen = (d.hsLen << 8) | b;
            }
            if (++d.hsHdrGot < 4) {
              if (d.hsHdrGot === 1 && dir === 0 && this.st === ST_UNDECIDED) {
                this.decide(b === 1);
                if (this.st !== ST_TLS) return;
              }
              continue;
            }
            d.hsHdrGot = 0;
          }
          if (!this.messageStart(d, dir)) return;
          if (d.hsState === HS_BODY && d.hsLen <= n) {
            // the whole Hello is here: parse it in place
            const len = d.hsLen;
            this.hello(d, dir, buf, off, len);
            off += len;
            n -= len;
          }
          break;
        }
        case HS_SKIP: {
          const k = n < d.hsSkip ? n : d.hsSkip;
          d.hsSkip -= k;
          off += k;
          n -= k;
          if (d.hsSkip === 0) d.hsState = HS_HDR;
          break;
        }
        case HS_BODY: {
          if (d.hsBody === null) {
            d.hsBody = new Uint8Array(d.hsLen);
            d.hsHave = 0;
          }
          const want = d.hsLen - d.hsHave;
          const k = n < want ? n : want;
          d.hsBody.set(buf.subarray(off, off + k), d.hsHave);
          d.hsHave += k;
          off += k;
          n -= k;
          if (d.hsHave === d.hsLen) {
            const body = d.hsBody;
            d.freeHello();
            this.hello(d, dir, body, 0, body.length);
          }
          break;
        }
      }
    }
  }

  /** A handshake message header is in d.hsType/d.hsLen: choose what to do with its body. */
  private messageStart(d: Side, dir: 0 | 1): boolean {
    const t = d.hsType;
    if (dir === 0 && this.st === ST_UNDECIDED) {
      this.decide(t === 1);
      if (this.st !== ST_TLS) return false;
    }
    const want = dir === 0 ? 1 : 2;
    if (t === want) {
      if (d.hsLen > this.limits.maxHelloBytes) {
        this.counters.hello_too_large++;
        d.hsState = HS_DONE;
        return false;
      }
      d.hsState = HS_BODY;
      return true;
    }
    if (dir === 1 && t === 0) {
      // HelloRequest before the ServerHello (renegotiation): skip it
      d.hsSkip = d.hsLen;
      d.hsState = d.hsLen > 0 ? HS_SKIP : HS_HDR;
      return true;
    }
    this.counters.hello_unexpected++;
    d.hsState = HS_DONE;
    return false;
  }

  private hello(d: Side, dir: 0 | 1, b: Uint8Array, off: number, len: number): void {
    if (dir === 0) {
      if (parseClientHello(b, off, len, this)) this.counters.client_hellos++;
      else this.counters.hello_malformed++;
      d.hsState = HS_DONE;
      return;
    }
    const r = parseServerHello(b, off, len, this);
    if (r === SH_RETRY) {
      this.counters.hello_retry_requests++;
      d.hsState = HS_HDR;
      return;
    }
    if (r === SH_OK) this.counters.server_hellos++;
    else this.counters.hello_malformed++;
    d.hsState = HS_DONE;
    this.serverHelloSeen = true;
    if (isTls13Like(this.versionNegotiated)) this.mode13 = true;
  }

  // ---- phase ----

  /** The first byte of a type-23 record header was read in direction `dir`. */
  private appData(dir: 0 | 1): void {
    if (this.hsEnded) return;
    if (this.mode13) {
      if (dir === 0) {
        this.hsEnded = true;
        this.endKind = END_LAST_HS;
      }
      return;
    }
    if (dir === 0 && this.earlyData && !this.serverHelloSeen) return; // 0-RTT data
    this.hsEnded = true;
    this.endKind = END_FIRST_DATA;
  }

  private checkFinal(): void {
    if (this.final) return;
    const c = this.c, s = this.s;
    const cDone = c.stopped || c.hsState === HS_DONE;
    const sDone = s.stopped || s.hsState === HS_DONE;
    if (this.st === ST_NOT_TLS ||
        (this.hsEnded && cDone && sDone) ||
        (this.st === ST_TLS && !this.hsEnded && c.stopped && s.stopped && !this.mode13)) {
      this.release();
    }
  }
}
