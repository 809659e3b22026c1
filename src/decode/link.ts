/**
 * Link layers. Each decoder checks the length before reading, counts what it
 * saw, and answers the network protocol it found (ETH_IPV4 / ETH_IPV6, with
 * the offset of that header in out.l3Off) or 0 when the frame carries nothing
 * we decode (counted).
 */
import type { DecodedPacket } from './packet.js';
import type { DecodeCounters } from './counters.js';

/** LINKTYPE_* values (tcpdump.org/linktypes.html) handled here. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_PPP = 9;
export const LINKTYPE_RAW_DLT12 = 12;
export const LINKTYPE_RAW_DLT14 = 14;
export const LINKTYPE_PPP_HDLC = 50;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_C_HDLC = 104;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_PPI = 192;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD1 = 0x9100;
const ETH_QINQ_OLD2 = 0x9200;
const ETH_PPPOE_SESSION = 0x8864;
const ETH_MPLS_UC = 0x8847;
const ETH_MPLS_MC = 0x8848;
/** Cisco FabricPath: 2 bytes (ftag, TTL), then the inner Ethernet header. */
const ETH_FABRICPATH = 0x8903;

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;

/** Most tags + labels followed inside one link header. */
export const MAX_LINK_DEPTH = 8;

/** BSD loopback address families meaning IPv6 (NetBSD/OpenBSD, FreeBSD, Darwin). */
const AF_INET = 2;
const AF_INET6_BSD = 24;
const AF_INET6_FREEBSD = 28;
const AF_INET6_DARWIN = 30;

/**
 * Decodes the link header of a frame of link type `lt` in b[o .. end).
 * `inPpi` stops PPI from nesting into itself.
 */
export function decodeLink(
  lt: number,
  b: Uint8Array,
  o: number,
  end: number,
  out: DecodedPacket,
  c: DecodeCounters,
  inPpi = false,
): number {
  switch (lt) {
    case LINKTYPE_ETHERNET:
      if (end - o < 14) {
        c.truncated++;
        return 0;
      }
      c.ethernet++;
      return etherType(b, o + 14, end, (b[o + 12] << 8) | b[o + 13], out, c);
    case LINKTYPE_LINUX_SLL:
      if (end - o < 16) {
        c.truncated++;
        return 0;
      }
      c.sll++;
      return etherType(b, o + 16, end, (b[o + 14] << 8) | b[o + 15], out, c);
    case LINKTYPE_LINUX_SLL2:
      if (end - o < 20) {
        c.truncated++;
        return 0;
      }
      c.sll2++;
      return etherType(b, o + 20, end, (b[o] << 8) | b[o + 1], out, c);
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_DLT12:
    case LINKTYPE_RAW_DLT14:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6: {
      if (end - o < 1) {
        c.truncated++;
        return 0;
      }
      c.raw_ip++;
      out.l3Off = o;
      const v = b[o] >> 4;
      // 228/229 promise one version; the header's nibble is checked by the IP decoder.
      if (lt === LINKTYPE_IPV4) return ETH_IPV4;
      if (lt === LINKTYPE_IPV6) return ETH_IPV6;
      if (v === 4) return ETH_IPV4;
      if (v === 6) return ETH_IPV6;
      c.bad_ip_header++;
      return 0;
    }
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (end - o < 4) {
        c.truncated++;
        return 0;
      }
      c.loopback++;
      // NULL: host byte order of the capturing machine (the family fits in the low 16 bits);
      // LOOP: network byte order.
      const fam =
        lt === LINKTYPE_LOOP || (b[o] === 0 && b[o + 1] === 0)
          ? ((b[o + 2] << 8) | b[o + 3]) + (b[o] | b[o + 1]) * 65536
          : b[o] | (b[o + 1] << 8) | ((b[o + 2] | b[o + 3]) << 16);
      out.l3Off = o + 4;
      if (fam === AF_INET) return ETH_IPV4;
      if (fam === AF_INET6_BSD || fam === AF_INET6_FREEBSD || fam === AF_INET6_DARWIN) return ETH_IPV6;
      c.unknown_loopback_family++;
      return 0;
    }
    case LINKTYPE_PPP:
    case LINKTYPE_PPP_HDLC: {
      let p = o;
      if (end - p >= 4 && (b[p] === 0x0f || b[p] === 0x8f) && b[p + 1] === 0x00) {
        // Cisco HDLC framing recorded as PPP (as Wireshark recognises it).
        c.chdlc++;
        return etherType(b, p + 4, end, (b[p + 2] << 8) | b[p + 3], out, c);
      }
      if (end - p >= 2 && b[p] === 0xff && b[p + 1] === 0x03) p += 2;
      if (end - p < 1) {
        c.truncated++;
        return 0;
      }
      c.ppp++;
      let proto: number;
      if (b[p] & 1) {
        // Protocol field compressed to one byte.
        proto = b[p];
        p += 1;
      } else {
        if (end - p < 2) {
          c.truncated++;
          return 0;
        }
        proto = (b[p] << 8) | b[p + 1];
        p += 2;
      }
      return pppProtocol(proto, p, out, c);
    }
    case LINKTYPE_C_HDLC:
      if (end - o < 4) {
        c.truncated++;
        return 0;
      }
      c.chdlc++;
      return etherType(b, o + 4, end, (b[o + 2] << 8) | b[o + 3], out, c);
    case LINKTYPE_PPI: {
      if (inPpi) break;
      if (end - o < 8) {
        c.truncated++;
        return 0;
      }
      // Little-endian header: version, flags, length (u16), inner link type (u32).
      const hlen = b[o + 2] | (b[o + 3] << 8);
      const inner = (b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24)) >>> 0;
      if (hlen < 8 || hlen > end - o) {
        c.truncated++;
        return 0;
      }
      c.ppi++;
      return decodeLink(inner, b, o + hlen, end, out, c, true);
    }
  }
  c.unknown_linktype++;
  c.skipped_linktypes.set(lt, (c.skipped_linktypes.get(lt) ?? 0) + 1);
  return 0;
}

