import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrame, DecodeCounters, DecodedPacket } from '../../src/decode/index.js';
import { newRawFrame } from '../../src/capture/reader.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/decode/packet.js';
import { concat, ipPacket, linkWrap, tcpFrame, udpFrame, tcpSegment, udpDatagram, LINKTYPE_OF, type LinkKind } from '../helpers/pcapgen.js';

/** Decodes `bytes` placed at offset 7 of a larger buffer (offsets must be relative to buf). */
function dec(bytes: Uint8Array, linkType = 1, opts: { capLen?: number; wireLen?: number } = {}) {
  const buf = new Uint8Array(bytes.length + 20).fill(0xee);
  buf.set(bytes, 7);
  const f = newRawFrame();
  f.buf = buf;
  f.off = 7;
  f.linkType = linkType;
  f.interfaceId = 3;
  f.tsSec = 1700000000;
  f.tsNsec = 42;
  f.capLen = opts.capLen ?? bytes.length;
  f.wireLen = opts.wireLen ?? bytes.length;
  const out = new DecodedPacket();
  const c = new DecodeCounters();
  const ok = decodeFrame(f, out, c);
  return { ok, out, c };
}

function addr(p: DecodedPacket, off: number): string {
  if (p.ipVersion === 4) return [...p.buf.subarray(off, off + 4)].join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((p.buf[off + i]! << 8) | p.buf[off + i + 1]!).toString(16));
  return g.join(':');
}

function summary(p: DecodedPacket) {
  return {
    ipVersion: p.ipVersion,
    src: addr(p, p.srcAddrOff),
    dst: addr(p, p.dstAddrOff),
    ipLen: p.ipLen,
    proto: p.proto,
    srcPort: p.srcPort,
    dstPort: p.dstPort,
    l3Off: p.l3Off,
    l4Off: p.l4Off,
    payloadOff: p.payloadOff,
    payloadLen: p.payloadLen,
    payloadCapLen: p.payloadCapLen,
    vlan: p.vlan,
  };
}

/** Non-zero counters only, for exact comparison. */
function nonZero(c: DecodeCounters): Record<string, unknown> {
  const j = c.toJSON();
  const r: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(j)) {
    if (typeof v === 'number' ? v !== 0 : Object.keys(v).length > 0) r[k] = v;
  }
  return r;
}

const O = 7; // where dec() puts the frame

test('Ethernet IPv4 TCP with payload: every field', () => {
  const bytes = tcpFrame({
    src: '192.168.1.10',
    dst: '93.184.216.34',
    sport: 51234,
    dport: 443,
    seq: 0xfedcba98,
    ack: 0x01020304,
    flags: 'PA',
    win: 501,
    payload: 'hello tls',
  });
  assert.equal(bytes.length, 14 + 20 + 20 + 9);
  const { ok, out, c } = dec(bytes);
  assert.equal(ok, true);
  assert.deepEqual(summary(out), {
    ipVersion: 4,
    src: '192.168.1.10',
    dst: '93.184.216.34',
    ipLen: 49,
    proto: 6,
    srcPort: 51234,
    dstPort: 443,
    l3Off: O + 14,
    l4Off: O + 34,
    payloadOff: O + 54,
    payloadLen: 9,
    payloadCapLen: 9,
    vlan: 0,
  });
  assert.equal(out.tcpSeq, 0xfedcba98);
  assert.equal(out.tcpAck, 0x01020304);
  assert.equal(out.tcpFlags, TCP_PSH | TCP_ACK);
  assert.equal(out.tcpWindow, 501);
  assert.equal(out.tsSec, 1700000000);
  assert.equal(out.tsNsec, 42);
  assert.equal(out.capLen, 63);
  assert.equal(out.wireLen, 63);
  assert.equal(out.linkType, 1);
  assert.equal(out.interfaceId, 3);
  assert.equal(new TextDecoder().decode(out.buf.subarray(out.payloadOff, out.payloadOff + out.payloadCapLen)), 'hello tls');
  assert.deepEqual(nonZero(c), { frames: 1, ethernet: 1, ipv4: 1, tcp: 1 });
});

