/**
 * stnn train <dataset> --models DIR [--app NAME…] [--arch stnn|cnn] [--size full|tiny] …
 *
 * Trains one one-class classifier per application (its flows positive, all others negative),
 * calibrates its voting list on the validation split and writes it into the model directory,
 * leaving the directory's other applications untouched.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readDataset, type Dataset } from '../dataset/io.js';
import { FEATURE_SET_VERSION } from '../features/names.js';
import { describeBackend, initBackend, parseBackendOption } from '../model/engine.js';
import { fitNormalizer } from '../model/normalize.js';
import { checkAppName, readManifest, saveApp, type Arch } from '../model/registry.js';
import { ARCH_KINDS, ARCH_SIZES, N_FEATURES, type ArchKind, type ArchSize } from '../model/stnn.js';
import { trainOneClass, SPLIT_TRAIN, type EpochStats } from '../model/train.js';
import { calibrateVotingListDetailed } from '../model/voting.js';
import { StnnError, usageError } from '../util/errors.js';
import { intOption, numOption, parseCommand, type CommandSpec } from './args.js';

const options = {
  models: { type: 'string', short: 'm' },
  exclude: { type: 'string', multiple: true },
  app: { type: 'string', multiple: true },
  arch: { type: 'string' },
  size: { type: 'string' },
  epochs: { type: 'string', default: '30' },
  batch: { type: 'string', default: '64' },
  patience: { type: 'string', default: '5' },
  seed: { type: 'string', default: '1' },
  balance: { type: 'string', default: 'weights' },
  lr: { type: 'string', default: '0.001' },
  'min-flows': { type: 'string', default: '10' },
  backend: { type: 'string', default: 'auto' },
  quiet: { type: 'boolean', short: 'q', default: false },
} as const;

const spec: CommandSpec<typeof options> = {
  usage: 'stnn train <dataset> --models DIR [--app NAME…] [--arch stnn|cnn] [--size full|tiny] [--epochs N] [--batch N] [--seed N]',
  summary:
    'Trains one one-class classifier per application of the dataset (its flows positive, other ' +
    "applications' and background flows negative), with early stopping and the voting list calibrated " +
    'on the validation split, and adds them to the model directory (created if needed). Other ' +
    'applications already in the directory are left as they are; all share its architecture and normaliser.',
  minPositionals: 1,
  options,
  help: {
    models: 'model directory (required)',
    exclude: 'leave the flows of this label out of training and validation altogether (repeatable): an open-set experiment',
    app: 'train only this application (repeatable); default: every label except background',
    arch: "stnn (the paper's) or cnn (the §IV.D baseline, no LSTM); default: the directory's, else stnn",
    size: "full (the paper's widths) or tiny (for tests); default: the directory's, else full",
    epochs: 'most epochs per application',
    batch: 'training batch size',
    patience: 'epochs without a better validation loss before stopping',
    seed: 'seed of weight initialisation and sampling',
    balance: "'weights' (class weights) or 'sample' (undersample the larger class each epoch)",
    lr: 'Adam learning rate',
    'min-flows': 'without --app, skip applications with fewer training flows than this',
    backend: 'auto, node (tfjs-node), wasm or cpu',
    quiet: 'no progress and no per-epoch lines on stderr',
  },
};

function pick<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw usageError(`--${name}: expected ${allowed.join('|')}, got '${value}'`);
  return value as T;
}

/** Training flows per label (split 0). */
function trainCounts(ds: Dataset): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < ds.n; i++) if (ds.split[i] === SPLIT_TRAIN) m.set(ds.y[i]!, (m.get(ds.y[i]!) ?? 0) + 1);
  return m;
}

