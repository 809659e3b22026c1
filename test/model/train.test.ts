import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/engine.js';
import { trainOneClass, CURVE_HEADER } from '../../src/model/train.js';
import { saveApp, loadModels, removeApp, listApps, readManifest, scoreBatch, MODEL_FORMAT_VERSION } from '../../src/model/registry.js';
import { fitNormalizer, applyNormalizer } from '../../src/model/normalize.js';
import { buildModel } from '../../src/model/stnn.js';
import { FEATURE_SET_VERSION } from '../../src/features/names.js';
import { mulberry32 } from '../../src/dataset/split.js';
import { StnnError } from '../../src/util/errors.js';

before(async () => { await initBackend('wasm'); });

/**
 * Three classes, 115 features each drawn from exp(N(μ, 0.3)); 'alpha' has μ = 5 on the first 23
 * features (object "all") where the others have μ = 3, 'beta' the same on features 23-45; every
 * other feature has μ = 3 for everyone. Split 60/20/20 by row.
 */
function synthetic(n: number, seed: number) {
  const rnd = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const X = new Float32Array(n * 115);
  const y: string[] = [];
  const split = new Uint8Array(n);
  const classes = ['alpha', 'beta', 'background'];
  for (let i = 0; i < n; i++) {
    const c = classes[i % 3]!;
    y.push(c);
    split[i] = i % 5 < 3 ? 0 : i % 5 === 3 ? 1 : 2;
    for (let j = 0; j < 115; j++) {
      const hot = (c === 'alpha' && j < 23) || (c === 'beta' && j >= 23 && j < 46);
      X[i * 115 + j] = Math.exp((hot ? 5 : 3) + 0.3 * gauss());
    }
  }
  return { X, y, split };
}

test('normaliser: log1p then z-score with training-split statistics', () => {
  // one feature column is 115 wide; use rows with log1p values 0, 1, 2 (x = e^v − 1)
  const X = new Float32Array(3 * 115);
  for (let r = 0; r < 3; r++) X.fill(Math.expm1(r), r * 115, r * 115 + 115);
  const norm = fitNormalizer(X, 3, 115);
  assert.ok(Math.abs(norm.mean[0]! - 1) < 1e-6);
  assert.ok(Math.abs(norm.std[0]! - Math.sqrt(2 / 3)) < 1e-6);
  const z = applyNormalizer(norm, X, 3);
  assert.ok(Math.abs(z[0]! + Math.sqrt(3 / 2)) < 1e-5); // (0 − 1)/√(2/3)
  assert.ok(Math.abs(z[115]!) < 1e-6);
  // fitted on rows [0, 1] only: mean 0.5, std 0.5
  const n2 = fitNormalizer(X, 3, 115, [0, 1]);
  assert.ok(Math.abs(n2.mean[5]! - 0.5) < 1e-6 && Math.abs(n2.std[5]! - 0.5) < 1e-6);
});

