/**
 * Random-forest baseline on the same 115 features: one multi-class forest over the applications
 * and 'background', trained on the training split and scored with the same metrics as STNN, so
 * the report shows what a classical model makes of the same statistics.
 *
 * Two engines:
 * - 'native' (default): Breiman's forest written here for speed: bootstrap rows per tree, a fresh
 *   random subset of √d features at every split, Gini impurity, soft voting (mean of the leaves'
 *   class shares). Features are cut into at most 64 quantile bins once, so that finding a split
 *   costs O(rows · features tried) instead of a sort per node; the thresholds kept in the trees
 *   are raw feature values, so prediction reads the features as they are.
 * - 'ml': ml-random-forest (mljs). It is the reference the native engine is checked against in
 *   the tests, but its CART trees recount classes with indexOf for every candidate split, roughly
 *   cubic in the rows: measured here 7.7 s per tree on 555 flows × 115 features, so it is only
 *   usable on a few hundred rows (training rows are capped at `maxTrainRows`, default 400, for it).
 *
 * Trees split on thresholds, so no normalisation is needed.
 */
import { RandomForestClassifier } from 'ml-random-forest';
import { StnnError } from '../util/errors.js';
import { mulberry32, shuffle } from '../dataset/split.js';

export type ForestEngine = 'native' | 'ml';

export interface ForestOptions {
  engine?: ForestEngine;
  /** Trees (default 100 native, 20 ml). */
  nEstimators?: number;
  /** Features tried per split (native; default ⌊√d⌋). */
  mtry?: number;
  /** Share of features per tree (ml engine; default 0.5). */
  maxFeatures?: number;
  /** Depth limit (default 32). */
  maxDepth?: number;
  /** A node with fewer rows is a leaf (default 2). */
  minSamplesSplit?: number;
  /** Quantile bins per feature (native; 2…256, default 64). */
  bins?: number;
  seed?: number;
  /** At most this many training rows, drawn per class in proportion (default 200000 native, 400 ml). */
  maxTrainRows?: number;
}

interface NativeTree {
  /** Per node: split feature, or -1 for a leaf. */
  feature: Int32Array;
  /** Per node: go left when x < threshold. */
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /** Per node: offset of its class shares in `dist` (leaves only). */
  distAt: Int32Array;
  dist: Float32Array;
}

export interface ForestModel {
  engine: ForestEngine;
  classes: string[];
  d: number;
  trainRows: number;
  trainMs: number;
  nEstimators: number;
  trees?: NativeTree[];
  rf?: RandomForestClassifier;
}

/** Stratified, seeded subsample of at most `max` row indices (all rows, in order, when n ≤ max). */
export function capRows(y: readonly string[], max: number, seed: number): number[] {
  const all = y.map((_, i) => i);
  if (y.length <= max) return all;
  const rng = mulberry32(seed ^ 0x5eed);
  const byClass = new Map<string, number[]>();
  for (const i of all) {
    let a = byClass.get(y[i]);
    if (!a) byClass.set(y[i], (a = []));
    a.push(i);
  }
  const out: number[] = [];
  for (const cls of [...byClass.keys()].sort()) {
    const rows = shuffle(byClass.get(cls)!, rng);
    out.push(...rows.slice(0, Math.max(1, Math.round((rows.length * max) / y.length))));
  }
  return out.sort((a, b) => a - b);
}

/** Thresholds between quantiles of one feature's values: at most bins − 1, strictly increasing. */
function binEdges(values: Float64Array, bins: number): Float64Array {
  const s = values.slice().sort();
  const edges: number[] = [];
  let last = -Infinity;
  for (let b = 1; b < bins; b++) {
    const k = Math.floor((b * s.length) / bins);
    if (k <= 0 || k >= s.length) continue;
    const lo = s[k - 1];
    const hi = s[k];
    if (lo === hi) continue;
    const t = lo + (hi - lo) / 2;
    if (t > last) {
      edges.push(t);
      last = t;
    }
  }
  return Float64Array.from(edges);
}

