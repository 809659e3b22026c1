import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  SpscRing, RingRecord, createRingBuffer, recordSpace, TAG_PACKET, RING_HEADER_BYTES,
  kHeadField, kTailField, SKIP_MARKER,
} from '../../src/capture/ring.js';

/** Payload of record number `seq`: length 1..61, bytes derived from seq and position. */
/**
 * Starts this very file in a worker thread. Under tsx (a .ts URL) the worker registers
 * tsx first, since the loader flags of the parent do not carry over to workers.
 */
function spawnSelf(data: unknown): Worker {
  const url = import.meta.url;
  if (!url.endsWith('.ts')) return new Worker(new URL(url), { workerData: data });
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(code, { eval: true, workerData: data });
}

function lenOf(seq: number): number {
  return 4 + ((seq * 7) % 57);
}
function byteOf(seq: number, i: number): number {
  return (seq * 31 + i * 17) & 0xff;
}

if (!isMainThread && workerData?.role === 'ring-producer') {
  // Producer side of the two-thread test: lossless, waits for space when full.
  const ring = new SpscRing(workerData.sab as SharedArrayBuffer);
  const n = workerData.count as number;
  const view = new DataView(ring.bytes.buffer, ring.bytes.byteOffset, ring.bytes.byteLength);
  let waits = 0;
  for (let seq = 0; seq < n; seq++) {
    const len = lenOf(seq);
    while (!ring.waitForSpace(len, 50)) waits++;
    const at = ring.reserve(len, 3);
    if (at < 0) throw new Error('reserve failed after waitForSpace');
    view.setUint32(at, seq, true);
    for (let i = 4; i < len; i++) ring.bytes[at + i] = byteOf(seq, i);
    ring.commit();
  }
  ring.close();
  parentPort!.postMessage({ waits });
} else if (!isMainThread && workerData?.role === 'ring-sleeper') {
  // Consumer asleep on an empty ring, then producer asleep on a full one.
  const ring = new SpscRing(workerData.sab as SharedArrayBuffer);
  const rec = new RingRecord();
  Atomics.store(workerData.flag as Int32Array, 0, 1);
  let t0 = Date.now();
  const gotData = ring.wait(10_000);
  const consumerWokeMs = Date.now() - t0;
  ring.pop(rec);
  const first = rec.buf[rec.off];
  // now fill the ring up and wait for the main thread to release space
  const out = new SpscRing(workerData.sab2 as SharedArrayBuffer);
  const p = new Uint8Array(120);
  while (out.push(p));
  const dropsBefore = out.dropped;
  Atomics.store(workerData.flag as Int32Array, 0, 2);
  t0 = Date.now();
  const gotSpace = out.waitForSpace(120, 10_000);
  const producerWokeMs = Date.now() - t0;
  parentPort!.postMessage({ gotData, consumerWokeMs, first, gotSpace, producerWokeMs, dropsBefore });
} else {
  test('round trip of a plain and a packet record, byte-exact', () => {
    const ring = new SpscRing(createRingBuffer(1024));
    const rec = new RingRecord();
    assert.equal(ring.pop(rec), false);
    assert.ok(ring.push(Uint8Array.of(1, 2, 3), 7));
    assert.equal(ring.used, 16); // 8 header + 3 payload, padded to 8
    const frame = new Uint8Array(60);
    for (let i = 0; i < 60; i++) frame[i] = i ^ 0x5a;
    assert.ok(ring.pushPacket(1700000000, 123456789, 1514, frame, 0, 60));
    assert.equal(ring.used, 16 + 88); // 8 + 16 + 60 = 84 -> 88

    assert.ok(ring.pop(rec));
    assert.equal(rec.tag, 7);
    assert.equal(rec.off, 8);
    assert.equal(rec.len, 3);
    assert.deepEqual([...rec.buf.subarray(rec.off, rec.off + rec.len)], [1, 2, 3]);

    assert.ok(ring.pop(rec));
    assert.equal(rec.tag, TAG_PACKET);
    assert.equal(rec.tsSec, 1700000000);
    assert.equal(rec.tsNsec, 123456789);
    assert.equal(rec.capLen, 60);
    assert.equal(rec.wireLen, 1514);
    assert.equal(rec.off, 16 + 8 + 16);
    assert.equal(rec.len, 60);
    assert.deepEqual(rec.buf.subarray(rec.off, rec.off + 60), frame);
    assert.equal(ring.pop(rec), false);
    assert.equal(ring.used, 0); // an empty pop releases everything
    assert.equal(ring.dropped, 0);

    // part of a larger frame, as a snap length cut it
    assert.ok(ring.pushPacket(1, 2, 60, frame, 10, 5));
    assert.ok(ring.pop(rec));
    assert.deepEqual([...rec.buf.subarray(rec.off, rec.off + rec.len)], [10 ^ 0x5a, 11 ^ 0x5a, 12 ^ 0x5a, 13 ^ 0x5a, 14 ^ 0x5a]);
    assert.equal(rec.capLen, 5);
    assert.equal(rec.wireLen, 60);
    // a long slice from the middle of a larger buffer
    const big = new Uint8Array(1000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    assert.ok(ring.pushPacket(3, 4, 900, big, 7, 300));
    assert.ok(ring.pop(rec));
    assert.equal(rec.len, 300);
    assert.deepEqual(rec.buf.subarray(rec.off, rec.off + 300), big.subarray(7, 307));
  });

  test('the shared header carries head and tail as byte counters', () => {
    const sab = createRingBuffer(1024);
    const hdr = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
    const ring = new SpscRing(sab);
    ring.push(new Uint8Array(13));
    assert.equal(Atomics.load(hdr, kHeadField), 24);
    assert.equal(Atomics.load(hdr, kTailField), 0);
    const rec = new RingRecord();
    ring.pop(rec);
    ring.release();
    assert.equal(Atomics.load(hdr, kTailField), 24);
    assert.throws(() => new SpscRing(new SharedArrayBuffer(2048)), /bad magic/);
    assert.throws(() => createRingBuffer(3000), /power of two/);
  });

  test('a full ring drops and counts; released space is reused', () => {
    const ring = new SpscRing(createRingBuffer(1024));
    const payload = new Uint8Array(120); // 128 bytes a record: exactly 8 fit
    for (let i = 0; i < 8; i++) {
      payload[0] = i;
      assert.ok(ring.push(payload), `record ${i} fits`);
    }
    assert.equal(ring.used, 1024);
    assert.equal(ring.push(payload), false);
    assert.equal(ring.push(new Uint8Array(1)), false);
    assert.equal(ring.dropped, 2);
    // a second handle on the same memory sees the same count
    assert.equal(new SpscRing(ring.sab).dropped, 2);
    const rec = new RingRecord();
    assert.ok(ring.pop(rec));
    assert.equal(rec.buf[rec.off], 0);
    assert.equal(ring.push(payload), false, 'a popped record is released lazily');
    ring.release();
    payload[0] = 8;
    assert.ok(ring.push(payload));
    assert.equal(ring.dropped, 3);
    // a record larger than the ring can never fit
    assert.equal(ring.push(new Uint8Array(1024)), false);
    assert.equal(ring.dropped, 4);
    const seen: number[] = [];
    while (ring.pop(rec)) seen.push(rec.buf[rec.off]!);
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('wrap-around writes a skip marker and starts the record at offset 0', () => {
    const ring = new SpscRing(createRingBuffer(1024));
    const rec = new RingRecord();
    const p = new Uint8Array(100); // 112 bytes a record
    for (let i = 0; i < 9; i++) assert.ok(ring.push(p)); // 1008 bytes, 16 left before the end
    while (ring.pop(rec));
    assert.equal(ring.used, 0);
    p.fill(0xab);
    assert.ok(ring.push(p, 5));
    assert.equal(ring.used, 16 + 112); // the skipped tail counts until the consumer passes it
    const words = new Uint32Array(ring.sab, RING_HEADER_BYTES, 256);
    assert.equal(words[1008 / 4], SKIP_MARKER);
    assert.equal(words[0], 100);
    assert.equal(words[1], 5);
    assert.ok(ring.pop(rec));
    assert.equal(rec.off, 8);
    assert.equal(rec.len, 100);
    assert.equal(rec.tag, 5);
    assert.ok(rec.buf.subarray(rec.off, rec.off + 100).every((b) => b === 0xab));
  });

  test('odd record sizes through many wraps: order, bytes and drop count match a model', () => {
    const ring = new SpscRing(createRingBuffer(1024));
    const rec = new RingRecord();
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8);
    const pending: number[] = [];
    let next = 0;
    let failures = 0;
    let wraps = 0;
    let lastOff = -1;
    for (let round = 0; round < 3000; round++) {
      const pushes = rnd() % 6;
      for (let k = 0; k < pushes; k++) {
        const len = 1 + 2 * (rnd() % 150); // odd, 1..299
        const at = ring.reserve(len, 9);
        if (at < 0) {
          failures++;
          continue;
        }
        for (let i = 0; i < len; i++) ring.bytes[at + i] = (next + i) & 0xff;
        ring.commit();
        pending.push(next * 1000 + len);
        next++;
      }
      const pops = rnd() % 6;
      for (let k = 0; k < pops; k++) {
        if (!ring.pop(rec)) {
          assert.equal(pending.length, 0);
          break;
        }
        const want = pending.shift()!;
        const seq = Math.floor(want / 1000);
        assert.equal(rec.len, want % 1000);
        assert.equal(rec.tag, 9);
        for (let i = 0; i < rec.len; i++) assert.equal(rec.buf[rec.off + i], (seq + i) & 0xff);
        if (rec.off < lastOff) wraps++;
        lastOff = rec.off;
      }
    }
    assert.equal(ring.dropped, failures);
    assert.ok(wraps > 100, `wrapped ${wraps} times`);
    assert.ok(failures > 0, 'the ring was full at times');
    assert.ok(next > 3000, `moved ${next} records`);
  });

  test('wait() and waitForSpace() sleep until the other side notifies, not until the timeout', async () => {
    const sab = createRingBuffer(1024);
    const sab2 = createRingBuffer(1024);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const w = spawnSelf({ role: 'ring-sleeper', sab, sab2, flag });
    const result = new Promise<Record<string, number | boolean>>((res, rej) => {
      w.once('message', res);
      w.once('error', rej);
    });
    while (Atomics.load(flag, 0) !== 1) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 200)); // the worker is asleep in wait()
    new SpscRing(sab).push(Uint8Array.of(42));
    while (Atomics.load(flag, 0) !== 2) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 200)); // the worker is asleep in waitForSpace()
    const consumer = new SpscRing(sab2);
    const rec = new RingRecord();
    assert.ok(consumer.pop(rec));
    assert.ok(consumer.pop(rec)); // the second pop releases the first record (lazy release)
    consumer.release();
    const r = await result;
    await w.terminate();
    assert.equal(r['gotData'], true);
    assert.equal(r['first'], 42);
    assert.ok((r['consumerWokeMs'] as number) >= 150 && (r['consumerWokeMs'] as number) < 5000, `consumer woke after ${r['consumerWokeMs']} ms`);
    assert.equal(r['gotSpace'], true);
    assert.ok((r['producerWokeMs'] as number) >= 150 && (r['producerWokeMs'] as number) < 5000, `producer woke after ${r['producerWokeMs']} ms`);
    assert.equal(r['dropsBefore'], 1, 'the push that found the ring full counted one drop');
  });

  test('a worker producer moves 10^6 records to this consumer: no loss, order and bytes kept', async () => {
    const n = 1_000_000;
    const sab = createRingBuffer(1 << 16);
    const ring = new SpscRing(sab);
    const worker = spawnSelf({ role: 'ring-producer', sab, count: n });
    const done = new Promise<{ waits: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const rec = new RingRecord();
    const view = new DataView(ring.bytes.buffer, ring.bytes.byteOffset, ring.bytes.byteLength);
    let expect = 0;
    let bad = 0;
    let sum = 0;
    let wantSum = 0;
    let idleSince = Date.now();
    const t0 = process.hrtime.bigint();
    for (;;) {
      if (!ring.pop(rec)) {
        if (ring.finished) break;
        if (!ring.wait(100) && Date.now() - idleSince > 20_000) break; // producer died: fail below
        continue;
      }
      idleSince = Date.now();
      const seq = view.getUint32(rec.off, true);
      if (seq !== expect || rec.len !== lenOf(seq)) bad++;
      for (let i = 4; i < rec.len; i++) {
        sum = (sum + rec.buf[rec.off + i]! * (i + 1)) >>> 0;
        wantSum = (wantSum + byteOf(expect, i) * (i + 1)) >>> 0;
      }
      expect++;
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const { waits } = await done;
    await worker.terminate();
    console.log(`# ${n} records in ${secs.toFixed(2)} s (${Math.round(n / secs)} records/s), producer waited ${waits} times`);
    assert.equal(bad, 0);
    assert.equal(expect, n);
    assert.equal(sum, wantSum);
    assert.equal(ring.dropped, 0);
    assert.equal(recordSpace(61), 72);
  });
}
