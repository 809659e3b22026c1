/**
 * Scoring rows with one one-class model: normalise once, one forward pass per call.
 */
import * as tf from '@tensorflow/tfjs';
import { applyNormalizer, type Normalizer } from './normalize.js';

export interface Scores {
  /** P_target per row (softmax output 0). */
  pTarget: Float32Array;
  /**
   * q = P_target / P_non-target per row, from the two softmax outputs (not from 1 − P_target,
   * which saturates in float32 near 1; see voting.ts).
   */
  q: Float64Array;
}

/** Rows per forward pass: bounds the memory of one call on a big input. */
const CHUNK = 1024;

/** Forward pass on already-normalised rows (n × d, row-major). */
export async function scoreNormalized(model: tf.LayersModel, Xn: Float32Array, n: number): Promise<Scores> {
  const d = Xn.length / Math.max(n, 1);
  const pTarget = new Float32Array(n);
  const q = new Float64Array(n);
  for (let start = 0; start < n; start += CHUNK) {
    const m = Math.min(CHUNK, n - start);
    const out = tf.tidy(() => {
      const x = tf.tensor2d(Xn.subarray(start * d, (start + m) * d), [m, d]);
      return model.predictOnBatch(x) as tf.Tensor;
    });
    const p = (await out.data()) as Float32Array;
    out.dispose();
    for (let i = 0; i < m; i++) {
      const pt = p[2 * i]!;
      const pn = p[2 * i + 1]!;
      pTarget[start + i] = pt;
      q[start + i] = pn > 0 ? pt / pn : pt > 0 ? Infinity : 0;
    }
  }
  return { pTarget, q };
}

/** P_target and q for n raw feature rows (normalised here). */
export async function scoreBatchDetailed(model: tf.LayersModel, normalizer: Normalizer, X: Float32Array, n: number): Promise<Scores> {
  return scoreNormalized(model, applyNormalizer(normalizer, X, n), n);
}

/** P_target for each of n raw feature rows (n × 115, row-major). */
export async function scoreBatch(model: tf.LayersModel, normalizer: Normalizer, X: Float32Array, n: number): Promise<Float32Array> {
  return (await scoreBatchDetailed(model, normalizer, X, n)).pTarget;
}