test('IPv4 options and TCP options move the transport header and the payload', () => {
  const bytes = tcpFrame({
    src: '10.0.0.1',
    dst: '10.0.0.2',
    sport: 1,
    dport: 2,
    flags: 'S',
    ipOptions: [0x94, 0x04, 0, 0], // router alert
    tcpOptions: [2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1], // MSS, NOP, wscale, SACK-permitted, NOP, NOP
    payload: 'xy',
  });
  const { ok, out } = dec(bytes);
  assert.equal(ok, true);
  assert.equal(out.l4Off, O + 14 + 24);
  assert.equal(out.payloadOff, O + 14 + 24 + 32);
  assert.equal(out.ipLen, 24 + 32 + 2);
  assert.equal(out.payloadLen, 2);
  assert.equal(out.tcpFlags, TCP_SYN);
});

test('UDP over IPv6', () => {
  const bytes = udpFrame({ src: '2001:db8::1', dst: 'fe80::abcd:1', sport: 5353, dport: 53, payload: 'query' });
  const { ok, out, c } = dec(bytes);
  assert.equal(ok, true);
  assert.deepEqual(summary(out), {
    ipVersion: 6,
    src: '2001:db8:0:0:0:0:0:1',
    dst: 'fe80:0:0:0:0:0:abcd:1',
    ipLen: 40 + 8 + 5,
    proto: 17,
    srcPort: 5353,
    dstPort: 53,
    l3Off: O + 14,
    l4Off: O + 54,
    payloadOff: O + 62,
    payloadLen: 5,
    payloadCapLen: 5,
    vlan: 0,
  });
  assert.equal(out.tcpFlags, 0);
  assert.deepEqual(nonZero(c), { frames: 1, ethernet: 1, ipv6: 1, udp: 1 });
});

test('802.1Q and QinQ: outer VLAN id, payload found after the tags', () => {
  const one = dec(tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, vlan: 100 }));
  assert.equal(one.ok, true);
  assert.equal(one.out.vlan, 100);
  assert.equal(one.out.l3Off, O + 18);
  assert.deepEqual(nonZero(one.c), { frames: 1, ethernet: 1, vlan: 1, ipv4: 1, tcp: 1 });
  const two = dec(udpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, vlan: [4000, 7] }));
  assert.equal(two.ok, true);
  assert.equal(two.out.vlan, 4000);
  assert.equal(two.out.l3Off, O + 22);
  assert.deepEqual(nonZero(two.c), { frames: 1, ethernet: 1, vlan: 1, qinq: 1, ipv4: 1, udp: 1 });
  // Nine stacked tags: more than the decoder follows.
  const deep = dec(tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, vlan: [1, 2, 3, 4, 5, 6, 7, 8, 9] }));
  assert.equal(deep.ok, false);
  assert.equal(deep.c.too_deep, 1);
});

