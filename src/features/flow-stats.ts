/**
 * Running statistics of one flow: the 23 statistics × 5 objects of DESIGN.md "Features"
 * (paper Table I), updated packet by packet in O(1) amortised time and bounded memory.
 *
 * ── Definitions (the exact reference test/helpers/exact-features.ts follows the same ones) ──
 * Objects (rows, names.ts): all packets, fwd (dir 0, client→server), bwd (dir 1), hs (phase 0,
 * handshake), data (phase 1). Every packet given to add() counts: pure ACKs and SYNs included.
 * In each object, packets 1..n in the order add() sees them:
 *   l_i   IP-layer length (a non-negative integer; NaN/negative is taken as 0).
 *   t'_i  a monotone clock: t'_1 = t_1, t'_i = max(t_i, t'_(i-1)), so out-of-order captures
 *         never make an interval negative. Each object keeps its own clock. A non-finite t is
 *         replaced by the flow's latest clock value (0 for the first packet).
 *   c_i   = l_1 + … + l_i                  (cumulative length, i = 1..n)
 *   d_i   = t'_i − t'_(i−1)                 (interval, i = 2..n: n−1 values, none when n = 1)
 *   e_i   = t'_i − t'_1                     (cumulative interval, i = 1..n, e_1 = 0)
 *   span  = e_n = t'_n − t'_1
 * Per sequence: min, max, mean, median, std. The std is the population std (divide by the
 * count), computed with Welford's update around a mean taken from a compensated running sum,
 * and clamped at 0 (never a negative variance). The median of an even count is the mean of
 * the two middle values. An empty sequence gives five 0s; an empty object gives 23 0s.
 * Then n, n / span and Σl / span (both 0 when span = 0). Hence, with n = 1: iat_* = 0,
 * cumiat_* = 0, rates 0. The first value of a sequence is recognised by the count, never by
 * a zero sum (nDPI's bug). Σl is exact while it stays below 2^53; Σc_i and Σe_i use Neumaier
 * compensated summation; the iat mean is e_n/(n−1) (the telescoped sum of the intervals).
 *
 * ── The median: exact up to a window, then estimated with a stated, tested bound ──
 * Window: the first W = 32 packets of the flow (length, time, dir/phase bits: 17 bytes each)
 * are stored once, shared by the five objects. An object whose packets all lie in the window
 * (always the case while the flow has ≤ W packets; often the handshake object of long flows)
 * gets its four medians exactly, by sorting the window's values (insertion sort) at write().
 * Past W packets, an extension block (taken from a per-thread free list, zeroed, replayed from
 * the window once, given back by reset()) keeps:
 *  • lengths: histograms with one bucket per byte value below 128 (ACKs, SYNs and other small
 *    packets come out exact) and log-linear buckets above (every power-of-two octave from 128
 *    to 2^17 cut into 8 equal buckets), for fwd, bwd and hs; all = fwd + bwd and
 *    data = fwd + bwd − hs (counts are exact integers). A log bucket [a, b) answers 2ab/(a+b),
 *    whose relative error over the bucket is at most (b−a)/(b+a) ≤ 1/17. Bound: the estimate
 *    is exact when both middle values are integers below 128, and |est − median| ≤ median/17
 *    (≈ 5.9 %) for integer lengths below 2^17; it is also clamped into [min, max].
 *  • intervals: per object, a bucket for exactly 0, one for (0, τ) with τ = 2^-20 s (≈ 0.95 µs),
 *    octaves [τ, 2^12 s) cut into 4 buckets each (relative error ≤ 1/9 ≈ 11.1 %), one bucket
 *    for ≥ 4096 s. Bound: |est − median| ≤ median/9 + τ/2 when the median is < 4096 s.
 *  • cumulative length and cumulative interval: both sequences are non-decreasing, so their
 *    median is the value at the middle rank(s) lo = ⌊(n+1)/2⌋, hi = ⌊n/2⌋+1. Per object a ring
 *    of K = 32 (c_i, e_i) samples taken every s-th rank, holding only ranks from just below lo
 *    up to n (older samples can never be needed again, since lo only grows); when the ring is
 *    full every other sample is dropped and s doubles. The answer interpolates linearly
 *    between the two samples around the rank (c_n and e_n are known exactly and serve as the
 *    last sample), so it lies between the true values at ranks lo − R and hi + R, with
 *    R = ⌊n/(K−1)⌋ (the stride stays < n/(K−1); stride 1 means exact). Samples are stored
 *    as float32: add a relative rounding of 2^-24 to that bound.
 * Counts are 32-bit: the bounds hold for objects of fewer than 2^32 packets.
 *
 * ── Memory and time ──
 * Every flow: BASE_BYTES = 1384 bytes of typed-array state (5 × 21 float64 accumulators, the
 * window). A flow past W packets adds EXT_BYTES = 6568 bytes (histograms 3 × 209 + 5 × 131
 * uint32, samples 5 × 32 × 2 float32, ring bookkeeping 20 float64). STATE_BYTES = 7952 is the
 * maximum.
 * The JS objects around them add about 350 bytes (short flow) and 780 bytes (long flow),
 * measured in test/features/memory.test.ts. Most flows stay inside the window and never take
 * the larger block; the sizes (W = K = 32, 8 and 4 buckets per octave) trade precision for
 * tens of thousands of concurrent flows per worker in a few tens of MB.
 * add() is O(1) (ring compaction is O(K) every ≥ K/2 samples, the extension's replay O(W)
 * once per flow) and allocates nothing except, once per long flow, an extension block when
 * the free list is empty. write() is O(W² + buckets) (insertion sort of ≤ 32 values) and
 * allocates nothing. Module state (scratch slots, free list) is per thread: never share a
 * FlowStats between worker threads.
 */
