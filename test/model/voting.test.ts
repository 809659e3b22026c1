import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GAP_COUNT,
  gapIndex,
  qFromP,
  calibrateVotingList,
  calibrateVotingListDetailed,
  decide,
  decideMaxP,
} from '../../src/model/voting.js';
import { StnnError } from '../../src/util/errors.js';

test('gapIndex: right-closed decades, open last gap, q ≤ 0 and NaN in gap 0', () => {
  assert.equal(GAP_COUNT, 7);
  const cases: [number, number][] = [
    [0, 0], [-1, 0], [NaN, 0], [0.5, 0], [1, 0], [10, 0],
    [10.000001, 1], [100, 1], [100.5, 2], [1000, 2], [1e4, 3], [1e5, 4], [1e6, 5],
    [1e6 + 1, 6], [1e12, 6], [Infinity, 6],
  ];
  for (const [q, g] of cases) assert.equal(gapIndex(q), g, `q=${q}`);
});

test('qFromP: P/(1−P), P_non = 0 gives ∞', () => {
  assert.equal(qFromP(0.75), 3);
  assert.equal(qFromP(0.5), 1);
  assert.equal(qFromP(0), 0);
  assert.equal(qFromP(1), Infinity);
});

// A dozen calibration flows, worked by hand (eq. 1). "called true" = p > 0.5.
//  #  p        q = p/(1-p)   gap  truly positive  counted
//  1  0.4      0.667         -    yes             no (not called)
//  2  0.5      1             -    no              no (0.5 is not > 0.5)
//  3  0.6      1.5           0    no              C0
//  4  0.8      4             0    yes             C0, T0
//  5  0.9      9             0    no              C0
//  6  0.95     19            1    yes             C1, T1
//  7  0.98     49            1    yes             C1, T1
//  8  0.99     99            1    no              C1
//  9  0.995    199           2    yes             C2, T2
// 10  0.999    999           2    no              C2
// 11  0.99999  99999         4    yes             C4, T4
// 12  1        ∞             6    yes             C6, T6
// |C| = [3,3,2,0,1,0,1], |T| = [1,2,1,0,1,0,1]; pooled precision = 6/10 = 0.6
// v = [1/3, 2/3, 1/2, (empty → 0.6), 1, (empty → 0.6), 1]
const P = [0.4, 0.5, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.99999, 1];
const POS = [1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1];

test('calibrateVotingList: hand-worked eq. 1 example', () => {
  const d = calibrateVotingListDetailed(P, POS);
  assert.deepEqual(d.called, [3, 3, 2, 0, 1, 0, 1]);
  assert.deepEqual(d.correct, [1, 2, 1, 0, 1, 0, 1]);
  assert.equal(d.precision, 0.6);
  assert.deepEqual(d.emptyGaps, [3, 5]);
  assert.deepEqual(d.votingList, [1 / 3, 2 / 3, 1 / 2, 0.6, 1, 0.6, 1]);
  assert.deepEqual(calibrateVotingList(new Float32Array(P), POS), calibrateVotingList(P, POS.map(Boolean)));
});