test('every supported link type finds the IP packet', () => {
  const cases: Array<[LinkKind, number]> = [
    ['sll', 16],
    ['sll2', 20],
    ['null', 4],
    ['null-be', 4],
    ['loop', 4],
    ['raw', 0],
    ['ipv4', 0],
    ['ppp', 4],
    ['chdlc', 4],
  ];
  for (const [link, hdr] of cases) {
    for (const src of ['10.1.1.1', '2001:db8::5']) {
      if (link === 'ipv4' && src.includes(':')) continue;
      const dst = src.includes(':') ? '2001:db8::6' : '10.1.1.2';
      const bytes = tcpFrame({ link, src, dst, sport: 443, dport: 60000, seq: 5, flags: 'SA' });
      const { ok, out, c } = dec(bytes, LINKTYPE_OF[link]);
      assert.equal(ok, true, `${link} ${src}`);
      assert.equal(out.l3Off, O + hdr, `${link} ${src}`);
      assert.equal(out.ipVersion, src.includes(':') ? 6 : 4);
      assert.equal(addr(out, out.srcAddrOff), src.includes(':') ? '2001:db8:0:0:0:0:0:5' : src);
      assert.equal(out.srcPort, 443);
      assert.equal(out.dstPort, 60000);
      assert.equal(out.tcpFlags, 0x12);
      assert.equal(c.tcp, 1);
    }
  }
  const v6 = dec(tcpFrame({ link: 'ipv6', src: '::1', dst: '::2', sport: 1, dport: 2 }), 229);
  assert.equal(v6.out.ipVersion, 6);
  // Raw IP also under DLT 12 and 14.
  const ip = ipPacket({ src: '1.2.3.4', dst: '5.6.7.8' }, 17, udpDatagram({ src: '1.2.3.4', dst: '5.6.7.8', sport: 9, dport: 10 }));
  assert.equal(dec(ip, 12).out.dstPort, 10);
  assert.equal(dec(ip, 14).out.dstPort, 10);
  // Loopback families: Darwin (30) and FreeBSD (28) IPv6.
  const v6ip = ipPacket({ src: '::1', dst: '::1' }, 17, udpDatagram({ src: '::1', dst: '::1', sport: 1, dport: 2 }));
  assert.equal(dec(concat(Uint8Array.of(30, 0, 0, 0), v6ip), 0).out.ipVersion, 6);
  assert.equal(dec(concat(Uint8Array.of(0, 0, 0, 28), v6ip), 0).out.ipVersion, 6);
  const unknownFam = dec(concat(Uint8Array.of(7, 0, 0, 0), v6ip), 0);
  assert.equal(unknownFam.ok, false);
  assert.equal(unknownFam.c.unknown_loopback_family, 1);
});

test('PPP with compressed protocol field, PPPoE, MPLS, LLC/SNAP, PPI', () => {
  const ip = ipPacket({ src: '1.2.3.4', dst: '5.6.7.8' }, 17, udpDatagram({ src: '1.2.3.4', dst: '5.6.7.8', sport: 9, dport: 10 }));
  const ppp1 = dec(concat(Uint8Array.of(0x21), ip), 9);
  assert.equal(ppp1.ok, true);
  assert.equal(ppp1.out.l3Off, O + 1);
  // Cisco HDLC framing in a PPP capture (address 0x0f, control 0, ethertype).
  const hdlcInPpp = dec(concat(Uint8Array.of(0x0f, 0x00, 0x08, 0x00), ip), 9);
  assert.equal(hdlcInPpp.ok, true);
  assert.equal(hdlcInPpp.out.l3Off, O + 4);
  assert.equal(hdlcInPpp.c.chdlc, 1);
  // Cisco FabricPath: outer Ethernet (type 0x8903), ftag/TTL, inner Ethernet with a VLAN tag.
  const inner = udpFrame({ src: '1.2.3.4', dst: '5.6.7.8', sport: 9, dport: 10, vlan: 33 });
  const fp = dec(linkWrap({}, concat(Uint8Array.of(0x00, 0x3f), inner), 0x8903));
  assert.equal(fp.ok, true);
  assert.equal(fp.out.l3Off, O + 14 + 2 + 18);
  assert.equal(fp.out.vlan, 33);
  const lcp = dec(concat(Uint8Array.of(0xff, 0x03, 0xc0, 0x21), new Uint8Array(10)), 9);
  assert.equal(lcp.ok, false);
  assert.equal(lcp.c.unknown_ppp_protocol, 1);
  // PPPoE session: ver/type 0x11, code 0, session 0x1234, length, PPP protocol 0x0021.
  const pppoe = dec(linkWrap({}, concat(Uint8Array.of(0x11, 0, 0x12, 0x34, 0, ip.length + 2, 0, 0x21), ip), 0x8864));
  assert.equal(pppoe.ok, true);
  assert.equal(pppoe.out.l3Off, O + 14 + 8);
  assert.equal(pppoe.c.pppoe, 1);
  // MPLS: two labels, the second with bottom-of-stack.
  const mpls = dec(linkWrap({}, concat(Uint8Array.of(0, 0x01, 0x00, 0x40, 0, 0x02, 0x01, 0x40), ip), 0x8847));
  assert.equal(mpls.ok, true);
  assert.equal(mpls.out.l3Off, O + 14 + 8);
  assert.equal(mpls.c.mpls, 1);
  // 802.3 frame with LLC/SNAP carrying IPv4, and one with plain LLC (STP).
  const snap = dec(linkWrap({}, concat(Uint8Array.of(0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00), ip), ip.length + 8));
  assert.equal(snap.ok, true);
  assert.equal(snap.out.l3Off, O + 22);
  const stp = dec(linkWrap({}, Uint8Array.of(0x42, 0x42, 0x03, 0, 0, 0, 0, 0), 38));
  assert.equal(stp.ok, false);
  assert.equal(stp.c.llc, 1);
  // PPI header (8 bytes, little-endian) around an Ethernet frame; around 802.11 it is skipped.
  const eth = udpFrame({ src: '1.2.3.4', dst: '5.6.7.8', sport: 9, dport: 10 });
  const ppi = dec(concat(Uint8Array.of(0, 0, 8, 0, 1, 0, 0, 0), eth), 192);
  assert.equal(ppi.ok, true);
  assert.equal(ppi.out.l3Off, O + 8 + 14);
  const wifi = dec(concat(Uint8Array.of(0, 0, 8, 0, 105, 0, 0, 0), new Uint8Array(40)), 192);
  assert.equal(wifi.ok, false);
  assert.deepEqual(nonZero(wifi.c), { frames: 1, ppi: 1, unknown_linktype: 1, skipped_linktypes: { '105': 1 } });
});

