/**
 * SIGHUP reloads the models without losing flows, and an inference backlog past
 * inference.max_backlog sheds flows as 'unclassified' instead of slowing the packet source.
 * The capture comes through a FIFO so the sensor is still running when the signal arrives.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { extractFlows } from '../../src/flow/extract.js';
import { toEcs, type FlowRecord, type Verdict } from '../../src/flow/record.js';
import { FEATURE_SET_VERSION, N_FEATURES } from '../../src/features/names.js';
import { Classifier } from '../../src/inference/classifier.js';
import { initBackend } from '../../src/model/engine.js';
import { fitNormalizer, type Normalizer } from '../../src/model/normalize.js';
import { saveApp } from '../../src/model/registry.js';
import { buildModel } from '../../src/model/stnn.js';
import { ndpiPcapDir } from '../helpers/paths.js';
import { readJsonl, sleep, spawnSensor, until } from './helpers.js';

const file = path.join(ndpiPcapDir(), 'teams.pcap');
const skip = !existsSync(file) ? `${file} is missing` : spawnSync('sh', ['-c', 'command -v mkfifo']).status !== 0 ? 'mkfifo is not installed' : false;

let dir = '';
let modelDir = '';
let flows: FlowRecord[] = [];
let normalizer: Normalizer;

const keyOf = (r: Record<string, any>) => `${r.network.community_id} ${r.event.start}`;

async function save(app: string, seed: number) {
  await saveApp(modelDir, app, buildModel('cnn', 'tiny', seed), {
    featureSet: FEATURE_SET_VERSION, arch: { kind: 'cnn', size: 'tiny' }, normalizer,
    engine: { tfjs: tf.version.tfjs, backend: tf.getBackend() },
    entry: { votingList: [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1], trainedAt: '2026-01-01T00:00:00.000Z', metrics: {}, dataSummary: {} },
  });
}

async function offline(): Promise<Map<string, Verdict>> {
  const c = await Classifier.load(modelDir, 'wasm');
  const vs = await c.classifyRecords(flows);
  c.dispose();
  return new Map(flows.map((f, i) => [keyOf(JSON.parse(JSON.stringify(toEcs(f)))), vs[i]!]));
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(tmpdir(), 'stnn-sensor-reload-'));
  modelDir = path.join(dir, 'models');
  await initBackend('wasm');
  flows = [];
  await extractFlows([file], { onFlow: (f) => flows.push(f) });
  const X = new Float32Array(flows.length * N_FEATURES);
  flows.forEach((f, i) => X.set(f.features, i * N_FEATURES));
  normalizer = fitNormalizer(X, flows.length, N_FEATURES);
  await save('alpha', 1);
  await save('beta', 2);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('SIGHUP: flows ended before use the old models, flows ended after use the new ones, none lost', { skip, timeout: 60_000 }, async () => {
  const before = await offline();
  const fifo = path.join(dir, 'capture.fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const out = path.join(dir, 'hup.jsonl');
  const cfg = path.join(dir, 'hup.yaml');
  writeFileSync(cfg, [
    'capture: { shards: 2 }',
    `inference: { models: ${JSON.stringify(modelDir)}, batch_size: 4, max_wait_ms: 5 }`,
    `outputs: [{ type: jsonl, path: ${JSON.stringify(out)} }]`,
    'metrics: { listen: off }',
    '',
  ].join('\n'));
  const sensor = spawnSensor(['--config', cfg, '--pcap', fifo]);
  await until(() => /replaying 1 capture file/.test(sensor.stderr()) || !sensor.running(), 30_000, 'the sensor to start');
  assert.ok(sensor.running(), sensor.stderr());
  // The whole capture, but the FIFO stays open: flows closed by FIN/RST end, the others wait.
  const w = createWriteStream(fifo);
  await new Promise<void>((r) => w.write(readFileSync(file), () => r()));
  let n = -1;
  await until(() => {
    const m = readJsonl(out).length;
    const stable = m === n && m > 0;
    n = m;
    return stable;
  }, 20_000, 'the closed flows');
  await sleep(300);
  const early = readJsonl(out);
  assert.ok(early.length > 0 && early.length < 38, `flows ended before EOF: ${early.length}`);

  // New models under the same directory, then SIGHUP.
  await save('alpha', 3);
  await save('beta', 4);
  const afterHup = await offline();
  sensor.child.kill('SIGHUP');
  await until(() => /models reloaded from /.test(sensor.stderr()), 30_000, `the reload: ${sensor.stderr()}`);
  assert.equal(readJsonl(out).length, early.length);
  w.end();
  const fin = await sensor.exited;
  assert.equal(fin.code, 0, fin.stderr);

  const recs = readJsonl(out);
  assert.equal(recs.length, 38); // every TLS flow of teams.pcap, none lost across the reload
  let changed = 0;
  recs.forEach((r, i) => {
    const k = keyOf(r);
    const want = (i < early.length ? before : afterHup).get(k);
    assert.ok(want, k);
    assert.equal(r.stnn.verdict.app, want.app, k);
    assert.ok(Math.abs(r.stnn.verdict.confidence - want.confidence) < 1e-5, `${k}: ${r.stnn.verdict.confidence} vs ${want.confidence}`);
    if (i >= early.length && Math.abs(before.get(k)!.confidence - want.confidence) > 1e-4) changed++;
    // Before EOF only FIN/RST can end a flow here; at EOF the rest end 'eof' (or keep a FIN/RST reason).
    if (i < early.length) assert.ok(['fin', 'rst'].includes(r.stnn.end_reason), `${k}: ${r.stnn.end_reason}`);
  });
  assert.ok(changed > 0, 'the new models must give other confidences for the flows ended after the reload');
});

test('an inference backlog past max_backlog sheds flows as unclassified, none lost', { skip, timeout: 60_000 }, async () => {
  const out = path.join(dir, 'backlog.jsonl');
  const cfg = path.join(dir, 'backlog.yaml');
  writeFileSync(cfg, [
    'capture: { shards: 1 }',
    `inference: { models: ${JSON.stringify(modelDir)}, batch_size: 1, max_wait_ms: 0, max_backlog: 1 }`,
    `outputs: [{ type: jsonl, path: ${JSON.stringify(out)} }]`,
    'metrics: { listen: off }',
    '',
  ].join('\n'));
  const fin = await spawnSensor(['--config', cfg, '--pcap', file, file, file]).exited;
  assert.equal(fin.code, 0, fin.stderr);
  const recs = readJsonl(out);
  assert.equal(recs.length, 3 * 38);
  const shed = recs.filter((r) => r.stnn.verdict.app === 'unclassified');
  for (const r of shed) assert.deepEqual(r.stnn.verdict, { app: 'unclassified', confidence: 0, candidates: [], decided_by: 'none' });
  assert.ok(shed.length > 0 && shed.length < recs.length, `shed ${shed.length} of ${recs.length}`);
  assert.match(fin.stderr, new RegExp(`114 flow records, ${shed.length} unclassified`));
});
