/**
 * Transport layer: TCP (with options: the payload starts at the data offset)
 * and UDP. Other protocols get their whole IP payload as `payload`.
 */
import type { DecodedPacket } from './packet.js';
import type { DecodeCounters } from './counters.js';

/**
 * Decodes the transport header at b[p]. `capEnd` is the end of the captured
 * bytes of this IP packet, `l4Len` the transport length on the wire (from the IP
 * header). Returns false when a TCP/UDP header is unusable (counted).
 */
export function decodeTransport(
  b: Uint8Array,
  p: number,
  capEnd: number,
  l4Len: number,
  proto: number,
  out: DecodedPacket,
  c: DecodeCounters,
): boolean {
  out.proto = proto;
  out.l4Off = p;
  let hl: number;
  if (proto === 6) {
    if (l4Len < 20) {
      c.bad_tcp_header++;
      return false;
    }
    if (capEnd - p < 20) {
      c.truncated++;
      return false;
    }
    hl = (b[p + 12] >> 4) * 4;
    if (hl < 20) {
      c.bad_tcp_header++;
      return false;
    }
    if (hl > l4Len) {
      // Options announced beyond the end of the IP packet (seen when the IP length is cut
      // with the frame): the fixed header is usable, there is no payload.
      c.tcp_options_cut++;
      hl = l4Len;
    }
    out.srcPort = (b[p] << 8) | b[p + 1];
    out.dstPort = (b[p + 2] << 8) | b[p + 3];
    out.tcpSeq = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
    out.tcpAck = ((b[p + 8] << 24) | (b[p + 9] << 16) | (b[p + 10] << 8) | b[p + 11]) >>> 0;
    out.tcpFlags = b[p + 13];
    out.tcpWindow = (b[p + 14] << 8) | b[p + 15];
    c.tcp++;
  } else if (proto === 17) {
    if (l4Len < 8) {
      c.bad_udp_header++;
      return false;
    }
    if (capEnd - p < 8) {
      c.truncated++;
      return false;
    }
    hl = 8;
    out.srcPort = (b[p] << 8) | b[p + 1];
    out.dstPort = (b[p + 2] << 8) | b[p + 3];
    c.udp++;
  } else {
    hl = 0;
    c.other_l4++;
  }
  const po = p + hl;
  const plen = l4Len - hl;
  let pcap = capEnd - po;
  if (pcap < 0) pcap = 0;
  else if (pcap > plen) pcap = plen;
  out.payloadOff = po;
  out.payloadLen = plen;
  out.payloadCapLen = pcap;
  if (pcap < plen) c.payload_cut++;
  return true;
}