test('unknown link types and non-IP ethertypes are counted and skipped', () => {
  const c = new DecodeCounters();
  const out = new DecodedPacket();
  const f = newRawFrame();
  f.buf = new Uint8Array(60);
  f.capLen = f.wireLen = 60;
  for (const lt of [127, 127, 105, 1]) {
    f.linkType = lt;
    assert.equal(decodeFrame(f, out, c), false);
  }
  // The last one: Ethernet with ethertype 0 (< 0x600, an 802.3 length) and no SNAP.
  const arp = linkWrap({}, new Uint8Array(28), 0x0806);
  f.buf = arp;
  f.capLen = f.wireLen = arp.length;
  f.linkType = 1;
  assert.equal(decodeFrame(f, out, c), false);
  assert.deepEqual(nonZero(c), {
    frames: 5,
    ethernet: 2,
    unknown_linktype: 3,
    llc: 1,
    unknown_ethertype: 1,
    skipped_linktypes: { '105': 1, '127': 2 },
  });
  const sum = new DecodeCounters();
  sum.add(c);
  sum.add(c);
  assert.equal(sum.frames, 10);
  assert.deepEqual(sum.toJSON().skipped_linktypes, { '105': 2, '127': 4 });
  sum.reset();
  assert.deepEqual(nonZero(sum), {});
});

test('IPv4 fragments: first decoded as far as headers go, others skipped', () => {
  const seg = tcpSegment({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1000, dport: 2000, payload: 'x'.repeat(100) });
  const first = dec(linkWrap({}, ipPacket({ src: '10.0.0.1', dst: '10.0.0.2', moreFragments: true }, 6, seg.subarray(0, 64))));
  assert.equal(first.ok, true);
  assert.equal(first.out.dstPort, 2000);
  assert.equal(first.out.ipLen, 84);
  assert.equal(first.out.payloadLen, 44); // the bytes of this fragment after the TCP header
  assert.deepEqual(nonZero(first.c), { frames: 1, ethernet: 1, ipv4: 1, ipv4_fragments_first: 1, tcp: 1 });
  const rest = dec(linkWrap({}, ipPacket({ src: '10.0.0.1', dst: '10.0.0.2', fragOffset: 64 }, 6, seg.subarray(64))));
  assert.equal(rest.ok, false);
  assert.equal(rest.out.ipVersion, 0);
  assert.deepEqual(nonZero(rest.c), { frames: 1, ethernet: 1, ipv4_fragments_skipped: 1 });
  // DF set, offset 0: not a fragment.
  const df = dec(linkWrap({}, ipPacket({ src: '10.0.0.1', dst: '10.0.0.2', dontFragment: true }, 6, seg)));
  assert.equal(df.c.ipv4_fragments_first, 0);
  assert.equal(df.ok, true);
});

