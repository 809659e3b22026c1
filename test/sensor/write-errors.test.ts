/**
 * A sensor replay whose jsonl output cannot be written (a full device, our own mknod c 1 7 node;
 * root only): the first failure is one line naming the file (or standard output), the summary
 * counts the lost records, the last line says the run lost records, and the exit status is 1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const root = repoRoot();
const STNN = join(root, 'bin', 'stnn.js');
const SAMPLE = join(root, 'data', 'testbed', 'sample.pcap');
const isRoot = process.getuid?.() === 0;
const skip = !isRoot && 'needs root (mknod)';

let dir = '';
let full = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'stnn-sensor-write-errors-'));
  full = join(dir, 'full');
  if (isRoot) execFileSync('mknod', ['-m', '666', full, 'c', '1', '7']);
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function sensor(outPath: string, stdoutToFull: boolean) {
  const cfg = join(dir, 'c.yaml');
  writeFileSync(cfg, ['metrics: { listen: off }', `outputs: [{ type: jsonl, path: ${JSON.stringify(outPath)} }]`].join('\n') + '\n');
  const fd = stdoutToFull ? openSync(full, 'w') : null;
  try {
    const r = spawnSync(process.execPath, [STNN, 'sensor', '--config', cfg, '--pcap', SAMPLE], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', fd ?? 'pipe', 'pipe'] });
    return { code: r.status, lines: r.stderr.split('\n').filter((l) => l && !l.startsWith('stnn sensor: defaults for the keys not set:')) };
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

const DONE = 'stnn sensor: done: 4779 packets, 3739204 bytes, 38 flow records, 38 unclassified, kernel drops 0, ring drops 0';

test('sensor jsonl output on a full device: the failure named once, exit 1 with a last line saying records were lost', { skip }, () => {
  const r = sensor(full, false);
  assert.equal(r.code, 1, r.lines.join('\n'));
  assert.equal(r.lines.filter((l) => l.includes('write failed')).length, 1);
  assert.ok(r.lines.includes(`stnn sensor: sink jsonl: ${full}: write failed: no space left on device (ENOSPC)`), r.lines.join('\n'));
  assert.deepEqual(r.lines.slice(-3).map((l, i) => (i === 1 ? l.replace(/errors \d+$/, 'errors N') : l)), [
    DONE,
    'stnn sensor: sink jsonl: sent 0, dropped 38, errors N',
    'stnn sensor: exit status 1: records lost to output errors (jsonl: 38)',
  ]);
});

test("sensor jsonl to '-' with standard output on a full device: one line, no stack trace, exit 1", { skip }, () => {
  const r = sensor('-', true);
  assert.equal(r.code, 1, r.lines.join('\n'));
  assert.ok(!r.lines.some((l) => /^\s+at /.test(l)), r.lines.join('\n'));
  assert.equal(r.lines.filter((l) => l.includes('write failed')).length, 1);
  assert.ok(r.lines.includes('stnn sensor: sink jsonl: standard output: write failed: no space left on device (ENOSPC)'), r.lines.join('\n'));
  assert.equal(r.lines.at(-1), 'stnn sensor: exit status 1: records lost to output errors (jsonl: 38)');
});
