/**
 * classify --out opens (and empties) its file only once the models are loaded and the backend is
 * up: a missing model directory or a backend that cannot start leaves an existing file as it was.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStnn } from '../helpers/cli.js';
import { shipped } from '../helpers/paths.js';

const { sample: SAMPLE, models: MODELS } = shipped();

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'stnn-classify-out-'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const stnn = (args: string[]) => runStnn(args, dir);

test('classify --out: a missing model directory leaves an existing output file untouched', () => {
  const k = join(dir, 'k.jsonl');
  writeFileSync(k, 'earlier results\n');
  const r = stnn(['classify', SAMPLE, '--models', join(dir, 'no-such-models'), '--out', k, '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^stnn: .*no-such-models.*\n$/);
  assert.equal(readFileSync(k, 'utf8'), 'earlier results\n');
});

test('classify --out: a backend that cannot start leaves an existing output file untouched', (t) => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    t.skip('@tensorflow/tfjs-node is installed: the node backend starts');
    return;
  } catch {
    /* not installed: --backend node cannot start */
  }
  const k = join(dir, 'k2.jsonl');
  writeFileSync(k, 'earlier results\n');
  const r = stnn(['classify', SAMPLE, '--models', MODELS, '--backend', 'node', '--out', k, '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^stnn: backend 'node' cannot be initialised: .*\n$/);
  assert.equal(readFileSync(k, 'utf8'), 'earlier results\n');
});
