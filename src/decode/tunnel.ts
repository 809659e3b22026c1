/**
 * Optional tunnel decapsulation (DecodeOptions.tunnels): IP-in-IP (4in4, 6in4,
 * 4in6, 6in6), GRE version 0 carrying IP or Ethernet, PPTP's GRE version 1
 * carrying PPP, VXLAN (UDP 4789) and
 * GTP-U (UDP 2152). Off by default: the outer packet is what the sensor sees.
 */
import type { DecodedPacket } from './packet.js';
import type { DecodeCounters } from './counters.js';
import { ETH_IPV4, ETH_IPV6, etherType } from './link.js';

/** Most tunnels opened for one frame. */
export const MAX_TUNNEL_DEPTH = 2;

const UDP_VXLAN = 4789;
const UDP_GTPU = 2152;
const GRE_TEB = 0x6558;

/**
 * When `out` (a decoded packet) is a tunnel, finds the inner packet in its
 * captured payload and returns ETH_IPV4 / ETH_IPV6 with out.l3Off set to it;
 * otherwise returns 0 and leaves `out` unchanged.
 */
export function tunnelInner(b: Uint8Array, out: DecodedPacket, c: DecodeCounters): number {
  const p = out.payloadOff;
  const end = p + out.payloadCapLen;
  switch (out.proto) {
    case 4:
      out.l3Off = p;
      return ETH_IPV4;
    case 41:
      out.l3Off = p;
      return ETH_IPV6;
    case 47: {
      if (end - p < 4) return 0;
      const flags = b[p];
      const version = b[p + 1] & 0x07;
      if (version === 1) return pptpGre(b, p, end, out);
      // Version 0 without a routing field.
      if (version !== 0 || flags & 0x40) return 0;
      const hl = 4 + (flags & 0x80 ? 4 : 0) + (flags & 0x20 ? 4 : 0) + (flags & 0x10 ? 4 : 0);
      if (end - p < hl) return 0;
      const proto = (b[p + 2] << 8) | b[p + 3];
      if (proto === ETH_IPV4 || proto === ETH_IPV6) {
        out.l3Off = p + hl;
        return proto;
      }
      if (proto === GRE_TEB) return innerEthernet(b, p + hl, end, out, c);
      return 0;
    }
    case 17:
      if (out.dstPort === UDP_VXLAN) {
        // Flags with the I bit, 3 reserved, VNI (3), reserved; then Ethernet.
        if (end - p < 8 || (b[p] & 0x08) === 0) return 0;
        return innerEthernet(b, p + 8, end, out, c);
      }
      if (out.dstPort === UDP_GTPU || out.srcPort === UDP_GTPU) {
        // GTPv1-U G-PDU: version 1, PT 1, message type 0xff.
        if (end - p < 8 || b[p] >> 5 !== 1 || (b[p] & 0x10) === 0 || b[p + 1] !== 0xff) return 0;
        let q = p + 8;
        if (b[p] & 0x07) {
          // Sequence number, N-PDU number, next extension header type.
          if (end - q < 4) return 0;
          let next = b[q + 3];
          q += 4;
          for (let n = 0; next !== 0; n++) {
            if (n === 8 || end - q < 4 || b[q] === 0) return 0;
            const len = b[q] * 4;
            if (end - q < len) return 0;
            next = b[q + len - 1];
            q += len;
          }
        }
        if (end - q < 1) return 0;
        return ipAt(b[q] >> 4, q, out);
      }
      return 0;
  }
  return 0;
}

function innerEthernet(b: Uint8Array, o: number, end: number, out: DecodedPacket, c: DecodeCounters): number {
  if (end - o < 14) return 0;
  const vlan = out.vlan;
  const l3 = out.l3Off;
  const net = etherType(b, o + 14, end, (b[o + 12] << 8) | b[o + 13], out, c);
  // The frame's VLAN is the outer one.
  out.vlan = vlan;
  if (net === 0) out.l3Off = l3;
  return net;
}

/** PPTP enhanced GRE (version 1, protocol 0x880b): key, optional sequence and ack, then PPP. */
function pptpGre(b: Uint8Array, p: number, end: number, out: DecodedPacket): number {
  if (((b[p + 2] << 8) | b[p + 3]) !== 0x880b) return 0;
  let q = p + 8 + (b[p] & 0x10 ? 4 : 0) + (b[p + 1] & 0x80 ? 4 : 0);
  if (end - q >= 2 && b[q] === 0xff && b[q + 1] === 0x03) q += 2;
  if (end - q < 2) return 0;
  let proto: number;
  if (b[q] & 1) {
    proto = b[q];
    q += 1;
  } else {
    proto = (b[q] << 8) | b[q + 1];
    q += 2;
  }
  return ipAt(proto === 0x21 ? 4 : proto === 0x57 ? 6 : 0, q, out);
}

/** ETH_IPV4 / ETH_IPV6 for IP version v, with out.l3Off = q; 0 (out untouched) otherwise. */
function ipAt(v: number, q: number, out: DecodedPacket): number {
  if (v !== 4 && v !== 6) return 0;
  out.l3Off = q;
  return v === 4 ? ETH_IPV4 : ETH_IPV6;
}
