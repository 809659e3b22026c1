/**
 * `npm start` (stnn demo) on the shipped capture and model: its table and accuracy agree with
 * what `stnn classify` says of the same capture, counted here against the same label rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accuracyLines } from '../src/cli/demo.js';
import { labelFor, loadLabelRules } from '../src/dataset/labels.js';
import { repoRoot } from './helpers/paths.js';

const root = repoRoot();
const stnn = (args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'stnn.js'), ...args], { cwd: root, encoding: 'utf8' });

test('npm start: the demo\'s verdict table and accuracy are those of stnn classify on the shipped capture', () => {
  const demo = stnn(['demo']);
  assert.equal(demo.status, 0, demo.stderr);
  const out = demo.stdout;
  assert.match(out, /^stnn demo: data\/testbed\/sample\.pcap, labels data\/testbed\/labels\.yaml$/m);
  assert.match(out, /^model models\/default: 8 applications \(audio, chat, download, rest, update, upload, video, web\), stnn\/full, backend /m);

  const cls = stnn(['classify', 'data/testbed/sample.pcap', '--models', 'models/default', '--quiet']);
  assert.equal(cls.status, 0, cls.stderr);
  const recs = cls.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(recs.length, 38, 'the sample has 38 TLS flows');
  const rules = loadLabelRules(join(root, 'data', 'testbed', 'labels.yaml'));
  const perApp = new Map<string, number>();
  let right = 0;
  for (const r of recs) {
    const app = r.stnn.verdict.app as string;
    perApp.set(app, (perApp.get(app) ?? 0) + 1);
    if (labelFor(rules, r.tls.client.server_name) === app) right++;
  }
  for (const [app, n] of perApp) {
    assert.match(out, new RegExp(`^${app} +${n} +${(100 * n / 38).toFixed(1)}%`, 'm'), `row of ${app}`);
  }
  // every flow of the sample is labelled with one of the model's 8 applications: all 38 count
  assert.match(out, new RegExp(`^accuracy against the labels: ${right}/38 flows of the model's applications = ${(100 * right / 38).toFixed(1)} %$`, 'm'));
  assert.doesNotMatch(out, /^not counted:/m);
  assert.match(out, /^stnn: flows 38 \(TLS 38, other 0\), written 38; ended by: fin 12, rst 26$/m);
});

test('demo with a model whose applications never occur among the labels: no accuracy, a warning (not 100 % by rejecting all)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stnn-demo-'));
  try {
    // the shipped model cut to download and update, and labels without those two applications
    const models = join(dir, 'models');
    cpSync(join(root, 'models', 'default'), models, { recursive: true });
    const rm = stnn(['models', 'remove', '--models', models, 'audio', 'chat', 'rest', 'upload', 'video', 'web']);
    assert.equal(rm.status, 0, rm.stderr);
    const labels = join(dir, 'labels.yaml');
    const rules = readFileSync(join(root, 'data', 'testbed', 'labels.yaml'), 'utf8')
      .split(/\n(?=- app:)/)
      .filter((r) => !/^- app: (download|update)\n/.test(r));
    writeFileSync(labels, rules.join('\n'));
    const demo = stnn(['demo', '--models', models, '--labels', labels]);
    assert.equal(demo.status, 0, demo.stderr);
    const m = /^unknown +(\d+) /m.exec(demo.stdout);
    assert.ok(m, demo.stdout);
    assert.doesNotMatch(demo.stdout, /^accuracy against the labels/m);
    assert.match(demo.stdout, /^warning: none of the 38 flows is labelled with one of the model's applications \(download, update\): there is no accuracy to measure \(labels here: audio, background, chat, rest, upload, video, web\)$/m);
    assert.match(demo.stdout, new RegExp(`^not counted: 38 flows labelled background or applications the model does not have \\(audio, chat, rest, upload, video, web\\); ${m[1]} of them called unknown$`, 'm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('accuracyLines: only flows labelled with a modelled application count', () => {
  const truth = ['a', 'a', 'b', 'background', 'c'];
  const pred = ['a', 'unknown', 'b', 'unknown', 'unknown'];
  const lines = accuracyLines(truth, pred, ['a', 'b']).split('\n');
  assert.equal(lines[0], "accuracy against the labels: 2/3 flows of the model's applications = 66.7 %");
  assert.match(lines[1], /^macroP /);
  assert.equal(lines[2], 'not counted: 2 flows labelled background or applications the model does not have (c); 2 of them called unknown');
  assert.equal(
    accuracyLines(['x', 'background'], ['unknown', 'unknown'], ['a']),
    "warning: none of the 2 flows is labelled with one of the model's applications (a): there is no accuracy to measure (labels here: background, x)\n" +
      'not counted: 2 flows labelled background or applications the model does not have (x); 2 of them called unknown\n',
  );
  assert.equal(accuracyLines(['background'], ['a'], ['a']).split('\n')[1], 'not counted: 1 flow labelled background; 0 of it called unknown');
});
