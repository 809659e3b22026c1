/**
 * stnn eval end to end on a model directory of untrained tiny models (training is the trainer's
 * test). The thresholds make the outcome known without trusting the models' outputs:
 * threshold 1 → no classifier ever says true; threshold 0 → all say true and the voting lists decide.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/cli/eval.js';
import { writeDataset, type Dataset } from '../../src/dataset/io.js';
import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../../src/features/names.js';
import { initBackend } from '../../src/model/engine.js';
import { fitNormalizer } from '../../src/model/normalize.js';
import { saveApp } from '../../src/model/registry.js';
import { buildModel } from '../../src/model/stnn.js';
import { mulberry32 } from '../../src/dataset/split.js';
import { StnnError } from '../../src/util/errors.js';
import { captureStdout } from '../helpers/stdout.js';
import { runStnn } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'stnn-evalcli-'));
const models = join(dir, 'models');
const dsPath = join(dir, 'set.msgpack');

// 60 flows: labels cycle alpha, beta, background, gamma (no model); split: rows 0-35 train,
// 36-47 validation, 48-59 test → test = 3 alpha, 3 beta, 3 background, 3 gamma
function dataset(): Dataset {
  const rng = mulberry32(5);
  const n = 60;
  const X = new Float32Array(n * 115);
  const y: string[] = [];
  const split = new Uint8Array(n);
  const names = ['alpha', 'beta', 'background', 'gamma'];
  for (let i = 0; i < n; i++) {
    const k = i % 4;
    y.push(names[k]);
    split[i] = i < 36 ? 0 : i < 48 ? 1 : 2;
    for (let j = 0; j < 115; j++) X[i * 115 + j] = (j < 23 ? 1000 * (k + 1) : 0) + rng() * 50;
  }
  return {
    format: 'stnn-dataset/1', featureSet: FEATURE_SET_VERSION, names: [...FEATURE_NAMES], n, X, y, split,
    file: y.map((_, i) => `f${i}.pcap`), sni: y.map(() => ''), meta: {},
  };
}

before(async () => {
  await initBackend('cpu');
  const ds = dataset();
  writeDataset(dsPath, ds);
  const normalizer = fitNormalizer(ds.X, ds.n, 115);
  const lists: Record<string, number[]> = { alpha: [1, 1, 1, 1, 1, 1, 1], beta: [0, 0, 0, 0, 0, 0, 0] };
  for (const [k, app] of ['alpha', 'beta'].entries()) {
    await saveApp(models, app, buildModel('stnn', 'tiny', 11 + k), {
      featureSet: FEATURE_SET_VERSION,
      arch: { kind: 'stnn', size: 'tiny' },
      normalizer,
      engine: { tfjs: 'test', backend: 'cpu' },
      entry: { votingList: lists[app], trainedAt: '2026-12-03T00:00:00Z', metrics: {}, dataSummary: {} },
      extraFiles: app === 'alpha' ? { 'curve.csv': 'epoch,loss,acc,val_loss,val_acc,seconds,samples\n1,0.7,0.5,0.69,0.52,1,36\n2,0.6,0.6,0.65,0.58,1,36\n' } : {},
    });
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

const capture = captureStdout;

test('eval, threshold 1: nobody claims a flow → all unknown; report and JSON written', async () => {
  const report = join(dir, 'r1.html');
  const r = await capture(() => run([dsPath, '--models', models, '--threshold', '1', '--report', report, '--quiet', '--forest-trees', '20', '--backend', 'cpu']));
  assert.equal(r.code, 0);
  // test rows: alpha 3, beta 3, background 3 + gamma 3 → background 6; all in the unknown column
  const j = JSON.parse(readFileSync(join(dir, 'r1.json'), 'utf8'));
  assert.deepEqual(j.voting.classes, ['alpha', 'beta', 'background']);
  assert.deepEqual(j.voting.cm, [[0, 0, 3], [0, 0, 3], [0, 0, 6]]);
  assert.deepEqual(j.voting.decidedBy, { single: 0, vote: 0, none: 12 });
  assert.equal(j.voting.metrics.accuracy, 0.5);
  assert.equal(j.voting.metrics.unknownRate, 1);
  assert.deepEqual(j.maxP.cm, j.voting.cm);
  assert.equal(j.dataset.flows, 12);
  assert.deepEqual(j.notes, ['labels without a model, counted as background: gamma']);
  assert.equal(j.curves.length, 1);
  assert.deepEqual(j.curves[0].rows[1], { epoch: 2, loss: 0.6, acc: 0.6, val_loss: 0.65, val_acc: 0.58 });
  // the forest separates the classes on features 0-22 (alpha/beta/background/gamma at 1000·k)
  assert.equal(j.forest.metrics.accuracy, 1);
  const html = readFileSync(report, 'utf8');
  assert.doesNotMatch(html, /https?:\/\//);
  assert.match(html, /<tr><th>Voting list<\/th><td>0\.0000<\/td><td>0\.0000<\/td><td>0\.0000<\/td><td>0\.7500<\/td><td>0\.5000<\/td>/);
  assert.match(r.out, /^12 flows \(test split of .*set\.msgpack\), 2 applications, tfjs [\d.]+ backend cpu/);
  assert.match(r.out, /\nVoting list\s+0\.0000\s+0\.0000\s+0\.0000\s+0\.7500\s+0\.5000\s+0\.0000\s+100\.0%\n/);
});

test('eval, threshold 0: every classifier claims every flow → the voting list picks alpha', async () => {
  const r = await capture(() => run([dsPath, '--models', models, '--threshold', '0', '--json', '--no-forest', '--quiet', '--split', 'validation']));
  assert.equal(r.code, 0);
  const j = JSON.parse(r.out);
  // validation rows 36-47: 3 of each label; everything predicted alpha (v = 1 against 0)
  assert.deepEqual(j.voting.cm, [[3, 0, 0], [3, 0, 0], [6, 0, 0]]);
  assert.deepEqual(j.voting.decidedBy, { single: 0, vote: 12, none: 0 });
  assert.equal(j.forest, undefined);
  // argmax never answers unknown
  assert.equal(j.argmax.metrics.unknownRate, 0);
});

test('eval: usage and input errors', async () => {
  const usage = (re: RegExp) => (e: unknown) => e instanceof StnnError && e.exitCode === 2 && re.test(e.message);
  await assert.rejects(run([dsPath]), usage(/--models DIR is required/));
  await assert.rejects(run([dsPath, '--models', models, '--split', 'dev']), usage(/--split: expected test, validation, train or all, got 'dev'/));
  await assert.rejects(run([dsPath, '--models', models, '--threshold', '2']), usage(/--threshold: expected a number from 0 to 1/));
  await assert.rejects(run([dsPath, '--models', models, '--forest-engine', 'xgb']), usage(/--forest-engine: expected native or ml/));
  await assert.rejects(run([join(dir, 'none.msgpack'), '--models', models]), usage(/none\.msgpack: cannot read dataset: ENOENT/));
  await assert.rejects(run([dsPath, '--models', join(dir, 'empty')]), usage(/no model manifest/));
});

test('eval --report in a directory where files cannot be created: one line naming --report, exit 2, before the evaluation', () => {
  const line = "stnn: --report: cannot create files in directory '/proc' (ENOENT)\n";
  const r = runStnn(['eval', dsPath, '--models', models, '--report', '/proc/rep.html', '--backend', 'cpu'], dir);
  assert.equal(r.stderr, line);
  assert.equal(r.stdout, '');
  assert.equal(r.code, 2);
  // up front: before the dataset is even read
  const early = runStnn(['eval', join(dir, 'none.msgpack'), '--models', models, '--report', '/proc/rep.html'], dir);
  assert.equal(early.stderr, line);
  assert.equal(early.code, 2);
  assert.ok(!existsSync('/proc/rep.html'));
  // a directory that takes files keeps no trace of the check
  const made = runStnn(['eval', join(dir, 'none.msgpack'), '--models', models, '--report', join(dir, 'r-none.html')], dir);
  assert.equal(made.code, 2);
  assert.match(made.stderr, /none\.msgpack: cannot read dataset: ENOENT/);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.stnn-write-check')), []);
});