test('IPv6 extension headers: hop-by-hop, routing, destination options, AH, fragment', () => {
  const base = { src: '2001:db8::1', dst: '2001:db8::2', sport: 40000, dport: 443, flags: 'A' as const, payload: 'abc' };
  const hbh = { type: 0, bytes: [0, 1, 4, 0, 0, 0, 0] }; // 8 bytes
  const rt = { type: 43, bytes: [2, 0, 1, 0, 0, 0, 0, ...new Uint8Array(16)] }; // (2+1)*8 = 24 bytes
  const dst = { type: 60, bytes: [1, 1, 12, ...new Uint8Array(12)] }; // (1+1)*8 = 16 bytes
  const ah = { type: 51, bytes: [4, 0, 0, 0, 0, 1, 0, 0, 0, 9, ...new Uint8Array(13)] }; // (4+2)*4 = 24 bytes
  const frag0 = { type: 44, bytes: [0, 0, 1, 0, 0, 0, 5] }; // offset 0, M=1
  const frag1 = { type: 44, bytes: [0, 0, 0x10, 0, 0, 0, 5] }; // offset 2 (×8 bytes), M=0
  const ext = [hbh, rt, dst, ah, frag0];
  const { ok, out, c } = dec(tcpFrame({ ...base, ipv6Ext: ext }));
  assert.equal(ok, true);
  assert.equal(out.l4Off, O + 14 + 40 + 8 + 24 + 16 + 24 + 8);
  assert.equal(out.proto, 6);
  assert.equal(out.dstPort, 443);
  assert.equal(out.ipLen, 40 + 80 + 20 + 3);
  assert.equal(out.payloadLen, 3);
  assert.deepEqual(nonZero(c), { frames: 1, ethernet: 1, ipv6: 1, ipv6_fragments_first: 1, tcp: 1 });
  const later = dec(tcpFrame({ ...base, ipv6Ext: [hbh, frag1] }));
  assert.equal(later.ok, false);
  assert.deepEqual(nonZero(later.c), { frames: 1, ethernet: 1, ipv6_fragments_skipped: 1 });
  // Nine destination-options headers: beyond the cap.
  const deep = dec(tcpFrame({ ...base, ipv6Ext: Array(9).fill({ type: 60, bytes: [0, 1, 4, 0, 0, 0, 0] }) }));
  assert.equal(deep.ok, false);
  assert.equal(deep.c.too_deep, 1);
  // Eight are fine.
  assert.equal(dec(tcpFrame({ ...base, ipv6Ext: Array(8).fill({ type: 60, bytes: [0, 1, 4, 0, 0, 0, 0] }) })).ok, true);
  // An extension header claiming more bytes than the packet has.
  const long = dec(tcpFrame({ ...base, ipv6Ext: [{ type: 60, bytes: [200, 1, 4, 0, 0, 0, 0] }] }));
  assert.equal(long.ok, false);
  assert.equal(long.c.bad_ip_header, 1);
  // No next header (59): an IP packet without transport.
  const none = dec(linkWrap({}, ipPacket({ src: '::1', dst: '::2' }, 59, new Uint8Array(0))));
  assert.equal(none.ok, true);
  assert.equal(none.out.proto, 59);
  assert.equal(none.c.other_l4, 1);
});

