/**
 * Test helper: builds frames (Ethernet/VLAN/SLL/SLL2/NULL/LOOP/raw/PPP/Cisco HDLC
 * + IPv4/IPv6 + TCP/UDP) and writes them as pcap or pcapng files in either byte
 * order and timestamp resolution, with several interfaces and sections.
 *
 *   const f = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 443, seq: 1, flags: 'S' });
 *   writePcap('/tmp/x.pcap', [{ ts: 1.5, bytes: f }]);
 *   writePcapng('/tmp/x.pcapng', [{ ts: 1.5, bytes: f }], { interfaces: [{ link: 'ethernet', tsresol: 9 }] });
 *
 * Checksums (IPv4 header, TCP, UDP) are computed, so the files also read cleanly in tshark.
 */
import { writeFileSync } from 'node:fs';

export type LinkKind =
  | 'ethernet'
  | 'sll'
  | 'sll2'
  | 'null' // BSD loopback, family in little-endian host order
  | 'null-be' // BSD loopback written by a big-endian host
  | 'loop' // OpenBSD LOOP (family big-endian)
  | 'raw' // LINKTYPE_RAW (101)
  | 'ipv4' // LINKTYPE_IPV4 (228)
  | 'ipv6' // LINKTYPE_IPV6 (229)
  | 'ppp'
  | 'chdlc';

export const LINKTYPE_OF: Record<LinkKind, number> = {
  ethernet: 1,
  sll: 113,
  sll2: 276,
  null: 0,
  'null-be': 0,
  loop: 108,
  raw: 101,
  ipv4: 228,
  ipv6: 229,
  ppp: 9,
  chdlc: 104,
};

export interface IpOpts {
  /** Dotted IPv4 or IPv6 text; both must be the same family. */
  src: string;
  dst: string;
  link?: LinkKind; // default 'ethernet'
  /** VLAN id(s), outermost first; with two or more the outer tag uses TPID 0x88a8. */
  vlan?: number | number[];
  ttl?: number;
  ipId?: number;
  /** IPv4 options (padded with zeros to 4 bytes). */
  ipOptions?: Uint8Array | number[];
  /** IPv4 flags/fragment: fragment offset in bytes (multiple of 8), MF flag, DF flag. */
  fragOffset?: number;
  moreFragments?: boolean;
  dontFragment?: boolean;
  /** Overrides the IPv4 total length / IPv6 payload length field (e.g. 0 as written under TSO). */
  ipLenField?: number;
  /** IPv6 extension headers placed before the transport header: `type` is the header type, `bytes` the header without its first (next-header) byte, e.g. a hop-by-hop header with no options = [0, 1, 4, 0, 0, 0, 0] (PadN). */
  ipv6Ext?: Array<{ type: number; bytes: Uint8Array | number[] }>;
  srcMac?: string;
  dstMac?: string;
}

export type TcpFlags = string; // letters of F S R P A U E C, e.g. 'S', 'SA', 'A', 'PA', 'FA', 'R', 'RA'

export interface TcpOpts extends IpOpts {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags?: TcpFlags; // default 'A'
  win?: number; // default 65535
  /** TCP options (padded with zeros to 4 bytes). */
  tcpOptions?: Uint8Array | number[];
  payload?: Uint8Array | string;
}

export interface UdpOpts extends IpOpts {
  sport: number;
  dport: number;
  payload?: Uint8Array | string;
}

const enc = new TextEncoder();
const bytesOf = (p: Uint8Array | string | number[] | undefined): Uint8Array =>
  p === undefined ? new Uint8Array(0) : typeof p === 'string' ? enc.encode(p) : Uint8Array.from(p);

export function concat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const r = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    r.set(p, o);
    o += p.length;
  }
  return r;
}

