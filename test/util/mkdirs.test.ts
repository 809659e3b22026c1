import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirs, mkdirFailure, probeDirs } from '../../src/util/mkdirs.js';

const dir = mkdtempSync(join(tmpdir(), 'stnn-mkdirs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('makeDirs: missing levels made one at a time; an existing directory is fine', () => {
  makeDirs(join(dir, 'a', 'b', 'c'));
  assert.ok(statSync(join(dir, 'a', 'b', 'c')).isDirectory());
  makeDirs(join(dir, 'a', 'b'));
  makeDirs(join(dir, 'a', 'b', 'c'));
});

test('makeDirs/probeDirs: a file in the way is named', () => {
  writeFileSync(join(dir, 'file'), '');
  assert.throws(() => makeDirs(join(dir, 'file', 'x', 'y')), (e: unknown) => mkdirFailure(e) === `${join(dir, 'file')} is not a directory`);
  assert.equal(probeDirs(join(dir, 'file', 'x')), `${join(dir, 'file')} is not a directory`);
});

test('probeDirs leaves nothing behind', () => {
  assert.equal(probeDirs(join(dir, 'p', 'q')), '');
  assert.ok(!existsSync(join(dir, 'p')));
});

test('under /proc: ENOENT at once, not a hang (Node 20 recursive mkdir spins there)', { skip: !existsSync('/proc/self') && 'no /proc' }, () => {
  assert.throws(() => makeDirs('/proc/stnn-no-such/x'), (e: unknown) => mkdirFailure(e) === 'cannot create directory /proc/stnn-no-such: ENOENT (no such file or directory)');
  assert.equal(probeDirs('/proc/stnn-no-such/x'), 'cannot create directory /proc/stnn-no-such: ENOENT (no such file or directory)');
});
