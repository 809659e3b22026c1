/**
 * Offline reference for the 115 features: the definitions of src/features/flow-stats.ts
 * (DESIGN.md "Features") computed the plain way, from whole arrays: sort for the median,
 * two passes for the std, compensated sums for the means. Slow and simple on purpose.
 */
export interface RefPacket {
  len: number;
  t: number;
  dir: 0 | 1;
  phase: 0 | 1;
}

const OBJECTS: ((p: RefPacket) => boolean)[] = [
  () => true,
  (p) => p.dir === 0,
  (p) => p.dir === 1,
  (p) => p.phase === 0,
  (p) => p.phase === 1,
];

/** Neumaier-compensated sum. */
export function exactSum(xs: ArrayLike<number>): number {
  let sum = 0;
  let comp = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const t = sum + x;
    comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  return sum + comp;
}

/** Median of a copy sorted ascending; mean of the two middle values for an even count. */
export function exactMedian(xs: ArrayLike<number>): number {
  const a = Float64Array.from(xs).sort();
  const n = a.length;
  if (n === 0) return 0;
  return (a[Math.floor((n - 1) / 2)] + a[Math.floor(n / 2)]) / 2;
}

/** min, max, mean, median, population std; five 0s when empty. */
export function fiveStats(xs: ArrayLike<number>): [number, number, number, number, number] {
  const n = xs.length;
  if (n === 0) return [0, 0, 0, 0, 0];
  let min = xs[0];
  let max = xs[0];
  for (let i = 1; i < n; i++) {
    if (xs[i] < min) min = xs[i];
    if (xs[i] > max) max = xs[i];
  }
  const mean = exactSum(xs) / n;
  const sq = new Float64Array(n);
  for (let i = 0; i < n; i++) sq[i] = (xs[i] - mean) ** 2;
  const std = Math.sqrt(exactSum(sq) / n);
  return [min, max, mean, exactMedian(xs), std];
}

/** The sequences of one object: lengths, cumulative lengths, intervals, cumulative intervals. */
export function objectSequences(packets: RefPacket[]): { l: number[]; c: number[]; d: number[]; e: number[] } {
  const l: number[] = [];
  const c: number[] = [];
  const d: number[] = [];
  const e: number[] = [];
  let clock = 0;
  let t1 = 0;
  let sum = 0;
  packets.forEach((p, i) => {
    l.push(p.len);
    sum += p.len;
    c.push(sum);
    if (i === 0) {
      clock = p.t;
      t1 = p.t;
    } else {
      const next = Math.max(p.t, clock); // monotone clock: out-of-order times do not go back
      d.push(next - clock);
      clock = next;
    }
    e.push(clock - t1);
  });
  return { l, c, d, e };
}

/** The 115 features (FEATURE_NAMES order) of a flow given as its packets in arrival order. */
export function exactFeatures(packets: RefPacket[]): Float64Array {
  const out = new Float64Array(115);
  OBJECTS.forEach((member, v) => {
    const ps = packets.filter(member);
    const n = ps.length;
    if (n === 0) return;
    const { l, c, d, e } = objectSequences(ps);
    const span = e[n - 1];
    const bytes = exactSum(l);
    const row = [
      ...fiveStats(l),
      ...fiveStats(c),
      ...fiveStats(d),
      ...fiveStats(e),
      n,
      span > 0 ? n / span : 0,
      span > 0 ? bytes / span : 0,
    ];
    out.set(row, v * 23);
  });
  return out;
}
