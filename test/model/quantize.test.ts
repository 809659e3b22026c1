import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FEATURE_SET_VERSION, N_FEATURES } from '../../src/features/names.js';
import { initBackend } from '../../src/model/engine.js';
import { quantizeModelDir, quantizeTensor } from '../../src/model/quantize.js';
import { loadModels, saveApp, scoreBatch } from '../../src/model/registry.js';
import { buildModel } from '../../src/model/stnn.js';
import { mulberry32 } from '../../src/dataset/split.js';
import { StnnError } from '../../src/util/errors.js';

test('uint8 quantization: a hand-worked tensor', () => {
  const q = quantizeTensor(Float32Array.from([0, 1, 2, 2.55, 0.004, 0.006]), 'uint8');
  assert.equal(q.min, 0);
  assert.ok(Math.abs(q.scale - 0.01) < 1e-8);
  // (v − min) / scale rounded: 0, 100, 200, 255, 0 (0.4), 1 (0.6)
  assert.deepEqual(Array.from(q.bytes), [0, 100, 200, 255, 0, 1]);
  const flat = quantizeTensor(Float32Array.from([3, 3]), 'uint8');
  assert.deepEqual([flat.min, flat.scale, ...flat.bytes], [3, 1, 0, 0]);
});

test('a quantized model directory loads as usual, 4× smaller, with close outputs', async () => {
  await initBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'stnn-quant-'));
  try {
    const model = buildModel('stnn', 'tiny', 7);
    const normalizer = { transform: 'log1p-zscore' as const, mean: new Array(N_FEATURES).fill(0), std: new Array(N_FEATURES).fill(1) };
    await saveApp(dir, 'alpha', model, {
      featureSet: FEATURE_SET_VERSION,
      arch: { kind: 'stnn', size: 'tiny' },
      normalizer,
      engine: { tfjs: 'test', backend: 'cpu' },
      entry: { votingList: [1, 1, 1, 1, 1, 1, 1], trainedAt: new Date(0).toISOString(), metrics: {}, dataSummary: {} },
    });
    const rng = mulberry32(3);
    const n = 64;
    const X = Float32Array.from({ length: n * N_FEATURES }, () => rng() * 4 - 2);
    const before = await scoreBatch(model, normalizer, X, n);
    const bytesBefore = statSync(join(dir, 'alpha', 'weights.bin')).size;
    const res = quantizeModelDir(dir, 'uint8');
    assert.equal(res.length, 1);
    assert.deepEqual(res[0], { app: 'alpha', before: bytesBefore, after: bytesBefore / 4 }, 'one byte per float32 weight');
    const { models, manifest } = await loadModels(dir);
    const after = await scoreBatch(models.get('alpha')!, manifest.normalizer, X, n);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(after[i] - before[i]));
    assert.ok(worst < 0.02, `largest change of P_target ${worst}`);
    // an application added later to the quantized directory: only it is quantized
    await saveApp(dir, 'beta', buildModel('stnn', 'tiny', 8), {
      featureSet: FEATURE_SET_VERSION, arch: { kind: 'stnn', size: 'tiny' }, normalizer,
      engine: { tfjs: 'test', backend: 'cpu' },
      entry: { votingList: [1, 1, 1, 1, 1, 1, 1], trainedAt: new Date(0).toISOString(), metrics: {}, dataSummary: {} },
    });
    const alphaBin = readFileSync(join(dir, 'alpha', 'weights.bin'));
    assert.deepEqual(quantizeModelDir(dir, 'uint8'), [
      { app: 'alpha', already: 'uint8' },
      { app: 'beta', before: bytesBefore, after: bytesBefore / 4 },
    ]);
    assert.deepEqual(readFileSync(join(dir, 'alpha', 'weights.bin')), alphaBin, 'alpha untouched');
    assert.deepEqual(quantizeModelDir(dir, 'uint16'), [{ app: 'alpha', already: 'uint8' }, { app: 'beta', already: 'uint8' }]);
    for (const m of models.values()) m.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a weights file that is not the one model.json was written with is refused, before and after quantizing', async () => {
  await initBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'stnn-digest-'));
  try {
    const normalizer = { transform: 'log1p-zscore' as const, mean: new Array(N_FEATURES).fill(0), std: new Array(N_FEATURES).fill(1) };
    await saveApp(dir, 'alpha', buildModel('stnn', 'tiny', 7), {
      featureSet: FEATURE_SET_VERSION, arch: { kind: 'stnn', size: 'tiny' }, normalizer,
      engine: { tfjs: 'test', backend: 'cpu' },
      entry: { votingList: [1, 1, 1, 1, 1, 1, 1], trainedAt: new Date(0).toISOString(), metrics: {}, dataSummary: {} },
    });
    const bin = join(dir, 'alpha', 'weights.bin');
    const json = join(dir, 'alpha', 'model.json');
    const good = readFileSync(bin);
    assert.equal(JSON.parse(readFileSync(json, 'utf8')).weightsSha256, createHash('sha256').update(good).digest('hex'));
    const refused = (e: unknown) => e instanceof StnnError && e.code === 'STNN_MODEL' &&
      e.message === `${join(dir, 'manifest.json')}: ${bin} does not match the SHA-256 in its model.json (the file is damaged or was replaced)`;
    // one flipped byte, the same length: TensorFlow.js alone would load it
    const flipped = Buffer.from(good);
    flipped[100] ^= 0xff;
    writeFileSync(bin, flipped);
    await assert.rejects(loadModels(dir), refused);
    // bytes appended past the weights
    writeFileSync(bin, Buffer.concat([good, Buffer.from([1, 2, 3, 4])]));
    await assert.rejects(loadModels(dir), refused);
    // quantizing writes the digest of the new bytes
    writeFileSync(bin, good);
    quantizeModelDir(dir, 'uint8');
    const q = readFileSync(bin);
    assert.equal(JSON.parse(readFileSync(json, 'utf8')).weightsSha256, createHash('sha256').update(q).digest('hex'));
    const { models } = await loadModels(dir);
    for (const m of models.values()) m.dispose();
    writeFileSync(bin, Buffer.alloc(q.length));
    await assert.rejects(loadModels(dir), refused);
    // a model.json without the digest (written before it existed) loads as before
    const j = JSON.parse(readFileSync(json, 'utf8'));
    delete j.weightsSha256;
    writeFileSync(json, JSON.stringify(j));
    writeFileSync(bin, q);
    const again = await loadModels(dir);
    for (const m of again.models.values()) m.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
