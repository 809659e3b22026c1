import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { confusionMatrix, evalLabels, paperMetrics } from '../../src/eval/metrics.js';
import { jsonPathFor, niceTicks, parseTrainingCsv, renderReport, writeReport, type MethodResult, type ReportData } from '../../src/eval/report.js';
import { StnnError } from '../../src/util/errors.js';

function method(name: string, truth: string[], pred: string[]): MethodResult {
  const l = evalLabels(truth, pred, ['A', 'B']);
  const cm = confusionMatrix(l.truth, l.pred, l.classes);
  return { name, classes: l.classes, cm, metrics: paperMetrics(cm, l.classes) };
}

// the hand-worked background example of metrics.test.ts: macroP = 7/12 = 0.5833, avgAccuracy = 8/11 = 0.7273
const truth = ['A', 'A', 'A', 'A', 'B', 'B', 'B', 'background', 'background', 'background', 'C'];
const votePred = ['A', 'A', 'B', 'unknown', 'B', 'B', 'A', 'unknown', 'unknown', 'A', 'unknown'];
// max-P: every app flow right, background claimed twice → A: P 4/5 R 1, B: P 1 R 1 → macroP 0.9, macroR 1
const maxPred = ['A', 'A', 'A', 'A', 'B', 'B', 'B', 'A', 'unknown', 'unknown', 'unknown'];

function data(): ReportData {
  return {
    title: 'STNN evaluation <test & "quotes">',
    generated: '2026-12-03T19:00:00.000Z',
    dataset: { path: '/data/set.msgpack', featureSet: 'stnn-115/1', split: 'test', flows: 11, classCounts: { A: 4, B: 3, background: 3, C: 1 } },
    models: { dir: '/models', apps: ['A', 'B'] },
    voting: { ...method('Voting list', truth, votePred), decidedBy: { single: 5, vote: 2, none: 4 } },
    maxP: method('maximumP', truth, maxPred),
    forest: { ...method('random forest', truth, votePred), details: { trees: 100, 'training rows': 42 } },
    votingLists: [{ app: 'A', list: [0.25, 0.5, 0.75, 1, 1, 1, 1], called: [4, 4, 4, 1, 0, 0, 1] }],
    curves: [{ app: 'A', rows: parseTrainingCsv('epoch,loss,acc,val_loss,val_acc\n1,0.9,0.6,0.95,0.55\n2,0.5,0.8,0.6,0.75\n3,0.3,0.9,0.45,0.85\n', 'A.csv') }],
    notes: ['a <note>'],
  };
}

// HTML void elements; SVG shapes must be self-closed (<rect/>) or closed (<rect>…</rect>)
const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'col', 'wbr']);

