import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnv1a32, Rng } from '../lib/rng.mjs';
import { APPS, planSet, planNet, labelsYaml } from '../lib/plan.mjs';
import { parseLabelRules, labelFor } from '../../../src/dataset/labels.js';

test('fnv1a32: published FNV-1a test vectors', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
});

test('rng: same seed and label give the same stream; ints stay in range', () => {
  const a = new Rng(7, 'x');
  const b = new Rng(7, 'x');
  const c = new Rng(7, 'y');
  const sa = Array.from({ length: 5 }, () => a.u32());
  assert.deepEqual(sa, Array.from({ length: 5 }, () => b.u32()));
  assert.notDeepEqual(sa, Array.from({ length: 5 }, () => c.u32()));
  const r = new Rng(1, 'range');
  const seen = new Set();
  for (let i = 0; i < 2000; i++) {
    const v = r.int(3, 6);
    assert.ok(v >= 3 && v <= 6);
    seen.add(v);
  }
  assert.deepEqual([...seen].sort(), [3, 4, 5, 6]);
});

test('planSet: deterministic, every application N times, spread over the runs', () => {
  const args = { seed: 42, name: 'train', sessionsPerApp: 20, runs: 3 };
  const p1 = planSet(args);
  assert.deepEqual(p1, planSet(args));
  assert.notDeepEqual(p1, planSet({ ...args, seed: 43 }));
  assert.equal(p1.length, 3);
  const all = p1.flatMap((r) => r.sessions);
  assert.equal(all.length, 160);
  assert.deepEqual(p1.map((r) => r.sessions.length), [54, 53, 53]);
  for (const a of APPS) assert.equal(all.filter((s) => s.app === a.app).length, 20, a.app);
  assert.equal(new Set(all.map((s) => s.id)).size, 160);
  for (const s of all) {
    const def = APPS.find((a) => a.app === s.app);
    assert.ok(s.sni.endsWith(`.${def.domain}`), s.sni);
    assert.equal(s.ip, def.ip);
    assert.ok(['1.2', '1.3'].includes(s.tls));
  }
  // both TLS versions, both ALPN offers, and every client tool occur
  assert.deepEqual([...new Set(all.map((s) => s.tls))].sort(), ['1.2', '1.3']);
  assert.ok(all.some((s) => s.alpn === 'h2') && all.some((s) => s.alpn === 'http/1.1'));
  assert.deepEqual([...new Set(all.map((s) => s.tool))].sort(), ['curl', 'node', 'openssl']);
  // the network conditions differ between runs
  assert.equal(new Set(p1.map((r) => JSON.stringify(r.net))).size, 3);
});

test('planSession: update ranges are contiguous chunks inside the file; scale shrinks sizes', () => {
  const all = planSet({ seed: 3, name: 't', sessionsPerApp: 30, runs: 1 })[0].sessions;
  for (const s of all.filter((x) => x.app === 'update')) {
    const { size, ranges } = s.p;
    assert.ok(ranges.length >= 1);
    for (let i = 0; i < ranges.length; i++) {
      const [a, b] = ranges[i];
      assert.ok(a <= b && b < size, `${a}-${b} of ${size}`);
      if (i > 0) assert.equal(a, ranges[i - 1][1] + 1);
    }
  }
  const big = planSet({ seed: 3, name: 't', sessionsPerApp: 5, runs: 1 })[0].sessions.find((s) => s.app === 'download');
  const small = planSet({ seed: 3, name: 't', sessionsPerApp: 5, runs: 1, scale: 0.1 })[0].sessions.find((s) => s.app === 'download');
  // same draw, scaled before rounding: within rounding of a tenth
  assert.ok(Math.abs(small.p.bytes - big.p.bytes / 10) <= 0.55, `${small.p.bytes} vs ${big.p.bytes}`);
});

test('planNet: values inside the documented ranges', () => {
  for (let k = 0; k < 200; k++) {
    const n = planNet(new Rng(k, 'net'));
    assert.ok(n.delayMs >= 1 && n.delayMs <= 40);
    assert.ok(n.jitterMs >= 0 && n.jitterMs <= n.delayMs * 0.3 + 0.05);
    assert.ok(n.lossPct === 0 || (n.lossPct >= 0.05 && n.lossPct <= 1));
    assert.ok(n.downMbit >= 15 && n.downMbit <= 150 && n.upMbit >= 8 && n.upMbit <= 60);
  }
});

test('labels.yaml: parsed by src/dataset/labels.ts, maps every planned SNI to its application', () => {
  const rules = parseLabelRules(labelsYaml(), 'labels.yaml');
  assert.deepEqual(rules.apps, ['video', 'chat', 'rest', 'download', 'upload', 'web', 'audio', 'update']);
  assert.equal(labelFor(rules, 'edge-01.video.tb.example'), 'video');
  assert.equal(labelFor(rules, 'ws-02.chat.tb.example'), 'chat');
  assert.equal(labelFor(rules, 'API-03.api.tb.example.'), 'rest');
  assert.equal(labelFor(rules, 'video.tb.example'), 'background');
  assert.equal(labelFor(rules, 'x.tb.example'), 'background');
  for (const s of planSet({ seed: 9, name: 'x', sessionsPerApp: 10, runs: 2 }).flatMap((r) => r.sessions)) {
    assert.equal(labelFor(rules, s.sni), s.app, s.sni);
  }
});

test('plannedBytes and maxBytes: a budgeted set keeps only sessions under the budget', async () => {
  const { plannedBytes } = await import('../lib/plan.mjs');
  assert.equal(plannedBytes({ app: 'video', p: { manifest: 1000, sizes: [10, 20, 30] } }), 1060);
  assert.equal(plannedBytes({ app: 'update', p: { ranges: [[0, 99], [100, 149]] } }), 150);
  assert.equal(plannedBytes({ app: 'audio', p: { chunk: 4000, durMs: 5000, intervalMs: 250 } }), 80000);
  assert.equal(plannedBytes({ app: 'rest', p: { reqs: [{ n: 300, post: 0 }, { n: 200, post: 100 }] } }), 600);
  const set = planSet({ seed: 5, name: 's', sessionsPerApp: 3, runs: 1, maxBytes: 400000 })[0].sessions;
  assert.equal(set.length, 24);
  for (const s of set) assert.ok(plannedBytes(s) <= 400000, `${s.app} ${plannedBytes(s)}`);
  const free = planSet({ seed: 5, name: 's', sessionsPerApp: 40, runs: 1 })[0].sessions;
  assert.ok(free.some((s) => plannedBytes(s) > 400000));
});

test('planSample: under the total budget, each session under its cap, light applications get more', async () => {
  const { planSample, plannedBytes } = await import('../lib/plan.mjs');
  const args = { seed: 424242, name: 'sample', maxPerApp: 8, maxBytes: 350000, totalBytes: 3300000 };
  const [run] = planSample(args);
  assert.deepEqual(planSample(args), [run]);
  const count = {};
  let total = 0;
  for (const s of run.sessions) {
    const b = plannedBytes(s);
    assert.ok(b <= 350000, `${s.app} ${b}`);
    total += b;
    count[s.app] = (count[s.app] ?? 0) + 1;
  }
  assert.ok(total <= 3300000);
  assert.equal(Object.keys(count).length, 8);
  assert.ok(Object.values(count).every((n) => n >= 1 && n <= 8));
  assert.equal(count.chat, 8); // a chat session asks for a few kB
  assert.throws(() => planSample({ ...args, maxBytes: 100000 }), /download: no session under 100000 bytes/);
});