test('snap length cut: lengths from the headers, payload parsed as far as present', () => {
  const bytes = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 443, payload: new Uint8Array(1400) });
  assert.equal(bytes.length, 1454);
  const cut = dec(bytes.subarray(0, 96), 1, { wireLen: 1454 });
  assert.equal(cut.ok, true);
  assert.equal(cut.out.ipLen, 1440);
  assert.equal(cut.out.payloadOff, O + 54);
  assert.equal(cut.out.payloadLen, 1400);
  assert.equal(cut.out.payloadCapLen, 42);
  assert.equal(cut.out.capLen, 96);
  assert.equal(cut.out.wireLen, 1454);
  assert.equal(cut.c.payload_cut, 1);
  // Cut inside the TCP header: no usable ports.
  const inTcp = dec(bytes.subarray(0, 44), 1, { wireLen: 1454 });
  assert.equal(inTcp.ok, false);
  assert.equal(inTcp.c.truncated, 1);
  // Cut inside the IPv4 header, the Ethernet header, the IPv6 header.
  assert.equal(dec(bytes.subarray(0, 30), 1, { wireLen: 1454 }).c.truncated, 1);
  assert.equal(dec(bytes.subarray(0, 10), 1, { wireLen: 1454 }).c.truncated, 1);
  const v6 = udpFrame({ src: '::1', dst: '::2', sport: 1, dport: 2, payload: 'abc' });
  assert.equal(dec(v6.subarray(0, 50), 1, { wireLen: v6.length }).c.truncated, 1);
});

test('ipLen from the frame when the header says 0 or more than the frame (segmentation offload)', () => {
  const seg = tcpSegment({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: new Uint8Array(3000) });
  const zero = dec(linkWrap({}, ipPacket({ src: '10.0.0.1', dst: '10.0.0.2', ipLenField: 0 }, 6, seg)));
  assert.equal(zero.ok, true);
  assert.equal(zero.out.ipLen, 20 + 20 + 3000);
  assert.equal(zero.out.payloadLen, 3000);
  assert.equal(zero.c.ip_len_from_frame, 1);
  const big = dec(linkWrap({}, ipPacket({ src: '10.0.0.1', dst: '10.0.0.2', ipLenField: 9000 }, 6, seg)));
  assert.equal(big.out.ipLen, 3040);
  // Captured 100 bytes of a frame of 3054 on the wire with total length 0: wire length minus the link header.
  const frame = linkWrap({}, ipPacket({ src: '10.0.0.1', dst: '10.0.0.2', ipLenField: 0 }, 6, seg));
  const snapped = dec(frame.subarray(0, 100), 1, { wireLen: frame.length });
  assert.equal(snapped.out.ipLen, 3040);
  assert.equal(snapped.out.payloadCapLen, 46);
  const v6 = dec(linkWrap({}, ipPacket({ src: '::1', dst: '::2', ipLenField: 0 }, 17, udpDatagram({ src: '::1', dst: '::2', sport: 1, dport: 2, payload: 'abcd' }))));
  assert.equal(v6.out.ipLen, 40 + 12);
  assert.equal(v6.c.ip_len_from_frame, 1);
  // Ethernet padding after a short IP packet is not counted in ipLen.
  const small = udpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 });
  const padded = dec(concat(small, new Uint8Array(60 - small.length)));
  assert.equal(padded.out.ipLen, 28);
  assert.equal(padded.out.payloadLen, 0);
  assert.equal(padded.out.payloadCapLen, 0);
});

test('bad headers are counted, never thrown', () => {
  const good = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 });
  const mut = (i: number, v: number) => {
    const b = good.slice();
    b[i] = v;
    return dec(b);
  };
  assert.equal(mut(14, 0x55).c.bad_ip_header, 1); // version 5
  assert.equal(mut(14, 0x44).c.bad_ip_header, 1); // IHL 4
  assert.equal(mut(14, 0x4f).c.truncated, 1); // IHL 15 = 60 bytes, frame too short
  const tot = good.slice();
  tot[16] = 0;
  tot[17] = 12; // total length 12 < IHL
  assert.equal(dec(tot).c.bad_ip_header, 1);
  assert.equal(mut(14 + 20 + 12, 0x40).c.bad_tcp_header, 1); // data offset 4
  // Data offset 60 > the 20-byte segment: the fixed header is kept, with no payload.
  const cut = mut(14 + 20 + 12, 0xf0);
  assert.equal(cut.ok, true);
  assert.equal(cut.c.tcp_options_cut, 1);
  assert.equal(cut.out.payloadOff, O + 54);
  assert.equal(cut.out.payloadLen, 0);
  assert.equal(cut.out.srcPort, 1);
  // UDP in an IP packet too short for its header.
  const u = dec(linkWrap({}, ipPacket({ src: '1.1.1.1', dst: '2.2.2.2' }, 17, new Uint8Array(4))));
  assert.equal(u.ok, false);
  assert.equal(u.c.bad_udp_header, 1);
  const raw = dec(Uint8Array.of(0x50, 0, 0, 0), 101);
  assert.equal(raw.c.bad_ip_header, 1);
  // Zero-length frame on every link type.
  for (const lt of [0, 1, 9, 101, 104, 108, 113, 192, 228, 229, 276]) assert.equal(dec(new Uint8Array(0), lt).ok, false);
});

