import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FlowStats, WINDOW } from '../../src/features/flow-stats.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function used(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Measured bytes per flow for `flows` live FlowStats that saw `packets` packets each. */
function perFlow(flows: number, packets: number): number {
  const before = used();
  const keep: FlowStats[] = [];
  for (let f = 0; f < flows; f++) {
    const fs = new FlowStats();
    for (let i = 0; i < packets; i++) fs.add(60 + ((i * 37) % 1400), i * 0.001, (i & 1) as 0 | 1, i < 10 ? 0 : 1);
    keep.push(fs);
  }
  const after = used();
  assert.equal(keep.length, flows);
  return (after - before) / flows;
}

test('stated state sizes: 1384 bytes per flow, 7952 once past the window', () => {
  assert.equal(FlowStats.BASE_BYTES, 1384);
  assert.equal(FlowStats.EXT_BYTES, 6568);
  assert.equal(FlowStats.STATE_BYTES, 7952);
  const fs = new FlowStats();
  for (let i = 0; i < WINDOW; i++) fs.add(100, i, 0, 0);
  assert.equal(fs.stateBytes, FlowStats.BASE_BYTES);
  fs.add(100, WINDOW, 0, 0);
  assert.equal(fs.stateBytes, FlowStats.STATE_BYTES);
});

test('measured memory per flow stays within the stated bytes plus JS object overhead (≤ 1024 bytes)', () => {
  const short = perFlow(3000, 20);
  const long = perFlow(3000, 500);
  console.log(`# measured: ${short.toFixed(0)} bytes per short flow (stated ${FlowStats.BASE_BYTES}), ` +
    `${long.toFixed(0)} per long flow (stated ${FlowStats.STATE_BYTES})`);
  assert.ok(short >= FlowStats.BASE_BYTES && short <= FlowStats.BASE_BYTES + 1024, `short flow: ${short} bytes`);
  assert.ok(long >= FlowStats.STATE_BYTES && long <= FlowStats.STATE_BYTES + 1024, `long flow: ${long} bytes`);
});

test('memory does not grow with the number of packets of a flow: 30000-packet flows stay within the same bound', () => {
  const big = perFlow(300, 30_000);
  assert.ok(big >= FlowStats.STATE_BYTES && big <= FlowStats.STATE_BYTES + 1024, `30000-packet flows: ${big} bytes per flow`);
});
