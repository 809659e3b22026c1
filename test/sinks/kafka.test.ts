/**
 * The Kafka sink against a wire-protocol test broker (test/helpers/kafka-broker.ts), checked at
 * byte level; and against a real broker when KAFKA_BROKERS is set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { KafkaTestBroker, Reader, crc32c, decodeRecordBatch, API } from '../helpers/kafka-broker.js';
import { createSink } from '../../src/sinks/sink.js';
import { decodeKafkaPayload, encodeKafkaPayload } from '../../src/sinks/kafka.js';
import { record } from './fixtures.js';

const require = createRequire(import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const json = (i: number) => JSON.parse(JSON.stringify(record(i)));

test('CRC-32C: check value and RFC 3720 vectors; agrees with kafkajs', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  const theirs = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
  for (let i = 0; i < 20; i++) {
    const b = randomBytes(1 + i * 37);
    assert.equal(crc32c(b), theirs(b));
  }
});

test('record batch decoder reads a hand-built batch and catches a bad CRC', () => {
  // One record: key "k", value "v", one header h=x. Body: attributes 00, timestamp delta 00,
  // offset delta 00, key 02 6b, value 02 76, 1 header (zig-zag 02): 02 68, 02 78 → 12 bytes,
  // so the length varint is zig-zag(12) = 0x18.
  const rec = Buffer.from([0x18, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x02, 0x76, 0x02, 0x02, 0x68, 0x02, 0x78]);
  const afterCrc = Buffer.alloc(2 + 4 + 8 + 8 + 8 + 2 + 4 + 4);
  let o = 0;
  o = afterCrc.writeInt16BE(0, o); // attributes: no compression, not transactional
  o = afterCrc.writeInt32BE(0, o); // last offset delta
  o = afterCrc.writeBigInt64BE(1700000000000n, o);
  o = afterCrc.writeBigInt64BE(1700000000000n, o);
  o = afterCrc.writeBigInt64BE(1234n, o); // producer id
  o = afterCrc.writeInt16BE(3, o); // epoch
  o = afterCrc.writeInt32BE(42, o); // base sequence
  afterCrc.writeInt32BE(1, o); // records
  const crcPart = Buffer.concat([afterCrc, rec]);
  const head = Buffer.alloc(8 + 4 + 4 + 1 + 4);
  head.writeBigInt64BE(0n, 0);
  head.writeInt32BE(4 + 1 + 4 + crcPart.length, 8); // epoch 4 + magic 1 + crc 4 + 40 header bytes after the CRC + record 13 = 62
  head.writeInt32BE(0, 12);
  head.writeInt8(2, 16);
  head.writeUInt32BE(crc32c(crcPart), 17);
  const batch = Buffer.concat([head, crcPart]);
  assert.equal(batch.readInt32BE(8), 62);
  assert.equal(batch.length, 12 + 62);
  const d = decodeRecordBatch(new Reader(batch));
  assert.deepEqual(d.violations, []);
  assert.equal(d.magic, 2);
  assert.equal(d.producerId, 1234n);
  assert.equal(d.producerEpoch, 3);
  assert.equal(d.baseSequence, 42);
  assert.equal(d.records.length, 1);
  assert.equal(d.records[0]!.length, 12);
  assert.equal(String(d.records[0]!.key), 'k');
  assert.equal(String(d.records[0]!.value), 'v');
  assert.deepEqual(d.records[0]!.headers.map((h) => [h.key, String(h.value)]), [['h', 'x']]);
  assert.equal(d.crc, d.crcComputed);
  batch[batch.length - 6] ^= 1; // the value byte "v": CRC no longer matches
  const bad = decodeRecordBatch(new Reader(batch));
  assert.match(bad.violations.join(), /CRC-32C mismatch/);
  batch[16] = 1;
  assert.throws(() => decodeRecordBatch(new Reader(batch)), /magic 1, expected 2/);
});

test('spool payload keeps key, timestamp and value', () => {
  const b = encodeKafkaPayload('1:abc=', '{"a":1}', 1700000003123);
  assert.equal(b.length, 2 + 6 + 8 + 7);
  const p = decodeKafkaPayload(b);
  assert.equal(String(p.key), '1:abc=');
  assert.equal(p.timestamp, '1700000003123');
  assert.equal(String(p.value), '{"a":1}');
  const n = decodeKafkaPayload(encodeKafkaPayload(undefined, 'x', 5));
  assert.equal(n.key, null);
  assert.equal(String(n.value), 'x');
});

test('kafka sink: batched, gzip, keyed by community id, idempotent sequences, acks all — byte level', async () => {
  const broker = await KafkaTestBroker.start();
  try {
    const sink = createSink({ type: 'kafka', brokers: [broker.address], topic: 'stnn-verdicts', clientId: 'stnn-test', batchSize: 10, lingerMs: 20, clock: () => 1700000003123 });
    for (let i = 0; i < 25; i++) sink.write(record(i));
    await sink.flush();
    await sink.close();
    assert.deepEqual(broker.violations, []);
    // Request headers.
    assert.ok(broker.requests.length >= 5);
    for (const r of broker.requests) assert.equal(r.clientId, 'stnn-test');
    assert.deepEqual(broker.requests[0], { ...broker.requests[0], apiKey: API.ApiVersions, apiVersion: 2 });
    const kinds = new Set(broker.requests.map((r) => `${r.apiKey}v${r.apiVersion}`));
    assert.ok(kinds.has('3v1'), 'Metadata v1');
    assert.ok(kinds.has('22v1'), 'InitProducerId v1');
    assert.ok(kinds.has('0v7'), 'Produce v7');
    const produceIds = broker.requests.filter((r) => r.apiKey === API.Produce).map((r) => r.correlationId);
    assert.equal(produceIds.length, 3);
    for (let i = 1; i < produceIds.length; i++) assert.ok(produceIds[i]! > produceIds[i - 1]!, 'correlation ids increase');
    // Record batches.
    assert.equal(broker.producerIds.length, 1);
    assert.deepEqual(broker.batches.map((b) => b.recordCount), [10, 10, 5]);
    assert.deepEqual(broker.batches.map((b) => b.baseSequence), [0, 10, 20]);
    for (const b of broker.batches) {
      assert.equal(b.magic, 2);
      assert.equal(b.crc, b.crcComputed);
      assert.equal(b.compression, 1, 'gzip');
      assert.equal(b.attributes & 0x10, 0, 'not transactional');
      assert.equal(b.acks, -1);
      assert.equal(b.baseOffset, 0n);
      assert.equal(b.producerId, broker.producerIds[0]);
      assert.equal(b.producerEpoch, 0);
      assert.equal(b.errorCode, 0);
      assert.equal(b.lastOffsetDelta, b.recordCount - 1);
      assert.equal(b.firstTimestamp, 1700000003123n, 'the time the record was written');
      assert.equal(b.maxTimestamp, 1700000003123n);
    }
    const recs = broker.batches.flatMap((b) => b.records);
    assert.deepEqual(recs.map((r) => String(r.key)), ['1:LQU9qZlK+B5F3KDmev6m5PMibrg=', ...Array.from({ length: 24 }, (_, i) => `1:flow${i + 1}=`)]);
    recs.forEach((r, i) => assert.deepEqual(JSON.parse(String(r.value)), json(i)));
    assert.ok(recs.every((r) => r.timestampDelta === 0n && r.headers.length === 0 && r.attributes === 0));
    assert.deepEqual(recs.map((r) => r.offsetDelta), [...Array(10).keys(), ...Array(10).keys(), ...Array(5).keys()]);
    assert.equal(broker.log('stnn-verdicts').length, 25);
    assert.deepEqual(sink.stats(), { sent: 25, errors: 0, spooled: 0, dropped: 0, spoolBytes: 0 });
  } finally {
    await broker.stop();
  }
});

test('kafka sink without compression, not idempotent: attribute 0, producer id -1', async () => {
  const broker = await KafkaTestBroker.start({ partitions: 3 });
  try {
    const sink = createSink({ type: 'kafka', brokers: [broker.address], topic: 't3', compression: 'none', idempotent: false, lingerMs: 5 });
    for (let i = 0; i < 12; i++) sink.write(record(i));
    await sink.close();
    assert.deepEqual(broker.violations, []);
    assert.equal(broker.producerIds.length, 0);
    for (const b of broker.batches) {
      assert.equal(b.compression, 0);
      assert.equal(b.producerId, -1n);
      assert.equal(b.crc, b.crcComputed);
    }
    // Keyed partitioning spreads the 12 community ids over the partitions.
    const used = new Set(broker.batches.map((b) => b.partition));
    assert.ok(used.size >= 2, `partitions used: ${[...used]}`);
    const total = [0, 1, 2].reduce((n, p) => n + broker.log('t3', p).length, 0);
    assert.equal(total, 12);
  } finally {
    await broker.stop();
  }
});

test('kafka broker outage: verdicts wait in the spool and arrive once, in order', async () => {
  const broker = await KafkaTestBroker.start();
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stnn-kspool-'));
  try {
    const sink = createSink({
      type: 'kafka', brokers: [broker.address], topic: 'out', lingerMs: 5, batchSize: 8, retries: 1,
      connectionTimeoutMs: 300, requestTimeoutMs: 1000, backoffMinMs: 50, backoffMaxMs: 200,
      spool: { dir: spoolDir, maxBytes: 4 << 20 },
    });
    let next = 0;
    const writeSome = async (n: number) => {
      for (let k = 0; k < n; k++) {
        sink.write(record(next++));
        await sleep(3);
      }
    };
    await writeSome(20);
    await sink.flush();
    assert.equal(broker.log('out').length, 20);
    await broker.stop();
    await writeSome(30);
    await sleep(300);
    const during = sink.stats();
    assert.ok(during.spoolBytes > 0, 'records wait on disk');
    await broker.start();
    await writeSome(10);
    await sink.flush();
    const deadline = Date.now() + 8000;
    while (broker.log('out').length < 60 && Date.now() < deadline) await sleep(50);
    await sink.close();
    assert.deepEqual(broker.violations, []);
    const got = broker.log('out').map((r) => JSON.parse(String(r.value)).source.port - 51514);
    assert.deepEqual(got, Array.from({ length: 60 }, (_, i) => i));
    const st = sink.stats();
    assert.equal(st.sent, 60);
    assert.equal(st.dropped, 0);
    assert.ok(st.errors >= 1);
  } finally {
    await broker.stop();
  }
});

test('a record the broker refuses (MESSAGE_TOO_LARGE) is dropped and counted; the others go through', async () => {
  const broker = await KafkaTestBroker.start({ refuseRecord: (r) => String(r.key) === '1:flow3=' });
  try {
    const sink = createSink({ type: 'kafka', brokers: [broker.address], topic: 'p', lingerMs: 5, batchSize: 4 });
    for (let i = 0; i < 8; i++) sink.write(record(i));
    await sink.close();
    assert.deepEqual(broker.violations, []);
    assert.deepEqual(broker.log('p').map((r) => String(r.key)), [0, 1, 2, 4, 5, 6, 7].map((i) => (i === 0 ? '1:LQU9qZlK+B5F3KDmev6m5PMibrg=' : `1:flow${i}=`)));
    const st = sink.stats();
    assert.equal(st.sent, 7);
    assert.equal(st.dropped, 1);
    assert.equal(st.errors, 2); // the refused batch of 4, then the single record
  } finally {
    await broker.stop();
  }
});

test('idempotence: a batch re-sent after a lost reply is recognised by its sequence, logged once', async () => {
  const broker = await KafkaTestBroker.start();
  try {
    const sink = createSink({ type: 'kafka', brokers: [broker.address], topic: 'i', lingerMs: 5, batchSize: 5 });
    for (let i = 0; i < 5; i++) sink.write(record(i));
    await sink.flush();
    broker.loseProduceResponses = 1; // the next batch is written to the log, its reply lost
    for (let i = 5; i < 10; i++) sink.write(record(i));
    await sink.flush();
    for (let i = 10; i < 15; i++) sink.write(record(i));
    await sink.close();
    assert.deepEqual(broker.violations, []);
    const seqs = broker.batches.map((b) => [b.baseSequence, b.recordCount, b.duplicate]);
    assert.deepEqual(seqs, [
      [0, 5, false],
      [5, 5, false], // appended, reply lost
      [5, 5, true], // kafkajs retried the same batch: same producer id, same sequence
      [10, 5, false],
    ]);
    assert.equal(new Set(broker.batches.map((b) => b.producerId)).size, 1);
    const got = broker.log('i').map((r) => JSON.parse(String(r.value)).source.port - 51514);
    assert.deepEqual(got, Array.from({ length: 15 }, (_, i) => i));
    assert.deepEqual(sink.stats(), { sent: 15, errors: 0, spooled: 0, dropped: 0, spoolBytes: 0 });
  } finally {
    await broker.stop();
  }
});

test('idempotence across an outage: the broker dies after appending, before replying; the sink re-sends the same batch later, logged once', async () => {
  const broker = await KafkaTestBroker.start();
  try {
    const sink = createSink({
      type: 'kafka', brokers: [broker.address], topic: 'o', lingerMs: 5, batchSize: 5, retries: 1,
      connectionTimeoutMs: 3000, requestTimeoutMs: 1000, backoffMinMs: 50, backoffMaxMs: 100,
    });
    for (let i = 0; i < 5; i++) sink.write(record(i));
    await sink.flush();
    broker.loseProduceResponses = 1;
    broker.stopWhenLosing = true;
    for (let i = 5; i < 10; i++) sink.write(record(i));
    const deadline = Date.now() + 10_000;
    while (sink.stats().errors === 0 && Date.now() < deadline) await sleep(20);
    assert.ok(sink.stats().errors >= 1, 'the sink saw the failure');
    for (let i = 10; i < 13; i++) sink.write(record(i)); // written during the outage
    await broker.start();
    const back = Date.now() + 10_000;
    while (broker.log('o').length < 13 && Date.now() < back) await sleep(20); // reconnect (backoff), replay
    await sink.close();
    assert.deepEqual(broker.violations, []);
    assert.deepEqual(broker.batches.map((b) => [b.baseSequence, b.recordCount, b.duplicate]), [
      [0, 5, false],
      [5, 5, false], // appended, then the broker died
      [5, 5, true], // the same 5 records, same sequence, after the outage: dropped by the broker
      [10, 3, false],
    ]);
    assert.equal(new Set(broker.batches.map((b) => b.producerId)).size, 1, 'one producer id across the outage');
    const got = broker.log('o').map((r) => JSON.parse(String(r.value)).source.port - 51514);
    assert.deepEqual(got, Array.from({ length: 13 }, (_, i) => i));
    assert.equal(sink.stats().sent, 13);
  } finally {
    await broker.stop();
  }
});

const realBrokers = process.env.KAFKA_BROKERS;
test('real Kafka broker (KAFKA_BROKERS)', { skip: realBrokers ? false : 'KAFKA_BROKERS is not set (no Kafka broker can be installed here)' }, async () => {
  const brokers = realBrokers!.split(',').map((s) => s.trim());
  const topic = `stnn-test-${Date.now()}`;
  const kafka = new kafkajs.Kafka({ clientId: 'stnn-test-admin', brokers, logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const sink = createSink({ type: 'kafka', brokers, topic, lingerMs: 10 });
  for (let i = 0; i < 20; i++) sink.write(record(i));
  await sink.close();
  assert.equal(sink.stats().sent, 20);
  const consumer = kafka.consumer({ groupId: `${topic}-check` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: { key: string; value: unknown }[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void got.push({ key: String(message.key), value: JSON.parse(String(message.value)) }) });
  const deadline = Date.now() + 20_000;
  while (got.length < 20 && Date.now() < deadline) await sleep(100);
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
  assert.equal(got.length, 20);
  got.forEach((m, i) => {
    assert.equal(m.key, i === 0 ? '1:LQU9qZlK+B5F3KDmev6m5PMibrg=' : `1:flow${i}=`);
    assert.deepEqual(m.value, json(i));
  });
});

/** Sends one raw request frame and returns the response payload (after the size field). */
async function rawRequest(port: number, body: Buffer): Promise<Buffer> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      const len = Buffer.alloc(4);
      len.writeInt32BE(body.length);
      s.write(Buffer.concat([len, body]));
    });
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        s.destroy();
        resolve(buf.subarray(4, 4 + buf.readInt32BE(0)));
      }
    });
    s.on('error', reject);
  });
}