test('tiny STNN learns a separable synthetic set; save → load gives identical outputs', async () => {
  const { X, y, split } = synthetic(600, 42);
  const dir = mkdtempSync(path.join(tmpdir(), 'stnn-models-'));
  const curve = path.join(dir, 'curve-alpha.csv');
  const epochs: number[] = [];
  const t0 = performance.now();
  const r = await trainOneClass({
    app: 'alpha', X, y, split, kind: 'stnn', size: 'tiny', seed: 1, epochs: 25, batchSize: 32, patience: 5,
    balance: 'weights', curveCsv: curve, onEpoch: (e) => epochs.push(e.epoch),
  });
  // the time is reported, not asserted: a loaded machine may take longer
  console.log(`tiny STNN: ${r.history.length} epochs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.deepEqual(epochs, r.history.map((h) => h.epoch));
  const lines = readFileSync(curve, 'utf8').split('\n').filter(Boolean);
  assert.equal(lines[0] + '\n', CURVE_HEADER);
  assert.equal(lines.length, r.history.length + 1);
  assert.equal(r.valScores.length, 120);
  assert.equal(r.valIsPositive.reduce((a, b) => a + b, 0), 40);
  assert.deepEqual(r.data, { trainPositive: 120, trainNegative: 240, validationPositive: 40, validationNegative: 80, balance: 'weights' });

  // Test split: balanced accuracy (mean of TPR and TNR at P_target > 0.5) must be ≥ 0.9 (chance 0.5).
  const testRows = [...split.keys()].filter((i) => split[i] === 2);
  const Xt = new Float32Array(testRows.length * 115);
  testRows.forEach((row, k) => Xt.set(X.subarray(row * 115, row * 115 + 115), k * 115));
  const p = await scoreBatch(r.model, r.normalizer, Xt, testRows.length);
  let tp = 0, pos = 0, tn = 0, neg = 0;
  testRows.forEach((row, k) => {
    if (y[row] === 'alpha') { pos++; if (p[k]! > 0.5) tp++; } else { neg++; if (p[k]! <= 0.5) tn++; }
  });
  const bacc = (tp / pos + tn / neg) / 2;
  assert.ok(bacc >= 0.9, `balanced accuracy ${bacc} (tp ${tp}/${pos}, tn ${tn}/${neg})`);

  // Save, load, compare outputs bit for bit.
  const info = {
    featureSet: FEATURE_SET_VERSION, arch: { kind: 'stnn' as const, size: 'tiny' as const }, normalizer: r.normalizer,
    engine: { tfjs: tf.version.tfjs, backend: tf.getBackend() },
    entry: { votingList: [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1], trainedAt: new Date().toISOString(), metrics: { valAcc: 1 }, dataSummary: { ...r.data } },
    extraFiles: { 'curve.csv': readFileSync(curve) },
  };
  await saveApp(dir, 'alpha', r.model, info);
  const loaded = await loadModels(dir);
  assert.deepEqual([...loaded.models.keys()], ['alpha']);
  assert.equal(loaded.manifest.format, MODEL_FORMAT_VERSION);
  assert.deepEqual(loaded.manifest.apps['alpha']!.votingList, [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1]);
  const p2 = await scoreBatch(loaded.models.get('alpha')!, loaded.manifest.normalizer, Xt, testRows.length);
  assert.deepEqual(Array.from(p2), Array.from(p));
  assert.ok(existsSync(path.join(dir, 'alpha', 'curve.csv')));

  // A second app joins the directory without touching the first.
  const before = readFileSync(path.join(dir, 'alpha', 'weights.bin'));
  await saveApp(dir, 'beta', buildModel('stnn', 'tiny', 2), { ...info, extraFiles: {} });
  assert.deepEqual(readFileSync(path.join(dir, 'alpha', 'weights.bin')), before);
  assert.deepEqual(listApps(dir).apps.map(([a]) => a), ['alpha', 'beta']);
  removeApp(dir, 'beta');
  assert.deepEqual(listApps(dir).apps.map(([a]) => a), ['alpha']);
  assert.ok(!existsSync(path.join(dir, 'beta')));
  rmSync(dir, { recursive: true, force: true });
});

test('a directory of another feature set or architecture is refused with a clear error', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stnn-models-'));
  const X = new Float32Array(115 * 4).fill(1);
  const normalizer = fitNormalizer(X, 4, 115);
  const info = {
    featureSet: FEATURE_SET_VERSION, arch: { kind: 'cnn' as const, size: 'tiny' as const }, normalizer,
    engine: { tfjs: tf.version.tfjs, backend: tf.getBackend() },
    entry: { votingList: [1, 1, 1, 1, 1, 1, 1], trainedAt: '2026-01-01T00:00:00.000Z', metrics: {}, dataSummary: {} },
  };
  await saveApp(dir, 'alpha', buildModel('cnn', 'tiny', 1), info);
  const file = path.join(dir, 'manifest.json');
  // architecture requested differs
  await assert.rejects(loadModels(dir, { arch: { kind: 'stnn', size: 'tiny' } }), (e: unknown) =>
    e instanceof StnnError && e.code === 'STNN_MODEL' && e.message === `${file}: architecture 'cnn/tiny' does not match the requested 'stnn/tiny'`);
  // saving a model of another architecture into it
  await assert.rejects(saveApp(dir, 'beta', buildModel('stnn', 'tiny', 1), { ...info, arch: { kind: 'stnn', size: 'tiny' } }),
    (e: unknown) => e instanceof StnnError && /architecture 'cnn\/tiny' does not match the requested 'stnn\/tiny'/.test(e.message));
  // feature set of the directory differs from this build's
  const m = JSON.parse(readFileSync(file, 'utf8'));
  m.featureSet = 'stnn-115/0';
  writeFileSync(file, JSON.stringify(m));
  await assert.rejects(loadModels(dir), (e: unknown) =>
    e instanceof StnnError && e.code === 'STNN_MODEL' && e.exitCode === 2 &&
    e.message === `${file}: feature-set 'stnn-115/0' does not match this build's '${FEATURE_SET_VERSION}' (retrain the models)`);
  // manifest says stnn but the stored topology is cnn
  m.featureSet = FEATURE_SET_VERSION;
  m.arch = { kind: 'stnn', size: 'tiny' };
  writeFileSync(file, JSON.stringify(m));
  await assert.rejects(loadModels(dir), (e: unknown) =>
    e instanceof StnnError && e.message === `${path.join(dir, 'alpha', 'model.json')}: architecture 'stnn_cnn_tiny' does not match the manifest's 'stnn_stnn_tiny'`);
  assert.equal(readManifest(path.join(dir, 'nope')), null);
  await assert.rejects(loadModels(path.join(dir, 'nope')), /no model manifest/);
  // every application removed: refused rather than calling every flow unknown
  m.apps = {};
  writeFileSync(file, JSON.stringify(m));
  await assert.rejects(loadModels(dir), (e: unknown) =>
    e instanceof StnnError && e.code === 'STNN_MODEL' &&
    e.message === `${file}: no applications in this model directory (train some with 'stnn train … --models ${dir}')`);
  rmSync(dir, { recursive: true, force: true });
});

test('the plain-CNN baseline (tiny) trains the same way and learns the synthetic set', async () => {
  const { X, y, split } = synthetic(450, 7);
  const r = await trainOneClass({ app: 'beta', X, y, split, kind: 'cnn', size: 'tiny', seed: 3, epochs: 20, batchSize: 32, patience: 4, balance: 'sample' });
  assert.equal(r.model.name, 'stnn_cnn_tiny');
  // balance 'sample': each epoch has all 90 training positives and 90 of the 180 negatives
  assert.ok(r.history.every((h) => h.samples === 180));
  let ok = 0;
  r.valScores.forEach((p, k) => { if ((p > 0.5) === (r.valIsPositive[k] === 1)) ok++; });
  assert.ok(ok / r.valScores.length >= 0.9, `validation accuracy ${ok / r.valScores.length}`);
  r.model.dispose();
});

test("balance 'none' trains every training row each epoch, unweighted, and still learns the synthetic set", async () => {
  const { X, y, split } = synthetic(450, 7);
  const r = await trainOneClass({ app: 'alpha', X, y, split, kind: 'cnn', size: 'tiny', seed: 3, epochs: 20, batchSize: 32, patience: 4, balance: 'none' });
  // 270 training rows (60 % of 450): 90 alpha, 180 others; all of them every epoch
  assert.deepEqual(r.data, { trainPositive: 90, trainNegative: 180, validationPositive: 30, validationNegative: 60, balance: 'none' });
  assert.ok(r.history.every((h) => h.samples === 270));
  let ok = 0;
  r.valScores.forEach((p, k) => { if ((p > 0.5) === (r.valIsPositive[k] === 1)) ok++; });
  assert.ok(ok / r.valScores.length >= 0.9, `validation accuracy ${ok / r.valScores.length}`);
  r.model.dispose();
});

test('buildModel is seeded: same seed → same weights, other seed → other weights, stacks differ', () => {
  const w = (seed: number) => buildModel('stnn', 'tiny', seed).getWeights().map((t) => Array.from(t.dataSync()));
  const a = w(5), b = w(5), c = w(6);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0], c[0]);
  // kernel_0 is [23, 4·2·12]: gate i of stack 0 (columns 0..11) and of stack 1 (12..23) start apart
  const row0 = a[0]!.slice(0, 24);
  assert.notDeepEqual(row0.slice(0, 12), row0.slice(12, 24));
});
