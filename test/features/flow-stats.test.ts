import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FlowStats, WINDOW, LEN_MEDIAN_REL_ERROR, IAT_MEDIAN_REL_ERROR, IAT_MEDIAN_ABS_ERROR,
  cumulativeRankError, extPoolSize,
} from '../../src/features/flow-stats.js';
import { FEATURE_NAMES, STAT_NAMES, N_COLS } from '../../src/features/names.js';
import { exactFeatures, objectSequences, type RefPacket } from '../helpers/exact-features.js';
import { mulberry32 } from '../../src/dataset/split.js';

type P = RefPacket;
const pk = (len: number, t: number, dir: 0 | 1, phase: 0 | 1): P => ({ len, t, dir, phase });

function run(packets: P[], fs = new FlowStats()): Float64Array {
  for (const p of packets) fs.add(p.len, p.t, p.dir, p.phase);
  const out = new Float64Array(115);
  fs.write(out);
  return out;
}

/** Asserts a 23-value row, given by hand, to 1e-12 relative. */
function assertRow(got: Float64Array, row: number, want: number[], what: string): void {
  assert.equal(want.length, N_COLS);
  for (let j = 0; j < N_COLS; j++) {
    const g = got[row * N_COLS + j];
    const w = want[j];
    assert.ok(Math.abs(g - w) <= 1e-12 * Math.max(1, Math.abs(w)),
      `${what}: ${STAT_NAMES[j]} = ${g}, expected ${w}`);
  }
}

const MEDIAN_COLS = new Set([3, 8, 13, 18]);
const STD_COLS = new Set([4, 9, 14, 19]);

/**
 * Non-median features equal the reference to 1e-9 relative (std: relative to the larger of
 * itself and 1e-4 of the sequence's max, the level where cancellation starts); medians equal
 * it exactly when `exactMedians`.
 */
function assertMatchesReference(got: Float64Array, ref: Float64Array, exactMedians: boolean, what: string): void {
  for (let i = 0; i < 115; i++) {
    const j = i % N_COLS;
    if (MEDIAN_COLS.has(j) && !exactMedians) continue;
    let scale = Math.abs(ref[i]);
    if (STD_COLS.has(j)) scale = Math.max(scale, 1e-4 * Math.abs(ref[i - 3]));
    const tol = MEDIAN_COLS.has(j) ? 0 : 1e-9 * scale;
    assert.ok(Math.abs(got[i] - ref[i]) <= tol, `${what}: ${FEATURE_NAMES[i]} = ${got[i]}, reference ${ref[i]}`);
  }
}

test('4-packet flow, all 23 × 5 values computed by hand', () => {
  // lengths 60,1500,52,200 at 0,0.1,0.1,0.35; dir 0,1,0,1; phase hs,hs,data,data
  const flow = [pk(60, 0, 0, 0), pk(1500, 0.1, 1, 0), pk(52, 0.1, 0, 1), pk(200, 0.35, 1, 1)];
  const got = run(flow);
  // all: l = 60,1500,52,200 (mean 453, squared deviations sum 1475468 → var 368867)
  //      c = 60,1560,1612,1812 (mean 1261, var 1958604/4 = 489651)
  //      d = 0.1,0,0.25 (mean 7/60, var 19/1800); e = 0,0.1,0.1,0.35 (mean 0.1375, var 0.01671875)
  assertRow(got, 0, [52, 1500, 453, 130, Math.sqrt(368867),
    60, 1812, 1261, 1586, Math.sqrt(489651),
    0, 0.25, 7 / 60, 0.1, Math.sqrt(19 / 1800),
    0, 0.35, 0.1375, 0.1, Math.sqrt(0.01671875),
    4, 4 / 0.35, 1812 / 0.35], 'all');
  // fwd: (60, 0) (52, 0.1)
  assertRow(got, 1, [52, 60, 56, 56, 4, 60, 112, 86, 86, 26, 0.1, 0.1, 0.1, 0.1, 0, 0, 0.1, 0.05, 0.05, 0.05, 2, 20, 1120], 'fwd');
  // bwd: (1500, 0.1) (200, 0.35)
  assertRow(got, 2, [200, 1500, 850, 850, 650, 1500, 1700, 1600, 1600, 100, 0.25, 0.25, 0.25, 0.25, 0, 0, 0.25, 0.125, 0.125, 0.125, 2, 8, 6800], 'bwd');
  // hs: (60, 0) (1500, 0.1)
  assertRow(got, 3, [60, 1500, 780, 780, 720, 60, 1560, 810, 810, 750, 0.1, 0.1, 0.1, 0.1, 0, 0, 0.1, 0.05, 0.05, 0.05, 2, 20, 15600], 'hs');
  // data: (52, 0.1) (200, 0.35)
  assertRow(got, 4, [52, 200, 126, 126, 74, 52, 252, 152, 152, 100, 0.25, 0.25, 0.25, 0.25, 0, 0, 0.25, 0.125, 0.125, 0.125, 2, 8, 1008], 'data');
  assertMatchesReference(got, exactFeatures(flow), true, 'hand flow vs reference');
});

