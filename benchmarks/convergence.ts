/**
 * Convergence of two model directories side by side (the paper's §IV.D: STNN against the plain
 * CNN): per epoch, the mean over applications of training loss/accuracy and validation
 * loss/accuracy, from the curve.csv each application's training wrote.
 *
 *   node --import tsx benchmarks/convergence.ts DIR_A DIR_B
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest } from '../src/model/registry.js';
import { parseTrainingCsv, type CurveRow } from '../src/eval/report.js';

function curves(dir: string): Map<string, CurveRow[]> {
  const m = readManifest(dir);
  if (!m) throw new Error(`${dir}: no manifest`);
  const out = new Map<string, CurveRow[]>();
  for (const [app, e] of Object.entries(m.apps)) {
    const file = join(dir, e.dir, 'curve.csv');
    out.set(app, parseTrainingCsv(readFileSync(file, 'utf8'), file));
  }
  return out;
}

const [a, b] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: convergence.ts DIR_A DIR_B');
  process.exit(2);
}
const ca = curves(a);
const cb = curves(b);
const epochs = Math.max(...[...ca.values(), ...cb.values()].map((r) => r.length));
const mean = (c: Map<string, CurveRow[]>, e: number, k: keyof CurveRow) => {
  const xs = [...c.values()].filter((r) => r.length > e).map((r) => Number(r[e][k]));
  return xs.length ? { v: xs.reduce((s, x) => s + x, 0) / xs.length, n: xs.length } : null;
};
const cell = (x: { v: number; n: number } | null) => (x ? `${x.v.toFixed(3)}${x.n < ca.size ? `(${x.n})` : ''}` : '–');
console.log(`| epoch | A loss | A acc | A val loss | A val acc | B loss | B acc | B val loss | B val acc |`);
console.log(`|---|---|---|---|---|---|---|---|---|`);
for (let e = 0; e < epochs; e++) {
  console.log(`| ${e + 1} | ${(['loss', 'acc', 'val_loss', 'val_acc'] as const).map((k) => cell(mean(ca, e, k))).join(' | ')} | ${(['loss', 'acc', 'val_loss', 'val_acc'] as const).map((k) => cell(mean(cb, e, k))).join(' | ')} |`);
}
console.log(`\nA = ${a} (${ca.size} applications), B = ${b} (${cb.size}); (n) = mean over the n applications still training at that epoch (early stopping).`);
