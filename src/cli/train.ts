/**
 * stnn train <dataset> --models DIR [--app NAME…] [--arch stnn|cnn] [--size full|tiny] …
 *
 * Trains one one-class classifier per application (its flows positive, all others negative),
 * calibrates its voting list on the validation split and writes it into the model directory,
 * leaving the directory's other applications untouched.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { Piscina } from 'piscina';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readDataset, type Dataset } from '../dataset/io.js';
import { FEATURE_SET_VERSION } from '../features/names.js';
import { describeBackend, initBackend, parseBackendOption } from '../model/engine.js';
import { fitNormalizer } from '../model/normalize.js';
import { BALANCES } from '../model/train.js';
import { checkAppName, installApp, readManifest, removeTempEntries, type Arch } from '../model/registry.js';
import { siblingModule } from '../util/paths.js';
import { trainApp, type TrainAppResult, type TrainAppTask } from '../model/train-app.js';
import type { TrainWorkerResult, TrainWorkerTask } from '../model/train-worker.js';
import { ARCH_KINDS, ARCH_SIZES, N_FEATURES, type ArchKind, type ArchSize } from '../model/stnn.js';
import { SPLIT_TRAIN, SPLIT_VALIDATION } from '../model/train.js';
import { StnnError, fromWireError, usageError } from '../util/errors.js';
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
  jobs: { type: 'string', short: 'j', default: '1' },
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
    seed: 'seed of weight initialisation and sampling (dropout masks are not seeded: two runs differ slightly)',
    balance: "'weights' (class weights), 'sample' (undersample the larger class each epoch) or 'none' (every row, unweighted)",
    lr: 'Adam learning rate',
    'min-flows': 'without --app, skip applications with fewer training flows than this',
    backend: 'TensorFlow.js backend: auto (the fastest available), node, wasm or cpu',
    jobs: 'applications trained at a time, each in its own worker thread (one core each)',
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
  const jobs = intOption('jobs', v.jobs, 1, 1, 256);
  const balance = pick('balance', v.balance, BALANCES)!;
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

  let validation = 0;
  for (let i = 0; i < ds.n; i++) if (ds.split[i] === SPLIT_VALIDATION) validation++;
  if (validation === 0) {
    throw new StnnError('STNN_BAD_INPUT', `${file}: the validation split is empty (needed for early stopping and the voting lists; rebuild it with validation in --fractions)`);
  }
  mkdirSync(dir, { recursive: true });
  const stale = removeTempEntries(dir);
  if (stale.length) log(`removed ${stale.length} temporary file(s) an interrupted training left in ${dir}: ${stale.join(', ')}`);
  // Interrupted (Ctrl-C, SIGTERM): this process's staging directories go; what is installed stays
  // (an application is installed in one synchronous step, so the manifest matches the files).
  const onSignal = (sig: NodeJS.Signals) => {
    const gone = removeTempEntries(dir, process.pid);
    process.stderr.write(`stnn: ${sig}: training stopped${gone.length ? `, removed ${gone.join(', ')}` : ''}; applications finished before are installed\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const trainAll = async (): Promise<number> => {
    const engine = { tfjs: tf.version.tfjs, backend: info.name };
    const task = (app: string): TrainAppTask => ({
      app, dir, dataset: path.basename(file), X: ds.X, y: ds.y, split: ds.split, kind: arch.kind, size: arch.size,
      seed, epochs, batchSize, patience, balance, learningRate: lr, normalizer: normalizer!,
    });
    const record = (r: TrainAppResult) => {
      if (r.warning) log(r.warning);
      installApp(dir, r.app, r.staged, { featureSet: ds.featureSet, arch, normalizer: normalizer!, engine, entry: r.entry });
      log(r.summary);
    };
    if (jobs === 1 || todo.length === 1) {
      for (const app of todo) {
        const bar = new EpochBar(!quiet && process.stderr.isTTY === true, app, epochs);
        record(await trainApp(task(app), { log, onBatch: (e, b, n) => bar.batch(e, b, n), beforeLog: () => bar.clear() }));
      }
      return 0;
    }
    // Several applications at a time, one worker thread (and tfjs backend) each. Each result is
    // recorded as it arrives; after a failure no new application is started, those running finish
    // and are recorded, as the ones before a failure are when training one at a time.
    const threads = Math.min(jobs, todo.length);
    const pool = new Piscina<TrainWorkerTask, TrainWorkerResult>({
      filename: siblingModule(import.meta.url, '../model/train-worker'),
      minThreads: threads, maxThreads: threads, idleTimeout: 1000,
    });
    log(`${threads} applications at a time, one worker thread each`);
    const queue = [...todo];
    let failure: unknown = null;
    const lane = async () => {
      for (let app = queue.shift(); app !== undefined && failure === null; app = queue.shift()) {
        try {
          const r = await pool.run({ ...task(app), backend, verbose: !quiet });
          if ('error' in r) throw fromWireError(r.error);
          record(r.result);
        } catch (err) {
          failure ??= err;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: threads }, lane));
    } finally {
      await pool.destroy();
    }
    if (failure !== null) throw failure;
    return 0;
  };
  try {
    return await trainAll();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
