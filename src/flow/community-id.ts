/**
 * Community ID flow hash, version 1 (the Corelight spec): SHA-1 over
 * seed (u16 BE) · src addr · dst addr · proto (u8) · 0 (u8) · src port (u16 BE) · dst port (u16 BE),
 * with the endpoints ordered so that (addr, port) of the "source" is the smaller;
 * the result is "1:" + base64(digest). For ICMP/ICMPv6 the ports are the type and
 * code (with the spec's mapping of request/reply pairs onto one flow).
 */
const ICMP4_PAIRS: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 10: 9, 9: 10 };
const ICMP6_PAIRS: Record<number, number> = { 128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130 };

/*
 * SHA-1 of the tuple (at most 2 + 16 + 16 + 2 + 4 = 40 bytes, so one 64-byte block after
 * padding) computed here rather than with node:crypto: creating a Hash object, a Buffer and a
 * digest cost several microseconds per flow, more than the whole hash. Checked against
 * node:crypto in test/flow/community-id.test.ts.
 */
const BLOCK = new Uint8Array(64);
const W = new Int32Array(80);
const H = new Int32Array(5);
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** SHA-1 of BLOCK[0 .. n) (n <= 55) into H. */
function sha1Block(n: number): void {
  const b = BLOCK;
  b[n] = 0x80;
  for (let i = n + 1; i < 56; i++) b[i] = 0;
  const bits = n * 8;
  b[56] = b[57] = b[58] = b[59] = 0;
  b[60] = (bits >>> 24) & 0xff;
  b[61] = (bits >>> 16) & 0xff;
  b[62] = (bits >>> 8) & 0xff;
  b[63] = bits & 0xff;
  const w = W;
  for (let i = 0; i < 16; i++) w[i] = (b[4 * i] << 24) | (b[4 * i + 1] << 16) | (b[4 * i + 2] << 8) | b[4 * i + 3];
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = 0x67452301, bb = 0xefcdab89 | 0, c = 0x98badcfe | 0, d = 0x10325476, e = 0xc3d2e1f0 | 0;
  for (let i = 0; i < 80; i++) {
    let f: number, k: number;
    if (i < 20) { f = (bb & c) | (~bb & d); k = 0x5a827999; }
    else if (i < 40) { f = bb ^ c ^ d; k = 0x6ed9eba1; }
    else if (i < 60) { f = (bb & c) | (bb & d) | (c & d); k = 0x8f1bbcdc | 0; }
    else { f = bb ^ c ^ d; k = 0xca62c1d6 | 0; }
    const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) | 0;
    e = d;
    d = c;
    c = (bb << 30) | (bb >>> 2);
    bb = a;
    a = t;
  }
  H[0] = (0x67452301 + a) | 0;
  H[1] = (0xefcdab89 + bb) | 0;
  H[2] = (0x98badcfe + c) | 0;
  H[3] = (0x10325476 + d) | 0;
  H[4] = (0xc3d2e1f0 + e) | 0;
}

const B64_CODES = Array.from(B64, (ch) => ch.charCodeAt(0));
/** Character codes of "1:" + the base64 digest (made into one string at once, not by 30 concatenations). */
const OUT_CODES: number[] = Array.from('1:' + 'A'.repeat(27) + '=', (ch) => ch.charCodeAt(0));

/** "1:" + base64 of the 20 digest bytes in H (27 characters and one '='). */
function digestBase64(): string {
  let k = 2;
  let acc = 0;
  let nbits = 0;
  for (let i = 0; i < 20; i++) {
    const byte = (H[i >> 2] >>> (24 - 8 * (i & 3))) & 0xff;
    acc = (acc << 8) | byte;
    nbits += 8;
    while (nbits >= 6) {
      nbits -= 6;
      OUT_CODES[k++] = B64_CODES[(acc >>> nbits) & 63];
    }
    acc &= (1 << nbits) - 1;
  }
  // 160 bits = 26 characters and 4 bits left: one more character, then the '=' already there
  OUT_CODES[k] = B64_CODES[(acc << (6 - nbits)) & 63];
  return String.fromCharCode.apply(null, OUT_CODES);
}

function compareBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): number {
  for (let i = 0; i < n; i++) {
    const d = a[ao + i] - b[bo + i];
    if (d !== 0) return d;
  }
  return 0;
}

export function communityId(
  proto: number,
  addrLen: 4 | 16,
  src: Uint8Array, srcOff: number,
  dst: Uint8Array, dstOff: number,
  srcPort: number, dstPort: number,
  seed = 0,
): string {
  let sp = srcPort;
  let dp = dstPort;
  let oneWay = false;
  if (proto === 1 || proto === 58) {
    // ports carry the ICMP type (src) and code (dst); map to the spec's pseudo ports
    const pairs = proto === 1 ? ICMP4_PAIRS : ICMP6_PAIRS;
    const type = srcPort;
    if (type in pairs) dp = pairs[type];
    else oneWay = true;
  }
  let c = compareBytes(src, srcOff, dst, dstOff, addrLen);
  if (c === 0) c = sp - dp;
  const swap = !oneWay && c > 0;
  const buf = BLOCK;
  let o = 0;
  buf[o++] = (seed >>> 8) & 0xff;
  buf[o++] = seed & 0xff;
  const first = swap ? dst : src, firstOff = swap ? dstOff : srcOff;
  const second = swap ? src : dst, secondOff = swap ? srcOff : dstOff;
  for (let i = 0; i < addrLen; i++) buf[o++] = first[firstOff + i];
  for (let i = 0; i < addrLen; i++) buf[o++] = second[secondOff + i];
  buf[o++] = proto;
  buf[o++] = 0;
  const hasPorts = proto === 6 || proto === 17 || proto === 132 || proto === 1 || proto === 58;
  if (hasPorts) {
    const p1 = swap ? dp : sp, p2 = swap ? sp : dp;
    buf[o++] = (p1 >>> 8) & 0xff;
    buf[o++] = p1 & 0xff;
    buf[o++] = (p2 >>> 8) & 0xff;
    buf[o++] = p2 & 0xff;
  }
  sha1Block(o);
  return digestBase64();
}
