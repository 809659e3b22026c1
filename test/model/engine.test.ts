import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, parseBackendOption } from '../../src/model/engine.js';
import { StnnError } from '../../src/util/errors.js';

test('--backend parsing', () => {
  assert.equal(parseBackendOption(undefined), undefined);
  assert.equal(parseBackendOption('auto'), undefined);
  assert.equal(parseBackendOption('wasm'), 'wasm');
  assert.throws(() => parseBackendOption('gpu'), (e: unknown) => e instanceof StnnError && e.exitCode === 2 && /--backend: expected auto\|node\|wasm\|cpu, got 'gpu'/.test(e.message));
});

test('automatic choice falls back from tfjs-node to wasm here and says why', async () => {
  const info = await initBackend();
  assert.equal(info.version, tf.version.tfjs);
  // tfjs-node cannot be installed on this machine (DESIGN.md), so wasm is the pick
  assert.equal(info.name, 'wasm');
  assert.match(info.notes.join(';'), /tfjs-node unavailable/);
  await assert.rejects(initBackend('node'), (e: unknown) => e instanceof StnnError && e.code === 'STNN_CAPABILITY');
});

test('wasm matMul with transposed operands (patched kernel) gives the hand-computed products', async () => {
  await initBackend('wasm');
  // a = [[1,2],[3,4],[5,6]] (3×2), b = [[1,0,2],[0,1,3],[1,1,1]] (3×3)
  const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
  const b = tf.tensor2d([1, 0, 2, 0, 1, 3, 1, 1, 1], [3, 3]);
  // aᵀ·b = [[1+0+5, 0+3+5, 2+9+5], [2+0+6, 0+4+6, 4+12+6]]
  assert.deepEqual(Array.from(tf.matMul(a, b, true, false).dataSync()), [6, 8, 16, 8, 10, 22]);
  // b·bᵀ row 0 = [1·1+0+2·2, 0+0+2·3, 1+0+2] = [5, 6, 3]
  assert.deepEqual(Array.from(tf.matMul(b, b, false, true).dataSync()).slice(0, 3), [5, 6, 3]);
  // both transposed, batched: (aᵀ)ᵀ… use [2,3,2] batch of a and 2a: (aᵀ·bᵀᵀ) = aᵀ·b again
  const a2 = tf.stack([a, tf.mul(a, 2)]);
  const bt = tf.stack([tf.transpose(b), tf.transpose(b)]);
  assert.deepEqual(Array.from(tf.matMul(a2, bt, true, true).dataSync()), [6, 8, 16, 8, 10, 22, 12, 16, 32, 16, 20, 44]);
  // the transposed copies are freed: no backend buffer is left behind
  const before = tf.memory().numDataBuffers;
  tf.tidy(() => { tf.matMul(a, b, true, true); });
  assert.equal(tf.memory().numDataBuffers, before);
});

test('wasm slice/split/unstack (patched kernels) pick the right elements', async () => {
  await initBackend('wasm');
  // x[i][j][k] = 100i + 10j + k, shape [2, 3, 4]
  const vals: number[] = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) vals.push(100 * i + 10 * j + k);
  const x = tf.tensor3d(vals, [2, 3, 4]);
  assert.deepEqual(tf.slice(x, [1, 1, 1], [1, 2, 2]).arraySync(), [[[111, 112], [121, 122]]]);
  assert.deepEqual(tf.slice(x, [0, 1, 0], [2, 1, 4]).arraySync(), [[[10, 11, 12, 13]], [[110, 111, 112, 113]]]);
  assert.deepEqual(Array.from(tf.slice(x, [1, 0, 0], [1, 3, 4]).dataSync()), vals.slice(12)); // contiguous
  const [a, b] = tf.split(x, [1, 3], 2);
  assert.deepEqual(a!.arraySync(), [[[0], [10], [20]], [[100], [110], [120]]]);
  assert.deepEqual((b!.arraySync() as number[][][])[1]![2], [121, 122, 123]);
  const parts = tf.unstack(x, 1);
  assert.equal(parts.length, 3);
  assert.deepEqual(parts[2]!.arraySync(), [[20, 21, 22, 23], [120, 121, 122, 123]]);
  assert.deepEqual(tf.unstack(tf.tensor1d([5, 6, 7])).map((t) => t.dataSync()[0]), [5, 6, 7]);
  // int32 and an empty part
  assert.deepEqual(Array.from(tf.slice(tf.tensor1d([1, 2, 3], 'int32'), [1], [2]).dataSync()), [2, 3]);
  assert.deepEqual(tf.slice(x, [0, 0, 0], [0, 3, 4]).shape, [0, 3, 4]);
});
