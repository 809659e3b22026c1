/**
 * Hand-built TLS bytes for the tracker tests: records, handshake messages, hellos
 * and their extensions, laid out byte by byte per RFC 8446 / RFC 5246.
 */
import { TlsTracker } from '../../src/tls/tracker.js';

export function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
export const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
export const be24 = (v: number) => [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
export const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

export function record(type: number, version: number, body: Uint8Array | number[]): Uint8Array {
  return cat([type, ...be16(version), ...be16(body.length)], body);
}
export function handshake(msgType: number, body: Uint8Array | number[]): Uint8Array {
  return cat([msgType, ...be24(body.length)], body);
}
export function ext(type: number, data: Uint8Array | number[]): Uint8Array {
  return cat([...be16(type), ...be16(data.length)], data);
}
export function sniExt(name: string): Uint8Array {
  const n = ascii(name);
  return ext(0, [...be16(n.length + 3), 0, ...be16(n.length), ...n]);
}
/** ALPN list; entries given as strings or raw byte arrays (for GREASE ids). */
export function alpnExt(list: (string | number[])[]): Uint8Array {
  const items = list.map((s) => (typeof s === 'string' ? ascii(s) : s));
  const body = cat(...items.map((b) => [b.length, ...b]));
  return ext(16, cat(be16(body.length), body));
}
export function supportedVersionsCH(vs: number[]): Uint8Array {
  return ext(43, [vs.length * 2, ...vs.flatMap(be16)]);
}
export function supportedVersionSH(v: number): Uint8Array {
  return ext(43, be16(v));
}
/** key_share (51) with one entry of `len` key bytes (0x11, 0x12, … pattern), e.g. X25519MLKEM768 = 0x11ec, 1216 bytes. */
export function keyShareCH(group: number, len: number, extra: { group: number; len: number }[] = []): Uint8Array {
  const entries = [{ group, len }, ...extra].map((e) =>
    cat(be16(e.group), be16(e.len), Array.from({ length: e.len }, (_, i) => (0x11 + i) & 0xff)),
  );
  const list = cat(...entries);
  return ext(51, cat(be16(list.length), list));
}
export const earlyDataExt = () => ext(42, []);

export interface CHOpts {
  legacyVersion?: number;
  sessionId?: number;
  ciphers?: number[];
  exts?: Uint8Array[];
  /** Leave the extensions block out entirely (old clients). */
  noExtensions?: boolean;
}
export function clientHelloBody(o: CHOpts = {}): Uint8Array {
  const random = Array.from({ length: 32 }, (_, i) => i);
  const sid = Array.from({ length: o.sessionId ?? 32 }, (_, i) => 0xa0 + i);
  const ciphers = o.ciphers ?? [0x1a1a, 0x1301, 0x1302, 0xc02b, 0xc02f];
  const exts = cat(...(o.exts ?? []));
  return cat(
    be16(o.legacyVersion ?? 0x0303), random, [sid.length], sid,
    be16(ciphers.length * 2), ciphers.flatMap(be16), [1, 0],
    o.noExtensions ? [] : cat(be16(exts.length), exts),
  );
}
export const HRR_RANDOM = [
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];
export interface SHOpts {
  legacyVersion?: number;
  cipher?: number;
  exts?: Uint8Array[];
  retry?: boolean;
}
export function serverHelloBody(o: SHOpts = {}): Uint8Array {
  const random = o.retry ? HRR_RANDOM : Array.from({ length: 32 }, (_, i) => 0x40 + i);
  const exts = cat(...(o.exts ?? []));
  return cat(be16(o.legacyVersion ?? 0x0303), random, [32], Array.from({ length: 32 }, (_, i) => 0xa0 + i),
    be16(o.cipher ?? 0x1301), [0], be16(exts.length), exts);
}
/** Opaque filler bytes for encrypted records. */
export const filler = (n: number, seed = 7) => Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

// ---- feeding a tracker ----

export const F_SYN = 0x02, F_ACK = 0x10, F_PSH = 0x08, F_FIN = 0x01, F_RST = 0x04;

/** One packet as the flow table would hand it over. */
export interface Pkt {
  dir: 0 | 1;
  seq: number;
  flags: number;
  data: Uint8Array;
  /** Wire length of the payload when the snap length cut it (default: data.length). */
  wire?: number;
  /** Acknowledgement number (passed to onPacket when set). */
  ack?: number;
}

/** Feeds packets, returns the phase of each. The payload sits at offset 3 of a larger buffer to test `off`. */
export function run(t: TlsTracker, pkts: Pkt[]): number[] {
  return pkts.map((p) => {
    const buf = new Uint8Array(p.data.length + 6);
    buf.set(p.data, 3);
    buf.fill(0xee, 0, 3);
    buf.fill(0xee, 3 + p.data.length);
    return p.ack === undefined
      ? t.onPacket(p.dir, p.seq >>> 0, p.flags, buf, 3, p.data.length, p.wire ?? p.data.length)
      : t.onPacket(p.dir, p.seq >>> 0, p.flags, buf, 3, p.data.length, p.wire ?? p.data.length, p.ack);
  });
}

/**
 * A TCP connection's two streams: hands out sequence numbers so tests can write
 * `c.send(0, bytes)` and get the packet(s).
 */
export class Conn {
  next: [number, number];
  constructor(public isnC = 1000, public isnS = 5000) {
    this.next = [(isnC + 1) >>> 0, (isnS + 1) >>> 0];
  }
  /** Packets carry acknowledgement numbers (everything the other side sent so far) when true. */
  withAcks = true;
  private ackOf(dir: 0 | 1): number | undefined { return this.withAcks ? this.next[dir === 0 ? 1 : 0] : undefined; }
  syn(): Pkt { return { dir: 0, seq: this.isnC, flags: F_SYN, data: new Uint8Array(0) }; }
  synAck(): Pkt { return { dir: 1, seq: this.isnS, flags: F_SYN | F_ACK, data: new Uint8Array(0), ack: this.ackOf(1) }; }
  ack(dir: 0 | 1): Pkt { return { dir, seq: this.next[dir], flags: F_ACK, data: new Uint8Array(0), ack: this.ackOf(dir) }; }
  /** The whole of `data` in one segment. */
  send(dir: 0 | 1, data: Uint8Array): Pkt {
    const p: Pkt = { dir, seq: this.next[dir], flags: F_ACK | F_PSH, data, ack: this.ackOf(dir) };
    this.next[dir] = (this.next[dir] + data.length) >>> 0;
    return p;
  }
  /** `data` cut into segments at the given sizes (the rest in a last segment). */
  sendSplit(dir: 0 | 1, data: Uint8Array, sizes: number[]): Pkt[] {
    const out: Pkt[] = [];
    let o = 0;
    for (const s of sizes) { if (o >= data.length) break; out.push(this.send(dir, data.subarray(o, Math.min(o + s, data.length)))); o += s; }
    if (o < data.length) out.push(this.send(dir, data.subarray(o)));
    return out;
  }
}

/** Small deterministic PRNG: the project's seeded mulberry32. */
export { mulberry32 as prng } from '../../src/dataset/split.js';
