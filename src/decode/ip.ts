/**
 * IPv4 (options, fragments) and IPv6 (extension headers). ipLen follows
 * DESIGN.md: IPv4 total length, IPv6 payload length + 40, taken from the frame's
 * wire length instead when the header says 0 or more than the frame.
 */
import type { DecodedPacket } from './packet.js';
import type { DecodeCounters } from './counters.js';
import { decodeTransport } from './transport.js';

/** Most IPv6 extension headers followed before giving up. */
export const MAX_IPV6_EXT_HEADERS = 8;

/**
 * IPv4 header at b[o]; captured bytes end at `end`, the frame on the wire at
 * `wireEnd` (>= end).
 */
export function decodeIpv4(
  b: Uint8Array,
  o: number,
  end: number,
  wireEnd: number,
  out: DecodedPacket,
  c: DecodeCounters,
): boolean {
  if (end - o < 20) {
    c.truncated++;
    return false;
  }
  const vihl = b[o];
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20) {
    c.bad_ip_header++;
    return false;
  }
  if (end - o < ihl) {
    c.truncated++;
    return false;
  }
  const total = (b[o + 2] << 8) | b[o + 3];
  const onWire = wireEnd - o;
  let ipLen: number;
  if (total === 0 || total > onWire) {
    ipLen = onWire <= 0x3fffffff ? onWire | 0 : onWire; // (a small integer when it can be one)
    c.ip_len_from_frame++;
  } else if (total < ihl) {
    c.bad_ip_header++;
    return false;
  } else {
    ipLen = total;
  }
  const frag = (b[o + 6] << 8) | b[o + 7];
  if ((frag & 0x1fff) !== 0) {
    c.ipv4_fragments_skipped++;
    return false;
  }
  if (frag & 0x2000) c.ipv4_fragments_first++;
  c.ipv4++;
  out.ipVersion = 4;
  out.l3Off = o;
  out.srcAddrOff = o + 12;
  out.dstAddrOff = o + 16;
  out.ipLen = ipLen;
  const ipEnd = o + ipLen;
  return decodeTransport(b, o + ihl, end < ipEnd ? end : ipEnd, ipLen - ihl, b[o + 9], out, c);
}

export function decodeIpv6(
  b: Uint8Array,
  o: number,
  end: number,
  wireEnd: number,
  out: DecodedPacket,
  c: DecodeCounters,
): boolean {
  if (end - o < 40) {
    c.truncated++;
    return false;
  }
  if (b[o] >> 4 !== 6) {
    c.bad_ip_header++;
    return false;
  }
  const plen = (b[o + 4] << 8) | b[o + 5];
  const onWire = wireEnd - o;
  let ipLen: number;
  if (plen === 0 || plen + 40 > onWire) {
    ipLen = onWire <= 0x3fffffff ? onWire | 0 : onWire; // (a small integer when it can be one)
    c.ip_len_from_frame++;
  } else {
    ipLen = plen + 40;
  }
  const ipEnd = o + ipLen;
  const capEnd = end < ipEnd ? end : ipEnd;
  let nh = b[o + 6];
  let p = o + 40;
  let firstFragment = false;
  for (let n = 0; ; n++) {
    let hl: number;
    if (nh === 0 || nh === 43 || nh === 60 || nh === 51) {
      // Hop-by-hop, routing, destination options: (len + 1) × 8; AH: (len + 2) × 4.
      if (capEnd - p < 2) {
        c.truncated++;
        return false;
      }
      hl = nh === 51 ? (b[p + 1] + 2) * 4 : (b[p + 1] + 1) * 8;
    } else if (nh === 44) {
      if (capEnd - p < 8) {
        c.truncated++;
        return false;
      }
      const fo = (b[p + 2] << 8) | b[p + 3];
      if ((fo & 0xfff8) !== 0) {
        c.ipv6_fragments_skipped++;
        return false;
      }
      if (fo & 1) firstFragment = true;
      hl = 8;
    } else {
      break;
    }
    if (n === MAX_IPV6_EXT_HEADERS) {
      c.too_deep++;
      return false;
    }
    if (p + hl > ipEnd) {
      c.bad_ip_header++;
      return false;
    }
    nh = b[p];
    p += hl;
  }
  if (firstFragment) c.ipv6_fragments_first++;
  c.ipv6++;
  out.ipVersion = 6;
  out.l3Off = o;
  out.srcAddrOff = o + 8;
  out.dstAddrOff = o + 24;
  out.ipLen = ipLen;
  return decodeTransport(b, p, capEnd, ipEnd - p, nh, out, c);
}
