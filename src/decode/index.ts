/**
 * Frame decoding: link layer → IPv4/IPv6 → TCP/UDP, into a reused DecodedPacket.
 * Allocates nothing per frame; anomalies are counted in DecodeCounters, never thrown.
 */
import type { RawFrame } from '../capture/reader.js';
import { DecodeCounters } from './counters.js';
import { decodeIpv4, decodeIpv6 } from './ip.js';
import { decodeLink, ETH_IPV4, ETH_IPV6, LINKTYPE_ETHERNET } from './link.js';
import type { DecodedPacket } from './packet.js';
import { MAX_TUNNEL_DEPTH, tunnelInner } from './tunnel.js';

export { DecodeCounters } from './counters.js';
export { DecodedPacket } from './packet.js';
export { MAX_LINK_DEPTH } from './link.js';
export { MAX_IPV6_EXT_HEADERS } from './ip.js';
export { MAX_TUNNEL_DEPTH } from './tunnel.js';

export interface DecodeOptions {
  /**
   * Decapsulate IP-in-IP, GRE, VXLAN and GTP-U (up to MAX_TUNNEL_DEPTH levels): the
   * packet given back is the innermost one (its addresses, ports, ipLen), with
   * out.tunnelDepth > 0. Off by default.
   */
  tunnels?: boolean;
}

/**
 * Decodes one frame into `out` (reset first; out.buf = frame.buf, offsets index it).
 * Returns true when an IPv4/IPv6 packet was decoded: addresses, ipLen and proto
 * are set, and for TCP/UDP the ports (and TCP fields) too. A TCP/UDP packet whose
 * transport header is missing or invalid gives false (counted), so a true result
 * always has usable ports for TCP/UDP. Payload bytes present are
 * buf[payloadOff .. payloadOff+payloadCapLen); payloadLen is the length on the wire
 * (when payloadCapLen is 0, payloadOff may lie past the captured bytes).
 * out.wireLen is max(frame.wireLen, frame.capLen). Counters count headers: with
 * tunnels on, a frame's outer and inner layers are both counted.
 */
export function decodeFrame(frame: RawFrame, out: DecodedPacket, c: DecodeCounters, opts?: DecodeOptions): boolean {
  const ok = decodeOuter(frame, out, c);
  return ok && opts !== undefined && opts.tunnels === true ? decapsulate(out.buf, out, c) : ok;
}

function decodeOuter(frame: RawFrame, out: DecodedPacket, c: DecodeCounters): boolean {
  c.frames++;
  out.reset();
  const b = frame.buf;
  const start = frame.off;
  const capLen = frame.capLen;
  // (taken from the double field in the common case wireLen === capLen too, so that the code
  // below sees a double from the first frame and is not deoptimised by a huge wire length)
  let wireLen = frame.wireLen;
  if (wireLen < capLen) wireLen = capLen;
  out.tsSec = frame.tsSec;
  out.tsNsec = frame.tsNsec;
  out.capLen = capLen;
  out.wireLen = wireLen;
  out.buf = b;
  out.linkType = frame.linkType;
  out.interfaceId = frame.interfaceId;
  let end = start + capLen;
  if (end > b.length) end = b.length;
  if (frame.linkType === LINKTYPE_ETHERNET && end - start >= 14) {
    // Fast path for the common case: untagged Ethernet carrying IP.
    const et = (b[start + 12] << 8) | b[start + 13];
    if (et === ETH_IPV4) {
      c.ethernet++;
      return decodeIpv4(b, start + 14, end, start + wireLen, out, c);
    }
    if (et === ETH_IPV6) {
      c.ethernet++;
      return decodeIpv6(b, start + 14, end, start + wireLen, out, c);
    }
  }
  const net = decodeLink(frame.linkType, b, start, end, out, c);
  if (net === ETH_IPV4) return decodeIpv4(b, out.l3Off, end, start + wireLen, out, c);
  if (net === ETH_IPV6) return decodeIpv6(b, out.l3Off, end, start + wireLen, out, c);
  return false;
}

function decapsulate(b: Uint8Array, out: DecodedPacket, c: DecodeCounters): boolean {
  for (let depth = 1; depth <= MAX_TUNNEL_DEPTH; depth++) {
    // The inner packet lies in the captured part of the outer payload; its length on
    // the wire is bounded by the outer payload's.
    const capEnd = out.payloadOff + out.payloadCapLen;
    const wireEnd = out.payloadOff + out.payloadLen;
    const net = tunnelInner(b, out, c);
    if (net === 0) return true;
    c.tunnels++;
    out.tunnelDepth = depth;
    out.srcPort = out.dstPort = 0;
    out.tcpSeq = out.tcpAck = out.tcpFlags = out.tcpWindow = 0;
    const ok =
      net === ETH_IPV4 ? decodeIpv4(b, out.l3Off, capEnd, wireEnd, out, c) : decodeIpv6(b, out.l3Off, capEnd, wireEnd, out, c);
    if (!ok) {
      out.ipVersion = 0;
      return false;
    }
  }
  return true;
}
