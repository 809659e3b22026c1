/**
 * Evaluation below the models: given every application's P_target (and q) for a set of flows and
 * the flows' true labels, apply the paper's decision rules and compute the metrics. Scoring the
 * flows with the models is the caller's job (cli/eval.ts), so everything here is testable on
 * synthetic scores.
 */
import { decide, decideMaxP, type AppScore } from '../model/voting.js';
import { StnnError } from '../util/errors.js';
import { confusionMatrix, evalLabels, paperMetrics } from './metrics.js';
import { trainForest, predictForest, type ForestOptions } from './forest.js';
import type { MethodResult } from './report.js';

export interface AppScores {
  app: string;
  /** P_target per flow. */
  pTarget: ArrayLike<number>;
  /** P_target / P_non-target per flow from both softmax outputs (optional; see voting.ts). */
  q?: ArrayLike<number>;
}

export interface EvalInput {
  /** True label per flow (application name, 'background', or an application without a model). */
  truth: readonly string[];
  scores: AppScores[];
  votingLists: Map<string, number[]>;
  threshold?: number;
}

export interface EvalOutput {
  apps: string[];
  voting: MethodResult;
  maxP: MethodResult;
  argmax: MethodResult;
  /** Per flow: the voting-list verdict's application ('unknown' when none). */
  predictions: string[];
}

function method(name: string, truth: readonly string[], pred: string[], apps: string[]): MethodResult {
  const l = evalLabels([...truth], pred, apps);
  const cm = confusionMatrix(l.truth, l.pred, l.classes);
  return { name, classes: l.classes, cm, metrics: paperMetrics(cm, l.classes) };
}

/**
 * Decides every flow three ways (voting list, maximum P among the classifiers that say true,
 * plain argmax) and computes the metrics of each. Applications are reported in name order.
 */
export function evaluateScores(input: EvalInput): EvalOutput {
  const n = input.truth.length;
  const threshold = input.threshold ?? 0.5;
  const scores = [...input.scores].sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : 0));
  const apps = scores.map((s) => s.app);
  if (new Set(apps).size !== apps.length) throw new StnnError('STNN_BAD_INPUT', 'evaluation: an application is scored twice');
  for (const s of scores) {
    if (s.pTarget.length !== n || (s.q && s.q.length !== n)) {
      throw new StnnError('STNN_BAD_INPUT', `evaluation: '${s.app}' has ${s.pTarget.length} scores for ${n} flows`);
    }
  }
  const vote: string[] = new Array(n);
  const maxP: string[] = new Array(n);
  const argmax: string[] = new Array(n);
  const decidedBy = { single: 0, vote: 0, none: 0 };
  const row: AppScore[] = scores.map((s) => ({ app: s.app, p: 0 }));
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < scores.length; k++) {
      row[k].p = scores[k].pTarget[i];
      if (scores[k].q) row[k].q = scores[k].q![i];
    }
    const v = decide(row, input.votingLists, threshold);
    vote[i] = v.app;
    decidedBy[v.decided_by]++;
    maxP[i] = decideMaxP(row, threshold, 'claimed').app;
    argmax[i] = apps.length ? decideMaxP(row, threshold, 'all').app : 'unknown';
  }
  return {
    apps,
    voting: { ...method('Voting list', input.truth, vote, apps), decidedBy },
    maxP: method('maximumP', input.truth, maxP, apps),
    argmax: method('argmax P (no unknown)', input.truth, argmax, apps),
    predictions: vote,
  };
}

/**
 * The random-forest baseline on the same rows: trained on `trainX/trainY`, scored on
 * `testX/testY`. Labels of applications outside `apps` become 'background' on both sides, as for
 * STNN, so the two are compared on the same classes.
 */
export function forestBaseline(
  apps: string[],
  trainX: Float32Array,
  trainY: readonly string[],
  testX: Float32Array,
  testY: readonly string[],
  d: number,
  opts: ForestOptions = {},
): MethodResult {
  const known = new Set(apps);
  const map = (y: string) => (known.has(y) ? y : 'background');
  const model = trainForest(trainX, trainY.map(map), d, opts);
  const t0 = performance.now();
  const pred = predictForest(model, testX);
  const predictMs = performance.now() - t0;
  const res = method(`random forest (${model.engine})`, testY.map(map), pred, apps);
  res.details = {
    engine: model.engine === 'native' ? 'native (binned CART, √d features per split)' : 'ml-random-forest',
    trees: model.nEstimators,
    'training rows': model.trainRows,
    'training time (s)': Number((model.trainMs / 1000).toFixed(2)),
    'prediction (flows/s)': pred.length && predictMs > 0 ? Math.round(pred.length / (predictMs / 1000)) : 0,
  };
  return res;
}
