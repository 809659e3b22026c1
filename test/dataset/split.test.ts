import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apportion, mulberry32, parseFractions, splitCounts, splitDataset } from '../../src/dataset/split.js';
import { StnnError } from '../../src/util/errors.js';

// 200 flows: 100 'a', 60 'b', 37 background, 3 'c'; spread over 20 files
function synthetic() {
  const y: string[] = [];
  const file: string[] = [];
  const push = (cls: string, n: number) => {
    for (let i = 0; i < n; i++) {
      y.push(cls);
      file.push(`cap-${cls}-${i % (cls === 'a' ? 8 : cls === 'b' ? 6 : cls === 'c' ? 1 : 5)}.pcap`);
    }
  };
  push('a', 100);
  push('b', 60);
  push('background', 37);
  push('c', 3);
  return { y, file };
}

test('mulberry32 is a fixed sequence per seed', () => {
  const r = mulberry32(42);
  const first = [r(), r(), r()];
  const again = mulberry32(42);
  assert.deepEqual([again(), again(), again()], first);
  assert.notDeepEqual([mulberry32(43)()], [first[0]]);
  for (const x of first) assert.ok(x >= 0 && x < 1);
});

test('apportion: largest remainder', () => {
  assert.deepEqual(apportion(100, [0.7, 0.15, 0.15]), [70, 15, 15]);
  assert.deepEqual(apportion(10, [0.7, 0.15, 0.15]), [7, 2, 1]); // remainders 0, .5, .5 → validation first
  assert.deepEqual(apportion(37, [0.7, 0.15, 0.15]), [26, 6, 5]); // 25.9, 5.55, 5.55 → +1 train, +1 validation
  assert.deepEqual(apportion(3, [0.7, 0.15, 0.15]), [2, 1, 0]); // 2.1, .45, .45 → the leftover goes to validation (.45 > .1)
  assert.deepEqual(apportion(2, [0.7, 0.15, 0.15]), [2, 0, 0]); // 1.4, .3, .3 → train
});

test('split by flow: stratified per class, deterministic by seed', () => {
  const { y, file } = synthetic();
  const s1 = splitDataset(y, file, { by: 'flow', seed: 7 });
  const s2 = splitDataset(y, file, { by: 'flow', seed: 7 });
  const s3 = splitDataset(y, file, { by: 'flow', seed: 8 });
  assert.deepEqual(s1, s2);
  assert.notDeepEqual(s1, s3);
  const counts = splitCounts(y, s1);
  assert.deepEqual([...counts.keys()], ['a', 'b', 'background', 'c']);
  assert.deepEqual(counts.get('a'), [70, 15, 15]);
  assert.deepEqual(counts.get('b'), [42, 9, 9]);
  assert.deepEqual(counts.get('background'), [26, 6, 5]);
  assert.deepEqual(splitCounts(y, s3).get('b'), [42, 9, 9]); // other seed: other rows, same counts
  const custom = splitCounts(y, splitDataset(y, file, { by: 'flow', seed: 1, fractions: [0.5, 0.25, 0.25] }));
  assert.deepEqual(custom.get('a'), [50, 25, 25]);
});

test('split by file: no file in two splits, deterministic, shares follow the fractions', () => {
  const { y, file } = synthetic();
  const s = splitDataset(y, file, { by: 'file', seed: 3 });
  assert.deepEqual(s, splitDataset(y, file, { by: 'file', seed: 3 }));
  const where = new Map<string, number>();
  for (let i = 0; i < y.length; i++) {
    const prev = where.get(file[i]);
    if (prev !== undefined) assert.equal(s[i], prev, `${file[i]} in two splits`);
    where.set(file[i], s[i]);
  }
  // class 'a' lives in 8 files of 12-13 flows: deficit rule gives 70 ± one file to train
  const a = splitCounts(y, s).get('a')!;
  assert.equal(a[0] + a[1] + a[2], 100);
  assert.ok(a[0] >= 57 && a[0] <= 83, `a train ${a[0]}`);
  assert.ok(a[1] > 0 && a[2] > 0, `a has validation and test flows: ${a}`);
  // the single file of 'c' goes to train (first file of a group = largest deficit)
  assert.deepEqual(splitCounts(y, s).get('c'), [3, 0, 0]);
  // different seeds can move files
  const seeds = new Set<string>();
  for (let seed = 0; seed < 10; seed++) seeds.add(Buffer.from(splitDataset(y, file, { by: 'file', seed })).toString('hex'));
  assert.ok(seeds.size > 1);
});

test('split by file: the file order of the input does not matter', () => {
  const { y, file } = synthetic();
  const idx = y.map((_, i) => i).reverse();
  const s = splitDataset(y, file, { by: 'file', seed: 5 });
  const r = splitDataset(idx.map((i) => y[i]), idx.map((i) => file[i]), { by: 'file', seed: 5 });
  idx.forEach((orig, k) => assert.equal(r[k], s[orig]));
});

test('fractions: parsed and checked', () => {
  assert.deepEqual(parseFractions('0.8, 0.1,0.1'), [0.8, 0.1, 0.1]);
  assert.deepEqual(parseFractions('1,0,0'), [1, 0, 0]);
  assert.throws(() => parseFractions('0.7,0.3'), (e: unknown) => e instanceof StnnError && e.exitCode === 2 && /--fractions: expected three/.test(e.message));
  assert.throws(() => parseFractions('0.7,0.2,0.2'), /sum to 1/);
  assert.throws(() => parseFractions('0,0.5,0.5'), /give train a share/);
  assert.throws(() => splitDataset(['a'], [], { by: 'flow', seed: 1 }), /1 labels but 0 file names/);
  assert.throws(() => splitDataset(['a'], ['f'], { by: 'x' as 'flow', seed: 1 }), /--split-by: expected 'flow' or 'file'/);
});
