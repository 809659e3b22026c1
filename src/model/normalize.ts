/**
 * Input normalisation: t(x) = sign(x)·log1p(|x|) per feature, then z-score with the mean and
 * standard deviation of t over the training rows. (The features are non-negative counts, lengths,
 * times and rates; the sign only keeps a stray negative value finite.)
 *
 * One normaliser per model directory: fitted on the training split of the first training into the
 * directory, stored in manifest.json, and reused by every application trained into it later, so
 * all one-class models of a directory see the same inputs and a batch is normalised once for all.
 */
import { StnnError } from '../util/errors.js';

export interface Normalizer {
  /** 'log1p-zscore' (the only transform so far). */
  transform: 'log1p-zscore';
  mean: number[];
  std: number[];
}

/** A std below this is treated as 1 (a constant feature is centred, not blown up). */
const MIN_STD = 1e-6;

function t(x: number): number {
  return x >= 0 ? Math.log1p(x) : -Math.log1p(-x);
}

/**
 * Fits on `rows` of X (row-major, d columns); all rows when `rows` is omitted. Sums in float64.
 */
export function fitNormalizer(X: Float32Array, n: number, d: number, rows?: ArrayLike<number>): Normalizer {
  if (X.length !== n * d) throw new StnnError('STNN_BAD_INPUT', `normaliser: X has ${X.length} values, expected ${n}×${d}`);
  const m = rows ? rows.length : n;
  if (m === 0) throw new StnnError('STNN_BAD_INPUT', 'normaliser: no training rows to fit on');
  const sum = new Float64Array(d);
  const sumSq = new Float64Array(d);
  for (let k = 0; k < m; k++) {
    const r = rows ? rows[k]! : k;
    const base = r * d;
    for (let j = 0; j < d; j++) {
      const v = t(X[base + j]!);
      sum[j] += v;
    }
  }
  const mean = Array.from(sum, (s) => s / m);
  for (let k = 0; k < m; k++) {
    const r = rows ? rows[k]! : k;
    const base = r * d;
    for (let j = 0; j < d; j++) {
      const e = t(X[base + j]!) - mean[j]!;
      sumSq[j] += e * e;
    }
  }
  const std = Array.from(sumSq, (s) => {
    const sd = Math.sqrt(s / m);
    return sd >= MIN_STD && Number.isFinite(sd) ? sd : 1;
  });
  return { transform: 'log1p-zscore', mean, std };
}

/**
 * Normalises n rows of X into `out` (allocated when not given). Non-finite inputs become 0 (the
 * training mean) so a broken feature cannot poison a whole batch.
 */
export function applyNormalizer(norm: Normalizer, X: Float32Array, n: number, out?: Float32Array): Float32Array {
  const d = norm.mean.length;
  if (X.length < n * d) throw new StnnError('STNN_BAD_INPUT', `normaliser: X has ${X.length} values, expected ${n}×${d}`);
  const y = out ?? new Float32Array(n * d);
  const inv = norm.std.map((s) => 1 / s);
  for (let i = 0; i < n; i++) {
    const base = i * d;
    for (let j = 0; j < d; j++) {
      const v = (t(X[base + j]!) - norm.mean[j]!) * inv[j]!;
      y[base + j] = Number.isFinite(v) ? v : 0;
    }
  }
  return y;
}

/** Checks a normaliser read from a manifest; `where` names the file. */
export function checkNormalizer(v: unknown, d: number, where: string): Normalizer {
  const o = v as Partial<Normalizer> | null;
  const okArr = (a: unknown) => Array.isArray(a) && a.length === d && a.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!o || typeof o !== 'object' || o.transform !== 'log1p-zscore' || !okArr(o.mean) || !okArr(o.std) || o.std!.some((s) => s <= 0)) {
    throw new StnnError('STNN_MODEL', `${where}: normalizer: expected {transform: 'log1p-zscore', mean: ${d} numbers, std: ${d} positive numbers}`);
  }
  return { transform: 'log1p-zscore', mean: o.mean!.slice(), std: o.std!.slice() };
}
