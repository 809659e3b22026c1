// A small reader for the testbed's own captures (classic pcap, Ethernet, little-endian, as
// tcpdump writes them here), used by the tests to check what a run produced: ClientHello SNIs
// and the TLS version each ServerHello chose. Hellos are read from single segments only (the
// testbed's all fit in one); anything else is skipped.

/** TCP payloads of IPv4 frames: {src, dst, payload}. */
export function* tcpPayloads(buf) {
  if (buf.length < 24 || buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('not a little-endian microsecond pcap');
  if (buf.readUInt32LE(20) !== 1) throw new Error(`link type ${buf.readUInt32LE(20)}, expected 1 (Ethernet)`);
  let off = 24;
  while (off + 16 <= buf.length) {
    const cap = buf.readUInt32LE(off + 8);
    const f = buf.subarray(off + 16, Math.min(buf.length, off + 16 + cap));
    off += 16 + cap;
    if (f.length < 34 || f.readUInt16BE(12) !== 0x0800 || f[23] !== 6) continue;
    const tcp = 14 + (f[14] & 0x0f) * 4;
    if (f.length < tcp + 20) continue;
    const start = tcp + (f[tcp + 12] >> 4) * 4;
    const end = Math.min(f.length, 14 + f.readUInt16BE(16));
    if (start >= end) continue;
    yield { src: f.subarray(26, 30).join('.'), dst: f.subarray(30, 34).join('.'), payload: f.subarray(start, end) };
  }
}

/** Extensions of a Client/ServerHello record at the start of `p`: Map type → body. */
export function helloExtensions(p) {
  let o = 5 + 4 + 2 + 32; // record header, handshake header, legacy version, random
  o += 1 + p[o]; // session id
  if (p[5] === 1) {
    o += 2 + p.readUInt16BE(o); // cipher suites
    o += 1 + p[o]; // compression methods
  } else {
    o += 3; // cipher suite, compression method
  }
  const ext = new Map();
  if (o + 2 > p.length) return ext;
  const end = Math.min(p.length, o + 2 + p.readUInt16BE(o));
  o += 2;
  while (o + 4 <= end) {
    const n = p.readUInt16BE(o + 2);
    ext.set(p.readUInt16BE(o), p.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  return ext;
}

/** SNIs of the ClientHellos in order, and ServerHellos counted by the version they chose. */
export function scanHellos(buf) {
  const snis = [];
  const versions = { '1.2': 0, '1.3': 0 };
  for (const { payload: p } of tcpPayloads(buf)) {
    if (p.length < 48 || p[0] !== 0x16 || p[1] !== 3 || (p[5] !== 1 && p[5] !== 2)) continue;
    let ext;
    try {
      ext = helloExtensions(p);
    } catch {
      continue; // a Hello cut short: not ours to judge here
    }
    if (p[5] === 1) {
      const e = ext.get(0);
      snis.push(e && e.length >= 5 ? e.subarray(5, 5 + e.readUInt16BE(3)).toString('latin1') : '');
    } else {
      const sv = ext.get(43);
      versions[sv && sv.length >= 2 && sv.readUInt16BE(0) === 0x0304 ? '1.3' : '1.2']++;
    }
  }
  return { snis, versions };
}
