/**
 * ClientHello / ServerHello body parsing (RFC 8446 §4.1.2-4.1.3, RFC 5246 §7.4.1).
 *
 * The parsers read a handshake message body (after its 4-byte type+length header)
 * from `b[off .. off+len)` and write what they find into a `HelloSink`. They never
 * throw and never read outside that range: every length is checked against the
 * bytes left before it is used. A malformed hello returns `false` (or
 * `SH_MALFORMED`); fields read before the fault are kept (e.g. an SNI in the first
 * extension survives a broken third one).
 *
 * What is extracted:
 *  - ClientHello: SNI (server_name, ext 0, first host_name entry), the ALPN list
 *    (ext 16), the highest offered version (supported_versions, ext 43; else the
 *    legacy_version), whether early data is announced (ext 42).
 *  - ServerHello: the chosen ALPN (ext 16), the chosen version (ext 43; else the
 *    legacy_version). A HelloRetryRequest (ServerHello with the fixed random of
 *    RFC 8446 §4.1.3) is reported as such and writes nothing.
 * GREASE values (RFC 8701: 0x?A?A versions, two-byte ALPN ids) are skipped.
 * Strings are kept to printable ASCII: any other byte becomes '?', so a hostile
 * name cannot inject control characters into logs; at most 255 bytes are kept.
 */

export interface HelloSink {
  sni: string | undefined;
  /** Replaced (never pushed to) while empty, so it may start as a shared frozen empty array. */
  alpnOffered: string[];
  alpnNegotiated: string | undefined;
  /** Raw 16-bit versions, 0 when unknown. */
  versionOffered: number;
  versionNegotiated: number;
  /** The ClientHello carried the early_data extension (0-RTT data may follow it). */
  earlyData: boolean;
}

/** At most this many offered ALPN names are kept. */
export const MAX_ALPN_KEPT = 16;

export const EXT_SERVER_NAME = 0;
export const EXT_ALPN = 16;
export const EXT_EARLY_DATA = 42;
export const EXT_SUPPORTED_VERSIONS = 43;

/** RFC 8701 GREASE for 16-bit code points: 0x0A0A, 0x1A1A, …, 0xFAFA. */
export function isGrease16(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);
}

/** Human name of a protocol version: 'SSLv3', 'TLSv1.0'…'TLSv1.3', else '0x7f1c'-style hex. */
export function versionName(v: number): string {
  switch (v) {
    case 0x0300: return 'SSLv3';
    case 0x0301: return 'TLSv1.0';
    case 0x0302: return 'TLSv1.1';
    case 0x0303: return 'TLSv1.2';
    case 0x0304: return 'TLSv1.3';
    default: return '0x' + (v & 0xffff).toString(16).padStart(4, '0');
  }
}

/**
 * True for versions whose record layer behaves like TLS 1.3 (encrypted handshake
 * in type-23 records): 0x0304, the IETF drafts 0x7fXX and Facebook's 0xfb1X drafts.
 */
export function isTls13Like(v: number): boolean {
  return v === 0x0304 || (v >> 8) === 0x7f || (v & 0xfff0) === 0xfb10;
}

/** Order for "highest offered": SSLv3..TLS 1.3 by value, drafts of 1.3 between 1.2 and 1.3, others lowest. */
function versionRank(v: number): number {
  if ((v >> 8) === 3 && (v & 0xff) <= 4) return (v & 0xff) * 2 + 2;
  if (isTls13Like(v)) return 9; // between 1.2 (8) and 1.3 (10)
  return 1;
}

function str(b: Uint8Array, off: number, len: number): string {
  const n = len > 255 ? 255 : len;
  let s = '';
  for (let i = 0; i < n; i++) {
    const c = b[off + i]!;
    s += c >= 0x21 && c <= 0x7e ? String.fromCharCode(c) : '?';
  }
  return s;
}

