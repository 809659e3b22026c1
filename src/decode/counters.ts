/**
 * Decoder counters: one named number per outcome or anomaly. Decoding never
 * throws on packet contents; whatever it cannot use is counted here and skipped.
 */
export class DecodeCounters {
  /** Frames given to decodeFrame. */
  frames = 0;
  // Link layers (frames that had this header).
  ethernet = 0;
  /** Frames with at least one 802.1Q/802.1ad tag, and with two or more. */
  vlan = 0;
  qinq = 0;
  sll = 0;
  sll2 = 0;
  loopback = 0;
  raw_ip = 0;
  ppp = 0;
  chdlc = 0;
  ppi = 0;
  pppoe = 0;
  mpls = 0;
  // Network and transport layers (packets decoded).
  ipv4 = 0;
  ipv6 = 0;
  tcp = 0;
  udp = 0;
  /** IP packets whose transport is neither TCP nor UDP (ICMP, GRE, ESP, tunnels...). */
  other_l4 = 0;
  /** Tunnels opened (DecodeOptions.tunnels); the inner headers are counted in the fields above too. */
  tunnels = 0;
  /** First fragments (offset 0, more fragments) are decoded as far as their headers go. */
  ipv4_fragments_first = 0;
  ipv4_fragments_skipped = 0;
  ipv6_fragments_first = 0;
  ipv6_fragments_skipped = 0;
  /** ipLen taken from the frame because the IP header said 0 or more than the frame. */
  ip_len_from_frame = 0;
  /** Decoded packets whose L4 payload is not all in the capture (snap length). */
  payload_cut = 0;
  // Skipped frames, by reason.
  /** The capture ended inside a header that was needed. */
  truncated = 0;
  unknown_linktype = 0;
  /** Ethertype (or SLL/Cisco HDLC protocol) that is not IP: ARP, LLDP, ... */
  unknown_ethertype = 0;
  /** 802.3 frames with a length field whose LLC header carries no SNAP ethertype. */
  llc = 0;
  unknown_ppp_protocol = 0;
  unknown_loopback_family = 0;
  /** MPLS whose payload is not IP (pseudowires). */
  mpls_non_ip = 0;
  /** More nested tags / labels / IPv6 extension headers than the decoder follows. */
  too_deep = 0;
  bad_ip_header = 0;
  bad_tcp_header = 0;
  /** TCP data offset beyond the end of the IP packet: kept with no payload. */
  tcp_options_cut = 0;
  bad_udp_header = 0;
  /** Frames skipped per unknown link type. */
  readonly skipped_linktypes = new Map<number, number>();

  /** Adds another set of counters into this one (e.g. from shard workers). */
  add(o: DecodeCounters): void {
    for (const k of NUMERIC_KEYS) (this as unknown as Record<string, number>)[k] += (o as unknown as Record<string, number>)[k];
    for (const [lt, n] of o.skipped_linktypes) this.skipped_linktypes.set(lt, (this.skipped_linktypes.get(lt) ?? 0) + n);
  }

  reset(): void {
    for (const k of NUMERIC_KEYS) (this as unknown as Record<string, number>)[k] = 0;
    this.skipped_linktypes.clear();
  }

  toJSON(): Record<string, number | Record<string, number>> {
    const r: Record<string, number | Record<string, number>> = {};
    for (const k of NUMERIC_KEYS) r[k] = (this as unknown as Record<string, number>)[k];
    const lt: Record<string, number> = {};
    for (const [t, n] of [...this.skipped_linktypes].sort((a, b) => a[0] - b[0])) lt[String(t)] = n;
    r.skipped_linktypes = lt;
    return r;
  }
}

/** Names of the numeric counters, in declaration order. */
export const NUMERIC_KEYS: readonly string[] = Object.keys(new DecodeCounters()).filter(
  (k) => typeof (new DecodeCounters() as unknown as Record<string, unknown>)[k] === 'number',
);
