/**
 * STNN against the random forest on real traffic, cross-validated: the TLS flows of the nDPI
 * corpus (../shared/corpus/ndpi, or $STNN_CORPUS/ndpi), labelled from nDPI's application names
 * (src/dataset/ndpi.ts: 'TLS.Amazon' → Amazon; plain TLS, guesses and unlisted flows →
 * background), applications with fewer than --min-flows flows merged into background.
 *
 * Stratified K-fold (src/dataset/folds.ts, seeded). Per fold: the normaliser is fitted on the
 * training rows; a validation share is carved per class from the training folds for early
 * stopping and the voting lists; one one-class model per application is trained
 * (src/model/train.ts, as `stnn train` does) and the held-out fold is decided by the voting list,
 * the maximum P_target and the argmax (src/eval/evaluate.ts); the random forest is trained on all
 * rows of the training folds (validation share included: it needs no early stopping) and scored
 * on the same held-out fold. Per-fold and pooled (confusion matrices summed over the folds)
 * figures are printed; --json writes them.
 *
 * Defaults: the run in benchmarks/RESULTS.md (full STNN, 3 folds, ≤ 12 epochs: 24 min here).
 *
 *   node --import tsx benchmarks/ndpi-crossval.ts [--folds 3] [--epochs 12] [--patience 3]
 *     [--arch stnn|cnn] [--size full|tiny] [--balance weights|sample] [--validation 0.2]
 *     [--min-flows 10] [--seed 1] [--trees 100] [--json out.json] [--save-dataset set.msgpack]
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildNdpiDataset } from '../src/dataset/ndpi.js';
import { foldSplit, mergeRareLabels, stratifiedFolds } from '../src/dataset/folds.js';
import { gatherRows, writeDataset } from '../src/dataset/io.js';
import { evaluateScores, forestBaseline, type AppScores } from '../src/eval/evaluate.js';
import { paperMetrics, type PaperMetrics } from '../src/eval/metrics.js';
import type { MethodResult } from '../src/eval/report.js';
import { describeBackend, initBackend } from '../src/model/engine.js';
import { applyNormalizer, fitNormalizer } from '../src/model/normalize.js';
import { scoreNormalized } from '../src/model/score.js';
import { N_FEATURES, type ArchKind, type ArchSize } from '../src/model/stnn.js';
import { trainOneClass } from '../src/model/train.js';
import { calibrateVotingList } from '../src/model/voting.js';

const { values: v } = parseArgs({
  options: {
    folds: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '12' },
    patience: { type: 'string', default: '3' },
    batch: { type: 'string', default: '64' },
    arch: { type: 'string', default: 'stnn' },
    size: { type: 'string', default: 'full' },
    balance: { type: 'string', default: 'weights' },
    validation: { type: 'string', default: '0.2' },
    'min-flows': { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    trees: { type: 'string', default: '100' },
    corpus: { type: 'string' },
    json: { type: 'string' },
    'save-dataset': { type: 'string' },
  },
});
const K = Number(v.folds);
const epochs = Number(v.epochs);
const patience = Number(v.patience);
const batchSize = Number(v.batch);
const kind = v.arch as ArchKind;
const size = v.size as ArchSize;
const balance = v.balance as 'weights' | 'sample';
const valShare = Number(v.validation);
const minFlows = Number(v['min-flows']);
const seed = Number(v.seed);
const trees = Number(v.trees);
if (!['stnn', 'cnn'].includes(kind) || !['full', 'tiny'].includes(size) || !['weights', 'sample'].includes(balance)) {
  console.error('--arch stnn|cnn, --size full|tiny, --balance weights|sample');
  process.exit(2);
}
const corpus = resolve(v.corpus ?? join(process.env.STNN_CORPUS ?? resolve(import.meta.dirname, '..', '..', 'shared', 'corpus'), 'ndpi'));
const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(0);
const log = (s: string) => console.log(`[${secs()} s] ${s}`);

// ---- data
const built = await buildNdpiDataset(join(corpus, 'pcap'), join(corpus, 'result'));
const ds = built.dataset;
const y = mergeRareLabels(ds.y, minFlows);
ds.y = y;
const counts = new Map<string, number>();
for (const l of y) counts.set(l, (counts.get(l) ?? 0) + 1);
const apps = [...counts.keys()].filter((a) => a !== 'background').sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const capturesOf = (cls: string) => new Set(ds.file.filter((_, i) => y[i] === cls)).size;
log(`corpus ${corpus}: ${built.captures} captures, ${ds.n} TLS flows (${built.matched} listed by nDPI, ${built.unmatched} not), ${built.errors.length} capture(s) cut short`);
log(`${apps.length} applications with ≥ ${minFlows} flows, the rest background:`);
for (const [cls, n] of [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
  console.log(`  ${cls.padEnd(16)} ${String(n).padStart(4)} flows from ${capturesOf(cls)} capture(s)`);
}
if (v['save-dataset']) {
  writeDataset(v['save-dataset'], ds);
  log(`dataset written to ${v['save-dataset']}`);
}

const info = await initBackend();
log(`${describeBackend(info)}; ${K} folds, ${kind}/${size}, up to ${epochs} epochs, patience ${patience}, batch ${batchSize}, balance ${balance}, validation ${valShare} of the training folds, seed ${seed}; random forest ${trees} trees`);

// ---- folds
const folds = stratifiedFolds(y, K, seed);
const methodNames = ['voting list', 'maximum P_target', 'argmax (no unknown)', 'random forest'] as const;
type Name = (typeof methodNames)[number];
const pooled = new Map<Name, number[][]>();
let classes: string[] | undefined;
const perFold: { fold: number; test: number; trainSeconds: number; methods: Record<string, PaperMetrics>; epochs: Record<string, [number, number]> }[] = [];
let trainSamples = 0;
let trainSeconds = 0;

const header = `${'method'.padEnd(22)}${['macroP', 'macroR', 'macroF1', 'avgAcc', 'accuracy', 'meanF1', 'unknown'].map((h) => h.padStart(9)).join('')}`;
const row = (name: string, m: PaperMetrics) =>
  `${name.padEnd(22)}${[m.macroP, m.macroR, m.macroF1, m.avgAccuracy, m.accuracy, m.meanF1].map((x) => x.toFixed(3).padStart(9)).join('')}${`${(m.unknownRate * 100).toFixed(1)}%`.padStart(9)}`;

for (let fold = 0; fold < K; fold++) {
  const split = foldSplit(y, ds.file, folds, fold, valShare, seed + fold);
  const trainRows: number[] = [];
  const fitRows: number[] = [];
  const testRows: number[] = [];
  for (let i = 0; i < ds.n; i++) {
    if (split[i] === 2) testRows.push(i);
    else {
      fitRows.push(i);
      if (split[i] === 0) trainRows.push(i);
    }
  }
  log(`fold ${fold + 1}/${K}: train ${trainRows.length}, validation ${fitRows.length - trainRows.length}, test ${testRows.length}`);
  const normalizer = fitNormalizer(ds.X, ds.n, N_FEATURES, trainRows);
  const testXn = applyNormalizer(normalizer, gatherRows(ds, testRows), testRows.length);
  const truth = testRows.map((i) => y[i]);
  const scores: AppScores[] = [];
  const votingLists = new Map<string, number[]>();
  const epochsRun: Record<string, [number, number]> = {};
  const foldT0 = performance.now();
  for (const app of apps) {
    const a0 = performance.now();
    const r = await trainOneClass({
      app, X: ds.X, y, split, kind, size, seed: seed + fold, epochs, batchSize, patience, balance, normalizer,
    });
    votingLists.set(app, calibrateVotingList(r.valScores, r.valIsPositive, 0.5, r.valQ));
    const s = await scoreNormalized(r.model, testXn, testRows.length);
    r.model.dispose();
    scores.push({ app, pTarget: s.pTarget, q: s.q });
    const samples = r.history.reduce((a, h) => a + h.samples, 0);
    const sec = r.history.reduce((a, h) => a + h.seconds, 0);
    trainSamples += samples;
    trainSeconds += sec;
    epochsRun[app] = [r.history.length, r.bestEpoch];
    const best = r.history[r.bestEpoch - 1];
    log(`  ${app}: ${r.data.trainPositive}+/${r.data.trainNegative}− train, ${r.data.validationPositive}+ validation; ${r.history.length} epochs (best ${r.bestEpoch}, val acc ${best.valAcc.toFixed(3)}), ${((performance.now() - a0) / 1000).toFixed(0)} s, ${Math.round(samples / sec)} samples/s`);
  }
  const foldSeconds = (performance.now() - foldT0) / 1000;
  const out = evaluateScores({ truth, scores, votingLists });
  const forest = forestBaseline(out.apps, gatherRows(ds, fitRows), fitRows.map((i) => y[i]), gatherRows(ds, testRows), truth, N_FEATURES, {
    nEstimators: trees, seed: seed + fold,
  });
  const results: [Name, MethodResult][] = [['voting list', out.voting], ['maximum P_target', out.maxP], ['argmax (no unknown)', out.argmax], ['random forest', forest]];
  classes ??= out.voting.classes;
  const methods: Record<string, PaperMetrics> = {};
  console.log(`fold ${fold + 1}: ${testRows.length} test flows, STNN training ${foldSeconds.toFixed(0)} s (voting: ${out.voting.decidedBy!.single} single, ${out.voting.decidedBy!.vote} vote, ${out.voting.decidedBy!.none} none)`);
  console.log(header);
  for (const [name, r] of results) {
    if (r.classes.join() !== classes.join()) throw new Error(`fold ${fold + 1}: classes differ (${r.classes.join()} vs ${classes.join()})`);
    const acc = pooled.get(name) ?? classes.map(() => classes!.map(() => 0));
    r.cm.forEach((line, i) => line.forEach((c, j) => { acc[i][j] += c; }));
    pooled.set(name, acc);
    methods[name] = r.metrics;
    console.log(row(name, r.metrics));
  }
  perFold.push({ fold: fold + 1, test: testRows.length, trainSeconds: foldSeconds, methods, epochs: epochsRun });
}

// ---- pooled
console.log(`\npooled over ${K} folds (${ds.n} flows, each tested once; confusion matrices summed):`);
console.log(header);
const pooledMetrics: Record<string, PaperMetrics> = {};
for (const name of methodNames) {
  const m = paperMetrics(pooled.get(name)!, classes!);
  pooledMetrics[name] = m;
  console.log(row(name, m));
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
console.log('\nmacroF1 per fold (mean ± sd):');
for (const name of methodNames) {
  const xs = perFold.map((f) => f.methods[name].macroF1);
  console.log(`  ${name.padEnd(22)} ${xs.map((x) => x.toFixed(3)).join(' ')}  → ${mean(xs).toFixed(3)} ± ${sd(xs).toFixed(3)}`);
}
console.log('\nper class, pooled (F1 voting list / random forest; support):');
const pv = pooledMetrics['voting list'].perClass;
const pf = pooledMetrics['random forest'].perClass;
for (let i = 0; i < pv.length; i++) {
  console.log(`  ${pv[i].cls.padEnd(16)} ${pv[i].f1.toFixed(3)} / ${pf[i].f1.toFixed(3)}  (${pv[i].support})`);
}
console.log(`\nSTNN training: ${trainSamples} samples in ${trainSeconds.toFixed(0)} s (${Math.round(trainSamples / trainSeconds)} samples/s); wall ${secs()} s`);
if (v.json) {
  writeFileSync(v.json, JSON.stringify({
    corpus, options: { K, epochs, patience, batchSize, kind, size, balance, valShare, minFlows, seed, trees },
    counts: Object.fromEntries(counts), classes, perFold, pooled: pooledMetrics,
    pooledConfusion: Object.fromEntries(pooled), wallSeconds: Number(secs()),
  }, null, 1));
}
