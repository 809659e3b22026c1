import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateScores, forestBaseline } from '../../src/eval/evaluate.js';
import { mulberry32 } from '../../src/dataset/split.js';

const lists = new Map<string, number[]>([
  ['alpha', [0.2, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5]],
  ['beta', [0.1, 0.3, 0.4, 0.7, 0.8, 0.9, 0.95]],
]);

// flow  truth       P(alpha)  P(beta)   voting            maxP (claimed)  argmax
//  1    alpha       0.99      0.9999    alpha (.9 > .7)   beta            beta
//  2    beta        0.2       0.8       beta (single)     beta            beta
//  3    background  0.3       0.4       unknown           unknown         beta
//  4    alpha       0.4       0.1       unknown           unknown         alpha
//  5    beta        0.95      0.999     alpha (.9 > .4)   beta            beta
//  6    gamma→bg    0.7       0.2       alpha (single)    alpha           alpha
const truth = ['alpha', 'beta', 'background', 'alpha', 'beta', 'gamma'];
const pAlpha = [0.99, 0.2, 0.3, 0.4, 0.95, 0.7];
const pBeta = [0.9999, 0.8, 0.4, 0.1, 0.999, 0.2];

test('evaluateScores: the three rules on a hand-worked set', () => {
  // scores given in reverse name order: apps come out sorted
  const out = evaluateScores({ truth, scores: [{ app: 'beta', pTarget: pBeta }, { app: 'alpha', pTarget: new Float32Array(pAlpha) }], votingLists: lists });
  assert.deepEqual(out.apps, ['alpha', 'beta']);
  assert.deepEqual(out.predictions, ['alpha', 'beta', 'unknown', 'unknown', 'alpha', 'alpha']);
  assert.deepEqual(out.voting.classes, ['alpha', 'beta', 'background']);
  assert.deepEqual(out.voting.cm, [
    [1, 0, 1],
    [1, 1, 0],
    [1, 0, 1],
  ]);
  assert.deepEqual(out.voting.decidedBy, { single: 2, vote: 2, none: 2 });
  assert.deepEqual(out.maxP.cm, [
    [0, 1, 1],
    [0, 2, 0],
    [1, 0, 1],
  ]);
  assert.deepEqual(out.argmax.cm, [
    [1, 1, 0],
    [0, 2, 0],
    [1, 1, 0],
  ]);
  // voting: alpha P 1/3 R 1/2, beta P 1 R 1/2 → macroP 2/3, macroR 1/2
  assert.ok(Math.abs(out.voting.metrics.macroP - 2 / 3) < 1e-12);
  assert.equal(out.voting.metrics.macroR, 0.5);
  // maxP: alpha P 0 R 0, beta P 2/3 R 1 → macroP 1/3, macroR 1/2
  assert.ok(Math.abs(out.maxP.metrics.macroP - 1 / 3) < 1e-12);
  assert.equal(out.maxP.metrics.macroR, 0.5);
  assert.equal(out.argmax.metrics.unknownRate, 0);
  assert.equal(out.voting.metrics.unknownRate, 2 / 6);
});

test('evaluateScores: explicit q decides the gap; input checks', () => {
  // flow 5 with q of beta = 2e6 → beta gap 6 (v .95) beats alpha (.9)
  const qBeta = pBeta.map((p) => p / (1 - p));
  qBeta[4] = 2e6;
  const out = evaluateScores({ truth, scores: [{ app: 'alpha', pTarget: pAlpha }, { app: 'beta', pTarget: pBeta, q: qBeta }], votingLists: lists });
  assert.equal(out.predictions[4], 'beta');
  assert.throws(() => evaluateScores({ truth, scores: [{ app: 'alpha', pTarget: [0.1] }], votingLists: lists }), /'alpha' has 1 scores for 6 flows/);
  assert.throws(() => evaluateScores({ truth, scores: [{ app: 'alpha', pTarget: pAlpha }, { app: 'alpha', pTarget: pAlpha }], votingLists: lists }), /scored twice/);
  // no application at all: everything unknown, background right
  const none = evaluateScores({ truth: ['background', 'x'], scores: [], votingLists: new Map() });
  assert.deepEqual(none.predictions, ['unknown', 'unknown']);
  assert.equal(none.voting.metrics.accuracy, 1);
});

test('forestBaseline: labels outside the modelled apps become background on both sides', () => {
  const d = 4;
  const rng = mulberry32(1);
  const make = (n: number) => {
    const X = new Float32Array(n * d);
    const y: string[] = [];
    const names = ['alpha', 'beta', 'gamma', 'background'];
    for (let i = 0; i < n; i++) {
      const k = i % 4;
      X[i * d] = k * 10 + rng();
      X[i * d + 1] = rng();
      X[i * d + 2] = rng();
      X[i * d + 3] = rng();
      y.push(names[k]);
    }
    return { X, y };
  };
  const tr = make(200);
  const te = make(80);
  const r = forestBaseline(['alpha', 'beta'], tr.X, tr.y, te.X, te.y, d, { nEstimators: 20 });
  assert.deepEqual(r.classes, ['alpha', 'beta', 'background']);
  // gamma and background merge: 40 background rows in the test set
  assert.equal(r.metrics.perClass[2].support, 40);
  assert.equal(r.metrics.accuracy, 1);
  assert.equal(r.details!.trees, 20);
  assert.equal(r.details!['training rows'], 200);
});
