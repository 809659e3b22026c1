/**
 * Inference and training speed of ONE full-size STNN one-class model, per available tfjs backend,
 * against the same architecture in PyTorch (benchmarks/inference_torch.py, Debian python3-torch,
 * 2 threads) in the same run.
 *
 *   node --import tsx benchmarks/inference.ts [--seconds 3] [--backends node,wasm,cpu] [--no-torch]
 *   (default backends: node,wasm; the cpu backend takes 10+ minutes for the full model)
 *
 * Measures flows/s at batch 1, 32 and 256 (model.predict on random normalised rows, output read
 * back) and training samples/s (trainOnBatch, Adam, batch 64), then prints one table with the
 * tfjs/PyTorch ratios. Each figure is the mean over as many repetitions as fit in --seconds after
 * one warm-up call (at least 2).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src/model/engine.js';
import { buildModel } from '../src/model/stnn.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    backends: { type: 'string', default: 'node,wasm' },
    'no-torch': { type: 'boolean', default: false },
    python: { type: 'string', default: '/usr/bin/python3' },
    'train-batch': { type: 'string', default: '64' },
  },
});
const SECONDS = Number(values.seconds);
const TRAIN_BATCH = Number(values['train-batch']);
const BATCHES = [1, 32, 256];

interface Row { engine: string; inference: Record<number, number>; train: number }

async function timed(fn: () => Promise<void> | void, seconds: number, minReps = 2): Promise<number> {
  await fn();
  let reps = 0;
  const t0 = performance.now();
  for (;;) {
    await fn();
    reps++;
    const dt = (performance.now() - t0) / 1000;
    if (reps >= minReps && dt >= seconds) return dt / reps;
  }
}

async function benchTfjs(backend: BackendName): Promise<Row | null> {
  try {
    await initBackend(backend);
  } catch (err) {
    console.error(`skip ${backend}: ${(err as Error).message}`);
    return null;
  }
  const model = buildModel('stnn', 'full', 1);
  const row: Row = { engine: `tfjs ${tf.version.tfjs} ${tf.getBackend()}`, inference: {}, train: 0 };
  for (const b of BATCHES) {
    const x = tf.randomNormal([b, 115]);
    const per = await timed(async () => {
      const y = model.predictOnBatch(x) as tf.Tensor;
      await y.data();
      y.dispose();
    }, SECONDS);
    x.dispose();
    row.inference[b] = b / per;
    console.error(`${row.engine}: batch ${b}: ${row.inference[b]!.toFixed(1)} flows/s`);
  }
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const x = tf.randomNormal([TRAIN_BATCH, 115]);
  const y = tf.oneHot(tf.randomUniform([TRAIN_BATCH], 0, 2, 'int32') as tf.Tensor1D, 2);
  const per = await timed(async () => { await model.trainOnBatch(x, y); }, SECONDS);
  row.train = TRAIN_BATCH / per;
  console.error(`${row.engine}: training: ${row.train.toFixed(1)} samples/s`);
  x.dispose();
  y.dispose();
  model.dispose();
  return row;
}

function benchTorch(): Row | null {
  // next to this file when run from source, in ../../benchmarks when run from dist/benchmarks
  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = [path.join(here, 'inference_torch.py'), path.join(here, '..', '..', 'benchmarks', 'inference_torch.py')].find((f) => existsSync(f));
  if (!script) {
    console.error('skip PyTorch: inference_torch.py not found');
    return null;
  }
  const r = spawnSync(values.python!, [script, '--threads', '2', '--seconds', String(SECONDS), '--train-batch', String(TRAIN_BATCH)], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`skip PyTorch: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`);
    return null;
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  console.error(`PyTorch ${j.torch}: ${JSON.stringify(j.inference)} train ${j.train.samples_per_s.toFixed(1)}`);
  return {
    engine: `PyTorch ${j.torch} (${j.threads} threads)`,
    inference: Object.fromEntries(BATCHES.map((b) => [b, j.inference[String(b)]])),
    train: j.train.samples_per_s,
  };
}

const rows: Row[] = [];
for (const b of values.backends!.split(',') as BackendName[]) {
  const r = await benchTfjs(b);
  if (r) rows.push(r);
}
const torch = values['no-torch'] ? null : benchTorch();
if (torch) rows.push(torch);

const head = ['engine'.padEnd(34), ...BATCHES.map((b) => `batch ${b}`.padStart(12)), `train b${TRAIN_BATCH}`.padStart(12)];
const lines = [
  `one full STNN one-class model, flows/s (inference) and samples/s (training), ${SECONDS} s per figure`,
  head.join(''),
];
for (const r of rows) {
  lines.push([r.engine.padEnd(34), ...BATCHES.map((b) => r.inference[b]!.toFixed(1).padStart(12)), r.train.toFixed(1).padStart(12)].join(''));
}
if (torch) {
  for (const r of rows) {
    if (r === torch) continue;
    lines.push([`  ratio ${r.engine.replace(/^tfjs \S+ /, '')} / PyTorch`.padEnd(34),
      ...BATCHES.map((b) => `${(r.inference[b]! / torch.inference[b]!).toFixed(2)}x`.padStart(12)),
      `${(r.train / torch.train).toFixed(2)}x`.padStart(12)].join(''));
  }
}
process.stdout.write(lines.join('\n') + '\n');
