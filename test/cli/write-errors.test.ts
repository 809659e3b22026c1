/**
 * Write errors of the outputs: one line `stnn: <file or 'standard output'>: write failed: <reason>`
 * and exit 1, never a stack trace. The full device is our own node (mknod c 1 7) in a temp dir;
 * that needs root, so those tests are skipped otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFailedMessage, writeReason } from '../../src/util/write-error.js';
import { repoRoot } from '../helpers/paths.js';

const root = repoRoot();
const STNN = join(root, 'bin', 'stnn.js');
const SAMPLE = join(root, 'data', 'testbed', 'sample.pcap');
const MODELS = join(root, 'models', 'default');
const isRoot = process.getuid?.() === 0;

let dir = '';
let full = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'stnn-write-errors-'));
  full = join(dir, 'full');
  if (isRoot) execFileSync('mknod', ['-m', '666', full, 'c', '1', '7']);
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs stnn with its standard output on the full device (toFull) or a pipe. */
function stnn(args: string[], toFull: boolean) {
  const fd = toFull ? openSync(full, 'w') : null;
  try {
    const r = spawnSync(process.execPath, [STNN, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', fd ?? 'pipe', 'pipe'] });
    return { code: r.status, stderr: r.stderr };
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

test('writeReason: the system message and its code, without the syscall', () => {
  const e = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
  assert.equal(writeReason(e), 'no space left on device (ENOSPC)');
  assert.equal(writeFailedMessage('standard output', e), 'standard output: write failed: no space left on device (ENOSPC)');
  const eio = Object.assign(new Error("EIO: i/o error, write '/x'"), { code: 'EIO' });
  assert.equal(writeReason(eio), 'i/o error (EIO)');
});

const SO = 'stnn: standard output: write failed: no space left on device (ENOSPC)\n';

test('features to a full standard output or --out: one line, exit 1', { skip: !isRoot && 'needs root (mknod)' }, () => {
  for (const format of ['jsonl', 'csv', 'msgpack']) {
    const a = stnn(['features', SAMPLE, '--quiet', '--format', format], true);
    assert.equal(a.stderr, SO, format);
    assert.equal(a.code, 1, format);
    const b = stnn(['features', SAMPLE, '--quiet', '--format', format, '--out', full], false);
    assert.equal(b.stderr, `stnn: ${full}: write failed: no space left on device (ENOSPC)\n`, format);
    assert.equal(b.code, 1, format);
  }
});

test('classify to a full standard output or --out: one line, exit 1', { skip: !isRoot && 'needs root (mknod)' }, () => {
  const a = stnn(['classify', SAMPLE, '--models', MODELS, '--quiet'], true);
  assert.equal(a.stderr, SO);
  assert.equal(a.code, 1);
  const b = stnn(['classify', SAMPLE, '--models', MODELS, '--quiet', '--out', full], false);
  assert.equal(b.stderr, `stnn: ${full}: write failed: no space left on device (ENOSPC)\n`);
  assert.equal(b.code, 1);
});

test('a closed pipe still ends the command quietly with status 141', () => {
  const w = spawnSync('sh', ['-c', '{ "$0" "$1" features "$2" 2>"$3"; echo $? > "$4"; } | head -c 1 >/dev/null', process.execPath, STNN, SAMPLE, join(dir, 'pipe.err'), join(dir, 'pipe.rc')], { encoding: 'utf8' });
  assert.equal(w.status, 0);
  assert.equal(readFileSync(join(dir, 'pipe.rc'), 'utf8'), '141\n');
  assert.equal(readFileSync(join(dir, 'pipe.err'), 'utf8'), '');
});
