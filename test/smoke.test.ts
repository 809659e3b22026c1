import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StnnError } from '../src/util/errors.js';

test('usage errors exit 2, runtime errors exit 1', () => {
  assert.equal(new StnnError('STNN_USAGE', 'x').exitCode, 2);
  assert.equal(new StnnError('STNN_RUNTIME', 'x').exitCode, 1);
  assert.ok(new StnnError('STNN_RUNTIME', 'x') instanceof StnnError);
});
