import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foldSplit, mergeRareLabels, stratifiedFolds } from '../../src/dataset/folds.js';
import { StnnError } from '../../src/util/errors.js';

// 7 'a', 5 'b', 2 'c'
const y = [...Array(7).fill('a'), ...Array(5).fill('b'), ...Array(2).fill('c')];
const file = y.map((_, i) => `f${i}.pcap`);

function perFold(labels: readonly string[], folds: Uint8Array, k: number, cls: string): number[] {
  const n = new Array(k).fill(0);
  labels.forEach((l, i) => { if (l === cls) n[folds[i]]++; });
  return n;
}

test('stratifiedFolds: seeded deal per class, going on across classes', () => {
  const f = stratifiedFolds(y, 3, 7);
  // pinned: the same labels and seed always give these folds
  assert.deepEqual(Array.from(f), [0, 2, 0, 0, 1, 1, 2, 1, 0, 2, 1, 2, 1, 0]);
  assert.deepEqual(perFold(y, f, 3, 'a'), [3, 2, 2]); // 7 → the deal starts at fold 0
  assert.deepEqual(perFold(y, f, 3, 'b'), [1, 2, 2]); // 5 → goes on at fold 1
  assert.deepEqual(perFold(y, f, 3, 'c'), [1, 1, 0]); // 2 → goes on at fold 0 (7 + 5 = 12 dealt)
  assert.deepEqual(perFold(y.map(() => 'x'), f, 3, 'x'), [5, 5, 4]); // fold sizes differ by at most one
  assert.deepEqual(Array.from(stratifiedFolds(y, 3, 7)), Array.from(f));
  assert.notDeepEqual(Array.from(stratifiedFolds(y, 3, 8)), Array.from(f));
});

test('stratifiedFolds: every class within one of n/K in every fold, on a larger set', () => {
  const big: string[] = [];
  for (const [cls, n] of [['background', 341], ['Amazon', 71], ['Signal', 10], ['Pinterest', 10]] as const) for (let i = 0; i < n; i++) big.push(cls);
  const f = stratifiedFolds(big, 5, 1);
  assert.deepEqual(perFold(big, f, 5, 'Amazon').sort(), [14, 14, 14, 14, 15]);
  assert.deepEqual(perFold(big, f, 5, 'Signal'), [2, 2, 2, 2, 2]);
  assert.deepEqual(perFold(big, f, 5, 'background').sort(), [68, 68, 68, 68, 69]);
  assert.deepEqual(perFold(big.map(() => 'x'), f, 5, 'x').sort(), [86, 86, 86, 87, 87]); // 432 flows
});

test('stratifiedFolds: K out of range is a usage error', () => {
  assert.throws(() => stratifiedFolds(y, 1, 1), (e: unknown) => e instanceof StnnError && e.code === 'STNN_USAGE');
  assert.throws(() => stratifiedFolds(y, 2.5, 1), StnnError);
});

test("foldSplit: the fold is the test split, a validation share per class carved from the rest", () => {
  const f = stratifiedFolds(y, 3, 7);
  const s = foldSplit(y, file, f, 0, 0.25, 3);
  assert.deepEqual(Array.from(s), [2, 0, 2, 2, 0, 1, 0, 1, 2, 0, 0, 0, 0, 2]);
  for (let i = 0; i < y.length; i++) assert.equal(s[i] === 2, f[i] === 0, `row ${i}`);
  // 'a': 4 rows outside fold 0 → 3 train + 1 validation; 'b' likewise; 'c': 1 row → train
  const count = (cls: string, which: number) => y.filter((l, i) => l === cls && s[i] === which).length;
  assert.deepEqual([count('a', 0), count('a', 1), count('b', 0), count('b', 1), count('c', 0), count('c', 1)], [3, 1, 3, 1, 1, 0]);
  assert.throws(() => foldSplit(y, file, f, 0, 0, 3), StnnError);
  assert.throws(() => foldSplit(y, file, f.subarray(1), 0, 0.2, 3), StnnError);
});

test('mergeRareLabels: labels under the minimum become background', () => {
  assert.deepEqual(mergeRareLabels(['a', 'a', 'b', 'background', 'b', 'c'], 2), ['a', 'a', 'b', 'background', 'b', 'background']);
  assert.deepEqual(mergeRareLabels(['a', 'b', 'b'], 3, 'other'), ['other', 'other', 'other']);
});