test('random bytes on every link type never throw and offsets stay inside the frame', () => {
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 16;
  };
  const c = new DecodeCounters();
  const out = new DecodedPacket();
  const f = newRawFrame();
  const lts = [0, 1, 9, 12, 50, 101, 104, 108, 113, 192, 228, 229, 276];
  const seeds = [
    tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: 'abcdef', vlan: [1, 2] }),
    udpFrame({ src: '::1', dst: '::2', sport: 1, dport: 2, payload: 'abcdef', ipv6Ext: [{ type: 0, bytes: [0, 1, 4, 0, 0, 0, 0] }] }),
  ];
  let decoded = 0;
  for (let i = 0; i < 20000; i++) {
    const seed = seeds[i & 1]!;
    const len = rnd() % (seed.length + 8);
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) b[j] = j < seed.length && rnd() % 8 !== 0 ? seed[j]! : rnd() & 0xff;
    f.buf = b;
    f.off = 0;
    f.capLen = len;
    f.wireLen = rnd() % 3 === 0 ? rnd() : len;
    f.linkType = i % 5 === 0 ? lts[rnd() % lts.length]! : 1;
    if (decodeFrame(f, out, c)) {
      decoded++;
      const at = `frame ${i} link ${f.linkType}`;
      assert.ok(out.l3Off >= 0 && out.dstAddrOff + (out.ipVersion === 4 ? 4 : 16) <= len, at);
      assert.ok(out.payloadCapLen === 0 || out.payloadOff + out.payloadCapLen <= len, at);
      assert.ok(out.payloadCapLen >= 0 && out.payloadCapLen <= out.payloadLen, at);
      assert.ok(out.ipLen >= (out.ipVersion === 4 ? 20 : 40), `${at} ipLen ${out.ipLen}`);
    }
  }
  assert.equal(c.frames, 20000);
  assert.ok(decoded > 1000, `decoded ${decoded}`);
});