function pppProtocol(proto: number, p: number, out: DecodedPacket, c: DecodeCounters): number {
  out.l3Off = p;
  if (proto === PPP_IPV4) return ETH_IPV4;
  if (proto === PPP_IPV6) return ETH_IPV6;
  c.unknown_ppp_protocol++;
  return 0;
}

/**
 * Follows an ethertype at b[o]: VLAN tags (802.1Q, 802.1ad, QinQ), PPPoE
 * session, MPLS label stacks, Cisco FabricPath and LLC/SNAP, up to MAX_LINK_DEPTH levels.
 */
export function etherType(b: Uint8Array, o: number, end: number, type: number, out: DecodedPacket, c: DecodeCounters): number {
  let tags = 0;
  for (let depth = 0; depth <= MAX_LINK_DEPTH; depth++) {
    switch (type) {
      case ETH_IPV4:
      case ETH_IPV6:
        out.l3Off = o;
        return type;
      case ETH_VLAN:
      case ETH_QINQ:
      case ETH_QINQ_OLD1:
      case ETH_QINQ_OLD2:
        if (end - o < 4) {
          c.truncated++;
          return 0;
        }
        if (tags === 0) {
          out.vlan = ((b[o] << 8) | b[o + 1]) & 0x0fff;
          c.vlan++;
        } else if (tags === 1) {
          c.qinq++;
        }
        tags++;
        type = (b[o + 2] << 8) | b[o + 3];
        o += 4;
        continue;
      case ETH_FABRICPATH:
        if (end - o < 16) {
          c.truncated++;
          return 0;
        }
        type = (b[o + 14] << 8) | b[o + 15];
        o += 16;
        continue;
      case ETH_PPPOE_SESSION: {
        // ver/type, code, session id, length, then the PPP protocol.
        if (end - o < 8) {
          c.truncated++;
          return 0;
        }
        c.pppoe++;
        return pppProtocol((b[o + 6] << 8) | b[o + 7], o + 8, out, c);
      }
      case ETH_MPLS_UC:
      case ETH_MPLS_MC: {
        c.mpls++;
        for (let n = 0; ; n++) {
          if (n === MAX_LINK_DEPTH) {
            c.too_deep++;
            return 0;
          }
          if (end - o < 4) {
            c.truncated++;
            return 0;
          }
          const bottom = b[o + 2] & 1;
          o += 4;
          if (bottom) break;
        }
        if (end - o < 1) {
          c.truncated++;
          return 0;
        }
        const v = b[o] >> 4;
        out.l3Off = o;
        if (v === 4) return ETH_IPV4;
        if (v === 6) return ETH_IPV6;
        c.mpls_non_ip++;
        return 0;
      }
    }
    if (type < 0x0600) {
      // 802.3 length field: LLC; only SNAP (AA AA 03, OUI 0) carries an ethertype.
      if (end - o >= 8 && b[o] === 0xaa && b[o + 1] === 0xaa && b[o + 2] === 0x03 && (b[o + 3] | b[o + 4] | b[o + 5]) === 0) {
        type = (b[o + 6] << 8) | b[o + 7];
        o += 8;
        continue;
      }
      c.llc++;
      return 0;
    }
    c.unknown_ethertype++;
    return 0;
  }
  c.too_deep++;
  return 0;
}