test('test broker answers ApiVersions v0, v3 (flexible) and an unknown version, byte-exact', async () => {
  const broker = await KafkaTestBroker.start();
  try {
    // v0: api_key 18, version 0, correlation 7, client_id "raw"
    const v0 = await rawRequest(broker.port, Buffer.from([0, 18, 0, 0, 0, 0, 0, 7, 0, 3, 0x72, 0x61, 0x77]));
    assert.deepEqual([...v0], [
      0, 0, 0, 7, /* error */ 0, 0, /* 4 entries */ 0, 0, 0, 4,
      0, 0, 0, 3, 0, 7, /* Produce 3-7 */
      0, 3, 0, 1, 0, 1, /* Metadata 1-1 */
      0, 18, 0, 0, 0, 3, /* ApiVersions 0-3 */
      0, 22, 0, 0, 0, 1, /* InitProducerId 0-1 */
    ]);
    // v3: header v2 (tagged fields), body: compact strings "x", "1", tagged fields.
    const v3 = await rawRequest(broker.port, Buffer.from([0, 18, 0, 3, 0, 0, 0, 8, 0, 3, 0x72, 0x61, 0x77, 0, 2, 0x78, 2, 0x31, 0]));
    assert.deepEqual([...v3], [
      0, 0, 0, 8, 0, 0, /* compact array of 4 */ 5,
      0, 0, 0, 3, 0, 7, 0,
      0, 3, 0, 1, 0, 1, 0,
      0, 18, 0, 0, 0, 3, 0,
      0, 22, 0, 0, 0, 1, 0,
      /* throttle */ 0, 0, 0, 0, /* tags */ 0,
    ]);
    const v9 = await rawRequest(broker.port, Buffer.from([0, 18, 0, 9, 0, 0, 0, 9, 0xff, 0xff]));
    assert.deepEqual([...v9.subarray(0, 10)], [0, 0, 0, 9, 0, 35, 0, 0, 0, 4]);
    assert.deepEqual(broker.requests.map((r) => [r.apiKey, r.apiVersion, r.correlationId, r.clientId]), [
      [18, 0, 7, 'raw'],
      [18, 3, 8, 'raw'],
      [18, 9, 9, null],
    ]);
  } finally {
    await broker.stop();
  }
});
