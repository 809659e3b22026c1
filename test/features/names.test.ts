import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FEATURE_NAMES, FEATURE_SET_VERSION, N_COLS, N_FEATURES, N_ROWS, OBJECT_NAMES, OBJ, STAT, STAT_NAMES, featureIndex,
} from '../../src/features/names.js';

test('115 feature names, row-major: object × statistic', () => {
  assert.equal(FEATURE_SET_VERSION, 'stnn-115/1');
  assert.deepEqual([...OBJECT_NAMES], ['all', 'fwd', 'bwd', 'hs', 'data']);
  assert.deepEqual(STAT_NAMES.slice(0, 5), ['len_min', 'len_max', 'len_mean', 'len_median', 'len_std']);
  assert.deepEqual(STAT_NAMES.slice(15), ['cumiat_min', 'cumiat_max', 'cumiat_mean', 'cumiat_median', 'cumiat_std',
    'pkt_count', 'pkt_per_sec', 'bytes_per_sec']);
  assert.equal(STAT_NAMES[5], 'cumlen_min');
  assert.equal(STAT_NAMES[13], 'iat_median');
  assert.equal(N_ROWS * N_COLS, N_FEATURES);
  assert.equal(FEATURE_NAMES.length, 115);
  assert.equal(new Set(FEATURE_NAMES).size, 115, 'names are unique');
  assert.equal(FEATURE_NAMES[0], 'all_len_min');
  assert.equal(FEATURE_NAMES[22], 'all_bytes_per_sec');
  assert.equal(FEATURE_NAMES[23], 'fwd_len_min');
  assert.equal(FEATURE_NAMES[3 * 23 + 20], 'hs_pkt_count');
  assert.equal(FEATURE_NAMES[114], 'data_bytes_per_sec');
  assert.equal(featureIndex('bwd_iat_median'), OBJ.bwd * N_COLS + STAT.iat_median);
  assert.equal(featureIndex('nope'), -1);
  assert.ok(Object.isFrozen(FEATURE_NAMES) && Object.isFrozen(STAT_NAMES), 'tables are frozen');
});