test('calibrateVotingList: threshold, explicit q, nothing called, length mismatch', () => {
  // threshold 0.95: only #7..#12 are called (#6 p=0.95 is not > 0.95): C = [0,2,2,0,1,0,1], T = [0,1,1,0,1,0,1]
  const d = calibrateVotingListDetailed(P, POS, 0.95);
  assert.deepEqual(d.called, [0, 2, 2, 0, 1, 0, 1]);
  assert.equal(d.precision, 4 / 6);
  assert.deepEqual(d.votingList, [4 / 6, 1 / 2, 1 / 2, 4 / 6, 1, 4 / 6, 1]);
  // explicit q overrides p/(1-p): put all called flows in gap 6
  const q = P.map(() => 1e9);
  assert.deepEqual(calibrateVotingListDetailed(P, POS, 0.5, q).called, [0, 0, 0, 0, 0, 0, 10]);
  assert.deepEqual(calibrateVotingList([0.1, 0.2], [1, 0]), [0, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => calibrateVotingList([0.9], [1, 0]), (e: unknown) => e instanceof StnnError && /1 scores but 2 labels/.test(e.message));
});

const lists = new Map<string, number[]>([
  ['alpha', [0.2, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5]],
  ['beta', [0.1, 0.3, 0.4, 0.7, 0.8, 0.9, 0.95]],
  ['gamma', [0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]],
]);

test('decide: case 1 — no classifier says true → unknown', () => {
  const v = decide([{ app: 'alpha', p: 0.3 }, { app: 'beta', p: 0.5 }, { app: 'gamma', p: 0.1 }], lists);
  assert.deepEqual(v, { app: 'unknown', confidence: 0.5, candidates: [], decided_by: 'none' });
});

test('decide: case 2 — exactly one says true → its app, confidence = its P_target', () => {
  const v = decide([{ app: 'alpha', p: 0.3 }, { app: 'beta', p: 0.8 }, { app: 'gamma', p: 0.1 }], lists);
  assert.equal(v.app, 'beta');
  assert.equal(v.decided_by, 'single');
  assert.equal(v.confidence, 0.8);
  assert.equal(v.candidates.length, 1);
  assert.equal(v.candidates[0].q, 0.8 / (1 - 0.8));
  assert.equal(v.candidates[0].vote, 0.1); // q = 4 → gap 0 of beta
});

test('decide: case 3 — several say true → largest v_i,gap(q_i), not the largest P', () => {
  // alpha p=0.99 → q≈99 → gap 1 → v=0.9; beta p=0.9999 → q≈9999 → gap 3 → v=0.7
  const scores = [{ app: 'alpha', p: 0.99 }, { app: 'beta', p: 0.9999 }, { app: 'gamma', p: 0.2 }];
  const v = decide(scores, lists);
  assert.equal(v.app, 'alpha');
  assert.equal(v.decided_by, 'vote');
  assert.equal(v.confidence, 0.99);
  assert.deepEqual(v.candidates.map((c) => [c.app, c.vote]), [['alpha', 0.9], ['beta', 0.7]]);
  // the maximum-P rule picks beta on the same flow
  const m = decideMaxP(scores);
  assert.equal(m.app, 'beta');
  assert.equal(m.decided_by, 'vote');
  assert.deepEqual(m.candidates.map((c) => c.app), ['beta', 'alpha']);
});

test('decide: equal votes are broken by the larger q, then the larger p, then the name', () => {
  // alpha gap 1 (v 0.9) vs gamma gap 2 (v 0.9): same vote, gamma has the larger q
  let v = decide([{ app: 'alpha', p: 0.95 }, { app: 'gamma', p: 0.995 }], lists);
  assert.equal(v.app, 'gamma');
  // explicit q: same vote and same q → larger p wins
  v = decide([{ app: 'gamma', p: 0.96, q: 50 }, { app: 'alpha', p: 0.97, q: 50 }], lists);
  assert.equal(v.app, 'alpha');
  // all equal → name order, whatever the input order
  v = decide([{ app: 'gamma', p: 0.97, q: 50 }, { app: 'alpha', p: 0.97, q: 50 }], lists);
  assert.equal(v.app, 'alpha');
  // two infinite q with equal votes: falls through to the name without NaN ordering
  v = decide([{ app: 'gamma', p: 1 }, { app: 'alpha', p: 1 }], new Map([['gamma', [1, 1, 1, 1, 1, 1, 1]], ['alpha', [1, 1, 1, 1, 1, 1, 1]]]));
  assert.equal(v.app, 'alpha');
});

test('decide: explicit q is used for the gap instead of p/(1-p)', () => {
  // p = 0.99 alone would be gap 1 (v 0.3 for beta), q = 2e6 puts it in gap 6 (v 0.95)
  const v = decide([{ app: 'beta', p: 0.99, q: 2e6 }, { app: 'alpha', p: 0.99 }], lists);
  assert.equal(v.app, 'beta');
  assert.equal(v.candidates[0].vote, 0.95);
});

test('decide: a claiming app without a voting list (or a wrong-length one) is a model error', () => {
  assert.throws(() => decide([{ app: 'delta', p: 0.9 }], lists), (e: unknown) => e instanceof StnnError && e.code === 'STNN_MODEL' && /'delta'/.test(e.message));
  assert.throws(() => decide([{ app: 'x', p: 0.9 }], new Map([['x', [1, 2]]])), /2 values, expected 7/);
  // NaN scores never claim
  assert.equal(decide([{ app: 'alpha', p: NaN }], lists).app, 'unknown');
});

test('decideMaxP: claimed vs all', () => {
  const scores = [{ app: 'alpha', p: 0.3 }, { app: 'beta', p: 0.45 }];
  assert.equal(decideMaxP(scores).app, 'unknown');
  const all = decideMaxP(scores, 0.5, 'all');
  assert.equal(all.app, 'beta');
  assert.equal(all.confidence, 0.45);
  assert.deepEqual(all.candidates.map((c) => c.app), ['beta', 'alpha']);
  const one = decideMaxP([{ app: 'alpha', p: 0.7 }, { app: 'beta', p: 0.45 }]);
  assert.deepEqual([one.app, one.decided_by], ['alpha', 'single']);
});