export function parseIpv4(s: string): Uint8Array {
  const parts = s.split('.').map(Number);
  if (parts.length !== 4 || parts.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 ${s}`);
  return Uint8Array.from(parts);
}

export function parseIpv6(s: string): Uint8Array {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  if (groups.length !== 8) throw new Error(`bad IPv6 ${s}`);
  const r = new Uint8Array(16);
  groups.forEach((g: string, i: number) => {
    const v = parseInt(g, 16);
    r[2 * i] = v >> 8;
    r[2 * i + 1] = v & 0xff;
  });
  return r;
}

function parseMac(s: string): Uint8Array {
  return Uint8Array.from(s.split(':').map((x) => parseInt(x, 16)));
}

function u16(v: number): Uint8Array {
  return Uint8Array.of((v >> 8) & 0xff, v & 0xff);
}
function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/** Internet checksum over the given byte arrays (each padded as one stream). */
export function inetChecksum(...parts: Uint8Array[]): number {
  const all = concat(...parts);
  let s = 0;
  for (let i = 0; i + 1 < all.length; i += 2) s += (all[i]! << 8) | all[i + 1]!;
  if (all.length & 1) s += all[all.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export function tcpFlagBits(flags: TcpFlags): number {
  let f = 0;
  for (const ch of flags.toUpperCase()) {
    const bit = 'FSRPAUEC'.indexOf(ch);
    if (bit < 0) throw new Error(`bad TCP flag ${ch}`);
    f |= 1 << bit;
  }
  return f;
}

function pad4(b: Uint8Array): Uint8Array {
  return b.length % 4 === 0 ? b : concat(b, new Uint8Array(4 - (b.length % 4)));
}

/** An IP packet (no link header) carrying `l4` with protocol `proto`; checksum of l4 is not touched. */
export function ipPacket(o: IpOpts, proto: number, l4: Uint8Array): Uint8Array {
  const v6 = o.src.includes(':');
  if (!v6) {
    const opts = pad4(bytesOf(o.ipOptions));
    const hl = 20 + opts.length;
    const total = o.ipLenField ?? hl + l4.length;
    const flags = (o.dontFragment ? 0x4000 : 0) | (o.moreFragments ? 0x2000 : 0) | ((o.fragOffset ?? 0) >> 3);
    const h = concat(
      Uint8Array.of(0x40 | (hl >> 2), 0),
      u16(total),
      u16(o.ipId ?? 0x1234),
      u16(flags),
      Uint8Array.of(o.ttl ?? 64, proto),
      u16(0),
      parseIpv4(o.src),
      parseIpv4(o.dst),
      opts,
    );
    const ck = inetChecksum(h);
    h[10] = ck >> 8;
    h[11] = ck & 0xff;
    return concat(h, l4);
  }
  // IPv6: chain the extension headers, the last one pointing at proto.
  const exts = o.ipv6Ext ?? [];
  const parts: Uint8Array[] = [];
  for (let i = 0; i < exts.length; i++) {
    const next = i + 1 < exts.length ? exts[i + 1]!.type : proto;
    const body = bytesOf(exts[i]!.bytes);
    const e = concat(Uint8Array.of(next), body);
    parts.push(e);
  }
  const ext = concat(...parts);
  const plen = o.ipLenField ?? ext.length + l4.length;
  const h = concat(
    u32(0x60000000),
    u16(plen),
    Uint8Array.of(exts.length ? exts[0]!.type : proto, o.ttl ?? 64),
    parseIpv6(o.src),
    parseIpv6(o.dst),
  );
  return concat(h, ext, l4);
}

function pseudoHeader(o: IpOpts, proto: number, len: number): Uint8Array {
  if (o.src.includes(':')) return concat(parseIpv6(o.src), parseIpv6(o.dst), u32(len), Uint8Array.of(0, 0, 0, proto));
  return concat(parseIpv4(o.src), parseIpv4(o.dst), Uint8Array.of(0, proto), u16(len));
}

export function tcpSegment(o: TcpOpts): Uint8Array {
  const opts = pad4(bytesOf(o.tcpOptions));
  const payload = bytesOf(o.payload);
  const hl = 20 + opts.length;
  const seg = concat(
    u16(o.sport),
    u16(o.dport),
    u32(o.seq ?? 0),
    u32(o.ack ?? 0),
    Uint8Array.of((hl / 4) << 4, tcpFlagBits(o.flags ?? 'A')),
    u16(o.win ?? 65535),
    u16(0),
    u16(0),
    opts,
    payload,
  );
  const ck = inetChecksum(pseudoHeader(o, 6, seg.length), seg);
  seg[16] = ck >> 8;
  seg[17] = ck & 0xff;
  return seg;
}

export function udpDatagram(o: UdpOpts): Uint8Array {
  const payload = bytesOf(o.payload);
  const d = concat(u16(o.sport), u16(o.dport), u16(8 + payload.length), u16(0), payload);
  const ck = inetChecksum(pseudoHeader(o, 17, d.length), d) || 0xffff;
  d[6] = ck >> 8;
  d[7] = ck & 0xff;
  return d;
}

/** Wraps an IP packet (or, with `etherType`, any payload) in the link header of `o.link`. */
export function linkWrap(o: Pick<IpOpts, 'link' | 'vlan' | 'srcMac' | 'dstMac'>, ip: Uint8Array, etherType?: number): Uint8Array {
  const v6 = (ip[0]! >> 4) === 6;
  const et = etherType ?? (v6 ? 0x86dd : 0x0800);
  const link = o.link ?? 'ethernet';
  switch (link) {
    case 'ethernet': {
      const vl = o.vlan === undefined ? [] : Array.isArray(o.vlan) ? o.vlan : [o.vlan];
      const tags = vl.map((id, i) => concat(u16(vl.length > 1 && i === 0 ? 0x88a8 : 0x8100), u16(id & 0x0fff)));
      return concat(
        parseMac(o.dstMac ?? '02:00:00:00:00:02'),
        parseMac(o.srcMac ?? '02:00:00:00:00:01'),
        ...tags,
        u16(et),
        ip,
      );
    }
    case 'sll':
      return concat(u16(0), u16(1), u16(6), parseMac(o.srcMac ?? '02:00:00:00:00:01'), u16(0), u16(et), ip);
    case 'sll2':
      return concat(u16(et), u16(0), u32(3), u16(1), Uint8Array.of(0, 6), parseMac(o.srcMac ?? '02:00:00:00:00:01'), u16(0), ip);
    case 'null':
      return concat(Uint8Array.of(v6 ? 24 : 2, 0, 0, 0), ip);
    case 'null-be':
      return concat(u32(v6 ? 24 : 2), ip);
    case 'loop':
      return concat(u32(v6 ? 24 : 2), ip);
    case 'raw':
    case 'ipv4':
    case 'ipv6':
      return ip;
    case 'ppp':
      return concat(Uint8Array.of(0xff, 0x03), u16(v6 ? 0x0057 : 0x0021), ip);
    case 'chdlc':
      return concat(Uint8Array.of(0x0f, 0x00), u16(et), ip);
  }
}

export function tcpFrame(o: TcpOpts): Uint8Array {
  return linkWrap(o, ipPacket(o, 6, tcpSegment(o)));
}

export function udpFrame(o: UdpOpts): Uint8Array {
  return linkWrap(o, ipPacket(o, 17, udpDatagram(o)));
}

// ---------------------------------------------------------------------------
// File writers

export interface GenFrame {
  /** Time in seconds (float), or exact `sec` + `nsec`. */
  ts?: number;
  sec?: number;
  nsec?: number;
  bytes: Uint8Array;
  /** Length on the wire (default: bytes.length). */
  wireLen?: number;
  /** Keep only this many bytes in the file (snap length); wireLen defaults to the full length. */
  capLen?: number;
  /** pcapng: interface index within the section (default 0). */
  iface?: number;
  /** pcapng: block kind (default 'epb'). */
  block?: 'epb' | 'spb' | 'opb';
}

function frameTime(f: GenFrame): { sec: number; nsec: number } {
  if (f.sec !== undefined) return { sec: f.sec, nsec: f.nsec ?? 0 };
  const ts = f.ts ?? 0;
  const sec = Math.floor(ts);
  return { sec, nsec: Math.round((ts - sec) * 1e9) };
}

class Out {
  private parts: Uint8Array[] = [];
  constructor(private le: boolean) {}
  u8(v: number): this {
    this.parts.push(Uint8Array.of(v));
    return this;
  }
  u16(v: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, this.le);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, this.le);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), this.le);
    this.parts.push(b);
    return this;
  }
  bytes(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  pad4(): this {
    const n = this.length % 4;
    if (n) this.parts.push(new Uint8Array(4 - n));
    return this;
  }
  get length(): number {
    return this.parts.reduce((s, p) => s + p.length, 0);
  }
  done(): Uint8Array {
    return concat(...this.parts);
  }
}

export interface PcapOpts {
  linkType?: number;
  link?: LinkKind;
  /** Nanosecond magic (default: microseconds). */
  nanos?: boolean;
  bigEndian?: boolean;
  snaplen?: number;
}

export function buildPcap(frames: GenFrame[], opts: PcapOpts = {}): Uint8Array {
  const w = new Out(!opts.bigEndian);
  const lt = opts.linkType ?? LINKTYPE_OF[opts.link ?? 'ethernet'];
  w.u32(opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(opts.snaplen ?? 262144).u32(lt);
  for (const f of frames) {
    const { sec, nsec } = frameTime(f);
    const cap = f.capLen ?? f.bytes.length;
    w.u32(sec)
      .u32(opts.nanos ? nsec : Math.floor(nsec / 1000))
      .u32(cap)
      .u32(f.wireLen ?? f.bytes.length)
      .bytes(f.bytes.subarray(0, cap));
  }
  return w.done();
}

export function writePcap(path: string, frames: GenFrame[], opts: PcapOpts = {}): void {
  writeFileSync(path, buildPcap(frames, opts));
}

export interface PcapngInterface {
  linkType?: number;
  link?: LinkKind; // default 'ethernet'
  snaplen?: number; // default 0 (no limit)
  /** if_tsresol byte: 0..127 = 10^-n, 0x80|n = 2^-n. Omitted: no option (microseconds). */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsoffset?: number;
}

export interface PcapngSection {
  bigEndian?: boolean;
  interfaces?: PcapngInterface[]; // default one Ethernet interface
  frames: GenFrame[];
  /** Extra blocks [type, body] written after the IDBs (e.g. unknown types to be skipped). */
  extraBlocks?: Array<{ type: number; body: Uint8Array }>;
  /** Section header options as dumpcap writes them (2 shb_hardware, 3 shb_os, 4 shb_userappl). */
  shbOptions?: Array<{ code: number; value: string }>;
}

function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const padded = pad4(body);
  const len = 12 + padded.length;
  return new Out(le).u32(type).u32(len).bytes(padded).u32(len).done();
}

function tsUnits(sec: number, nsec: number, iface: PcapngInterface): bigint {
  const r = iface.tsresol ?? 6;
  const s = BigInt(sec - (iface.tsoffset ?? 0));
  if (r & 0x80) {
    const b = BigInt(r & 0x7f);
    return (s << b) + (BigInt(nsec) << b) / 1000000000n;
  }
  const d = r;
  const scale = 10n ** BigInt(d);
  return d <= 9 ? s * scale + BigInt(nsec) / 10n ** BigInt(9 - d) : s * scale + BigInt(nsec) * 10n ** BigInt(d - 9);
}

export function buildPcapngSections(sections: PcapngSection[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (const sec of sections) {
    const le = !sec.bigEndian;
    const ifs = sec.interfaces ?? [{}];
    const shb = new Out(le).u32(0x1a2b3c4d).u16(1).u16(0).u64(-1n);
    for (const o of sec.shbOptions ?? []) {
      const v = new TextEncoder().encode(o.value);
      shb.u16(o.code).u16(v.length).bytes(v).pad4();
    }
    if (sec.shbOptions?.length) shb.u16(0).u16(0);
    out.push(block(le, 0x0a0d0d0a, shb.done()));
    for (const i of ifs) {
      const o = new Out(le).u16(i.linkType ?? LINKTYPE_OF[i.link ?? 'ethernet']).u16(0).u32(i.snaplen ?? 0);
      if (i.tsresol !== undefined) o.u16(9).u16(1).u8(i.tsresol).pad4();
      if (i.tsoffset !== undefined) o.u16(14).u16(8).u64(BigInt(i.tsoffset));
      if (i.tsresol !== undefined || i.tsoffset !== undefined) o.u16(0).u16(0);
      out.push(block(le, 1, o.done()));
    }
    for (const b of sec.extraBlocks ?? []) out.push(block(le, b.type, b.body));
    for (const f of sec.frames) {
      const ifIdx = f.iface ?? 0;
      const iface = ifs[ifIdx]!;
      const { sec: s, nsec } = frameTime(f);
      const cap = f.capLen ?? f.bytes.length;
      const data = f.bytes.subarray(0, cap);
      const wire = f.wireLen ?? f.bytes.length;
      const kind = f.block ?? 'epb';
      if (kind === 'spb') {
        out.push(block(le, 3, new Out(le).u32(wire).bytes(data).done()));
        continue;
      }
      const t = tsUnits(s, nsec, iface);
      const hi = Number(t >> 32n);
      const lo = Number(t & 0xffffffffn);
      const o = new Out(le);
      if (kind === 'epb') o.u32(ifIdx);
      else o.u16(ifIdx).u16(0);
      o.u32(hi).u32(lo).u32(cap).u32(wire).bytes(data);
      out.push(block(le, kind === 'epb' ? 6 : 2, o.done()));
    }
  }
  return concat(...out);
}

export function buildPcapng(
  frames: GenFrame[],
  opts: Omit<PcapngSection, 'frames'> = {},
): Uint8Array {
  return buildPcapngSections([{ ...opts, frames }]);
}

export function writePcapng(path: string, frames: GenFrame[], opts: Omit<PcapngSection, 'frames'> = {}): void {
  writeFileSync(path, buildPcapng(frames, opts));
}

export function writePcapngSections(path: string, sections: PcapngSection[]): void {
  writeFileSync(path, buildPcapngSections(sections));
}
