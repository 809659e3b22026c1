import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confusionMatrix, evalLabels, paperMetrics } from '../../src/eval/metrics.js';
import { StnnError } from '../../src/util/errors.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test('confusionMatrix counts truth rows × prediction columns', () => {
  const truth = ['a', 'a', 'b', 'c', 'c', 'a'];
  const pred = ['a', 'b', 'b', 'a', 'c', 'a'];
  assert.deepEqual(confusionMatrix(truth, pred, ['a', 'b', 'c']), [
    [2, 1, 0],
    [0, 1, 0],
    [1, 0, 1],
  ]);
  assert.throws(() => confusionMatrix(['a'], ['z'], ['a']), (e: unknown) => e instanceof StnnError && /prediction 'z' \(row 0\)/.test(e.message));
  assert.throws(() => confusionMatrix(['a'], [], ['a']), /1 true labels but 0 predictions/);
  assert.throws(() => confusionMatrix([], [], ['a', 'a']), /listed twice/);
});

// Three classes, worked by hand (rows = truth, columns = prediction):
//        A  B  C | row
//   A    5  2  1 |  8
//   B    1  6  1 |  8
//   C    0  2  4 |  6
//  col   6 10  6 | 22, trace 15
// A: TP 5 FP 1 FN 3 TN 13 → P 5/6, R 5/8, F1 10/14 = 5/7, acc 18/22
// B: TP 6 FP 4 FN 2 TN 10 → P 6/10, R 6/8, F1 12/18 = 2/3, acc 16/22
// C: TP 4 FP 2 FN 2 TN 14 → P 4/6, R 4/6, F1 8/12 = 2/3, acc 18/22
// macroP = (5/6 + 3/5 + 2/3)/3 = 63/90 = 0.7
// macroR = (5/8 + 3/4 + 2/3)/3 = 49/72
// macroF1 = 2·0.7·(49/72) / (0.7 + 49/72) = 49/71
// avgAccuracy = (18 + 16 + 18)/(3·22) = 26/33; accuracy = 15/22; meanF1 = (5/7 + 2/3 + 2/3)/3 = 43/63
test('paperMetrics: hand-worked 3-class matrix (eqs. 2–5)', () => {
  const cm = [
    [5, 2, 1],
    [1, 6, 1],
    [0, 2, 4],
  ];
  const m = paperMetrics(cm, ['A', 'B', 'C'], null);
  const expected = [
    { cls: 'A', precision: 5 / 6, recall: 5 / 8, f1: 5 / 7, accuracy: 18 / 22, support: 8, predicted: 6 },
    { cls: 'B', precision: 6 / 10, recall: 6 / 8, f1: 2 / 3, accuracy: 16 / 22, support: 8, predicted: 10 },
    { cls: 'C', precision: 4 / 6, recall: 4 / 6, f1: 2 / 3, accuracy: 18 / 22, support: 6, predicted: 6 },
  ];
  for (let i = 0; i < 3; i++) {
    const got = m.perClass[i];
    const exp = expected[i];
    assert.equal(got.cls, exp.cls);
    assert.equal(got.support, exp.support);
    assert.equal(got.predicted, exp.predicted);
    for (const k of ['precision', 'recall', 'f1', 'accuracy'] as const) close(got[k], exp[k], `${exp.cls}.${k}`);
  }
  close(m.macroP, 0.7, 'macroP');
  close(m.macroR, 49 / 72, 'macroR');
  close(m.macroF1, 49 / 71, 'macroF1');
  close(m.avgAccuracy, 26 / 33, 'avgAccuracy');
  close(m.accuracy, 15 / 22, 'accuracy');
  close(m.meanF1, 43 / 63, 'meanF1');
  assert.equal(m.total, 22);
  assert.equal(m.unknownRate, 0);
  assert.deepEqual(m.macroClasses, ['A', 'B', 'C']);
});

// Two applications with classifiers (A, B), background flows, one flow of an app without a
// classifier (C → background), 'unknown' predictions → background column.
//   truth      predictions
//   A A A A    A A B unknown
//   B B B      B B A
//   bg bg bg   unknown unknown A
//   C          unknown
// matrix [A, B, background]:
//   A   2 1 1
//   B   1 2 0
//   bg  1 0 3        total 11, trace 7
// A: TP 2 FP 2 FN 2 TN 5 → P 1/2 R 1/2 F1 1/2 acc 7/11
// B: TP 2 FP 1 FN 1 TN 7 → P 2/3 R 2/3 F1 2/3 acc 9/11
// background (not averaged): TP 3 FP 1 FN 1 → P 3/4 R 3/4
// macroP = macroR = macroF1 = meanF1 = 7/12, avgAccuracy = 8/11, accuracy = 7/11,
// unknownRate = 4/11 (background column), appUnknownRate = 1/7 (one of 7 app flows)
test('paperMetrics: unknown predictions and background truths', () => {
  const truth = ['A', 'A', 'A', 'A', 'B', 'B', 'B', 'background', 'background', 'background', 'C'];
  const pred = ['A', 'A', 'B', 'unknown', 'B', 'B', 'A', 'unknown', 'unknown', 'A', 'unknown'];
  const l = evalLabels(truth, pred, ['A', 'B']);
  assert.deepEqual(l.classes, ['A', 'B', 'background']);
  const cm = confusionMatrix(l.truth, l.pred, l.classes);
  assert.deepEqual(cm, [
    [2, 1, 1],
    [1, 2, 0],
    [1, 0, 3],
  ]);
  const m = paperMetrics(cm, l.classes);
  close(m.macroP, 7 / 12, 'macroP');
  close(m.macroR, 7 / 12, 'macroR');
  close(m.macroF1, 7 / 12, 'macroF1');
  close(m.meanF1, 7 / 12, 'meanF1');
  close(m.avgAccuracy, 8 / 11, 'avgAccuracy');
  close(m.accuracy, 7 / 11, 'accuracy');
  close(m.unknownRate, 4 / 11, 'unknownRate');
  close(m.appUnknownRate, 1 / 7, 'appUnknownRate');
  assert.deepEqual(m.macroClasses, ['A', 'B']);
  const bg = m.perClass[2];
  assert.equal(bg.inMacro, false);
  close(bg.precision, 3 / 4, 'bg.precision');
  close(bg.recall, 3 / 4, 'bg.recall');
  // averaging every class (rejectClass null) changes the macro numbers: (1/2 + 2/3 + 3/4)/3 = 23/36
  close(paperMetrics(cm, l.classes, null).macroP, 23 / 36, 'macroP with background');
});

test('paperMetrics: zero denominators are 0, absent classes are left out of the averages', () => {
  // class C never occurs and is never predicted; class B occurs but is never predicted
  const cm = [
    [3, 0, 0],
    [2, 0, 0],
    [0, 0, 0],
  ];
  const m = paperMetrics(cm, ['A', 'B', 'C'], null);
  assert.deepEqual(m.macroClasses, ['A', 'B']);
  assert.equal(m.perClass[1].precision, 0);
  assert.equal(m.perClass[1].f1, 0);
  assert.equal(m.perClass[2].recall, 0);
  close(m.macroP, (3 / 5 + 0) / 2, 'macroP');
  close(m.macroR, (1 + 0) / 2, 'macroR');
  assert.throws(() => paperMetrics([[1]], ['A', 'B']), /not 2×2/);
  assert.throws(() => evalLabels([], [], ['unknown']), /reserved/);
  const empty = paperMetrics([[0]], ['A'], null);
  assert.deepEqual([empty.macroP, empty.accuracy, empty.total], [0, 0, 0]);
});
