/**
 * stnn eval <dataset> --models DIR [--report report.html] [--split test|validation|train|all]
 *
 * Scores the chosen split with every application's model, decides each flow by the voting list,
 * by the maximum P_target (the paper's Table III) and by the plain argmax, trains the random-forest
 * baseline on the training split, prints the metrics, and optionally writes the HTML report and
 * its JSON twin.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FEATURE_SET_VERSION } from '../features/names.js';
import { gatherRows, readDataset, splitRows } from '../dataset/io.js';
import { evaluateScores, forestBaseline, type AppScores } from '../eval/evaluate.js';
import { readTrainingCsv, writeReport, type MethodResult, type ReportData, type TrainingCurve } from '../eval/report.js';
import type { ForestEngine } from '../eval/forest.js';
import { describeBackend, initBackend, parseBackendOption } from '../model/engine.js';
import { loadModels, scoreBatchDetailed } from '../model/registry.js';
import { StnnError, usageError } from '../util/errors.js';
import { checkCanCreateIn, checkOutputPath, intOption, numOption, parseCommand, type CommandSpec } from './args.js';

const options = {
  models: { type: 'string', short: 'm' },
  report: { type: 'string' },
  split: { type: 'string', default: 'test' },
  threshold: { type: 'string', default: '0.5' },
  backend: { type: 'string', default: 'auto' },
  'no-forest': { type: 'boolean', default: false },
  'forest-trees': { type: 'string', default: '100' },
  'forest-engine': { type: 'string', default: 'native' },
  seed: { type: 'string', default: '1' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
} as const;

const spec: CommandSpec<typeof options> = {
  usage: 'stnn eval <dataset> --models DIR [--report report.html] [--split test|validation|train|all]',
  summary:
    "Evaluates the one-class models of DIR on a dataset split: the paper's macroP, macroR, macroF1 and " +
    'average accuracy (eqs. 2-5), overall accuracy, mean F1, per-class P/R/F1, the unknown rate and the ' +
    'confusion matrix, for the voting list next to the maximum-P_target rule (Table III) and the plain argmax, ' +
    'and a random-forest baseline trained on the training split of the same features.',
  minPositionals: 1,
  options,
  help: {
    models: 'model directory (manifest.json + one model per application); required',
    report: 'write a self-contained HTML report here, and the same numbers as JSON next to it',
    split: 'rows to evaluate',
    threshold: 'a classifier says true when P_target > threshold',
    backend: 'TensorFlow.js backend: auto (the fastest available), node, wasm or cpu',
    'no-forest': 'skip the random-forest baseline',
    'forest-trees': 'trees of the random forest',
    'forest-engine': "'native' (fast) or 'ml' (ml-random-forest; slow, training rows capped at 400)",
    seed: 'seed of the random forest',
    json: 'print the results as JSON on stdout instead of tables',
    quiet: 'no progress lines on stderr',
  },
};

const SPLITS: Record<string, number[]> = { train: [0], validation: [1], test: [2], all: [0, 1, 2] };

function fmtRow(name: string, r: MethodResult, w: number): string {
  const m = r.metrics;
  const cells = [m.macroP, m.macroR, m.macroF1, m.avgAccuracy, m.accuracy, m.meanF1].map((x) => x.toFixed(4).padStart(9));
  return `${name.padEnd(w)}${cells.join('')}${`${(m.unknownRate * 100).toFixed(1)}%`.padStart(9)}`;
}

export function formatResults(methods: MethodResult[], main: MethodResult): string {
  const w = Math.max(14, ...methods.map((m) => m.name.length + 2));
  const lines = [
    `${''.padEnd(w)}${['macroP', 'macroR', 'macroF1', 'avgAcc', 'accuracy', 'meanF1', 'unknown'].map((h) => h.padStart(9)).join('')}`,
    ...methods.map((m) => fmtRow(m.name, m, w)),
    '',
    `per class (${main.name}):`,
  ];
  const cw = Math.max(10, ...main.metrics.perClass.map((c) => c.cls.length + 2));
  lines.push(`${'class'.padEnd(cw)}${['support', 'predicted', 'precision', 'recall', 'F1', 'acc'].map((h) => h.padStart(10)).join('')}`);
  for (const c of main.metrics.perClass) {
    lines.push(
      `${(c.cls + (c.inMacro ? '' : ' *')).padEnd(cw)}${[String(c.support), String(c.predicted), c.precision.toFixed(4), c.recall.toFixed(4), c.f1.toFixed(4), c.accuracy.toFixed(4)]
        .map((x) => x.padStart(10))
        .join('')}`,
    );
  }
  lines.push('* background: flows of no modelled application (right answer: unknown); not in the macro averages');
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, spec);
  if (!parsed) return 0;
  const v = parsed.values;
  if (parsed.positionals.length !== 1) throw usageError(`eval: expected one dataset file, got ${parsed.positionals.length}`);
  if (!v.models) throw usageError('eval: --models DIR is required');
  const which = SPLITS[v.split as string];
  if (!which) throw usageError(`--split: expected test, validation, train or all, got '${String(v.split)}'`);
  const threshold = numOption('threshold', v.threshold, 0.5, 0, 1);
  const backend = parseBackendOption(v.backend as string);
  const trees = intOption('forest-trees', v['forest-trees'], 100, 1, 10000);
  const forestEngine = v['forest-engine'] as string;
  if (forestEngine !== 'native' && forestEngine !== 'ml') throw usageError(`--forest-engine: expected native or ml, got '${forestEngine}'`);
  const seed = intOption('seed', v.seed, 1, 0, 0xffffffff);
  const log = (s: string) => {
    if (!v.quiet) process.stderr.write(`stnn: ${s}\n`);
  };

  if (v.report) {
    // a report that cannot be written fails now, not after the evaluation
    checkOutputPath('report', v.report, parsed.positionals);
    checkCanCreateIn('report', v.report); // its HTML and the JSON beside it
  }
  const dsPath = parsed.positionals[0];
  const ds = readDataset(dsPath, { featureSet: FEATURE_SET_VERSION });
  const rows = which.flatMap((s) => splitRows(ds, s)).sort((a, b) => a - b);
  if (rows.length === 0) {
    throw new StnnError('STNN_BAD_INPUT', `${dsPath}: no rows in the ${String(v.split)} split (see 'stnn dataset info')`);
  }
  const info = await initBackend(backend);
  log(describeBackend(info));
  const { manifest, models } = await loadModels(v.models, { featureSet: ds.featureSet });
  if (models.size === 0) throw new StnnError('STNN_MODEL', `${v.models}: the manifest lists no application`);

  const d = ds.names.length;
  const X = gatherRows(ds, rows);
  const truth = rows.map((i) => ds.y[i]);
  const modelled = truth.filter((t) => models.has(t)).length;
  if (modelled === 0) {
    process.stderr.write(`stnn: warning: none of the model directory's applications (${[...models.keys()].join(', ')}) has flows in the ${String(v.split)} split of ${dsPath}: per-application precision and recall mean nothing here\n`);
  }
  const scores: AppScores[] = [];
  const votingLists = new Map<string, number[]>();
  let scoreMs = 0;
  for (const [app, model] of models) {
    const t0 = performance.now();
    const s = await scoreBatchDetailed(model, manifest.normalizer, X, rows.length);
    scoreMs += performance.now() - t0;
    model.dispose();
    scores.push({ app, pTarget: s.pTarget, q: s.q });
    votingLists.set(app, manifest.apps[app]!.votingList);
    log(`scored ${rows.length} flows with '${app}'`);
  }
  const flowsPerSec = scoreMs > 0 ? Math.round((rows.length * models.size) / (scoreMs / 1000)) : 0;
  const out = evaluateScores({ truth, scores, votingLists, threshold });

  const notes: string[] = [];
  let forest: MethodResult | undefined;
  if (!v['no-forest']) {
    const trainRows = splitRows(ds, 0);
    if (trainRows.length === 0) {
      notes.push('random forest skipped: the dataset has no training rows');
    } else {
      if (which.includes(0)) notes.push('the evaluated rows include the training split: the random forest is scored partly on rows it was trained on');
      forest = forestBaseline(out.apps, gatherRows(ds, trainRows), trainRows.map((i) => ds.y[i]), X, truth, d, {
        engine: forestEngine as ForestEngine,
        nEstimators: trees,
        seed,
      });
      log(`random forest: ${forest.details!['training rows']} training rows, ${forest.details!['training time (s)']} s`);
    }
  }
  const outside = [...new Set(truth)].filter((t) => t !== 'background' && !out.apps.includes(t));
  if (outside.length) notes.push(`labels without a model, counted as background: ${outside.sort().join(', ')}`);

  const curves: TrainingCurve[] = [];
  for (const app of out.apps) {
    const file = path.join(v.models, manifest.apps[app]!.dir, 'curve.csv');
    if (!existsSync(file)) continue;
    try {
      curves.push(readTrainingCsv(file, app));
    } catch (err) {
      notes.push(err instanceof StnnError ? err.message : String(err));
    }
  }

  const methods = [out.maxP, out.voting, out.argmax, ...(forest ? [forest] : [])];
  const classCounts: Record<string, number> = {};
  for (const t of truth) classCounts[t] = (classCounts[t] ?? 0) + 1;
  const data: ReportData = {
    title: `STNN evaluation: ${path.basename(dsPath)} (${String(v.split)})`,
    generated: new Date().toISOString(),
    dataset: { path: dsPath, featureSet: ds.featureSet, split: String(v.split), flows: rows.length, classCounts },
    models: {
      dir: v.models,
      apps: out.apps,
      info: {
        architecture: `${manifest.arch.kind}/${manifest.arch.size}`,
        engine: describeBackend(info),
        'scoring (flows/s per model)': flowsPerSec,
        threshold,
      },
    },
    voting: out.voting,
    maxP: out.maxP,
    argmax: out.argmax,
    forest,
    votingLists: out.apps.map((app) => ({ app, list: manifest.apps[app]!.votingList })),
    curves,
    notes,
  };
  if (v.json) process.stdout.write(JSON.stringify(data, null, 1) + '\n');
  else {
    process.stdout.write(
      `${rows.length} flows (${String(v.split)} split of ${dsPath}), ${out.apps.length} applications, ${describeBackend(info)}, ${flowsPerSec} flows/s per model\n` +
        formatResults(methods, out.voting),
    );
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
  }
  if (v.report) {
    const p = writeReport(v.report, data);
    log(`report ${p.html} (numbers in ${p.json})`);
  }
  return 0;
}