import { N_COLS, N_FEATURES, N_ROWS } from './names.js';

/** Packets of the flow kept for exact medians. */
export const WINDOW = 32;
/** Samples per object for the cumulative-sequence medians. */
export const RING = 32;
/** Relative error bound of the length-median estimate (integer lengths below 2^17; exact below 128). */
export const LEN_MEDIAN_REL_ERROR = 1 / 17;
/** Relative error bound of the interval-median estimate, plus IAT_MEDIAN_ABS_ERROR. */
export const IAT_MEDIAN_REL_ERROR = 1 / 9;
/** Absolute part of the interval-median bound: τ/2 seconds. */
export const IAT_MEDIAN_ABS_ERROR = 2 ** -21;
/** Intervals at or above this (seconds) fall in the overflow bucket, outside the bound. */
export const IAT_MEDIAN_MAX = 4096;
/** Rank error bound of the cumulative-sequence medians for an object of n packets. */
export function cumulativeRankError(n: number): number {
  return Math.floor(n / (RING - 1));
}

const W = WINDOW;
const K = RING; // a power of two (ring indices use & (K - 1))

// Per-object accumulator layout (float64 slots).
const N = 0;
const LSUM = 1;
const LMEAN = 2;
const LM2 = 3;
const LMIN = 4;
const LMAX = 5;
const L1 = 6;
const CSUM = 7;
const CCOMP = 8;
const CMEAN = 9;
const CM2 = 10;
const DMEAN = 11;
const DM2 = 12;
const DMIN = 13;
const DMAX = 14;
const ESUM = 15;
const ECOMP = 16;
const EMEAN = 17;
const EM2 = 18;
const T1 = 19;
const TL = 20;
const VS = 21;
const WT = N_ROWS * VS; // window times
const WL = WT + W; // window lengths
const NF64 = WL + W;

// flags byte of a window packet: bit 0 = dir, bit 1 = phase. Object membership: (flags & MASK) === VAL.
const MASK = [0, 1, 1, 2, 2];
const VAL = [0, 0, 1, 0, 2];

// ── log-linear buckets ──
const LEN_SUB = 8; // buckets per octave
const LEN_EXACT = 128; // one bucket per value below
const LEN_LO_EXP = 7; // 128
const LEN_HI_EXP = 17; // 131072
const NBL = LEN_EXACT + 1 + (LEN_HI_EXP - LEN_LO_EXP) * LEN_SUB; // 209
const IAT_SUB = 4;
const IAT_LO_EXP = -20;
const IAT_HI_EXP = 12;
const NBD = 3 + (IAT_HI_EXP - IAT_LO_EXP) * IAT_SUB; // 131
const LEN_HIST_OFF = 0; // fwd, bwd, hs
const IAT_HIST_OFF = 3 * NBL; // per object
const NCOUNTS = IAT_HIST_OFF + N_ROWS * NBD;

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const HI = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 1 : 0; // high word index

