/**
 * Named TLS tracking counters (Suricata style: named once, bumped as plain fields,
 * read by name). One instance is normally shared by all trackers of a shard.
 */
export class TlsCounters {
  /** Flows whose client stream began with a ClientHello record / with anything else. */
  tls_flows = 0;
  not_tls_flows = 0;
  /** Client streams that began with an SSLv2-format ClientHello (counted in not_tls_flows). */
  sslv2_hellos = 0;
  /** Record headers read (both directions). */
  records = 0;
  /** Records of length 0 (legal only for application data; followed anyway). */
  empty_records = 0;
  /** Headers with an unknown content type, a version major other than 3, or a length over 2^14+2048 (side stops). */
  bad_records = 0;
  /** The subset of bad_records rejected for their length. */
  oversize_records = 0;
  client_hellos = 0;
  server_hellos = 0;
  hello_retry_requests = 0;
  /** Hellos whose body did not parse (fields read before the fault are kept). */
  hello_malformed = 0;
  /** Hello messages longer than the buffer cap: not gathered. */
  hello_too_large = 0;
  /** Hellos abandoned because bytes inside them were missing (snap length, lost segment). */
  hello_gaps = 0;
  /** Server streams whose first handshake message was not a ServerHello. */
  hello_unexpected = 0;
  /** Segments carrying only bytes already seen (retransmissions). */
  retransmissions = 0;
  /** Bare ACKs/SYNs with 1..6 zero payload bytes taken as Ethernet padding, not stream data. */
  ack_padding = 0;
  /** Segments cut by the snap length (captured < wire). */
  snap_cut_segments = 0;
  /** Missing bytes skipped because they fell inside a record body nothing was gathered from. */
  holes_skipped = 0;
  /** Sides stopped because missing bytes hid a record header or the client's first bytes. */
  gaps = 0;
  /** Segments held in the out-of-order store. */
  reorder_stored = 0;
  /** Holes given up because the peer had acknowledged the missing bytes (a capture loss). */
  holes_acked = 0;
  /** Times the store was full: the earliest hole was given up (skipped if inside a body, else the side stops). */
  reorder_dropped = 0;
  /** Handshakes ended by the TLS 1.3 fallback (client stream stopped before its Finished). */
  phase_fallback = 0;

  /** Counter names in declaration order. */
  static readonly names: readonly string[] = Object.keys(new TlsCounters());

  add(o: TlsCounters): void {
    const self = this as unknown as Record<string, number>;
    const other = o as unknown as Record<string, number>;
    for (const k of TlsCounters.names) self[k]! += other[k]!;
  }

  toObject(): Record<string, number> {
    const r: Record<string, number> = {};
    for (const k of TlsCounters.names) r[k] = (this as unknown as Record<string, number>)[k]!;
    return r;
  }
}