/** Checks that every non-void element is closed in order (self-closing SVG shapes allowed). */
function checkBalanced(html: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*?)(\/?)>/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(html))) {
    const [, close, rawName, , selfClose] = m;
    const name = rawName.toLowerCase();
    if (close) {
      const top = stack.pop();
      assert.equal(top, name, `</${name}> closes <${top}> at ${m.index}`);
    } else if (!selfClose && !VOID.has(name)) {
      stack.push(name);
    }
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

test('report: self-contained, balanced HTML with the numbers', () => {
  const html = renderReport(data());
  assert.ok(html.startsWith('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'));
  assert.doesNotMatch(html, /https?:\/\//i, 'no URLs');
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(/i, 'no external or scripted content');
  checkBalanced(html);
  // title escaped
  assert.match(html, /<title>STNN evaluation &#60;test &#38; &#34;quotes&#34;&#62;<\/title>/);
  // Table III rows: maximumP first, then the voting list (paper order), with 4-digit numbers
  const cmp = /<table class="cmp">(.*?)<\/table>/s.exec(html)![1];
  assert.match(cmp, /<tr><th>maximumP<\/th><td>0\.9000<\/td><td>1\.0000<\/td><td>0\.9474<\/td>/);
  assert.match(cmp, /<tr><th>Voting list<\/th><td>0\.5833<\/td><td>0\.5833<\/td><td>0\.5833<\/td><td>0\.7273<\/td><td>0\.6364<\/td><td>0\.5833<\/td><td>36\.4%<\/td><td>14\.3%<\/td><\/tr>/);
  assert.ok(cmp.indexOf('maximumP') < cmp.indexOf('Voting list'));
  assert.match(cmp, /random forest/);
  // heatmap: the counts of the voting matrix [[2,1,1],[1,2,0],[1,0,3]] with the column label 'unknown'
  assert.match(html, /<title>A → unknown: 1 \(25\.0% of the row\)<\/title>/);
  assert.match(html, /<title>background → unknown: 3 \(75\.0% of the row\)<\/title>/);
  assert.match(html, /<title>B → B: 2 \(66\.7% of the row\)<\/title>/);
  // forest heatmap keeps 'background' as the predicted column name
  assert.match(html, /<title>background → background: 3/);
  assert.match(html, /<tr><th>flows per label<\/th><td>A 4, B 3, background 3, C 1<\/td><\/tr>/);
  // decisions, voting list, curve, notes
  assert.match(html, /5 by a single classifier, 2 by vote, 4 unknown/);
  assert.match(html, /<th>A<\/th><td title="4 calibration flows called true">0\.250<\/td>/);
  assert.match(html, /3 epochs; last: loss 0\.3000, acc 0\.9000, val_loss 0\.4500, val_acc 0\.8500/);
  assert.equal((html.match(/<polyline /g) ?? []).length, 4); // loss and accuracy, train and validation
  assert.match(html, /<li>a &#60;note&#62;<\/li>/);
  // per-class bars: A's F1 0.5 → 180 px of 360
  assert.match(html, /<rect x="\d+" y="\d+" width="180\.0" height="6" fill="#2ca02c"><title>A f1 0\.5000<\/title>/);
});

test('report: written with its JSON twin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stnn-report-'));
  try {
    const paths = writeReport(join(dir, 'report.html'), data());
    assert.equal(paths.json, join(dir, 'report.json'));
    const j = JSON.parse(readFileSync(paths.json, 'utf8'));
    assert.ok(Math.abs(j.voting.metrics.macroP - 7 / 12) < 1e-15);
    assert.deepEqual(j.voting.cm, [[2, 1, 1], [1, 2, 0], [1, 0, 3]]);
    assert.equal(j.curves[0].rows[2].val_acc, 0.85);
    assert.equal(readFileSync(paths.html, 'utf8'), renderReport(data()));
    assert.throws(() => writeReport(join(dir, 'nope', 'r.html'), data()), /cannot write report: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(jsonPathFor('x/report.HTML'), 'x/report.json');
  assert.equal(jsonPathFor('out'), 'out.json');
});

test('report: no curves, one epoch, and a flat curve still render', () => {
  const d = data();
  d.curves = [{ app: 'B', rows: [{ epoch: 1, loss: 0.5, acc: 0.5, val_loss: 0.5, val_acc: 0.5 }] }];
  const one = renderReport(d);
  checkBalanced(one);
  assert.match(one, /<circle /);
  d.curves = [];
  d.forest = undefined;
  d.votingLists = undefined;
  const none = renderReport(d);
  checkBalanced(none);
  assert.match(none, /No training log found/);
  assert.doesNotMatch(none, /Random-forest baseline/);
});

test('training CSV: columns by name, errors name file, line and column', () => {
  const rows = parseTrainingCsv('val_acc,epoch,loss,acc,val_loss,lr\n0.5,1,0.7,0.6,0.8,0.001\n\n', 'log.csv');
  assert.deepEqual(rows, [{ epoch: 1, loss: 0.7, acc: 0.6, val_loss: 0.8, val_acc: 0.5 }]);
  assert.throws(() => parseTrainingCsv('epoch,loss,acc\n1,2,3\n', 'log.csv'), (e: unknown) => e instanceof StnnError && /^log\.csv: line 1: missing column\(s\) val_loss, val_acc$/.test(e.message));
  assert.throws(() => parseTrainingCsv('epoch,loss,acc,val_loss,val_acc\n1,0.5,x,0.5,0.5\n', 'log.csv'), /log\.csv: line 2: acc: not a number/);
  assert.throws(() => parseTrainingCsv('epoch,loss,acc,val_loss,val_acc\n1,0.5\n', 'log.csv'), /log\.csv: line 2: acc: not a number/);
  assert.throws(() => parseTrainingCsv('', 'log.csv'), /log\.csv: empty training log/);
});

test('niceTicks: steps of 1, 2, 5 × 10^k covering the range', () => {
  assert.deepEqual(niceTicks(0.0179, 0.8), [0, 0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(niceTicks(0.5, 0.99), [0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  // flat: ±10% → [0.45, 0.55], raw step 0.1/5 is a hair above 0.02 in floating point → step 0.05
  assert.deepEqual(niceTicks(0.5, 0.5), [0.45, 0.5, 0.55]);
  assert.deepEqual(niceTicks(3, 47), [0, 10, 20, 30, 40, 50]);
});
