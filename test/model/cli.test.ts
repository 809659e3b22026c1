import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeDataset, DATASET_FORMAT } from '../../src/dataset/io.js';
import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../../src/features/names.js';
import { mulberry32 } from '../../src/dataset/split.js';
import { run as train } from '../../src/cli/train.js';
import { run as models } from '../../src/cli/models.js';
import { StnnError } from '../../src/util/errors.js';
import { loadModels } from '../../src/model/registry.js';
import { readDataset } from '../../src/dataset/io.js';
import trainInWorker from '../../src/model/train-worker.js';
import { fromWireError, type WireError } from '../../src/util/errors.js';
import { spawn } from 'node:child_process';
import { repoRoot } from '../helpers/paths.js';

async function captureStdout(fn: () => Promise<number>): Promise<[number, string]> {
  const orig = process.stdout.write.bind(process.stdout);
  let out = '';
  (process.stdout as unknown as { write: (s: string) => boolean }).write = (s: string) => { out += s; return true; };
  try {
    return [await fn(), out];
  } finally {
    (process.stdout as unknown as { write: typeof orig }).write = orig;
  }
}

/** 150 synthetic flows: alpha (large first row), beta (large second row), background; 3:1:1 split. */
function syntheticSet(withValidation = true): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'stnn-cli-'));
  const n = 150;
  const rnd = mulberry32(3);
  const X = new Float32Array(n * 115);
  const y: string[] = [];
  const split = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = ['alpha', 'beta', 'background'][i % 3]!;
    y.push(c);
    split[i] = i % 5 < 3 ? 0 : i % 5 === 3 ? (withValidation ? 1 : 0) : 2;
    for (let j = 0; j < 115; j++) X[i * 115 + j] = (c === 'alpha' && j < 23 ? 100 : c === 'beta' && j >= 23 && j < 46 ? 100 : 10) * (0.5 + rnd());
  }
  const file = path.join(dir, 'set.msgpack');
  writeDataset(file, {
    format: DATASET_FORMAT, featureSet: FEATURE_SET_VERSION, names: [...FEATURE_NAMES], n, X, y, split,
    file: y.map(() => 'synthetic.pcap'), sni: y.map(() => ''), meta: {},
  });
  return { dir, file };
}

test('stnn train adds apps to a model directory, --app retrains one, models list/remove', async () => {
  const { dir, file } = syntheticSet();
  const mdir = path.join(dir, 'models');
  const common = ['--models', mdir, '--size', 'tiny', '--epochs', '2', '--batch', '32', '--quiet'];
  assert.equal(await train([file, ...common]), 0);
  const m = JSON.parse(readFileSync(path.join(mdir, 'manifest.json'), 'utf8'));
  assert.deepEqual(Object.keys(m.apps).sort(), ['alpha', 'beta']);
  assert.deepEqual(m.arch, { kind: 'stnn', size: 'tiny' });
  assert.equal(m.featureSet, FEATURE_SET_VERSION);
  assert.equal(m.apps.alpha.votingList.length, 7);
  assert.equal(m.apps.alpha.dataSummary.trainPositive, 30);
  assert.equal(m.apps.alpha.dataSummary.trainNegative, 60);
  const curve = readFileSync(path.join(mdir, 'alpha', 'curve.csv'), 'utf8').trim().split('\n');
  assert.equal(curve[0], 'epoch,loss,acc,val_loss,val_acc,seconds,samples');
  assert.ok(curve.length >= 2 && curve.length <= 3);

  // retrain beta only: alpha's files stay byte-identical
  const alphaWeights = readFileSync(path.join(mdir, 'alpha', 'weights.bin'));
  assert.equal(await train([file, ...common, '--app', 'beta', '--seed', '7']), 0);
  assert.deepEqual(readFileSync(path.join(mdir, 'alpha', 'weights.bin')), alphaWeights);
  const m2 = JSON.parse(readFileSync(path.join(mdir, 'manifest.json'), 'utf8'));
  assert.equal(m2.apps.beta.dataSummary.seed, 7);
  assert.equal(m2.apps.alpha.trainedAt, m.apps.alpha.trainedAt);

  // another architecture into the same directory is refused before training
  await assert.rejects(train([file, ...common, '--arch', 'cnn']), (e: unknown) =>
    e instanceof StnnError && e.code === 'STNN_MODEL' && /architecture 'stnn\/tiny' does not match the requested 'cnn\/tiny'/.test(e.message));
  await assert.rejects(train([file, ...common, '--app', 'gamma']), /no training flows labelled 'gamma'/);
  await assert.rejects(train([file, '--size', 'tiny']), /--models DIR is required/);

  const [code, listing] = await captureStdout(() => models(['list', '--models', mdir]));
  assert.equal(code, 0);
  assert.match(listing, /architecture stnn\/tiny/);
  assert.match(listing, /^alpha +\S+ +30\/60 /m);
  assert.match(listing, /^beta +\S+ +30\/60 /m);
  assert.equal(await models(['remove', '--models', mdir, 'beta']), 0);
  assert.ok(!existsSync(path.join(mdir, 'beta')));
  const [, listing2] = await captureStdout(() => models(['list', '--models', mdir]));
  assert.doesNotMatch(listing2, /^beta /m);
  await assert.rejects(models(['remove', '--models', mdir, 'beta']), /no application 'beta' \(have: alpha\)/);
  rmSync(dir, { recursive: true, force: true });
});

