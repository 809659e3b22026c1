/**
 * Training of one one-class classifier: the application's flows are positive (class 0 =
 * target), every other flow (other applications and background) negative. Adam, cross-entropy,
 * early stopping on the validation split (best weights kept), seeded initialisation and sampling.
 *
 * Balancing: 'weights' trains on every training row with class weights n/(2·n_class);
 * 'sample' trains each epoch on all rows of the smaller class plus an equally large fresh random
 * sample (without replacement) of the larger one; 'none' trains on every row, unweighted, so that
 * P_target > 0.5 is the decision under the training split's own class shares.
 *
 * Not bit-reproducible: dropout masks come from tfjs' unseeded generator.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { mulberry32, shuffle } from '../dataset/split.js';
import { StnnError } from '../util/errors.js';
import { fitNormalizer, applyNormalizer, type Normalizer } from './normalize.js';
import { scoreNormalized } from './score.js';
import { buildModel, N_FEATURES, type ArchKind, type ArchSize } from './stnn.js';

/** How the minority class is weighed: class weights, undersampling, or not at all (the paper's plain loss). */
export type Balance = 'weights' | 'sample' | 'none';
export const BALANCES: readonly Balance[] = ['weights', 'sample', 'none'];

export const SPLIT_TRAIN = 0;
export const SPLIT_VALIDATION = 1;

export interface EpochStats {
  epoch: number;
  loss: number;
  acc: number;
  valLoss: number;
  valAcc: number;
  /** Wall time of the epoch (training + validation), seconds. */
  seconds: number;
  /** Training rows seen this epoch. */
  samples: number;
}

export interface TrainOptions {
  app: string;
  /** n × 115 raw features, row-major. */
  X: Float32Array;
  /** n labels: application names, 'background' for negatives. */
  y: readonly string[];
  /** n bytes: 0 train, 1 validation, 2 test (test rows are never read). */
  split: Uint8Array;
  kind: ArchKind;
  size: ArchSize;
  seed: number;
  epochs: number;
  batchSize: number;
  /** Epochs without a better validation loss before stopping. */
  patience: number;
  balance: Balance;
  learningRate?: number;
  /** Reuse this normaliser (the model directory's); fitted on the training split when absent. */
  normalizer?: Normalizer;
  onEpoch?: (e: EpochStats) => void;
  /** Called after each training batch (for progress bars). */
  onBatch?: (epoch: number, batch: number, batches: number) => void;
  /** Write epoch,loss,acc,val_loss,val_acc,seconds,samples here (rewritten from the start). */
  curveCsv?: string;
}

export interface TrainResult {
  model: tf.LayersModel;
  normalizer: Normalizer;
  history: EpochStats[];
  /** Epoch (1-based) whose weights were kept. */
  bestEpoch: number;
  /** P_target on the validation rows, in dataset order. */
  valScores: Float32Array;
  /** P_target / P_non-target on the validation rows. */
  valQ: Float64Array;
  /** 1 where the validation row is the application's. */
  valIsPositive: Uint8Array;
  data: DataSummary;
}

export interface DataSummary {
  trainPositive: number;
  trainNegative: number;
  validationPositive: number;
  validationNegative: number;
  balance: Balance;
}

export const CURVE_HEADER = 'epoch,loss,acc,val_loss,val_acc,seconds,samples\n';

function checkInputs(o: TrainOptions): number {
  const n = o.y.length;
  if (o.X.length !== n * N_FEATURES) {
    throw new StnnError('STNN_BAD_INPUT', `training data: X has ${o.X.length} values, expected ${n} rows × ${N_FEATURES}`);
  }
  if (o.split.length !== n) throw new StnnError('STNN_BAD_INPUT', `training data: split has ${o.split.length} entries, expected ${n}`);
  for (const [k, v, min] of [['epochs', o.epochs, 1], ['batchSize', o.batchSize, 1], ['patience', o.patience, 0]] as const) {
    if (!Number.isInteger(v) || v < min) throw new StnnError('STNN_USAGE', `training: ${k} must be an integer ≥ ${min}, got ${v}`);
  }
  return n;
}