test('out-of-order and equal timestamps: monotone clock per object, empty object is 23 zeros', () => {
  // times 5, 4 (earlier than the first), 5, 6; all handshake → data is empty
  const flow = [pk(100, 5, 0, 0), pk(40, 4, 1, 0), pk(40, 5, 0, 0), pk(1000, 6, 1, 0)];
  const got = run(flow);
  // all: clock 5,5,5,6 → d = 0,0,1, e = 0,0,0,1; l mean 295 (var 665100/4); c = 100,140,180,1180 (mean 400, var 814400/4)
  const all = [40, 1000, 295, 70, Math.sqrt(166275), 100, 1180, 400, 160, Math.sqrt(203600),
    0, 1, 1 / 3, 0, Math.sqrt(2 / 9), 0, 1, 0.25, 0, Math.sqrt(0.1875), 4, 4, 1180];
  assertRow(got, 0, all, 'all');
  // fwd: (100, 5) (40, 5): span 0 → rates 0
  assertRow(got, 1, [40, 100, 70, 70, 30, 100, 140, 120, 120, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0], 'fwd');
  // bwd: (40, 4) (1000, 6): its own clock starts at 4
  assertRow(got, 2, [40, 1000, 520, 520, 480, 40, 1040, 540, 540, 500, 2, 2, 2, 2, 0, 0, 2, 1, 1, 1, 2, 1, 520], 'bwd');
  assertRow(got, 3, all, 'hs');
  assertRow(got, 4, new Array(23).fill(0), 'data');
  // the first interval is 0 (equal times): min must still be 0, not the next value (nDPI's zero-sum bug)
  const z = run([pk(60, 1, 0, 0), pk(60, 1, 0, 0), pk(60, 3, 0, 0)]);
  assert.equal(z[10], 0);
  assert.equal(z[11], 2);
  assertMatchesReference(got, exactFeatures(flow), true, 'out-of-order vs reference');
});

