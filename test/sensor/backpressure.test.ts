/**
 * The shard worker's bound on batches the main thread has not taken: with MAX_INFLIGHT_BATCHES
 * out it posts nothing more and counts its stalls; once the main thread takes them it goes on,
 * and every flow still arrives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { newRawFrame, openCapture } from '../../src/capture/reader.js';
import { createRingBuffer, SpscRing } from '../../src/capture/ring.js';
import {
  C_RECORDS, C_STALLS, CTL_FLUSH, CTL_INFLIGHT, controlSlots, DECODE_COUNTERS, MAX_INFLIGHT_BATCHES, N_COUNTERS,
  type ShardMessage, type ShardTask,
} from '../../src/sensor/protocol.js';
import { batchPackr } from '../../src/sensor/shard-worker.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { ndpiPcapDir } from '../helpers/paths.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a shard with MAX_INFLIGHT_BATCHES untaken batches waits, counts the stall, and loses nothing', async () => {
  const shardModule = pathToFileURL(path.join(path.dirname(new URL(import.meta.url).pathname), '../../src/sensor/shard-worker.js')).href;
  const ring = new SpscRing(createRingBuffer(8 << 20));
  const counters = new Float64Array(new SharedArrayBuffer(N_COUNTERS * 8));
  const control = new Int32Array(new SharedArrayBuffer(controlSlots(1) * 4));
  Atomics.store(control, CTL_FLUSH, 1);
  // the main thread is "behind": as many batches out as allowed
  Atomics.store(control, CTL_INFLIGHT, MAX_INFLIGHT_BATCHES);

  // teams.pcap (Ethernet) into the ring, then closed: 38 TLS flows
  const reader = openCapture(path.join(ndpiPcapDir(), 'teams.pcap'));
  const frame = newRawFrame();
  while (reader.next(frame)) assert.ok(ring.pushPacket(frame.tsSec, frame.tsNsec, frame.wireLen, frame.buf, frame.off, frame.capLen));
  reader.close();
  ring.close();

  const ch = new MessageChannel();
  const task: ShardTask = {
    shard: 0, ringSab: ring.sab, countersSab: counters.buffer as SharedArrayBuffer,
    decodeSab: new SharedArrayBuffer(DECODE_COUNTERS.length * 8), controlSab: control.buffer as SharedArrayBuffer,
    port: ch.port2, linkType: 1, live: false, flow: {}, tunnels: true, batchSize: 4, maxWaitMs: 10,
  };
  const got: FlowRecord[] = [];
  let done = false;
  ch.port1.on('message', (m: ShardMessage) => {
    if (m.type === 'batch') {
      got.push(...(batchPackr.unpack(new Uint8Array(m.buf)) as FlowRecord[]));
      Atomics.sub(control, CTL_INFLIGHT, 1);
      Atomics.notify(control, CTL_INFLIGHT);
    } else done = true;
  });
  const worker = new Worker(
    `import(${JSON.stringify(shardModule)}).then((m) => m.default(require('node:worker_threads').workerData))`,
    { eval: true, workerData: task, transferList: [ch.port2] },
  );
  const exited = new Promise<number>((r) => worker.on('exit', r));
  try {
    // It has flows to post but may not: nothing arrives, and it says it waited.
    const t0 = Date.now();
    while (counters[C_STALLS] === 0 && Date.now() - t0 < 20_000) await sleep(20);
    await sleep(300);
    assert.ok(counters[C_STALLS]! >= 1, 'stalls counted');
    assert.equal(got.length, 0, 'no batch posted while the main thread is behind');
    assert.equal(Atomics.load(control, CTL_INFLIGHT), MAX_INFLIGHT_BATCHES);

    // The main thread catches up: every flow arrives, in batches of at most 4.
    Atomics.sub(control, CTL_INFLIGHT, MAX_INFLIGHT_BATCHES);
    Atomics.notify(control, CTL_INFLIGHT);
    while (!done && Date.now() - t0 < 30_000) await sleep(20);
    assert.ok(done, 'the shard finished');
    assert.equal(got.length, 38);
    assert.equal(counters[C_RECORDS], 38);
    assert.equal(new Set(got.map((r) => r.communityId)).size, 38);
    assert.equal(Atomics.load(control, CTL_INFLIGHT), 0);
  } finally {
    ch.port1.close();
    await worker.terminate();
    await exited;
  }
});