test('stnn train --jobs 2: applications trained in worker threads, each recorded once; a worker\'s error keeps its code', async () => {
  const { dir, file } = syntheticSet();
  const mdir = path.join(dir, 'models');
  const common = ['--models', mdir, '--size', 'tiny', '--epochs', '3', '--batch', '32', '--quiet'];
  assert.equal(await train([file, ...common, '--jobs', '2']), 0);
  const m = JSON.parse(readFileSync(path.join(mdir, 'manifest.json'), 'utf8'));
  assert.deepEqual(Object.keys(m.apps).sort(), ['alpha', 'beta']);
  for (const app of ['alpha', 'beta']) {
    assert.equal(m.apps[app].dir, app);
    assert.equal(m.apps[app].votingList.length, 7);
    assert.equal(m.apps[app].dataSummary.trainPositive, 30);
    assert.equal(m.apps[app].dataSummary.trainNegative, 60);
    assert.ok(m.apps[app].metrics.epochs >= 1 && m.apps[app].metrics.epochs <= 3);
    assert.equal(readFileSync(path.join(mdir, app, 'curve.csv'), 'utf8').split('\n')[0], 'epoch,loss,acc,val_loss,val_acc,seconds,samples');
  }
  // nothing temporary is left beside the models
  assert.deepEqual(readdirSync(mdir).sort(), ['alpha', 'beta', 'manifest.json']);
  // the directory loads and scores like one trained in a single thread
  const { models: loaded } = await loadModels(mdir);
  assert.deepEqual([...loaded.keys()], ['alpha', 'beta']);
  for (const mm of loaded.values()) mm.dispose();

  rmSync(dir, { recursive: true, force: true });

  // a dataset without validation rows is refused before the model directory is made
  const noVal = syntheticSet(false);
  const bad = path.join(noVal.dir, 'models');
  await assert.rejects(train([noVal.file, '--models', bad, '--size', 'tiny', '--epochs', '1', '--quiet', '--jobs', '2']),
    (e: unknown) => e instanceof StnnError && e.code === 'STNN_BAD_INPUT' && e.exitCode === 2 &&
      e.message === `${noVal.file}: the validation split is empty (needed for early stopping and the voting lists; rebuild it with validation in --fractions)`);
  assert.ok(!existsSync(bad), 'no model directory made');

  // an error inside a worker comes back as a code and a message, which the CLI throws again as the same StnnError
  const ds = readDataset(noVal.file);
  const r = await trainInWorker({
    app: 'alpha', dir: bad, dataset: 'set.msgpack', X: ds.X, y: ds.y, split: ds.split, kind: 'stnn', size: 'tiny', seed: 1,
    epochs: 1, batchSize: 32, patience: 1, balance: 'weights', learningRate: 1e-3,
    normalizer: { transform: 'log1p-zscore', mean: new Array(115).fill(0), std: new Array(115).fill(1) }, backend: 'cpu', verbose: false,
  });
  assert.deepEqual(r, { error: { code: 'STNN_BAD_INPUT', message: "app 'alpha': the validation split is empty (needed for early stopping and the voting list)" } });
  const again = fromWireError((r as { error: WireError }).error);
  assert.ok(again instanceof StnnError && again.exitCode === 2);
  assert.deepEqual(readdirSync(bad), [], 'a failed training leaves no staging directory');
  rmSync(noVal.dir, { recursive: true, force: true });
});

test('stnn train interrupted (SIGINT, --jobs 2): exit 130, no temporary files, the manifest names exactly the installed applications', async () => {
  const { dir, file } = syntheticSet();
  const mdir = path.join(dir, 'models');
  const p = spawn(process.execPath, [path.join(repoRoot(), 'bin', 'stnn.js'), 'train', file, '--models', mdir, '--size', 'tiny',
    '--epochs', '100000', '--patience', '100000', '--batch', '8', '--jobs', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  const code = await new Promise<number | null>((resolve) => {
    const t = setInterval(() => {
      // both workers are past their first epoch: each has a staging directory with a curve
      if ((err.match(/ epoch 2:/g) ?? []).length >= 2) { clearInterval(t); p.kill('SIGINT'); }
    }, 50);
    p.on('exit', (c) => { clearInterval(t); resolve(c); });
  });
  assert.equal(code, 130, err);
  assert.match(err, /stnn: SIGINT: training stopped, removed \.(alpha|beta)\.tmp-\d+-\d+, \.(alpha|beta)\.tmp-\d+-\d+; applications finished before are installed\n$/);
  assert.deepEqual(readdirSync(mdir), [], 'nothing was finished, nothing is left');
  rmSync(dir, { recursive: true, force: true });
});

