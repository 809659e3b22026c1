import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FlowStats, WINDOW } from '../../src/features/flow-stats.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Heap plus ArrayBuffer bytes once they have settled: V8 frees the backing stores of dead
 * typed arrays on a helper thread, so on a loaded machine one gc() can leave the previous
 * test's garbage counted (seen in CI: a reading 420 bytes per flow below the state's size).
 */
async function used(): Promise<number> {
  let prev = -1;
  for (let i = 0; i < 20; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
    const m = process.memoryUsage();
    const now = m.heapUsed + m.arrayBuffers;
    if (Math.abs(now - prev) < 16_384) return now;
    prev = now;
  }
  return prev;
}

/** Measured bytes per flow for `flows` live FlowStats that saw `packets` packets each. */
async function perFlow(flows: number, packets: number): Promise<number> {
  const before = await used();
  const keep: FlowStats[] = [];
  for (let f = 0; f < flows; f++) {
    const fs = new FlowStats();
    for (let i = 0; i < packets; i++) fs.add(60 + ((i * 37) % 1400), i * 0.001, (i & 1) as 0 | 1, i < 10 ? 0 : 1);
    keep.push(fs);
  }
  const after = await used();
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

test('measured memory per flow stays within the stated bytes plus JS object overhead (≤ 1024 bytes)', async () => {
  const short = await perFlow(3000, 20);
  const long = await perFlow(3000, 500);
  console.log(`# measured: ${short.toFixed(0)} bytes per short flow (stated ${FlowStats.BASE_BYTES}), ` +
    `${long.toFixed(0)} per long flow (stated ${FlowStats.STATE_BYTES})`);
  assert.ok(short >= FlowStats.BASE_BYTES && short <= FlowStats.BASE_BYTES + 1024, `short flow: ${short} bytes`);
  assert.ok(long >= FlowStats.STATE_BYTES && long <= FlowStats.STATE_BYTES + 1024, `long flow: ${long} bytes`);
});

test('memory does not grow with the number of packets of a flow: 30000-packet flows stay within the same bound', async () => {
  // Compared with 500-packet flows measured the same way, on enough flows that the heap's own
  // noise (some 100 kB between readings in a loaded run) is well under the tolerance per flow.
  const long = await perFlow(1000, 500);
  const big = await perFlow(1000, 30_000);
  console.log(`# measured: ${long.toFixed(0)} bytes per 500-packet flow, ${big.toFixed(0)} per 30000-packet flow`);
  assert.ok(Math.abs(big - long) <= 512, `30000-packet flows: ${big} bytes per flow, 500-packet flows: ${long}`);
  assert.ok(big <= FlowStats.STATE_BYTES + 1024, `30000-packet flows: ${big} bytes per flow`);
});
