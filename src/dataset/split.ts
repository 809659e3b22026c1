/**
 * Seeded train/validation/test split of a dataset's rows.
 *
 * --split-by flow: stratified per class. Each class's rows are shuffled (seeded) and cut by the
 *   fractions with the largest-remainder rule, so a class of n flows gets floor(n·f) rows per split
 *   plus the leftovers to the largest remainders (ties: train, then validation). Classes of one or
 *   two flows therefore land in train only: stratifying them is not possible.
 * --split-by file: every capture file goes whole to one split, so flows of one session never sit
 *   on both sides. Files are grouped by their dominant application (the most frequent label other
 *   than 'background', else 'background'); within a group the files are shuffled (seeded) and each
 *   goes to the split that is furthest below its target share of the group's flows. With few files
 *   per group the shares are necessarily coarse.
 * Output: one byte per row, 0 = train, 1 = validation, 2 = test. The same rows, labels, files,
 * fractions and seed always give the same split (independent of Map/Set iteration or locale).
 */
import { StnnError, usageError } from '../util/errors.js';

export const SPLIT_TRAIN = 0;
export const SPLIT_VAL = 1;
export const SPLIT_TEST = 2;
export const SPLIT_NAMES = ['train', 'validation', 'test'] as const;
export const DEFAULT_FRACTIONS: readonly [number, number, number] = [0.7, 0.15, 0.15];

export type SplitBy = 'flow' | 'file';

export interface SplitOptions {
  by: SplitBy;
  seed: number;
  fractions?: readonly [number, number, number];
}

/** mulberry32: small, fast, seeded 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** In-place Fisher–Yates shuffle. */
export function shuffle<T>(arr: T[], rng: () => number): T[] {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = arr[i];
    arr[i] = arr[j];
    arr[j] = t;
  }
  return arr;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Parses "0.7,0.15,0.15" (three non-negative numbers summing to 1, train > 0). */
export function parseFractions(s: string, option = 'fractions'): [number, number, number] {
  const parts = s.split(',').map((x) => Number(x.trim()));
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x) || x < 0)) {
    throw usageError(`--${option}: expected three non-negative numbers train,validation,test, got '${s}'`);
  }
  checkFractions(parts as [number, number, number], `--${option}`);
  return parts as [number, number, number];
}

function checkFractions(f: readonly number[], what: string): void {
  const sum = f[0] + f[1] + f[2];
  if (Math.abs(sum - 1) > 1e-9 || !(f[0] > 0) || f.some((x) => x < 0)) {
    throw new StnnError('STNN_USAGE', `${what}: fractions must be ≥ 0, sum to 1 and give train a share, got ${f.join(',')}`);
  }
}

/** Largest-remainder apportionment of n items over the fractions. */
export function apportion(n: number, f: readonly number[]): number[] {
  const raw = f.map((x) => n * x);
  const out = raw.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = [0, 1, 2].sort((a, b) => raw[b] - out[b] - (raw[a] - out[a]) || a - b);
  for (let k = 0; left > 0; k = (k + 1) % 3, left--) out[order[k]]++;
  return out;
}

export function splitDataset(y: readonly string[], file: readonly string[], opts: SplitOptions): Uint8Array {
  const f = opts.fractions ?? DEFAULT_FRACTIONS;
  checkFractions(f, 'split');
  if (y.length !== file.length) {
    throw new StnnError('STNN_BAD_INPUT', `split: ${y.length} labels but ${file.length} file names`);
  }
  const rng = mulberry32(opts.seed);
  const out = new Uint8Array(y.length);
  if (opts.by === 'flow') {
    const byClass = new Map<string, number[]>();
    for (let i = 0; i < y.length; i++) {
      let a = byClass.get(y[i]);
      if (!a) byClass.set(y[i], (a = []));
      a.push(i);
    }
    for (const cls of [...byClass.keys()].sort(byCodeUnit)) {
      const rows = shuffle(byClass.get(cls)!, rng);
      const [nTrain, nVal] = apportion(rows.length, f);
      for (let k = 0; k < rows.length; k++) out[rows[k]] = k < nTrain ? SPLIT_TRAIN : k < nTrain + nVal ? SPLIT_VAL : SPLIT_TEST;
    }
    return out;
  }
  if (opts.by !== 'file') throw usageError(`--split-by: expected 'flow' or 'file', got '${String(opts.by)}'`);

  // rows and label counts per file
  const files = new Map<string, { rows: number[]; counts: Map<string, number> }>();
  for (let i = 0; i < y.length; i++) {
    let e = files.get(file[i]);
    if (!e) files.set(file[i], (e = { rows: [], counts: new Map() }));
    e.rows.push(i);
    e.counts.set(y[i], (e.counts.get(y[i]) ?? 0) + 1);
  }
  const groups = new Map<string, string[]>();
  for (const [name, e] of files) {
    let best = 'background';
    let bestN = 0;
    for (const [cls, n] of e.counts) {
      if (cls === 'background') continue;
      if (n > bestN || (n === bestN && cls < best)) {
        best = cls;
        bestN = n;
      }
    }
    let g = groups.get(best);
    if (!g) groups.set(best, (g = []));
    g.push(name);
  }
  for (const key of [...groups.keys()].sort(byCodeUnit)) {
    const names = shuffle(groups.get(key)!.sort(byCodeUnit), rng);
    const total = names.reduce((a, n) => a + files.get(n)!.rows.length, 0);
    const got = [0, 0, 0];
    for (const name of names) {
      let s = 0;
      let bestDeficit = -Infinity;
      for (let k = 0; k < 3; k++) {
        const deficit = f[k] * total - got[k];
        if (f[k] > 0 && deficit > bestDeficit) {
          bestDeficit = deficit;
          s = k;
        }
      }
      const rows = files.get(name)!.rows;
      got[s] += rows.length;
      for (const r of rows) out[r] = s;
    }
  }
  return out;
}

/** Rows per split per class: counts.get(cls) = [train, validation, test]. */
export function splitCounts(y: readonly string[], split: Uint8Array): Map<string, [number, number, number]> {
  const m = new Map<string, [number, number, number]>();
  for (let i = 0; i < y.length; i++) {
    let c = m.get(y[i]);
    if (!c) m.set(y[i], (c = [0, 0, 0]));
    c[split[i]]++;
  }
  return new Map([...m.entries()].sort((a, b) => byCodeUnit(a[0], b[0])));
}
