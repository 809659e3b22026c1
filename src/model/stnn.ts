/**
 * The STNN one-class classifier (paper §III.A.2-3, Table II, as DESIGN.md reads it) and the
 * plain-CNN baseline of §IV.D, as tfjs-layers models.
 *
 * Input: one row of 115 already-normalised features (see normalize.ts), read as the 5×23 matrix
 * (5 objects × 23 statistics, row-major). Output: softmax over 2, index 0 = P_target.
 *
 * 3D tensors travel depth-folded ([B, H, W, D·C], see layers.ts). The two 11×11 maps from the LSTM
 * stacks, concatenated on the channel axis, ARE the folded 11×11×2×1 volume (channel d = depth d).
 */
import * as tf from '@tensorflow/tfjs';
import { DepthConv3d, DepthMaxPool3d, LstmStacks } from './layers.js';

export type ArchSize = 'full' | 'tiny';
export type ArchKind = 'stnn' | 'cnn';
export const ARCH_SIZES: readonly ArchSize[] = ['full', 'tiny'];
export const ARCH_KINDS: readonly ArchKind[] = ['stnn', 'cnn'];

export const N_ROWS = 5;
export const N_COLS = 23;
export const N_FEATURES = N_ROWS * N_COLS;

export interface ArchWidths {
  lstmUnits: number;
  lstmLayers: number;
  /** conv filters: [conv1, conv2, conv3, conv4, conv5]. */
  conv: [number, number, number, number, number];
  dense: [number, number];
  dropout: number;
  leakyAlpha: number;
}

export const WIDTHS: Record<ArchSize, ArchWidths> = {
  full: { lstmUnits: 115, lstmLayers: 3, conv: [32, 32, 64, 64, 128], dense: [512, 1024], dropout: 0.5, leakyAlpha: 0.2 },
  tiny: { lstmUnits: 12, lstmLayers: 3, conv: [4, 4, 8, 8, 8], dense: [32, 32], dropout: 0.1, leakyAlpha: 0.2 },
};

/** Side of the square map each LSTM stack produces (dense 121 → 11×11). */
export const MAP_SIDE = 11;

/**
 * Builds an untrained model. `seed` fixes every weight initialiser (each layer gets its own
 * derived seed, so the two LSTM stacks start from different weights).
 */
export function buildModel(kind: ArchKind, size: ArchSize, seed: number): tf.LayersModel {
  if (!ARCH_KINDS.includes(kind)) throw new Error(`unknown architecture kind '${kind}'`);
  if (!ARCH_SIZES.includes(size)) throw new Error(`unknown architecture size '${size}'`);
  const w = WIDTHS[size];
  let next = 0;
  const s = () => (Math.abs(Math.trunc(seed)) % 1_000_000) * 1000 + ++next;

  const input = tf.input({ shape: [N_FEATURES], name: 'features' });
  let volume: tf.SymbolicTensor;
  let depth: number;
  if (kind === 'stnn') {
    volume = new LstmStacks({
      stacks: 2, layers: w.lstmLayers, units: w.lstmUnits, timesteps: N_ROWS, features: N_COLS,
      side: MAP_SIDE, seed: s() * 100, name: 'lstm_stacks',
    }).apply(input) as tf.SymbolicTensor;
    depth = 2;
  } else {
    // The baseline: the same CNN on the normalised 5×23 image itself (a 5×23×1 volume, 1 channel).
    volume = tf.layers.reshape({ targetShape: [N_ROWS, N_COLS, 1], name: 'image' }).apply(input) as tf.SymbolicTensor;
    depth = 1;
  }

  const conv = (x: tf.SymbolicTensor, filters: number, name: string) =>
    new DepthConv3d({ filters, depth, activation: 'leakyrelu', alpha: w.leakyAlpha, seed: s(), name }).apply(x) as tf.SymbolicTensor;
  const pool = (x: tf.SymbolicTensor, name: string) => {
    const y = new DepthMaxPool3d({ depth, name }).apply(x) as tf.SymbolicTensor;
    depth = Math.ceil(depth / 2);
    return y;
  };

  let x = conv(volume, w.conv[0], 'conv1');
  x = conv(x, w.conv[1], 'conv2');
  x = pool(x, 'pool1');
  x = conv(x, w.conv[2], 'conv3');
  x = conv(x, w.conv[3], 'conv4');
  x = pool(x, 'pool2');
  x = conv(x, w.conv[4], 'conv5');
  // Depth is 1 here for both kinds, so the folded tensor is plain NHWC and Keras' batch-norm over
  // the channel axis is exactly the per-channel batch-norm of the 3D volume.
  if (depth !== 1) throw new Error(`internal: expected depth 1 before batch-norm, got ${depth}`);
  x = tf.layers.batchNormalization({ axis: -1, name: 'bn' }).apply(x) as tf.SymbolicTensor;
  x = pool(x, 'pool3');
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  for (let i = 0; i < 2; i++) {
    x = tf.layers.dense({
      units: w.dense[i]!,
      kernelInitializer: tf.initializers.glorotUniform({ seed: s() }),
      name: `dense${i + 1}`,
    }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.leakyReLU({ alpha: w.leakyAlpha, name: `dense${i + 1}_act` }).apply(x) as tf.SymbolicTensor;
    // Dropout masks come from tfjs' unseeded generator: a fixed seed would repeat one mask.
    x = tf.layers.dropout({ rate: w.dropout, name: `dropout${i + 1}` }).apply(x) as tf.SymbolicTensor;
  }
  const out = tf.layers.dense({
    units: 2,
    activation: 'softmax',
    kernelInitializer: tf.initializers.glorotUniform({ seed: s() }),
    name: 'p_target_non_target',
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: `stnn_${kind}_${size}` });
}
