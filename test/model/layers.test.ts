import { test, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/engine.js';
import { DepthConv3d, DepthMaxPool3d, LstmStacks, foldDepth, unfoldDepth, blockKernel, conv2dSame3x3 } from '../../src/model/layers.js';

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Reference max-pool 2×2×2, stride 2, 'same' (pads after, ignores padding), in plain JS. */
function refMaxPool3d(x: tf.Tensor5D): tf.Tensor5D {
  const [b, d, h, w, c] = x.shape;
  const v = x.arraySync();
  const [od, oh, ow] = [Math.ceil(d / 2), Math.ceil(h / 2), Math.ceil(w / 2)];
  const out: number[] = [];
  for (let n = 0; n < b; n++) for (let i = 0; i < od; i++) for (let j = 0; j < oh; j++) for (let k = 0; k < ow; k++) {
    for (let ch = 0; ch < c; ch++) {
      let m = -Infinity;
      for (let a = 2 * i; a < Math.min(2 * i + 2, d); a++) for (let p = 2 * j; p < Math.min(2 * j + 2, h); p++) {
        for (let q = 2 * k; q < Math.min(2 * k + 2, w); q++) m = Math.max(m, v[n]![a]![p]![q]![ch]!);
      }
      out.push(m);
    }
  }
  return tf.tensor5d(out, [b, od, oh, ow, c]);
}

for (const backend of ['wasm', 'cpu'] as const) {
describe(`on the ${backend} backend`, () => {
before(async () => { await initBackend(backend); });


test('fold/unfold are inverse and put depth d, channel c at folded channel d*C+c', () => {
  const x = tf.tensor5d(Array.from({ length: 2 * 2 * 1 * 1 * 3 }, (_, i) => i), [2, 2, 1, 1, 3]);
  const f = foldDepth(x);
  assert.deepEqual(f.shape, [2, 1, 1, 6]);
  // batch 0: depth 0 = [0,1,2], depth 1 = [3,4,5] → folded [0,1,2,3,4,5]
  assert.deepEqual(Array.from(f.dataSync()).slice(0, 6), [0, 1, 2, 3, 4, 5]);
  assert.equal(maxAbsDiff(unfoldDepth(f, 2), x), 0);
});

// Shapes [B, D, H, W, Cin, Cout]: depth 1 and 2, odd and even sizes, one and many channels.
const convShapes: [number, number, number, number, number, number][] = [
  [2, 2, 11, 11, 1, 4], [3, 2, 6, 5, 3, 5], [1, 1, 3, 3, 8, 6], [2, 1, 5, 23, 1, 3], [2, 2, 4, 4, 16, 8],
];

for (const [b, d, h, w, cin, cout] of convShapes) {
  test(`conv3d 3x3x3 same equals tf.conv3d for B=${b} D=${d} ${h}x${w} ${cin}->${cout}`, () => {
    const x = tf.randomNormal([b, d, h, w, cin], 0, 1, 'float32', 7) as tf.Tensor5D;
    const k = tf.randomNormal([3, 3, 3, cin, cout], 0, 1 / Math.sqrt(27 * cin), 'float32', 11) as tf.Tensor5D;
    const ref = tf.conv3d(x, k, 1, 'same');
    const viaBlock = unfoldDepth(tf.conv2d(foldDepth(x), blockKernel(k, d), 1, 'same'), d);
    assert.ok(maxAbsDiff(viaBlock, ref) <= 1e-5, `block kernel diff ${maxAbsDiff(viaBlock, ref)}`);

    // The layer, linear and leaky, inference (fused) and training (unfused) paths.
    const bias = tf.randomNormal([cout], 0, 1, 'float32', 3);
    for (const activation of ['linear', 'leakyrelu'] as const) {
      const layer = new DepthConv3d({ filters: cout, depth: d, activation, alpha: 0.2 });
      layer.build([null, h, w, d * cin]);
      layer.setWeights([k, bias]);
      let want = tf.add(ref, bias);
      if (activation === 'leakyrelu') want = tf.leakyRelu(want, 0.2);
      for (const training of [false, true]) {
        const got = unfoldDepth(layer.apply(foldDepth(x), { training }) as tf.Tensor4D, d);
        const diff = maxAbsDiff(got, want);
        assert.ok(diff <= 1e-5, `${activation} training=${training}: diff ${diff}`);
      }
    }
  });
}

const poolShapes: [number, number, number, number, number][] = [
  [2, 2, 11, 11, 4], [3, 2, 6, 6, 3], [2, 1, 3, 3, 5], [1, 1, 5, 23, 2],
];

for (const [b, d, h, w, c] of poolShapes) {
  test(`maxpool 2x2x2 same equals a plain-JS max-pool 3D for B=${b} D=${d} ${h}x${w}x${c}`, () => {
    const x = tf.randomNormal([b, d, h, w, c], 0, 1, 'float32', 5) as tf.Tensor5D;
    // tf.maxPool3d is not the reference: in the wasm backend it returns FLT_MIN (1.2e-38) for
    // windows whose values are all negative (tfjs 4.22).
    const ref = refMaxPool3d(x);
    const layer = new DepthMaxPool3d({ depth: d });
    const got = unfoldDepth(layer.apply(foldDepth(x)) as tf.Tensor4D, Math.ceil(d / 2));
    assert.deepEqual(ref.shape, [b, Math.ceil(d / 2), Math.ceil(h / 2), Math.ceil(w / 2), c]);
    assert.ok(maxAbsDiff(got, ref) <= 1e-6);
  });
}

test('gradient of the folded conv equals the gradient of tf.conv3d', () => {
  const x = tf.randomNormal([2, 2, 5, 5, 3], 0, 1, 'float32', 1) as tf.Tensor5D;
  const k = tf.randomNormal([3, 3, 3, 3, 4], 0, 0.5, 'float32', 2) as tf.Tensor5D;
  const gRef = tf.grads((xx: tf.Tensor, kk: tf.Tensor) => tf.sum(tf.square(tf.conv3d(xx as tf.Tensor5D, kk as tf.Tensor5D, 1, 'same'))));
  const gNew = tf.grads((xx: tf.Tensor, kk: tf.Tensor) =>
    tf.sum(tf.square(conv2dSame3x3(foldDepth(xx as tf.Tensor5D), blockKernel(kk, 2)))));
  const [rx, rk] = gRef([x, k]);
  const [nx, nk] = gNew([x, k]);
  assert.ok(maxAbsDiff(rx!, nx!) <= 1e-3 * (1 + tf.max(tf.abs(rx!)).dataSync()[0]!));
  assert.ok(maxAbsDiff(rk!, nk!) <= 1e-3 * (1 + tf.max(tf.abs(rk!)).dataSync()[0]!));
});
});
}

/** Keras LSTM equations written out plainly for one stack (gate order i, f, c, o; sigmoid). */
function refLstmStack(x: tf.Tensor2D, T: number, F: number, layers: { k: tf.Tensor2D; r: tf.Tensor2D; b: tf.Tensor1D }[]): tf.Tensor2D {
  const B = x.shape[0];
  let seq: tf.Tensor2D[] = tf.unstack(tf.reshape(x, [B, T, F]), 1) as tf.Tensor2D[];
  let h: tf.Tensor2D = tf.zeros([B, 1]);
  for (const { k, r, b } of layers) {
    const U = r.shape[0];
    h = tf.zeros([B, U]);
    let c: tf.Tensor2D = tf.zeros([B, U]);
    const out: tf.Tensor2D[] = [];
    for (const xt of seq) {
      const z = tf.add(tf.add(tf.matMul(xt, k), tf.matMul(h, r)), b);
      const gate = (g: number) => tf.slice(z, [0, g * U], [B, U]);
      const i = tf.sigmoid(gate(0)), f = tf.sigmoid(gate(1)), g = tf.tanh(gate(2)), o = tf.sigmoid(gate(3));
      c = tf.add(tf.mul(f, c), tf.mul(i, g));
      h = tf.mul(o, tf.tanh(c));
      out.push(h);
    }
    seq = out;
  }
  return h;
}

test('LstmStacks equals two plain Keras-style LSTM stacks + dense maps (inference and training paths)', async () => {
  await initBackend('wasm');
  const [S, L, U, T, F, side] = [2, 3, 6, 5, 23, 3];
  const M = side * side;
  const layer = new LstmStacks({ stacks: S, layers: L, units: U, timesteps: T, features: F, side, seed: 9 });
  const x = tf.randomNormal([4, T * F], 0, 1, 'float32', 4) as tf.Tensor2D;
  const got = layer.apply(x) as tf.Tensor4D; // builds with seeded random weights
  assert.deepEqual(got.shape, [4, side, side, S]);
  const W = layer.getWeights();
  assert.deepEqual(W.map((w) => w.shape), [
    [F, 4 * S * U], [S * U, 4 * S * U], [4 * S * U], [S * U, 4 * S * U], [S * U, 4 * S * U], [4 * S * U],
    [S * U, 4 * S * U], [S * U, 4 * S * U], [4 * S * U], [S * U, M * S], [M * S],
  ]);
  // biases start at 0 except the forget gate (1)
  assert.deepEqual(Array.from(W[2]!.dataSync()), [...Array(S * U).fill(0), ...Array(S * U).fill(1), ...Array(2 * S * U).fill(0)]);
  // cross-stack blocks start at 0: recurrent_0 row 0 (stack 0) × gate i, stack 1 columns
  assert.deepEqual(Array.from(W[1]!.dataSync()).slice(U, 2 * U).map(Math.abs), Array(U).fill(0));
  const W2 = W.map((w, i) => (i % 3 === 2 || i === W.length - 1 ? tf.randomNormal(w.shape, 0, 0.5, 'float32', 100 + i) : w));
  layer.setWeights(W2);
  for (const training of [false, true]) {
    const out = layer.apply(x, { training }) as tf.Tensor4D;
    for (let s = 0; s < S; s++) {
      // stack s's Keras-layout matrices: rows of its units (all rows for kernel_0), its columns of each gate
      const gateCols = (m: tf.Tensor2D, rows: boolean) => {
        const r = rows ? tf.slice(m, [s * U, 0], [U, -1]) : m;
        return tf.concat([0, 1, 2, 3].map((g) => tf.slice(r, [0, g * S * U + s * U], [-1, U])), 1) as tf.Tensor2D;
      };
      const ls = [];
      for (let l = 0; l < L; l++) {
        const b = tf.reshape(gateCols(tf.reshape(W2[3 * l + 2]!, [1, 4 * S * U]), false), [4 * U]) as tf.Tensor1D;
        ls.push({ k: gateCols(W2[3 * l]! as tf.Tensor2D, l > 0), r: gateCols(W2[3 * l + 1]! as tf.Tensor2D, true), b });
      }
      const h = refLstmStack(x, T, F, ls);
      const mk = tf.slice(W2[3 * L]!, [s * U, 0], [U, -1]); // [U, M·S]; stack s's pixels are columns p·S+s
      const cols = tf.reshape(tf.slice(tf.reshape(mk, [U, M, S]), [0, 0, s], [U, M, 1]), [U, M]);
      const mb = tf.reshape(tf.slice(tf.reshape(W2[3 * L + 1]!, [M, S]), [0, s], [M, 1]), [M]);
      const map = tf.add(tf.matMul(h, cols), mb);
      const mine = tf.reshape(tf.slice(out, [0, 0, 0, s], [4, side, side, 1]), [4, M]);
      assert.ok(maxAbsDiff(mine, map) <= 1e-5, `training=${training} stack ${s}: diff ${maxAbsDiff(mine, map)}`);
    }
  }
});

test('LstmStacks keeps the stacks independent in training (cross-stack gradients are 0)', async () => {
  await initBackend('wasm');
  const layer = new LstmStacks({ stacks: 2, layers: 2, units: 3, timesteps: 5, features: 23, side: 2, seed: 1 });
  const x = tf.randomNormal([3, 115], 0, 1, 'float32', 2);
  layer.apply(x);
  const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, vars);
  // recurrent_0 is [6, 24]: row 0 (stack 0) × columns 3..5 (gate i of stack 1) must have zero gradient
  const g = grads[vars[1]!.name]!.arraySync() as number[][];
  assert.deepEqual(g[0]!.slice(3, 6).map(Math.abs), [0, 0, 0]);
  assert.ok(g[0]!.slice(0, 3).some((v) => v !== 0));
});

test('DepthConv3d inference cache follows weight changes', async () => {
  await initBackend('wasm');
  const layer = new DepthConv3d({ filters: 2, depth: 2, activation: 'linear' });
  const x = tf.ones([1, 3, 3, 2]);
  layer.build([null, 3, 3, 2]);
  layer.setWeights([tf.zeros([3, 3, 3, 1, 2]), tf.tensor1d([1, 2])]);
  // zero kernel: output = bias, tiled over the 2 depths → channels [1, 2, 1, 2]
  assert.deepEqual(Array.from((layer.apply(x) as tf.Tensor).dataSync()).slice(0, 4), [1, 2, 1, 2]);
  layer.setWeights([tf.ones([3, 3, 3, 1, 2]), tf.tensor1d([0, 0])]);
  // centre pixel, all-ones input and kernel: 3×3 neighbours × 2 depths (both in range) = 18
  const y = (layer.apply(x) as tf.Tensor4D).arraySync();
  assert.deepEqual(y[0]![1]![1], [18, 18, 18, 18]);
});