/*
 * Doubles passed to or returned from a function V8 does not inline are boxed (a heap
 * allocation). Hot-path helpers therefore take their double inputs from these scratch slots
 * (IO: 0 = length, 1 = time, 2 = c_i, 3 = e_i; F64[0] for the bucket functions) and only
 * small integers as arguments.
 */
const IO = new Float64Array(4);

/** Bucket of the length in F64[0]. */
function lenBucket(): number {
  const x = F64[0];
  if (x < LEN_EXACT) return x | 0;
  if (x >= 131072) return NBL - 1;
  const h = U32[HI];
  return LEN_EXACT + (((h >>> 20) - 1023 - LEN_LO_EXP) << 3) + ((h >>> 17) & 7);
}

/** Bucket of the interval in F64[0]. */
function iatBucket(): number {
  const x = F64[0];
  if (x === 0) return 0;
  if (x < 2 ** IAT_LO_EXP) return 1;
  if (x >= IAT_MEDIAN_MAX) return NBD - 1;
  const h = U32[HI];
  return 2 + (((h >>> 20) - 1023 - IAT_LO_EXP) << 2) + ((h >>> 18) & 3);
}

/** Value answered for each bucket: 2ab/(a+b) over [a, b). */
const LEN_REP = new Float64Array(NBL);
const IAT_REP = new Float64Array(NBD);
{
  for (let b = 0; b < LEN_EXACT; b++) LEN_REP[b] = b;
  LEN_REP[NBL - 1] = 2 ** LEN_HI_EXP;
  for (let b = LEN_EXACT; b < NBL - 1; b++) {
    const e = LEN_LO_EXP + Math.floor((b - LEN_EXACT) / LEN_SUB);
    const j = (b - LEN_EXACT) % LEN_SUB;
    const lo = 2 ** e * (1 + j / LEN_SUB);
    const hi = 2 ** e * (1 + (j + 1) / LEN_SUB);
    LEN_REP[b] = (2 * lo * hi) / (lo + hi);
  }
  IAT_REP[0] = 0;
  IAT_REP[1] = 2 ** (IAT_LO_EXP - 1);
  IAT_REP[NBD - 1] = IAT_MEDIAN_MAX;
  for (let b = 2; b < NBD - 1; b++) {
    const e = IAT_LO_EXP + Math.floor((b - 2) / IAT_SUB);
    const j = (b - 2) % IAT_SUB;
    const lo = 2 ** e * (1 + j / IAT_SUB);
    const hi = 2 ** e * (1 + (j + 1) / IAT_SUB);
    IAT_REP[b] = (2 * lo * hi) / (lo + hi);
  }
}

/** Extension block of a flow past the window. */
class Ext {
  readonly counts: Uint32Array;
  /** per object: K cumulative lengths, then K cumulative intervals (float32). */
  readonly samp: Float32Array;
  /** per object: ring head slot, sample count, stride, rank of the head sample. */
  readonly meta: Float64Array;
  constructor() {
    const buf = new ArrayBuffer(NCOUNTS * 4 + N_ROWS * 2 * K * 4 + N_ROWS * 4 * 8);
    this.meta = new Float64Array(buf, 0, N_ROWS * 4);
    this.counts = new Uint32Array(buf, N_ROWS * 4 * 8, NCOUNTS);
    this.samp = new Float32Array(buf, N_ROWS * 4 * 8 + NCOUNTS * 4, N_ROWS * 2 * K);
  }
}
const EXT_BYTES_ = NCOUNTS * 4 + N_ROWS * 2 * K * 4 + N_ROWS * 4 * 8;
const BASE_BYTES_ = NF64 * 8 + W;

const POOL_MAX = 1024; // spare blocks kept (≤ 6.6 MB); beyond, a reset() block goes to the GC
const pool: Ext[] = [];
function acquireExt(): Ext {
  const x = pool.pop() ?? new Ext();
  x.counts.fill(0);
  const m = x.meta;
  for (let v = 0; v < N_ROWS; v++) {
    m[v * 4] = 0;
    m[v * 4 + 1] = 0;
    m[v * 4 + 2] = 1;
    m[v * 4 + 3] = 1;
  }
  return x;
}
/** Spare extension blocks held by this thread's free list (for tests and metrics). */
export function extPoolSize(): number {
  return pool.length;
}

// write() scratch (per thread)
const SA = new Float64Array(W);
const SB = new Float64Array(W);
const SM = new Float64Array(6); // len median, c_lo, c_hi, iat median, e_lo, e_hi

