/**
 * FlowStats against the exact reference on real traffic: TCP flows of a few Ethernet pcaps of
 * the shared corpus, read in place with a minimal classic-pcap reader (this test's own, so that
 * it checks the statistics and nothing else). Direction = the flow's first sender; phase =
 * handshake until the first TCP payload starting with a TLS ApplicationData record header
 * (0x17 0x03) in either direction — a stand-in for the TLS tracker, enough to split objects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ndpiPcapDir } from '../helpers/paths.js';
import { FlowStats, WINDOW, LEN_MEDIAN_REL_ERROR, IAT_MEDIAN_REL_ERROR, IAT_MEDIAN_ABS_ERROR, cumulativeRankError } from '../../src/features/flow-stats.js';
import { FEATURE_NAMES, N_COLS } from '../../src/features/names.js';
import { exactFeatures, objectSequences, type RefPacket } from '../helpers/exact-features.js';

const FILES = ['netflix.pcap', '443-firefox.pcap', 'reddit.pcap', 'teams.pcap'];

interface Flow { packets: RefPacket[]; client: string; tls: boolean; sec0: number; usec0: number }

function readFlows(path: string): Flow[] {
  const b = readFileSync(path);
  assert.equal(b.readUInt32LE(0), 0xa1b2c3d4, `${path}: little-endian µs pcap expected`);
  assert.equal(b.readUInt32LE(20), 1, `${path}: Ethernet expected`);
  const flows = new Map<string, Flow>();
  for (let off = 24; off + 16 <= b.length; ) {
    const sec = b.readUInt32LE(off);
    const usec = b.readUInt32LE(off + 4);
    const cap = b.readUInt32LE(off + 8);
    const frame = b.subarray(off + 16, off + 16 + cap);
    off += 16 + cap;
    let p = 12;
    let type = frame.length >= 14 ? frame.readUInt16BE(p) : 0;
    while ((type === 0x8100 || type === 0x88a8) && frame.length >= p + 6) {
      p += 4;
      type = frame.readUInt16BE(p);
    }
    p += 2;
    let src: string;
    let dst: string;
    let len: number;
    let l4: number;
    if (type === 0x0800 && frame.length >= p + 20) {
      if (frame[p + 9] !== 6 || (frame.readUInt16BE(p + 6) & 0x1fff) !== 0) continue;
      src = frame.subarray(p + 12, p + 16).join('.');
      dst = frame.subarray(p + 16, p + 20).join('.');
      len = frame.readUInt16BE(p + 2);
      l4 = p + (frame[p] & 15) * 4;
    } else if (type === 0x86dd && frame.length >= p + 40) {
      if (frame[p + 6] !== 6) continue;
      src = frame.subarray(p + 8, p + 24).toString('hex');
      dst = frame.subarray(p + 24, p + 40).toString('hex');
      len = frame.readUInt16BE(p + 4) + 40;
      l4 = p + 40;
    } else continue;
    if (len === 0 || len > frame.length - p) len = frame.length - p; // offload: take the frame's
    if (frame.length < l4 + 20) continue;
    const a = `${src}:${frame.readUInt16BE(l4)}`;
    const z = `${dst}:${frame.readUInt16BE(l4 + 2)}`;
    const key = a < z ? `${a}-${z}` : `${z}-${a}`;
    let f = flows.get(key);
    if (!f) flows.set(key, (f = { packets: [], client: a, tls: false, sec0: sec, usec0: usec }));
    const payload = l4 + (frame[l4 + 12] >> 4) * 4;
    if (!f.tls && frame.length >= payload + 2 && frame[payload] === 0x17 && frame[payload + 1] === 3) f.tls = true;
    f.packets.push({ len, t: sec - f.sec0 + (usec - f.usec0) / 1e6, dir: a === f.client ? 0 : 1, phase: f.tls ? 1 : 0 });
  }
  return [...flows.values()];
}

const MEMBERS = [(_: RefPacket) => true, (p: RefPacket) => p.dir === 0, (p: RefPacket) => p.dir === 1,
  (p: RefPacket) => p.phase === 0, (p: RefPacket) => p.phase === 1];

for (const file of FILES) {
  const path = join(ndpiPcapDir(), file);
  test(`corpus ${file}: every TCP flow's 115 features agree with the exact reference`, { skip: !existsSync(path) && `${path} not present` }, () => {
    const flows = readFlows(path);
    let long = 0;
    let worstLen = 0;
    let worstIat = 0;
    let exactSmall = 0;
    const fs = new FlowStats();
    const out = new Float64Array(115);
    for (const f of flows) {
      fs.reset();
      for (const p of f.packets) fs.add(p.len, p.t, p.dir, p.phase);
      fs.write(out);
      const ref = exactFeatures(f.packets);
      const n = f.packets.length;
      if (n > WINDOW) long++;
      for (let i = 0; i < 115; i++) {
        const j = i % N_COLS;
        const v = Math.floor(i / N_COLS);
        if (j === 3 || j === 8 || j === 13 || j === 18) continue;
        const scale = j % 5 === 4 && j < 20 ? Math.max(Math.abs(ref[i]), 1e-4 * Math.abs(ref[i - 3])) : Math.abs(ref[i]);
        assert.ok(Math.abs(out[i] - ref[i]) <= 1e-9 * scale, `${file} flow of ${n}: ${FEATURE_NAMES[i]} ${out[i]} vs ${ref[i]} (object ${v})`);
      }
      for (let v = 0; v < 5; v++) {
        const ps = f.packets.filter(MEMBERS[v]);
        if (ps.length === 0) continue;
        const { l, c, d, e } = objectSequences(ps);
        const at = (j: number) => out[v * N_COLS + j];
        const name = (j: number) => `${file} flow of ${n}: ${FEATURE_NAMES[v * N_COLS + j]}`;
        if (n <= WINDOW) {
          for (const j of [3, 8, 13, 18]) assert.equal(at(j), ref[v * N_COLS + j], name(j));
          continue;
        }
        const lm = ref[v * N_COLS + 3];
        const le = Math.abs(at(3) - lm) / lm;
        worstLen = Math.max(worstLen, le);
        assert.ok(le <= LEN_MEDIAN_REL_ERROR * (1 + 1e-12), `${name(3)} = ${at(3)}, true ${lm}`);
        if (Float64Array.from(l).sort()[Math.floor(l.length / 2)] < 128) {
          assert.equal(at(3), lm, `${name(3)}: middle lengths below 128 are exact`);
          exactSmall++;
        }
        if (d.length > 0) {
          const dm = ref[v * N_COLS + 13];
          const err = Math.abs(at(13) - dm);
          if (dm > 0) worstIat = Math.max(worstIat, err / dm);
          assert.ok(err <= (IAT_MEDIAN_REL_ERROR * dm + IAT_MEDIAN_ABS_ERROR) * (1 + 1e-12), `${name(13)} = ${at(13)}, true ${dm}`);
        }
        const R = cumulativeRankError(ps.length);
        const lo = Math.floor((ps.length + 1) / 2) - 1;
        const hi = Math.floor(ps.length / 2);
        for (const [j, seq] of [[8, c], [18, e]] as const) {
          const below = seq[Math.max(0, lo - R)] * (1 - 2 ** -23);
          const above = seq[Math.min(ps.length - 1, hi + R)] * (1 + 2 ** -23);
          assert.ok(at(j) >= below && at(j) <= above, `${name(j)} = ${at(j)} outside [${below}, ${above}]`);
        }
      }
    }
    assert.ok(long > 0, `${file}: no flow longer than the window, the estimates went untested`);
    console.log(`# ${file}: ${flows.length} TCP flows, ${long} past the window, ${exactSmall} length medians below 128 (exact); ` +
      `worst median error: length ${(100 * worstLen).toFixed(2)} %, interval ${(100 * worstIat).toFixed(2)} %`);
  });
}