test('a single packet: lengths only, intervals and rates 0, cumulative interval [0]', () => {
  const got = run([pk(1500, 3, 1, 1)]);
  const one = [1500, 1500, 1500, 1500, 0, 1500, 1500, 1500, 1500, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
  const zero = new Array(23).fill(0);
  assertRow(got, 0, one, 'all');
  assertRow(got, 1, zero, 'fwd');
  assertRow(got, 2, one, 'bwd');
  assertRow(got, 3, zero, 'hs');
  assertRow(got, 4, one, 'data');
  assertRow(run([]), 0, zero, 'empty flow');
});

test('write() into a Float32Array at an offset, and reset() for reuse', () => {
  const fs = new FlowStats();
  const flow = [pk(60, 0, 0, 0), pk(1500, 0.1, 1, 0), pk(52, 0.1, 0, 1), pk(200, 0.35, 1, 1)];
  for (const p of flow) fs.add(p.len, p.t, p.dir, p.phase);
  const out = new Float32Array(300).fill(-1);
  fs.write(out, 150);
  assert.equal(out[149], -1);
  assert.equal(out[265], -1);
  assert.equal(out[150 + 3], 130); // all_len_median
  assert.equal(out[150 + 20], 4);
  assert.throws(() => fs.write(out, 200), RangeError);
  // write() is a snapshot: the flow goes on afterwards as if it had not been called
  const more = [pk(40, 0.5, 0, 1), pk(1400, 0.4, 1, 1)];
  for (const p of more) fs.add(p.len, p.t, p.dir, p.phase);
  const snap = new Float64Array(115);
  fs.write(snap);
  assertMatchesReference(snap, exactFeatures([...flow, ...more]), true, 'after a mid-flow write()');
  fs.reset();
  // reuse after reset equals a fresh object, also after the flow went past the window
  for (let i = 0; i < 100; i++) fs.add(100 + i, i, (i & 1) as 0 | 1, 1);
  assert.equal(fs.exact, false);
  fs.reset();
  assert.equal(fs.exact, true);
  assert.equal(fs.count, 0);
  assert.deepEqual(run(flow, fs), run(flow));
  assert.ok(extPoolSize() >= 1, 'reset() gives the extension block back to the free list');
});

test('hostile values never give NaN: NaN/negative length → 0, non-finite time → the previous clock', () => {
  const fs = new FlowStats();
  fs.add(Number.NaN, Number.NaN, 0, 0);
  fs.add(-5, Infinity, 1, 0);
  fs.add(100, 2, 0, 1);
  const out = new Float64Array(115);
  fs.write(out);
  assert.ok(out.every(Number.isFinite), 'all 115 outputs finite');
  const ref = exactFeatures([pk(0, 0, 0, 0), pk(0, 0, 1, 0), pk(100, 2, 0, 1)]);
  assertMatchesReference(out, ref, true, 'sanitised');
});

// ── seeded PRNG and flow generators ──
const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

type Gen = (n: number, seed: number) => P[];
const GENERATORS: Record<string, Gen> = {
  // ACKs, full segments and the rest; exponential gaps; handshake = the first 12 packets
  'web: bimodal lengths, exponential gaps': (n, seed) => {
    const r = mulberry32(seed);
    let t = 0;
    return Array.from({ length: n }, (_, i) => {
      const u = r();
      const len = u < 0.5 ? 52 : u < 0.8 ? 1500 : 60 + Math.floor(r() * 1441);
      t += -Math.log(1 - r()) * 0.01;
      return pk(len, t, r() < 0.4 ? 0 : 1, i < 12 ? 0 : 1);
    });
  },
  // large TSO-like lengths, heavy-tailed log-normal gaps, 10% repeated times, 5% out of order
  'tso: uniform lengths, log-normal gaps, reordering': (n, seed) => {
    const r = mulberry32(seed);
    let t = 1000;
    return Array.from({ length: n }, (_, i) => {
      const len = 40 + Math.floor(r() * 65496);
      const u = r();
      if (u >= 0.1) t += Math.exp(-7 + 3 * gauss(r));
      const tt = u > 0.95 ? t - r() * 0.05 : t;
      return pk(len, tt, (i % 3 === 0 ? 0 : 1), r() < 0.3 ? 0 : 1);
    });
  },
  // pcap-like: absolute epoch times rounded to the microsecond, constant-rate stream of 1500s
  'stream: constant 1500, 1 ms on a µs epoch clock': (n) => {
    return Array.from({ length: n }, (_, i) =>
      pk(1500, Math.round((1.7e9 + i * 0.001) * 1e6) / 1e6, i % 10 === 0 ? 0 : 1, i < 30 ? 0 : 1));
  },
  // worst case for samplers: alternating lengths and directions, a long silence mid-flow, then a burst
  'adversarial: alternation, long idle gap, burst': (n, seed) => {
    const r = mulberry32(seed);
    let t = 0;
    return Array.from({ length: n }, (_, i) => {
      if (i === Math.floor(n / 2)) t += 600;
      t += i > (3 * n) / 4 ? 0 : (i & 1 ? 1e-6 : 0.5) * (0.5 + r());
      return pk(i & 1 ? 40 : 1460, t, (i & 1) as 0 | 1, (i % 4 < 2 ? 0 : 1));
    });
  },
};

/** Checks each estimated median against its stated bound. */
function assertMedianBounds(got: Float64Array, packets: P[], what: string): void {
  const members = [(p: P) => true, (p: P) => p.dir === 0, (p: P) => p.dir === 1, (p: P) => p.phase === 0, (p: P) => p.phase === 1];
  const U = 2 ** -23; // float32 rounding, with margin
  for (let v = 0; v < 5; v++) {
    const ps = packets.filter(members[v]);
    const n = ps.length;
    if (n === 0) continue;
    const { l, c, d, e } = objectSequences(ps);
    const sl = Float64Array.from(l).sort();
    const sd = Float64Array.from(d).sort();
    const med = (a: Float64Array) => (a[Math.floor((a.length - 1) / 2)] + a[Math.floor(a.length / 2)]) / 2;
    const name = (j: number) => `${what}: ${FEATURE_NAMES[v * N_COLS + j]}`;
    const lm = med(sl);
    const gl = got[v * N_COLS + 3];
    assert.ok(Math.abs(gl - lm) <= LEN_MEDIAN_REL_ERROR * lm * (1 + 1e-12), `${name(3)} = ${gl}, true ${lm}`);
    if (sl[Math.floor(n / 2)] < 128) assert.equal(gl, lm, `${name(3)}: middle lengths below 128 are exact`);
    if (n >= 2) {
      const dm = med(sd);
      const gd = got[v * N_COLS + 13];
      assert.ok(Math.abs(gd - dm) <= (IAT_MEDIAN_REL_ERROR * dm + IAT_MEDIAN_ABS_ERROR) * (1 + 1e-12),
        `${name(13)} = ${gd}, true ${dm}`);
    }
    const R = cumulativeRankError(n);
    const lo = Math.floor((n + 1) / 2);
    const hi = Math.floor(n / 2) + 1;
    for (const [j, seq] of [[8, c], [18, e]] as const) {
      const below = seq[Math.max(0, lo - 1 - R)] * (1 - U);
      const above = seq[Math.min(n - 1, hi - 1 + R)] * (1 + U);
      const g = got[v * N_COLS + j];
      assert.ok(g >= below && g <= above, `${name(j)} = ${g}, outside [${below}, ${above}] (rank error ${R})`);
    }
  }
}

test('random short flows 1..2W packets: exact while ≤ W (and for objects inside the window), bounded past it', () => {
  const r = mulberry32(7);
  for (let k = 0; k < 400; k++) {
    const n = 1 + Math.floor(r() * 2 * WINDOW);
    const hsLen = Math.floor(r() * 20);
    let t = 0;
    const flow = Array.from({ length: n }, (_, i) => {
      t += r() < 0.2 ? 0 : r() < 0.1 ? -r() * 0.01 : r() * 0.1;
      return pk(40 + Math.floor(r() * 1461), t, (r() < 0.5 ? 0 : 1), (i < hsLen ? 0 : 1));
    });
    const fs = new FlowStats();
    const got = run(flow, fs);
    const ref = exactFeatures(flow);
    assert.equal(fs.exact, n <= WINDOW);
    assertMatchesReference(got, ref, n <= WINDOW, `flow ${k} (${n} packets)`);
    if (n > WINDOW) {
      // the handshake object lies inside the window: its medians stay exact
      if (hsLen <= WINDOW) for (const j of MEDIAN_COLS) assert.equal(got[3 * N_COLS + j], ref[3 * N_COLS + j], `flow ${k} hs ${STAT_NAMES[j]}`);
      assertMedianBounds(got, flow, `flow ${k} (${n} packets)`);
    }
  }
});

test('exactly W packets is exact; packet W+1 switches to estimates that still agree closely', () => {
  const flow = GENERATORS['web: bimodal lengths, exponential gaps'](WINDOW + 1, 3);
  const a = run(flow.slice(0, WINDOW));
  assertMatchesReference(a, exactFeatures(flow.slice(0, WINDOW)), true, 'W packets');
  const fs = new FlowStats();
  const b = run(flow, fs);
  assert.equal(fs.exact, false);
  assertMatchesReference(b, exactFeatures(flow), false, 'W+1 packets');
  assertMedianBounds(b, flow, 'W+1 packets');
});

for (const [name, gen] of Object.entries(GENERATORS)) {
  test(`10^5 packets, ${name}: moments exact to 1e-9, medians within their bounds`, () => {
    const flow = gen(100_000, 42);
    const got = run(flow);
    const ref = exactFeatures(flow);
    assertMatchesReference(got, ref, false, name);
    assertMedianBounds(got, flow, name);
  });
}

/**
 * Smallest R with x[lo-1-R]·(1-u) <= g <= x[hi-1+R]·(1+u) (0-based non-decreasing x, u = relative
 * rounding allowed); Infinity when no R works.
 */
function achievedRankError(x: number[], g: number, u = 0): number {
  const n = x.length;
  const lo = Math.floor((n + 1) / 2) - 1;
  const hi = Math.floor(n / 2);
  for (let r = 0; r <= n; r++) {
    if (x[Math.max(0, lo - r)] * (1 - u) <= g && g <= x[Math.min(n - 1, hi + r)] * (1 + u)) return r;
  }
  return Infinity;
}

test('cumulative medians: a jump just past the middle rank shows a real rank error, still within the bound', () => {
  // 50001 packets of 100 bytes, 1 ms apart, with a 1000 s pause and one 60000-byte packet at rank 25401:
  // the true medians are c = 2500100 and e = 25 s; a sampled ring straddling the jump has to interpolate.
  const n = 50_001;
  const flow = Array.from({ length: n }, (_, i) =>
    pk(i === 25_400 ? 60_000 : 100, (i < 25_400 ? 0 : 1000) + i * 1e-3, 0, 1));
  const got = run(flow);
  assertMedianBounds(got, flow, 'jump');
  const { c, e } = objectSequences(flow);
  assert.equal(c[25_000], 2_500_100);
  const R = cumulativeRankError(n);
  assert.equal(R, 1612, 'n/(K-1) = 50001/31');
  for (const [j, seq] of [[8, c], [18, e]] as const) {
    const r = achievedRankError(seq, got[j]);
    assert.ok(r >= 1 && r <= R, `${FEATURE_NAMES[j]}: achieved rank error ${r}, bound ${R}`);
  }
});

test('cumulative medians of a steady stream are exact up to float32 rounding (linear interpolation between samples)', () => {
  // constant length and constant 2 ms spacing: c_i and e_i are linear in i, so interpolating
  // between two samples gives the value at the middle rank itself
  for (const n of [1000, 4096, 100_001]) {
    const flow = Array.from({ length: n }, (_, i) => pk(1000, i * 0.002, 1, 1));
    const got = run(flow);
    const ref = exactFeatures(flow);
    for (const j of [8, 18]) {
      assert.ok(Math.abs(got[j] - ref[j]) <= 2 ** -22 * ref[j], `n=${n} ${FEATURE_NAMES[j]} ${got[j]} vs ${ref[j]}`);
    }
  }
});

test('cumulative medians: the rank bound holds after every one of 6000 packets (every ring state)', () => {
  const r = mulberry32(11);
  const fs = new FlowStats();
  const out = new Float64Array(115);
  const c: number[] = [];
  const e: number[] = [];
  let t = 0;
  let sum = 0;
  let first = 0;
  let clock = 0;
  let worst = 0;
  for (let n = 1; n <= 6000; n++) {
    const len = r() < 0.5 ? 40 : 40 + Math.floor(r() * 60000);
    t += r() < 0.3 ? 0 : r() ** 4 * 10;
    const tt = r() < 0.05 ? t - 1 : t; // some out of order
    fs.add(len, tt, 0, 1);
    sum += len;
    c.push(sum);
    if (n === 1) first = clock = tt;
    else clock = Math.max(clock, tt);
    e.push(clock - first);
    fs.write(out);
    const R = cumulativeRankError(n);
    for (const [j, seq] of [[8, c], [18, e]] as const) {
      const got = out[j];
      // float32 samples: allow their rounding when measuring the rank error
      const rank = achievedRankError(seq, got, 2 ** -23);
      worst = Math.max(worst, rank / n);
      assert.ok(rank <= R, `n=${n} ${FEATURE_NAMES[j]}: rank error ${rank} > ${R}`);
    }
  }
  assert.ok(worst > 0.01, `the estimator was exercised (worst relative rank error ${worst})`);
});