export class FlowStats {
  /** Bytes of typed-array state every flow holds. */
  static readonly BASE_BYTES = BASE_BYTES_;
  /** Extra bytes a flow holds once it has more than WINDOW packets. */
  static readonly EXT_BYTES = EXT_BYTES_;
  /** Maximum bytes of typed-array state per flow (BASE_BYTES + EXT_BYTES). */
  static readonly STATE_BYTES = BASE_BYTES_ + EXT_BYTES_;

  private readonly s: Float64Array;
  private readonly wf: Uint8Array;
  private ext: Ext | null = null;

  constructor() {
    const buf = new ArrayBuffer(BASE_BYTES_);
    this.s = new Float64Array(buf, 0, NF64);
    this.wf = new Uint8Array(buf, NF64 * 8, W);
  }

  /** Packets added so far. */
  get count(): number {
    return this.s[N];
  }

  /** True while every median is exact (the flow has at most WINDOW packets). */
  get exact(): boolean {
    return this.ext === null;
  }

  /** Bytes of typed-array state this flow holds now. */
  get stateBytes(): number {
    return this.ext === null ? BASE_BYTES_ : BASE_BYTES_ + EXT_BYTES_;
  }

  /**
   * One packet. len = IP-layer length; t = seconds from any origin the flow chooses (may go
   * backwards); dir 0 = client→server, 1 = server→client; phase 0 = handshake, 1 = data.
   */
  add(len: number, t: number, dir: 0 | 1, phase: 0 | 1): void {
    // Kept tiny so that V8 inlines it into the caller: the doubles then go straight into
    // the scratch slots instead of being boxed for a call.
    IO[0] = len;
    IO[1] = t;
    this.step(dir & 1, phase & 1);
  }

  private step(d: number, p: number): void {
    const s = this.s;
    let len = IO[0];
    let t = IO[1];
    if (!(len >= 0)) len = IO[0] = 0;
    const nAll = s[N];
    if (t - t !== 0) t = IO[1] = nAll === 0 ? 0 : s[TL];
    if (nAll < W) {
      s[WT + nAll] = t;
      s[WL + nAll] = len;
      this.wf[nAll] = d | (p << 1);
    } else if (this.ext === null) {
      this.startExt();
    }
    const x = this.ext;
    if (x !== null) {
      F64[0] = len;
      const b = lenBucket();
      x.counts[LEN_HIST_OFF + d * NBL + b]++;
      if (p === 0) x.counts[LEN_HIST_OFF + 2 * NBL + b]++;
    }
    this.update(0, x);
    this.update(1 + d, x);
    this.update(3 + p, x);
  }

  private update(v: number, x: Ext | null): void {
    const s = this.s;
    const len = IO[0];
    const t = IO[1];
    const o = v * VS;
    const n = s[o + N] + 1;
    s[o + N] = n;
    if (n === 1) {
      s[o + LSUM] = len;
      s[o + LMEAN] = len;
      s[o + LMIN] = len;
      s[o + LMAX] = len;
      s[o + L1] = len;
      s[o + CSUM] = len;
      s[o + CMEAN] = len;
      s[o + T1] = t;
      s[o + TL] = t;
      // LM2, CCOMP, CM2, D*, E* stay 0 (reset() zeroes them)
      if (x !== null) {
        IO[2] = len;
        IO[3] = 0;
        sampleAdd(x, v, 1);
      }
      return;
    }
    // length
    const lsum = s[o + LSUM] + len;
    const lm0 = s[o + LMEAN];
    const lm1 = lsum / n;
    s[o + LSUM] = lsum;
    s[o + LMEAN] = lm1;
    s[o + LM2] += (len - lm0) * (len - lm1);
    if (len < s[o + LMIN]) s[o + LMIN] = len;
    if (len > s[o + LMAX]) s[o + LMAX] = len;
    // cumulative length c = lsum (Neumaier sum of the c_i)
    const c = lsum;
    {
      const sum = s[o + CSUM];
      const tt = sum + c;
      s[o + CCOMP] += sum >= c ? sum - tt + c : c - tt + sum;
      s[o + CSUM] = tt;
      const cm0 = s[o + CMEAN];
      const cm1 = (tt + s[o + CCOMP]) / n;
      s[o + CMEAN] = cm1;
      s[o + CM2] += (c - cm0) * (c - cm1);
    }
    // monotone clock, interval, cumulative interval
    const tl = s[o + TL];
    const tc = t > tl ? t : tl;
    s[o + TL] = tc;
    const dd = tc - tl;
    const e = tc - s[o + T1];
    const k = n - 1;
    if (k === 1) {
      s[o + DMEAN] = dd;
      s[o + DMIN] = dd;
      s[o + DMAX] = dd;
    } else {
      const dm0 = s[o + DMEAN];
      const dm1 = e / k;
      s[o + DMEAN] = dm1;
      s[o + DM2] += (dd - dm0) * (dd - dm1);
      if (dd < s[o + DMIN]) s[o + DMIN] = dd;
      if (dd > s[o + DMAX]) s[o + DMAX] = dd;
    }
    {
      const sum = s[o + ESUM];
      const tt = sum + e;
      s[o + ECOMP] += sum >= e ? sum - tt + e : e - tt + sum;
      s[o + ESUM] = tt;
      const em0 = s[o + EMEAN];
      const em1 = (tt + s[o + ECOMP]) / n;
      s[o + EMEAN] = em1;
      s[o + EM2] += (e - em0) * (e - em1);
    }
    if (x !== null) {
      F64[0] = dd;
      x.counts[IAT_HIST_OFF + v * NBD + iatBucket()]++;
      IO[2] = c;
      IO[3] = e;
      sampleAdd(x, v, n);
    }
  }