class EpochBar {
  private last = 0;
  constructor(private readonly enabled: boolean, private readonly app: string, private readonly epochs: number) {}
  batch(epoch: number, b: number, batches: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 200 && b < batches) return;
    this.last = now;
    const width = 24;
    const fill = Math.round((b / batches) * width);
    process.stderr.write(`\r${this.app} epoch ${epoch}/${this.epochs} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${b}/${batches}\x1b[K`);
  }
  clear(): void {
    if (this.enabled) process.stderr.write('\r\x1b[K');
  }
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, spec);
  if (!parsed) return 0;
  const v = parsed.values;
  const file = parsed.positionals[0]!;
  if (parsed.positionals.length > 1) throw usageError(`train: one dataset file expected, got ${parsed.positionals.length}`);
  if (!v.models) throw usageError('train: --models DIR is required');
  const dir = v.models;
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw usageError(`--models: '${dir}' exists and is not a directory`);
  const epochs = intOption('epochs', v.epochs, 30, 1, 100_000);
  const batchSize = intOption('batch', v.batch, 64, 1, 65_536);
  const patience = intOption('patience', v.patience, 5, 0, 100_000);
  const seed = intOption('seed', v.seed, 1, 0, 2 ** 31 - 1);
  const minFlows = intOption('min-flows', v['min-flows'], 10, 1);
  const lr = numOption('lr', v.lr, 1e-3, 1e-7, 1);
  const balance = pick('balance', v.balance, ['weights', 'sample'] as const)!;
  const kindOpt = pick<ArchKind>('arch', v.arch, ARCH_KINDS);
  const sizeOpt = pick<ArchSize>('size', v.size, ARCH_SIZES);
  const backend = parseBackendOption(v.backend);
  const quiet = v.quiet === true;
  const apps = (v.app ?? []).map(checkAppName);
  const log = (s: string) => { if (!quiet) process.stderr.write(`stnn: ${s}\n`); };

  const ds = readDataset(file, { featureSet: FEATURE_SET_VERSION });
  if (ds.names.length !== N_FEATURES) throw new StnnError('STNN_BAD_INPUT', `${file}: names: expected ${N_FEATURES} features, got ${ds.names.length}`);
  // Fail before any training if the directory cannot take these models.
  const existing = readManifest(dir, { featureSet: ds.featureSet });
  const arch: Arch = { kind: kindOpt ?? existing?.arch.kind ?? 'stnn', size: sizeOpt ?? existing?.arch.size ?? 'full' };
  if (existing && (existing.arch.kind !== arch.kind || existing.arch.size !== arch.size)) {
    throw new StnnError('STNN_MODEL', `${path.join(dir, 'manifest.json')}: architecture '${existing.arch.kind}/${existing.arch.size}' does not match the requested '${arch.kind}/${arch.size}'`);
  }
  const exclude = new Set(v.exclude ?? []);
  if (exclude.size) {
    // unseen applications: their rows join the test split, so no model learns them even as negatives
    let moved = 0;
    for (let i = 0; i < ds.n; i++) if (exclude.has(ds.y[i]) && ds.split[i] !== 2) { ds.split[i] = 2; moved++; }
    log(`excluded ${[...exclude].join(', ')}: ${moved} training/validation flows left out`);
  }
  const counts = trainCounts(ds);
  let todo: string[];
  if (apps.length) {
    for (const a of apps) {
      if (!counts.get(a)) throw new StnnError('STNN_BAD_INPUT', `${file}: no training flows labelled '${a}' (labels: ${[...counts.keys()].sort().join(', ')})`);
    }
    todo = [...new Set(apps)];
  } else {
    todo = [...counts.keys()].filter((a) => a !== 'background' && a !== 'unknown').sort();
    const small = todo.filter((a) => counts.get(a)! < minFlows);
    if (small.length) log(`skipping ${small.map((a) => `${a} (${counts.get(a)})`).join(', ')}: fewer than ${minFlows} training flows`);
    todo = todo.filter((a) => counts.get(a)! >= minFlows);
    todo.forEach(checkAppName);
    if (todo.length === 0) throw new StnnError('STNN_BAD_INPUT', `${file}: no application with at least ${minFlows} training flows`);
  }

  const info = await initBackend(backend);
  log(`${describeBackend(info)}${info.notes.length ? ` (${info.notes.join('; ')})` : ''}`);
  let normalizer = existing?.normalizer;
  if (!normalizer) {
    const rows: number[] = [];
    for (let i = 0; i < ds.n; i++) if (ds.split[i] === SPLIT_TRAIN) rows.push(i);
    normalizer = fitNormalizer(ds.X, ds.n, N_FEATURES, rows);
  }
  log(`training ${todo.length} application(s) into ${dir}: ${arch.kind}/${arch.size}, ${ds.n} flows, up to ${epochs} epochs, batch ${batchSize}, seed ${seed}`);

  mkdirSync(dir, { recursive: true });
  for (const app of todo) {
    const bar = new EpochBar(!quiet && process.stderr.isTTY === true, app, epochs);
    const curve = path.join(dir, `.${app}.curve.csv.tmp-${process.pid}`);
    const t0 = performance.now();
    let result;
    try {
      result = await trainOneClass({
        app, X: ds.X, y: ds.y, split: ds.split, kind: arch.kind, size: arch.size, seed, epochs, batchSize,
        patience, balance, learningRate: lr, normalizer, curveCsv: curve,
        onBatch: (e, b, n) => bar.batch(e, b, n),
        onEpoch: (e: EpochStats) => {
          bar.clear();
          log(`${app} epoch ${e.epoch}: loss ${e.loss.toFixed(4)} acc ${e.acc.toFixed(4)} val_loss ${e.valLoss.toFixed(4)} val_acc ${e.valAcc.toFixed(4)} (${e.seconds.toFixed(1)} s, ${Math.round(e.samples / e.seconds)} samples/s)`);
        },
      });
    } catch (err) {
      bar.clear();
      rmSync(curve, { force: true });
      throw err;
    }
    const seconds = (performance.now() - t0) / 1000;
    const cal = calibrateVotingListDetailed(result.valScores, result.valIsPositive, 0.5, result.valQ);
    if (result.data.validationPositive === 0) {
      log(`warning: ${app}: the validation split has no flows of this application, so its recall is unknown and its voting list has no positive evidence (rebuild the dataset with more ${app} flows or another split)`);
    }
    let tp = 0, fp = 0, fn = 0;
    for (let k = 0; k < result.valScores.length; k++) {
      const said = result.valScores[k]! > 0.5;
      if (said && result.valIsPositive[k]) tp++;
      else if (said) fp++;
      else if (result.valIsPositive[k]) fn++;
    }
    const best = result.history[result.bestEpoch - 1]!;
    const metrics = {
      valLoss: best.valLoss, valAcc: best.valAcc,
      valPrecision: tp + fp > 0 ? tp / (tp + fp) : 0,
      valRecall: tp + fn > 0 ? tp / (tp + fn) : 0,
      bestEpoch: result.bestEpoch, epochs: result.history.length,
      trainSeconds: Number(seconds.toFixed(3)),
      samplesPerSecond: Math.round(result.history.reduce((a, h) => a + h.samples, 0) / result.history.reduce((a, h) => a + h.seconds, 0)),
    };
    const curveText = readFileSync(curve);
    rmSync(curve, { force: true });
    await saveApp(dir, app, result.model, {
      featureSet: ds.featureSet, arch, normalizer: result.normalizer,
      engine: { tfjs: tf.version.tfjs, backend: info.name },
      entry: {
        votingList: cal.votingList, trainedAt: new Date().toISOString(), metrics,
        dataSummary: { ...result.data, dataset: path.basename(file), seed, calledPerGap: cal.called, correctPerGap: cal.correct },
      },
      extraFiles: { 'curve.csv': curveText },
    });
    result.model.dispose();
    log(`${app}: ${metrics.epochs} epochs (best ${metrics.bestEpoch}), val acc ${metrics.valAcc.toFixed(4)}, precision ${metrics.valPrecision.toFixed(3)}, recall ${metrics.valRecall.toFixed(3)}, voting list [${cal.votingList.map((x) => x.toFixed(3)).join(' ')}], ${seconds.toFixed(1)} s`);
  }
  return 0;
}
