import { createHash } from 'node:crypto';

/**
 * Community ID flow hash, version 1 (the Corelight spec): SHA-1 over
 * seed (u16 BE) · src addr · dst addr · proto (u8) · 0 (u8) · src port (u16 BE) · dst port (u16 BE),
 * with the endpoints ordered so that (addr, port) of the "source" is the smaller;
 * the result is "1:" + base64(digest). For ICMP/ICMPv6 the ports are the type and
 * code (with the spec's mapping of request/reply pairs onto one flow).
 */
const ICMP4_PAIRS: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 10: 9, 9: 10 };
const ICMP6_PAIRS: Record<number, number> = { 128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130 };

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
  const buf = Buffer.alloc(2 + 2 * addrLen + 2 + 4);
  let o = 0;
  buf.writeUInt16BE(seed & 0xffff, o); o += 2;
  if (!swap) {
    buf.set(src.subarray(srcOff, srcOff + addrLen), o); o += addrLen;
    buf.set(dst.subarray(dstOff, dstOff + addrLen), o); o += addrLen;
  } else {
    buf.set(dst.subarray(dstOff, dstOff + addrLen), o); o += addrLen;
    buf.set(src.subarray(srcOff, srcOff + addrLen), o); o += addrLen;
  }
  buf[o++] = proto;
  buf[o++] = 0;
  const hasPorts = proto === 6 || proto === 17 || proto === 132 || proto === 1 || proto === 58;
  if (hasPorts) {
    buf.writeUInt16BE(swap ? dp : sp, o); o += 2;
    buf.writeUInt16BE(swap ? sp : dp, o); o += 2;
  }
  return '1:' + createHash('sha1').update(buf.subarray(0, o)).digest('base64');
}