  /** Takes an extension block and replays the window into it (once per flow, O(W)). */
  private startExt(): void {
    const x = acquireExt();
    const s = this.s;
    const wf = this.wf;
    const cnt = x.counts;
    for (let i = 0; i < W; i++) {
      const f = wf[i];
      F64[0] = s[WL + i];
      const b = lenBucket();
      cnt[LEN_HIST_OFF + (f & 1) * NBL + b]++;
      if ((f & 2) === 0) cnt[LEN_HIST_OFF + 2 * NBL + b]++;
    }
    for (let v = 0; v < N_ROWS; v++) {
      const mask = MASK[v];
      const val = VAL[v];
      let n = 0;
      let c = 0;
      let t1 = 0;
      let tl = 0;
      for (let i = 0; i < W; i++) {
        if ((wf[i] & mask) !== val) continue;
        const t = s[WT + i];
        n++;
        if (n === 1) {
          c = s[WL + i];
          t1 = t;
          tl = t;
          IO[2] = c;
          IO[3] = 0;
          sampleAdd(x, v, 1);
          continue;
        }
        c += s[WL + i];
        const tc = t > tl ? t : tl;
        const dd = tc - tl;
        tl = tc;
        F64[0] = dd;
        cnt[IAT_HIST_OFF + v * NBD + iatBucket()]++;
        IO[2] = c;
        IO[3] = tc - t1;
        sampleAdd(x, v, n);
      }
    }
    this.ext = x;
  }