/** Number of edges ≤ x (binary search). */
function binOf(edges: Float64Array, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function trainNative(X: ArrayLike<number>, yIdx: Int32Array, rows: number[], d: number, C: number, o: Required<ForestOptions>): NativeTree[] {
  const n = rows.length;
  // column-major binned copy of the training rows
  const edges: Float64Array[] = [];
  const binned = new Uint8Array(n * d);
  const col = new Float64Array(n);
  for (let f = 0; f < d; f++) {
    for (let k = 0; k < n; k++) col[k] = X[rows[k] * d + f];
    const e = binEdges(col, o.bins);
    edges.push(e);
    for (let k = 0; k < n; k++) binned[f * n + k] = binOf(e, col[k]);
  }
  const y = new Int32Array(n);
  for (let k = 0; k < n; k++) y[k] = yIdx[rows[k]];

  const rng = mulberry32(o.seed);
  const mtry = Math.max(1, Math.min(d, o.mtry > 0 ? o.mtry : Math.floor(Math.sqrt(d))));
  const featOrder = Int32Array.from({ length: d }, (_, i) => i);
  const hist = new Float64Array(256 * C);
  const leftCounts = new Float64Array(C);
  const totalCounts = new Float64Array(C);
  const trees: NativeTree[] = [];

  for (let t = 0; t < o.nEstimators; t++) {
    // bootstrap sample (indices into the training rows)
    const idx = new Int32Array(n);
    for (let k = 0; k < n; k++) idx[k] = Math.floor(rng() * n);
    const feature: number[] = [];
    const threshold: number[] = [];
    const left: number[] = [];
    const right: number[] = [];
    const distAt: number[] = [];
    const dist: number[] = [];
    const newNode = () => {
      feature.push(-1);
      threshold.push(0);
      left.push(-1);
      right.push(-1);
      distAt.push(-1);
      return feature.length - 1;
    };
    // stack of [node, lo, hi, depth]
    const stack: number[][] = [[newNode(), 0, n, 0]];
    while (stack.length) {
      const [node, lo, hi, depth] = stack.pop()!;
      const size = hi - lo;
      totalCounts.fill(0);
      for (let k = lo; k < hi; k++) totalCounts[y[idx[k]]]++;
      let nonZero = 0;
      for (let c = 0; c < C; c++) if (totalCounts[c] > 0) nonZero++;
      let bestF = -1;
      let bestB = -1;
      let bestGain = 1e-12;
      if (nonZero > 1 && size >= o.minSamplesSplit && depth < o.maxDepth) {
        let parentSq = 0;
        for (let c = 0; c < C; c++) parentSq += totalCounts[c] * totalCounts[c];
        const parentGini = 1 - parentSq / (size * size);
        // partial Fisher–Yates: the first mtry entries of featOrder are this split's features
        for (let m = 0; m < mtry; m++) {
          const j = m + Math.floor(rng() * (d - m));
          const tmp = featOrder[m];
          featOrder[m] = featOrder[j];
          featOrder[j] = tmp;
          const f = featOrder[m];
          const nb = edges[f].length + 1;
          if (nb < 2) continue;
          hist.fill(0, 0, nb * C);
          const base = f * n;
          for (let k = lo; k < hi; k++) {
            const r = idx[k];
            hist[binned[base + r] * C + y[r]]++;
          }
          leftCounts.fill(0);
          let nLeft = 0;
          for (let b = 0; b < nb - 1; b++) {
            for (let c = 0; c < C; c++) {
              const h = hist[b * C + c];
              leftCounts[c] += h;
              nLeft += h;
            }
            if (nLeft === 0) continue;
            const nRight = size - nLeft;
            if (nRight === 0) break;
            let sqL = 0;
            let sqR = 0;
            for (let c = 0; c < C; c++) {
              const l = leftCounts[c];
              const r = totalCounts[c] - l;
              sqL += l * l;
              sqR += r * r;
            }
            const gini = (nLeft - sqL / nLeft + (nRight - sqR / nRight)) / size;
            const gain = parentGini - gini;
            if (gain > bestGain) {
              bestGain = gain;
              bestF = f;
              bestB = b;
            }
          }
        }
      }
      if (bestF < 0) {
        distAt[node] = dist.length;
        for (let c = 0; c < C; c++) dist.push(totalCounts[c] / size);
        continue;
      }
      // partition idx[lo, hi) so that bin ≤ bestB comes first
      const base = bestF * n;
      let i = lo;
      let j = hi - 1;
      while (i <= j) {
        if (binned[base + idx[i]] <= bestB) i++;
        else {
          const tmp = idx[i];
          idx[i] = idx[j];
          idx[j] = tmp;
          j--;
        }
      }
      feature[node] = bestF;
      threshold[node] = edges[bestF][bestB];
      const l = newNode();
      const r = newNode();
      left[node] = l;
      right[node] = r;
      stack.push([r, i, hi, depth + 1], [l, lo, i, depth + 1]);
    }
    trees.push({
      feature: Int32Array.from(feature),
      threshold: Float64Array.from(threshold),
      left: Int32Array.from(left),
      right: Int32Array.from(right),
      distAt: Int32Array.from(distAt),
      dist: Float32Array.from(dist),
    });
  }
  return trees;
}

function defaults(engine: ForestEngine, d: number): Required<ForestOptions> {
  return {
    engine,
    nEstimators: engine === 'ml' ? 20 : 100,
    mtry: Math.max(1, Math.floor(Math.sqrt(d))),
    maxFeatures: 0.5,
    maxDepth: 32,
    minSamplesSplit: 2,
    bins: 64,
    seed: 1,
    maxTrainRows: engine === 'ml' ? 400 : 200000,
  };
}

/** Trains a forest on rows × d features (row-major) with string labels. */
export function trainForest(X: Float32Array | Float64Array, y: readonly string[], d: number, opts: ForestOptions = {}): ForestModel {
  const engine = opts.engine ?? 'native';
  if (engine !== 'native' && engine !== 'ml') throw new StnnError('STNN_USAGE', `forest engine: expected 'native' or 'ml', got '${String(engine)}'`);
  const o: Required<ForestOptions> = { ...defaults(engine, d), ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  if (!Number.isInteger(o.bins) || o.bins < 2 || o.bins > 256) throw new StnnError('STNN_USAGE', `forest: bins must be an integer from 2 to 256, got ${o.bins}`);
  if (X.length !== y.length * d) throw new StnnError('STNN_BAD_INPUT', `forest: ${X.length} values for ${y.length} rows × ${d} features`);
  if (y.length === 0) throw new StnnError('STNN_BAD_INPUT', 'forest: no training rows');
  const classes = [...new Set(y)].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const rows = capRows(y, o.maxTrainRows, o.seed);
  const model: ForestModel = { engine, classes, d, trainRows: rows.length, trainMs: 0, nEstimators: o.nEstimators };
  if (classes.length === 1) return model; // nothing to learn: every prediction is that class
  const t0 = performance.now();
  if (engine === 'native') {
    const yIdx = new Int32Array(y.length);
    for (let i = 0; i < y.length; i++) yIdx[i] = index.get(y[i])!;
    model.trees = trainNative(X, yIdx, rows, d, classes.length, o);
  } else {
    const rf = new RandomForestClassifier({
      nEstimators: o.nEstimators,
      maxFeatures: o.maxFeatures,
      replacement: false,
      useSampleBagging: true,
      noOOB: true,
      seed: o.seed,
      treeOptions: { maxDepth: o.maxDepth, minNumSamples: o.minSamplesSplit },
    });
    rf.train(
      rows.map((i) => Array.from(X.subarray(i * d, i * d + d))),
      rows.map((i) => index.get(y[i])!),
    );
    model.rf = rf;
  }
  model.trainMs = performance.now() - t0;
  return model;
}

/** Predicted class per row (all rows of X, or the given row indices). */
export function predictForest(model: ForestModel, X: Float32Array | Float64Array, rows?: ArrayLike<number>): string[] {
  const d = model.d;
  const n = rows ? rows.length : X.length / d;
  const C = model.classes.length;
  if (C === 1) return new Array<string>(n).fill(model.classes[0]);
  if (n === 0) return [];
  if (model.engine === 'ml') {
    const data = Array.from({ length: n }, (_, k) => {
      const i = rows ? rows[k] : k;
      return Array.from(X.subarray(i * d, i * d + d));
    });
    return model.rf!.predict(data).map((k) => model.classes[k]);
  }
  const out = new Array<string>(n);
  const votes = new Float64Array(C);
  for (let k = 0; k < n; k++) {
    const base = (rows ? rows[k] : k) * d;
    votes.fill(0);
    for (const t of model.trees!) {
      let node = 0;
      while (t.feature[node] >= 0) node = X[base + t.feature[node]] < t.threshold[node] ? t.left[node] : t.right[node];
      const at = t.distAt[node];
      for (let c = 0; c < C; c++) votes[c] += t.dist[at + c];
    }
    let best = 0;
    for (let c = 1; c < C; c++) if (votes[c] > votes[best]) best = c;
    out[k] = model.classes[best];
  }
  return out;
}
