import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { FEATURE_SET_VERSION } from '../../src/features/names.js';
import { initBackend } from '../../src/model/engine.js';
import { installApp, readManifest, removeTempEntries, saveApp, stagingDir, writeAppFiles } from '../../src/model/registry.js';
import { buildModel, N_FEATURES } from '../../src/model/stnn.js';
import { StnnError } from '../../src/util/errors.js';

const info = (votes: number) => ({
  featureSet: FEATURE_SET_VERSION,
  arch: { kind: 'stnn' as const, size: 'tiny' as const },
  normalizer: { transform: 'log1p-zscore' as const, mean: new Array(N_FEATURES).fill(0), std: new Array(N_FEATURES).fill(1) },
  engine: { tfjs: 'test', backend: 'cpu' },
  entry: { votingList: new Array(7).fill(votes), trainedAt: new Date(0).toISOString(), metrics: {}, dataSummary: {} },
});

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('installApp replaces an application in one step; when the new files cannot be put in place the previous model stays', async () => {
  await initBackend('cpu');
  const dir = mkdtempSync(path.join(tmpdir(), 'stnn-reg-'));
  try {
    await saveApp(dir, 'alpha', buildModel('stnn', 'tiny', 1), info(0.5));
    const before = readFileSync(path.join(dir, 'alpha', 'weights.bin'));
    // staged files of a second model: installed, the manifest entry follows, nothing temporary left
    const staged = await writeAppFiles(dir, 'alpha', buildModel('stnn', 'tiny', 2), { 'curve.csv': 'epoch\n' });
    assert.equal(staged, stagingDir(dir, 'alpha'));
    assert.equal(path.basename(staged), `.alpha.tmp-${process.pid}-${threadId}`);
    installApp(dir, 'alpha', staged, info(0.75));
    assert.notDeepEqual(readFileSync(path.join(dir, 'alpha', 'weights.bin')), before);
    assert.equal(readFileSync(path.join(dir, 'alpha', 'curve.csv'), 'utf8'), 'epoch\n');
    assert.deepEqual(readManifest(dir)!.apps['alpha']!.votingList, new Array(7).fill(0.75));
    assert.deepEqual(readdirSync(dir).sort(), ['alpha', 'manifest.json']);

    // a staged directory that is gone (the rename fails): the installed model and its entry stay
    const now = readFileSync(path.join(dir, 'alpha', 'weights.bin'));
    assert.throws(() => installApp(dir, 'alpha', path.join(dir, '.alpha.tmp-1-0'), info(0.25)), (e: unknown) =>
      e instanceof StnnError && e.code === 'STNN_RUNTIME' && e.message === `${path.join(dir, 'alpha')}: cannot put the new model in place: ENOENT`);
    assert.deepEqual(readFileSync(path.join(dir, 'alpha', 'weights.bin')), now);
    assert.deepEqual(readManifest(dir)!.apps['alpha']!.votingList, new Array(7).fill(0.75));
    assert.deepEqual(readdirSync(dir).sort(), ['alpha', 'manifest.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('removeTempEntries: leftovers of dead processes go, a live one\'s stay; a model moved aside by a killed install comes back', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stnn-reg-'));
  try {
    const dead = deadPid();
    for (const name of [`.alpha.tmp-${dead}-1`, `.beta.tmp-${process.pid}-2`, `.gamma.old-${dead}`, `.delta.old-${dead}`, 'delta', 'alpha', '.hidden']) {
      mkdirSync(path.join(dir, name));
    }
    writeFileSync(path.join(dir, `manifest.json.tmp-${dead}`), '{');
    writeFileSync(path.join(dir, '.gamma.old-' + dead, 'weights.bin'), 'previous');
    const removed = removeTempEntries(dir).sort();
    assert.deepEqual(removed, [`.alpha.tmp-${dead}-1`, `.delta.old-${dead}`, `.gamma.old-${dead}`, `manifest.json.tmp-${dead}`]);
    // gamma had no directory: its aside copy is the model the manifest describes, so it is back
    assert.equal(readFileSync(path.join(dir, 'gamma', 'weights.bin'), 'utf8'), 'previous');
    assert.deepEqual(readdirSync(dir).sort(), ['.beta.tmp-' + process.pid + '-2', '.hidden', 'alpha', 'delta', 'gamma']);
    // this process's own, on an interrupt
    assert.deepEqual(removeTempEntries(dir, process.pid), [`.beta.tmp-${process.pid}-2`]);
    assert.deepEqual(readdirSync(dir).sort(), ['.hidden', 'alpha', 'delta', 'gamma']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
