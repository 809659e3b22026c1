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
