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
import { killSensors, readJsonl, sleep, spawnSensor, until } from './helpers.js';

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
  killSensors();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('SIGHUP: flows ended before use the old models, flows ended after use the new ones, none lost', { skip, timeout: 60_000 }, async () => {
  const before = await offline();
  // The whole capture, but the FIFO stays open: flows closed by FIN/RST end, the others wait.
  const { sensor, out, w } = await holdOpen('hup', [
    `inference: { models: ${JSON.stringify(modelDir)}, batch_size: 4, max_wait_ms: 5 }`,
    'metrics: { listen: off }',
  ]);
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

/** Starts the sensor on a FIFO, writes all of teams.pcap into it, waits until the records stop. */
async function holdOpen(name: string, extra: string[]) {
  const fifo = path.join(dir, `${name}.fifo`);
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const out = path.join(dir, `${name}.jsonl`);
  const cfg = path.join(dir, `${name}.yaml`);
  writeFileSync(cfg, [
    'capture: { shards: 2 }',
    `outputs: [{ type: jsonl, path: ${JSON.stringify(out)} }]`,
    ...extra,
    '',
  ].join('\n'));
  const sensor = spawnSensor(['--config', cfg, '--pcap', fifo]);
  await until(() => /replaying 1 capture file/.test(sensor.stderr()) || !sensor.running(), 30_000, 'the sensor to start');
  assert.ok(sensor.running(), sensor.stderr());
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
  return { sensor, out, w, early: readJsonl(out).length };
}

test('SIGTERM while the input is still open: open flows end as shutdown and are written; metrics meanwhile', { skip, timeout: 60_000 }, async () => {
  const { sensor, out, w, early } = await holdOpen('term', [
    `inference: { models: ${JSON.stringify(modelDir)}, batch_size: 4, max_wait_ms: 5 }`,
    'metrics: { listen: "127.0.0.1:0" }',
    'shutdown: { flush_flows: true }',
  ]);
  const port = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(sensor.stderr())?.[1]);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1]);
  assert.equal(value(/^stnn_packets_total (\d+)$/m), 1540); // every frame of teams.pcap
  // the decoder's counts of teams.pcap: 1,498 IPv4 packets (1,317 TCP, 179 UDP, 2 other), and 42
  // non-IP frames (16 of an unknown ethertype, 26 802.3 LLC)
  const decoded = Object.fromEntries([...text.matchAll(/^stnn_decode_total\{kind="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  assert.deepEqual(
    [decoded.frames, decoded.ethernet, decoded.ipv4, decoded.tcp, decoded.udp, decoded.other_l4, decoded.unknown_ethertype, decoded.llc, decoded.truncated],
    [1540, 1540, 1498, 1317, 179, 2, 16, 26, 0],
  );
  assert.equal(value(/^stnn_shard_stalls_total (\d+)$/m), 0);
  assert.equal(value(/^stnn_sink_records_total\{sink="jsonl"\} (\d+)$/m), early);
  const verdicts = [...text.matchAll(/^stnn_verdicts_total\{application="[^"]+"\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  assert.equal(verdicts, early);
  assert.equal(value(/^stnn_unclassified_flows_total\{cause="no_model"\} (\d+)$/m), 0);
  const batches = value(/^stnn_inference_batch_size_count (\d+)$/m);
  assert.ok(batches >= Math.ceil(early / 4), `batches ${batches}`);
  assert.equal(value(/^stnn_inference_batch_size_sum (\d+)$/m), early);
  assert.equal(value(/^stnn_inference_latency_seconds_count (\d+)$/m), batches);
  assert.ok(value(/^stnn_active_flows (\d+)$/m) >= 38 - early);

  sensor.child.kill('SIGTERM');
  // The pipeline drains at once; the reader thread, blocked in read(2) on the FIFO, lets the
  // process exit when the writer closes its end.
  await until(() => /done: /.test(sensor.stderr()), 20_000, 'the drain');
  assert.equal(readJsonl(out).length, 38);
  w.end();
  const fin = await sensor.exited;
  assert.equal(fin.code, 0, fin.stderr);
  const recs = readJsonl(out);
  assert.equal(recs.length, 38);
  const late = recs.slice(early);
  assert.ok(late.some((r) => r.stnn.end_reason === 'shutdown'));
  for (const r of late) assert.ok(['shutdown', 'fin', 'rst'].includes(r.stnn.end_reason), r.stnn.end_reason);
  for (const r of recs.slice(0, early)) assert.ok(['fin', 'rst'].includes(r.stnn.end_reason), r.stnn.end_reason);
});

test('SIGTERM with shutdown.flush_flows false: open flows are dropped, exit 0', { skip, timeout: 60_000 }, async () => {
  const { sensor, out, w, early } = await holdOpen('noflush', ['metrics: { listen: off }', 'shutdown: { flush_flows: false }']);
  sensor.child.kill('SIGTERM');
  await until(() => /done: /.test(sensor.stderr()), 20_000, 'the drain');
  w.end();
  const fin = await sensor.exited;
  assert.equal(fin.code, 0, fin.stderr);
  assert.equal(readJsonl(out).length, early);
  assert.match(fin.stderr, new RegExp(`done: 1540 packets, \\d+ bytes, ${early} flow records, ${early} unclassified`));
});