  /** Writes the 115 features in FEATURE_NAMES order at out[offset .. offset+114]. */
  write(out: Float64Array | Float32Array, offset = 0): void {
    if (offset < 0 || offset + N_FEATURES > out.length) {
      throw new RangeError(`FlowStats.write: ${N_FEATURES} features do not fit at offset ${offset} of ${out.length}`);
    }
    const s = this.s;
    for (let v = 0; v < N_ROWS; v++) {
      const o = v * VS;
      const w = offset + v * N_COLS;
      const n = s[o + N];
      if (n === 0) {
        for (let j = 0; j < N_COLS; j++) out[w + j] = 0;
        continue;
      }
      const lsum = s[o + LSUM];
      const span = s[o + TL] - s[o + T1];
      let lenMed: number;
      let cumMed: number;
      let iatMed: number;
      let cumiatMed: number;
      if (this.windowMedians(v, n)) {
        lenMed = SM[0];
        cumMed = (SM[1] + SM[2]) / 2;
        iatMed = SM[3];
        cumiatMed = (SM[4] + SM[5]) / 2;
      } else {
        const x = this.ext as Ext;
        lenMed = lenMedianEst(x, v, n, s[o + LMIN], s[o + LMAX]);
        iatMed = n < 2 ? 0 : iatMedianEst(x, v, n - 1, s[o + DMIN], s[o + DMAX]);
        const lo = Math.floor((n + 1) / 2);
        const hi = Math.floor(n / 2) + 1;
        cumMed = (ringAt(x, v, 0, lo, n, lsum) + ringAt(x, v, 0, hi, n, lsum)) / 2;
        cumiatMed = (ringAt(x, v, K, lo, n, span) + ringAt(x, v, K, hi, n, span)) / 2;
      }
      out[w + 0] = s[o + LMIN];
      out[w + 1] = s[o + LMAX];
      out[w + 2] = s[o + LMEAN];
      out[w + 3] = lenMed;
      out[w + 4] = Math.sqrt(Math.max(0, s[o + LM2] / n));
      out[w + 5] = s[o + L1];
      out[w + 6] = lsum;
      out[w + 7] = s[o + CMEAN];
      out[w + 8] = cumMed;
      out[w + 9] = Math.sqrt(Math.max(0, s[o + CM2] / n));
      if (n >= 2) {
        out[w + 10] = s[o + DMIN];
        out[w + 11] = s[o + DMAX];
        out[w + 12] = s[o + DMEAN];
        out[w + 13] = iatMed;
        out[w + 14] = Math.sqrt(Math.max(0, s[o + DM2] / (n - 1)));
      } else {
        for (let j = 10; j < 15; j++) out[w + j] = 0;
      }
      out[w + 15] = 0;
      out[w + 16] = span;
      out[w + 17] = s[o + EMEAN];
      out[w + 18] = cumiatMed;
      out[w + 19] = Math.sqrt(Math.max(0, s[o + EM2] / n));
      out[w + 20] = n;
      out[w + 21] = span > 0 ? n / span : 0;
      out[w + 22] = span > 0 ? lsum / span : 0;
    }
  }

  /**
   * When all n packets of object v are in the window: the exact medians into SM
   * (len median, c_lo, c_hi, iat median, e_lo, e_hi) and true; otherwise false.
   */
  private windowMedians(v: number, n: number): boolean {
    if (n > W) return false;
    const s = this.s;
    const wf = this.wf;
    const mask = MASK[v];
    const val = VAL[v];
    const inWin = Math.min(s[N], W);
    const lo = Math.floor((n + 1) / 2);
    const hi = Math.floor(n / 2) + 1;
    let m = 0;
    let c = 0;
    let t1 = 0;
    let tl = 0;
    for (let i = 0; i < inWin; i++) {
      if ((wf[i] & mask) !== val) continue;
      const len = s[WL + i];
      const t = s[WT + i];
      insertSorted(SA, m, len);
      if (m === 0) {
        c = len;
        t1 = t;
        tl = t;
      } else {
        c += len;
        const tc = t > tl ? t : tl;
        insertSorted(SB, m - 1, tc - tl);
        tl = tc;
      }
      m++;
      if (m === lo) {
        SM[1] = c;
        SM[4] = tl - t1;
      }
      if (m === hi) {
        SM[2] = c;
        SM[5] = tl - t1;
      }
    }
    if (m !== n) return false;
    if (n === 1) {
      // hi = 1 too (⌊1/2⌋+1)
      SM[0] = SA[0];
      SM[3] = 0;
      return true;
    }
    SM[0] = (SA[lo - 1] + SA[hi - 1]) / 2;
    const k = n - 1;
    SM[3] = (SB[Math.floor((k + 1) / 2) - 1] + SB[Math.floor(k / 2)]) / 2;
    return true;
  }

  /** Empties the state for reuse by another flow (gives the extension block back). */
  reset(): void {
    this.s.fill(0);
    const x = this.ext;
    if (x !== null) {
      this.ext = null;
      if (pool.length < POOL_MAX) pool.push(x);
    }
  }
}

/** Inserts x into the sorted a[0..m) (≤ W values: cheaper than TypedArray.prototype.sort). */
function insertSorted(a: Float64Array, m: number, x: number): void {
  let i = m;
  while (i > 0 && a[i - 1] > x) {
    a[i] = a[i - 1];
    i--;
  }
  a[i] = x;
}