export async function trainOneClass(o: TrainOptions): Promise<TrainResult> {
  const n = checkInputs(o);
  const d = N_FEATURES;
  const trainPos: number[] = [];
  const trainNeg: number[] = [];
  const valRows: number[] = [];
  for (let i = 0; i < n; i++) {
    if (o.split[i] === SPLIT_TRAIN) (o.y[i] === o.app ? trainPos : trainNeg).push(i);
    else if (o.split[i] === SPLIT_VALIDATION) valRows.push(i);
  }
  const valIsPositive = Uint8Array.from(valRows, (i) => (o.y[i] === o.app ? 1 : 0));
  const valPos = valIsPositive.reduce((a, b) => a + b, 0);
  const data: DataSummary = {
    trainPositive: trainPos.length, trainNegative: trainNeg.length,
    validationPositive: valPos, validationNegative: valRows.length - valPos, balance: o.balance,
  };
  if (trainPos.length === 0) throw new StnnError('STNN_BAD_INPUT', `app '${o.app}': no training flows of this application`);
  if (trainNeg.length === 0) throw new StnnError('STNN_BAD_INPUT', `app '${o.app}': no training flows of other applications or background`);
  if (valRows.length === 0) throw new StnnError('STNN_BAD_INPUT', `app '${o.app}': the validation split is empty (needed for early stopping and the voting list)`);

  const normalizer = o.normalizer ?? fitNormalizer(o.X, n, d, [...trainPos, ...trainNeg].sort((a, b) => a - b));
  const Xn = applyNormalizer(normalizer, o.X, n);
  const gather = (rows: readonly number[]) => {
    const out = new Float32Array(rows.length * d);
    for (let k = 0; k < rows.length; k++) out.set(Xn.subarray(rows[k]! * d, rows[k]! * d + d), k * d);
    return out;
  };
  const labels = (rows: readonly number[]) => {
    const out = new Float32Array(rows.length * 2);
    for (let k = 0; k < rows.length; k++) out[2 * k + (o.y[rows[k]!] === o.app ? 0 : 1)] = 1;
    return out;
  };

  const model = buildModel(o.kind, o.size, o.seed);
  const optimizer = tf.train.adam(o.learningRate ?? 1e-3);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

  const valX = tf.tensor2d(gather(valRows), [valRows.length, d]);
  const valY = tf.tensor2d(labels(valRows), [valRows.length, 2]);
  const rng = mulberry32((o.seed ^ 0x5eed) >>> 0);
  const classWeight = o.balance === 'weights'
    ? { 0: (trainPos.length + trainNeg.length) / (2 * trainPos.length), 1: (trainPos.length + trainNeg.length) / (2 * trainNeg.length) }
    : undefined;
  if (o.curveCsv) writeFileSync(o.curveCsv, CURVE_HEADER);

  const history: EpochStats[] = [];
  let best = Infinity;
  let bestEpoch = 0;
  let bestWeights: tf.Tensor[] | null = null;
  let sinceBest = 0;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const t0 = performance.now();
      let rows: number[];
      if (o.balance === 'sample') {
        const [small, large] = trainPos.length <= trainNeg.length ? [trainPos, trainNeg] : [trainNeg, trainPos];
        rows = [...small, ...shuffle(large.slice(), rng).slice(0, small.length)];
      } else {
        rows = [...trainPos, ...trainNeg];
      }
      shuffle(rows, rng);
      const xs = tf.tensor2d(gather(rows), [rows.length, d]);
      const ys = tf.tensor2d(labels(rows), [rows.length, 2]);
      const batches = Math.ceil(rows.length / o.batchSize);
      let h: tf.History;
      try {
        h = await model.fit(xs, ys, {
          epochs: 1, batchSize: o.batchSize, shuffle: false, verbose: 0, classWeight,
          callbacks: o.onBatch ? { onBatchEnd: async (b: number) => o.onBatch!(epoch, b + 1, batches) } : undefined,
        });
      } finally {
        xs.dispose();
        ys.dispose();
      }
      const [vl, va] = tf.tidy(() => {
        const r = model.evaluate(valX, valY, { batchSize: 512 }) as tf.Scalar[];
        return r.map((s) => s.dataSync()[0]!);
      });
      const stats: EpochStats = {
        epoch,
        loss: Number(h.history['loss']?.[0]),
        acc: Number((h.history['acc'] ?? h.history['accuracy'])?.[0]),
        valLoss: vl!,
        valAcc: va!,
        seconds: (performance.now() - t0) / 1000,
        samples: rows.length,
      };
      history.push(stats);
      if (o.curveCsv) {
        appendFileSync(o.curveCsv, `${epoch},${stats.loss},${stats.acc},${stats.valLoss},${stats.valAcc},${stats.seconds.toFixed(3)},${stats.samples}\n`);
      }
      o.onEpoch?.(stats);
      if (!Number.isFinite(stats.loss)) {
        throw new StnnError('STNN_RUNTIME', `app '${o.app}': training diverged at epoch ${epoch} (loss ${stats.loss})`);
      }
      if (stats.valLoss < best) {
        best = stats.valLoss;
        bestEpoch = epoch;
        bestWeights?.forEach((w) => w.dispose());
        bestWeights = model.getWeights().map((w) => w.clone());
        sinceBest = 0;
      } else if (++sinceBest > o.patience) {
        break;
      }
    }
    if (bestWeights) model.setWeights(bestWeights);
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    bestWeights?.forEach((w) => w.dispose());
    valX.dispose();
    valY.dispose();
    // Adam's moment slots (2× the weights): not owned by the model, so model.dispose() would not free them
    optimizer.dispose();
  }
  const val = await scoreNormalized(model, gather(valRows), valRows.length);
  return { model, normalizer, history, bestEpoch, valScores: val.pTarget, valQ: val.q, valIsPositive, data };
}