const HRR_RANDOM = [
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;

/**
 * Walks `b[off..end)` as a list of extensions; calls `fn(type, dataOff, dataLen)` for each.
 * Returns false when an extension's length runs past `end`.
 */
function eachExtension(b: Uint8Array, off: number, end: number, fn: (type: number, o: number, n: number) => boolean): boolean {
  if (off === end) return true; // no extensions at all (SSLv3/TLS 1.0 hellos may omit the block)
  if (off + 2 > end) return false;
  const extEnd = off + 2 + u16(b, off);
  if (extEnd > end) return false;
  let p = off + 2;
  while (p < extEnd) {
    if (p + 4 > extEnd) return false;
    const type = u16(b, p);
    const n = u16(b, p + 2);
    p += 4;
    if (p + n > extEnd) return false;
    if (!fn(type, p, n)) return false;
    p += n;
  }
  return true;
}

function parseSni(b: Uint8Array, o: number, n: number, out: HelloSink): boolean {
  // empty server_name in a ServerHello-style echo is legal: nothing to read
  if (n === 0) return true;
  if (n < 2) return false;
  const end = o + 2 + u16(b, o);
  if (end > o + n) return false;
  let p = o + 2;
  while (p < end) {
    if (p + 3 > end) return false;
    const type = b[p]!;
    const len = u16(b, p + 1);
    p += 3;
    if (p + len > end) return false;
    if (type === 0 && out.sni === undefined && len > 0) out.sni = str(b, p, len);
    p += len;
  }
  return true;
}

/** Calls fn for each non-GREASE ALPN name of a ProtocolNameList. */
function parseAlpnList(b: Uint8Array, o: number, n: number, fn: (s: string) => void): boolean {
  if (n < 2) return false;
  const end = o + 2 + u16(b, o);
  if (end > o + n) return false;
  let p = o + 2;
  while (p < end) {
    const len = b[p]!;
    p += 1;
    if (len === 0 || p + len > end) return false;
    const grease = len === 2 && b[p] === b[p + 1] && (b[p]! & 0x0f) === 0x0a;
    if (!grease) fn(str(b, p, len));
    p += len;
  }
  return true;
}

/** Parses a ClientHello body. Returns false when malformed. */
export function parseClientHello(b: Uint8Array, off: number, len: number, out: HelloSink): boolean {
  const end = off + len;
  if (len < 2 + 32 + 1 || end > b.length) return false;
  const legacy = u16(b, off);
  let p = off + 2 + 32;
  const sid = b[p]!;
  p += 1 + sid;
  if (sid > 32 || p + 2 > end) return false;
  const cs = u16(b, p);
  p += 2 + cs;
  if (p + 1 > end) return false;
  const comp = b[p]!;
  p += 1 + comp;
  if (p > end) return false;
  let best = 0;
  const ok = eachExtension(b, p, end, (type, o, n) => {
    switch (type) {
      case EXT_SERVER_NAME:
        return parseSni(b, o, n, out);
      case EXT_ALPN:
        return parseAlpnList(b, o, n, (s) => {
          const l = out.alpnOffered;
          if (l.length === 0) out.alpnOffered = [s]; // a fresh array: the sink may start with a shared empty one
          else if (l.length < MAX_ALPN_KEPT) l.push(s);
        });
      case EXT_EARLY_DATA:
        out.earlyData = true;
        return true;
      case EXT_SUPPORTED_VERSIONS: {
        if (n < 1 || 1 + b[o]! > n || (b[o]! & 1) !== 0) return false;
        const listEnd = o + 1 + b[o]!;
        for (let q = o + 1; q < listEnd; q += 2) {
          const v = u16(b, q);
          if (isGrease16(v)) continue;
          if (best === 0 || versionRank(v) > versionRank(best)) best = v;
        }
        return true;
      }
      default:
        return true;
    }
  });
  out.versionOffered = best !== 0 ? best : legacy;
  return ok;
}

export const SH_MALFORMED = 0;
export const SH_OK = 1;
export const SH_RETRY = 2;

/** Parses a ServerHello body: SH_OK, SH_RETRY (a HelloRetryRequest, nothing written) or SH_MALFORMED. */
export function parseServerHello(b: Uint8Array, off: number, len: number, out: HelloSink): number {
  const end = off + len;
  if (len < 2 + 32 + 1 || end > b.length) return SH_MALFORMED;
  const legacy = u16(b, off);
  let retry = true;
  for (let i = 0; i < 32; i++) if (b[off + 2 + i] !== HRR_RANDOM[i]) { retry = false; break; }
  if (retry) return SH_RETRY;
  let p = off + 2 + 32;
  const sid = b[p]!;
  p += 1 + sid + 2 + 1; // session id, cipher suite, compression method
  if (sid > 32 || p > end) return SH_MALFORMED;
  let chosen = 0;
  const ok = eachExtension(b, p, end, (type, o, n) => {
    if (type === EXT_ALPN) {
      let first = true;
      return parseAlpnList(b, o, n, (s) => { if (first) { out.alpnNegotiated = s; first = false; } });
    }
    if (type === EXT_SUPPORTED_VERSIONS) {
      if (n !== 2) return false;
      chosen = u16(b, o);
      return true;
    }
    return true;
  });
  out.versionNegotiated = chosen !== 0 ? chosen : legacy;
  return ok ? SH_OK : SH_MALFORMED;
}