test('tunnels: outer packet by default; with { tunnels: true } the inner one', () => {
  const inner = { src: '192.168.7.1', dst: '192.168.7.2', sport: 50000, dport: 443, seq: 77, flags: 'PA', payload: 'tls!' };
  const innerIp = ipPacket(inner, 6, tcpSegment(inner)); // 20 + 20 + 4 = 44 bytes
  const outer = { src: '10.0.0.1', dst: '10.0.0.2' };
  const run = (frame: Uint8Array) => {
    const buf = new Uint8Array(frame.length + 7);
    buf.set(frame, 7);
    const f = newRawFrame();
    f.buf = buf;
    f.off = 7;
    f.linkType = 1;
    f.capLen = f.wireLen = frame.length;
    const out = new DecodedPacket();
    const c = new DecodeCounters();
    const ok = decodeFrame(f, out, c, { tunnels: true });
    const plain = new DecodedPacket();
    decodeFrame(f, plain, new DecodeCounters());
    return { ok, out, c, plain };
  };
  const expectInner = (r: ReturnType<typeof run>, l3Off: number, depth = 1) => {
    assert.equal(r.ok, true);
    assert.equal(r.out.tunnelDepth, depth);
    assert.equal(addr(r.out, r.out.srcAddrOff), '192.168.7.1');
    assert.equal(addr(r.out, r.out.dstAddrOff), '192.168.7.2');
    assert.deepEqual([r.out.proto, r.out.srcPort, r.out.dstPort, r.out.tcpSeq, r.out.ipLen, r.out.payloadLen], [6, 50000, 443, 77, 44, 4]);
    assert.equal(r.out.l3Off, O + l3Off);
    assert.equal(r.c.tunnels, depth);
    assert.equal(r.plain.tunnelDepth, 0);
    assert.equal(addr(r.plain, r.plain.srcAddrOff), r.plain.ipVersion === 4 ? '10.0.0.1' : '2001:db8:0:0:0:0:0:1');
  };
  // IPv4 in IPv4 (protocol 4); IPv4 in IPv6 (next header 4).
  expectInner(run(linkWrap({}, ipPacket(outer, 4, innerIp))), 14 + 20);
  expectInner(run(linkWrap({}, ipPacket({ src: '2001:db8::1', dst: '2001:db8::2' }, 4, innerIp))), 14 + 40);
  // GRE without options, and with key + sequence number (8 more bytes).
  expectInner(run(linkWrap({}, ipPacket(outer, 47, concat(Uint8Array.of(0, 0, 0x08, 0x00), innerIp)))), 14 + 20 + 4);
  expectInner(run(linkWrap({}, ipPacket(outer, 47, concat(Uint8Array.of(0x30, 0, 0x08, 0x00, 0, 0, 0, 9, 0, 0, 0, 1), innerIp)))), 14 + 20 + 12);
  // PPTP GRE v1: key, sequence and ack present, then PPP (ff 03 00 21).
  const pptp = Uint8Array.of(0x30, 0x81, 0x88, 0x0b, 0, 48, 0, 1, 0, 0, 0, 5, 0, 0, 0, 4, 0xff, 0x03, 0x00, 0x21);
  expectInner(run(linkWrap({}, ipPacket(outer, 47, concat(pptp, innerIp)))), 14 + 20 + 20);
  // GRE carrying Ethernet with its own VLAN tag: the frame's VLAN stays the outer one.
  const teb = run(linkWrap({ vlan: 100 }, ipPacket(outer, 47, concat(Uint8Array.of(0, 0, 0x65, 0x58), linkWrap({ vlan: 7 }, innerIp)))));
  expectInner(teb, 18 + 20 + 4 + 18);
  assert.equal(teb.out.vlan, 100);
  // VXLAN: UDP to 4789, 8-byte header, Ethernet.
  const vx = concat(Uint8Array.of(0x08, 0, 0, 0, 0, 0x12, 0x34, 0), linkWrap({}, innerIp));
  expectInner(run(udpFrame({ ...outer, sport: 33333, dport: 4789, payload: vx })), 14 + 20 + 8 + 8 + 14);
  // GTP-U G-PDU, plain and with an extension header (PDU session container, 4 bytes).
  const gtp = concat(Uint8Array.of(0x30, 0xff, 0, 44, 0, 0, 0, 1), innerIp);
  expectInner(run(udpFrame({ ...outer, sport: 2152, dport: 2152, payload: gtp })), 14 + 20 + 8 + 8);
  const gtpExt = concat(Uint8Array.of(0x34, 0xff, 0, 52, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x09, 0), innerIp);
  expectInner(run(udpFrame({ ...outer, sport: 2152, dport: 2152, payload: gtpExt })), 14 + 20 + 8 + 16);
  // Three nested IP-in-IP: two are opened, the packet returned is the second level's.
  const nested = ipPacket(outer, 4, ipPacket({ src: '10.1.0.1', dst: '10.1.0.2' }, 4, ipPacket({ src: '10.2.0.1', dst: '10.2.0.2' }, 4, innerIp)));
  const n = run(linkWrap({}, nested));
  assert.equal(n.out.tunnelDepth, 2);
  assert.equal(addr(n.out, n.out.srcAddrOff), '10.2.0.1');
  assert.equal(n.out.proto, 4);
  assert.equal(n.out.srcPort, 0);
  // Not a tunnel: UDP to 4789 without the VXLAN I flag stays the outer packet.
  const notVx = run(udpFrame({ ...outer, sport: 1, dport: 4789, payload: new Uint8Array(30) }));
  assert.equal(notVx.out.tunnelDepth, 0);
  assert.equal(notVx.out.dstPort, 4789);
  assert.equal(notVx.out.l3Off, O + 14);
});