/** Adds rank i's (c_i, e_i) = (IO[2], IO[3]) to object v's sample ring. */
function sampleAdd(x: Ext, v: number, i: number): void {
  const m = x.meta;
  const mo = v * 4;
  let cnt = m[mo + 1];
  let st = m[mo + 2];
  let r0 = m[mo + 3];
  const lo = Math.floor((i + 1) / 2);
  // fast path: not a sampled rank and nothing to drop
  if (cnt !== 0 && i !== r0 + cnt * st && r0 + st > lo) return;
  let head = m[mo];
  const c = IO[2];
  const e = IO[3];
  const sp = x.samp;
  const base = v * 2 * K;
  if (cnt === 0) {
    head = 0;
    r0 = i;
    st = 1;
    sp[base] = c;
    sp[base + K] = e;
    cnt = 1;
  } else if (i === r0 + cnt * st) {
    if (cnt === K) {
      // keep every other sample (relative positions 0, 2, …), double the stride
      for (let j = 1; j < K / 2; j++) {
        const src = (head + 2 * j) & (K - 1);
        const dst = (head + j) & (K - 1);
        sp[base + dst] = sp[base + src];
        sp[base + K + dst] = sp[base + K + src];
      }
      cnt = K / 2;
      st *= 2;
    }
    if (i === r0 + cnt * st) {
      const slot = (head + cnt) & (K - 1);
      sp[base + slot] = c;
      sp[base + K + slot] = e;
      cnt++;
    }
  }
  // drop samples below the lower middle rank that can no longer bracket it
  while (cnt >= 2 && r0 + st <= lo) {
    head = (head + 1) & (K - 1);
    r0 += st;
    cnt--;
  }
  m[mo] = head;
  m[mo + 1] = cnt;
  m[mo + 2] = st;
  m[mo + 3] = r0;
}

/** Estimated value at rank r of object v's cumulative sequence (part 0 = c, K = e); last = x_n. */
function ringAt(x: Ext, v: number, part: number, r: number, n: number, last: number): number {
  if (r >= n) return last;
  const m = x.meta;
  const mo = v * 4;
  const head = m[mo];
  const cnt = m[mo + 1];
  const st = m[mo + 2];
  const r0 = m[mo + 3];
  const base = v * 2 * K + part;
  let j = Math.floor((r - r0) / st);
  if (j < 0) j = 0; // cannot happen (r0 ≤ lo ≤ r); defensive
  if (j > cnt - 1) j = cnt - 1;
  const r1 = r0 + j * st;
  const v1 = x.samp[base + ((head + j) & (K - 1))];
  if (r1 === r) return v1;
  let r2: number;
  let v2: number;
  if (j + 1 < cnt) {
    r2 = r1 + st;
    v2 = x.samp[base + ((head + j + 1) & (K - 1))];
  } else {
    r2 = n;
    v2 = last;
  }
  return v1 + ((v2 - v1) * (r - r1)) / (r2 - r1);
}

function medianRankBuckets(counts: Uint32Array, rep: Float64Array, nb: number, total: number,
  oa: number, ob: number, oc: number): number {
  const lo = Math.floor((total + 1) / 2);
  const hi = Math.floor(total / 2) + 1;
  let acc = 0;
  let vlo = 0;
  for (let b = 0; b < nb; b++) {
    let k = counts[oa + b];
    if (ob >= 0) k += counts[ob + b];
    if (oc >= 0) k -= counts[oc + b];
    if (k === 0) continue;
    const prev = acc;
    acc += k;
    if (prev < lo && acc >= lo) vlo = rep[b];
    if (acc >= hi) return (vlo + rep[b]) / 2;
  }
  return vlo; // unreachable when the counts sum to total
}

function lenMedianEst(x: Ext, v: number, n: number, min: number, max: number): number {
  const F = LEN_HIST_OFF;
  const B = LEN_HIST_OFF + NBL;
  const H = LEN_HIST_OFF + 2 * NBL;
  let m: number;
  switch (v) {
    case 0: m = medianRankBuckets(x.counts, LEN_REP, NBL, n, F, B, -1); break;
    case 1: m = medianRankBuckets(x.counts, LEN_REP, NBL, n, F, -1, -1); break;
    case 2: m = medianRankBuckets(x.counts, LEN_REP, NBL, n, B, -1, -1); break;
    case 3: m = medianRankBuckets(x.counts, LEN_REP, NBL, n, H, -1, -1); break;
    default: m = medianRankBuckets(x.counts, LEN_REP, NBL, n, F, B, H); break;
  }
  return m < min ? min : m > max ? max : m;
}

function iatMedianEst(x: Ext, v: number, k: number, min: number, max: number): number {
  const m = medianRankBuckets(x.counts, IAT_REP, NBD, k, IAT_HIST_OFF + v * NBD, -1, -1);
  return m < min ? min : m > max ? max : m;
}
