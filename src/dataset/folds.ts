/**
 * Stratified K-fold cross-validation over a dataset's rows, seeded.
 *
 * stratifiedFolds: each class's rows (classes in code-unit order) are shuffled with the seeded
 * generator and dealt to the folds in turn, the deal going on from fold to fold across classes
 * (class A's last row to fold 2 → class B's first row to fold 3), so every class has ⌊n/K⌋ or
 * ⌈n/K⌉ rows in each fold and the folds' sizes differ by at most one. A class of fewer than K rows
 * is missing from some folds.
 *
 * foldSplit: the split (0 train, 1 validation, 2 test) of one fold: the fold's rows are the test
 * split, and a validation share is carved from the other folds' rows per class by the dataset's
 * own stratified splitter (split.ts, largest remainder), for early stopping and the voting list.
 */
import { StnnError } from '../util/errors.js';
import { mulberry32, shuffle, splitDataset, SPLIT_TEST } from './split.js';

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Fold (0…k−1) of every row. */
export function stratifiedFolds(y: readonly string[], k: number, seed: number): Uint8Array {
  if (!Number.isInteger(k) || k < 2 || k > 255) throw new StnnError('STNN_USAGE', `folds: expected an integer from 2 to 255, got ${k}`);
  const byClass = new Map<string, number[]>();
  for (let i = 0; i < y.length; i++) {
    let a = byClass.get(y[i]);
    if (!a) byClass.set(y[i], (a = []));
    a.push(i);
  }
  const rng = mulberry32(seed);
  const out = new Uint8Array(y.length);
  let next = 0;
  for (const cls of [...byClass.keys()].sort(byCodeUnit)) {
    for (const row of shuffle(byClass.get(cls)!, rng)) {
      out[row] = next;
      next = (next + 1) % k;
    }
  }
  return out;
}

/**
 * Split of every row for fold `fold`: 2 (test) for the fold's rows; of the others, a share
 * `validation` per class goes to 1 (validation), the rest to 0 (train).
 */
export function foldSplit(
  y: readonly string[],
  file: readonly string[],
  folds: Uint8Array,
  fold: number,
  validation: number,
  seed: number,
): Uint8Array {
  if (folds.length !== y.length) throw new StnnError('STNN_BAD_INPUT', `folds: ${folds.length} folds for ${y.length} rows`);
  if (!(validation > 0 && validation < 1)) throw new StnnError('STNN_USAGE', `folds: validation share must be in (0, 1), got ${validation}`);
  const rest: number[] = [];
  for (let i = 0; i < y.length; i++) if (folds[i] !== fold) rest.push(i);
  const inner = splitDataset(rest.map((i) => y[i]), rest.map((i) => file[i]), { by: 'flow', seed, fractions: [1 - validation, validation, 0] });
  const out = new Uint8Array(y.length).fill(SPLIT_TEST);
  rest.forEach((row, k) => { out[row] = inner[k]; });
  return out;
}

/** Labels with fewer than `min` rows become `other` (default 'background'); `other` itself stays. */
export function mergeRareLabels(y: readonly string[], min: number, other = 'background'): string[] {
  const n = new Map<string, number>();
  for (const l of y) n.set(l, (n.get(l) ?? 0) + 1);
  return y.map((l) => (l !== other && n.get(l)! < min ? other : l));
}
