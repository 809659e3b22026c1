/**
 * `npm start` (stnn demo) on the shipped capture and model: its table and accuracy agree with
 * what `stnn classify` says of the same capture, counted here against the same label rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
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
  assert.match(out, new RegExp(`^accuracy against the labels: ${right}/38 flows = ${(100 * right / 38).toFixed(1)} %$`, 'm'));
  assert.match(out, /^stnn: flows 38 \(TLS 38, other 0\), written 38; ended by: fin 12, rst 26$/m);
});
