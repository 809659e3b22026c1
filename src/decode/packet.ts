/**
 * One decoded packet. A single instance is reused for every packet of a source
 * (decode allocates nothing per packet): fields are overwritten in place and
 * byte fields are offsets into `buf`, valid only until the next packet.
 */
export const enum IpProto { ICMP = 1, TCP = 6, UDP = 17, ICMPV6 = 58 }

/** TCP flag bits as they appear in the header's flags byte. */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export class DecodedPacket {
  /** Capture timestamp: whole seconds and nanoseconds within the second. */
  /*
   * Fields that take values outside V8's small-integer range (31 bits) start as -0, a
   * double: their representation is then double from the first object on, and no map
   * change, which deoptimises every compiled function that reads them, happens when the
   * first large value arrives. Each is overwritten before it is read.
   */
  tsSec = -0;
  tsNsec = -0;
  /** Frame lengths as captured and as seen on the wire. */
  capLen = 0;
  wireLen = -0;
  /** The frame's bytes; all offsets below index into it. */
  buf: Uint8Array = new Uint8Array(0);
  /** 4 or 6; 0 when the frame carried no IP packet that could be decoded. */
  ipVersion: 0 | 4 | 6 = 0;
  /** Offset of the first address byte of source and destination (4 or 16 bytes each). */
  srcAddrOff = 0;
  dstAddrOff = 0;
  /**
   * IP-layer length of the packet for statistics: IPv4 total length, IPv6 payload
   * length + 40; taken from the frame instead when the header's value is 0 or
   * larger than the frame on the wire (segmentation offload).
   */
  ipLen = 0;
  /** Transport protocol number (after IPv6 extension headers). */
  proto = 0;
  /** Ports (0 for protocols without ports). */
  srcPort = 0;
  dstPort = 0;
  /** TCP fields, valid when proto === 6. */
  tcpSeq = -0;
  tcpAck = -0;
  tcpFlags = 0;
  tcpWindow = 0;
  /** Offset of the L4 payload in buf, bytes of it present in buf, and its length on the wire. */
  payloadOff = 0;
  payloadCapLen = 0;
  payloadLen = 0;
  /** Outer VLAN id of the frame, 0 when untagged. */
  vlan = 0;
  /** Link type of the frame (LINKTYPE_*) and its capture interface (RawFrame.interfaceId). */
  linkType = 0;
  interfaceId = 0;
  /** Offset in buf of the (outer) IP header and of the transport header. */
  l3Off = 0;
  l4Off = 0;
  /** Tunnels opened to reach this packet (only with DecodeOptions.tunnels); 0 = outer packet. */
  tunnelDepth = 0;

  reset(): void {
    this.ipVersion = 0;
    this.proto = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpSeq = 0;
    this.tcpAck = 0;
    this.tcpFlags = 0;
    this.tcpWindow = 0;
    this.payloadOff = 0;
    this.payloadCapLen = 0;
    this.payloadLen = 0;
    this.ipLen = 0;
    this.vlan = 0;
    this.l3Off = 0;
    this.l4Off = 0;
    this.tunnelDepth = 0;
  }
}
