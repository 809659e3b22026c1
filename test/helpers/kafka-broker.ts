/**
 * A minimal Kafka broker speaking the wire protocol on 127.0.0.1, for tests of the Kafka sink.
 *
 * It answers ApiVersions (v0-v3), Metadata (v1: itself as the only broker, controller and leader
 * of every partition; unknown topics are created), InitProducerId (v0-v1) and Produce (v3-v7,
 * record batches of magic 2). Each Produce record batch is decoded field by field: base offset,
 * length, magic, CRC-32C (checked with our own implementation), attributes (gzip is inflated with
 * node:zlib), producer id/epoch, base sequence (checked against the next one expected for that
 * producer and partition, as an idempotent broker does), and each record (varint lengths, key,
 * value, headers). Whatever does not follow the protocol is recorded in `violations` and the
 * request is answered with the matching error code. stop()/start() take it off the network and
 * back on the same port (the log is kept, as a real broker keeps it).
 */
import * as net from 'node:net';
import { gunzipSync } from 'node:zlib';

/* ---------------------------------------------------------------- CRC-32C (Castagnoli) */

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (reflected polynomial 0x82F63B78), as Kafka's record batches use. */
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC32C_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/* ---------------------------------------------------------------- reading */

export class Reader {
  off = 0;
  constructor(readonly buf: Buffer) {}
  need(n: number) {
    if (this.off + n > this.buf.length) throw new Error(`truncated: need ${n} bytes at ${this.off} of ${this.buf.length}`);
  }
  i8() {
    this.need(1);
    return this.buf.readInt8(this.off++);
  }
  i16() {
    this.need(2);
    const v = this.buf.readInt16BE(this.off);
    this.off += 2;
    return v;
  }
  i32() {
    this.need(4);
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }
  u32() {
    this.need(4);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  i64() {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.off);
    this.off += 8;
    return v;
  }
  bytes(n: number) {
    this.need(n);
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  /** Nullable STRING (int16 length, -1 = null). */
  str(): string | null {
    const n = this.i16();
    return n < 0 ? null : this.bytes(n).toString('utf8');
  }
  /** Unsigned varint (protocol's UNSIGNED_VARINT). */
  uvarint(): number {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      this.need(1);
      const b = this.buf[this.off++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
    }
    throw new Error('varint too long');
  }
  /** Zig-zag varint (record fields). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  /** Zig-zag varlong. */
  varlong(): bigint {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      this.need(1);
      const b = BigInt(this.buf[this.off++]!);
      v |= (b & 0x7fn) << shift;
      if (!(b & 0x80n)) return (v >> 1n) ^ -(v & 1n);
    }
    throw new Error('varlong too long');
  }
  compactStr(): string | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.bytes(n).toString('utf8');
  }
  skipTags() {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      this.bytes(this.uvarint());
    }
  }
  get left() {
    return this.buf.length - this.off;
  }
}

/* ---------------------------------------------------------------- writing */

class Writer {
  private parts: Buffer[] = [];
  i8(v: number) {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    return this.push(b);
  }
  i16(v: number) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return this.push(b);
  }
  i32(v: number) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return this.push(b);
  }
  i64(v: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    return this.push(b);
  }
  str(s: string | null) {
    if (s === null) return this.i16(-1);
    const b = Buffer.from(s, 'utf8');
    return this.i16(b.length).push(b);
  }
  uvarint(v: number) {
    const out: number[] = [];
    do {
      let b = v & 0x7f;
      v = Math.floor(v / 128);
      if (v > 0) b |= 0x80;
      out.push(b);
    } while (v > 0);
    return this.push(Buffer.from(out));
  }
  array<T>(items: T[], f: (w: Writer, x: T) => void) {
    this.i32(items.length);
    for (const x of items) f(this, x);
    return this;
  }
  push(b: Buffer) {
    this.parts.push(b);
    return this;
  }
  build() {
    return Buffer.concat(this.parts);
  }
}

/* ---------------------------------------------------------------- types */

export const API = { Produce: 0, Metadata: 3, ApiVersions: 18, InitProducerId: 22 } as const;
/** Versions this broker implements, advertised in ApiVersions. */
export const SUPPORTED: Record<number, [number, number]> = {
  [API.Produce]: [3, 7],
  [API.Metadata]: [1, 1],
  [API.ApiVersions]: [0, 3],
  [API.InitProducerId]: [0, 1],
};

export const ERR = {
  NONE: 0,
  CORRUPT_MESSAGE: 2,
  MESSAGE_TOO_LARGE: 10,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  UNSUPPORTED_VERSION: 35,
  INVALID_RECORD: 87,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  UNKNOWN_PRODUCER_ID: 59,
} as const;

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Size field of the request frame. */
  size: number;
}

export interface KafkaRecord {
  length: number;
  attributes: number;
  timestampDelta: bigint;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

export interface RecordBatch {
  topic: string;
  partition: number;
  /** Produce request version and acks it came with. */
  apiVersion: number;
  acks: number;
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  /** CRC-32C computed here over attributes…end. */
  crcComputed: number;
  attributes: number;
  /** attributes & 7: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  compression: number;
  transactional: boolean;
  lastOffsetDelta: number;
  firstTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  records: KafkaRecord[];
  /** Offset the broker gave the first record (-1 if refused). */
  assignedOffset: bigint;
  /** Error code answered for this batch. */
  errorCode: number;
  duplicate: boolean;
}

export interface StoredRecord {
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

export interface BrokerOptions {
  /** Partitions of auto-created topics (default 1). */
  partitions?: number;
  nodeId?: number;
  /** Batches holding a record for which this is true are refused with MESSAGE_TOO_LARGE. */
  refuseRecord?: (rec: KafkaRecord) => boolean;
}

/** Decodes one record batch (magic 2) starting at r.off; throws on malformed framing. */
export function decodeRecordBatch(r: Reader): Omit<RecordBatch, 'topic' | 'partition' | 'apiVersion' | 'acks' | 'assignedOffset' | 'errorCode' | 'duplicate'> & { violations: string[] } {
  const violations: string[] = [];
  const baseOffset = r.i64();
  const batchLength = r.i32();
  const end = r.off + batchLength;
  if (batchLength < 49 || end > r.buf.length) throw new Error(`batch length ${batchLength} does not fit the ${r.buf.length - r.off} bytes left`);
  const partitionLeaderEpoch = r.i32();
  const magic = r.i8();
  if (magic !== 2) throw new Error(`record batch magic ${magic}, expected 2`);
  const crc = r.u32();
  const crcComputed = crc32c(r.buf.subarray(r.off, end));
  if (crc !== crcComputed) violations.push(`CRC-32C mismatch: batch says ${crc.toString(16)}, computed ${crcComputed.toString(16)}`);
  const attributes = r.i16();
  const lastOffsetDelta = r.i32();
  const firstTimestamp = r.i64();
  const maxTimestamp = r.i64();
  const producerId = r.i64();
  const producerEpoch = r.i16();
  const baseSequence = r.i32();
  const recordCount = r.i32();
  const compression = attributes & 7;
  let body = r.buf.subarray(r.off, end);
  r.off = end;
  if (compression === 1) body = gunzipSync(body);
  else if (compression !== 0) throw new Error(`compression codec ${compression} is not supported by the test broker`);
  const rr = new Reader(body);
  const records: KafkaRecord[] = [];
  for (let i = 0; i < recordCount; i++) {
    const length = rr.varint();
    const start = rr.off;
    const attributesR = rr.i8();
    const timestampDelta = rr.varlong();
    const offsetDelta = rr.varint();
    const kl = rr.varint();
    const key = kl < 0 ? null : Buffer.from(rr.bytes(kl));
    const vl = rr.varint();
    const value = vl < 0 ? null : Buffer.from(rr.bytes(vl));
    const hn = rr.varint();
    const headers: KafkaRecord['headers'] = [];
    for (let h = 0; h < hn; h++) {
      const hk = rr.bytes(rr.varint()).toString('utf8');
      const hvl = rr.varint();
      headers.push({ key: hk, value: hvl < 0 ? null : Buffer.from(rr.bytes(hvl)) });
    }
    if (rr.off - start !== length) violations.push(`record ${i}: length field ${length}, body ${rr.off - start} bytes`);
    if (offsetDelta !== i) violations.push(`record ${i}: offset delta ${offsetDelta}`);
    records.push({ length, attributes: attributesR, timestampDelta, offsetDelta, key, value, headers });
  }
  if (rr.left !== 0) violations.push(`${rr.left} bytes after the last record`);
  if (lastOffsetDelta !== recordCount - 1) violations.push(`last offset delta ${lastOffsetDelta} for ${recordCount} records`);
  if (baseOffset !== 0n) violations.push(`producer batch with base offset ${baseOffset}`);
  return {
    baseOffset, batchLength, partitionLeaderEpoch, magic, crc, crcComputed, attributes, compression,
    transactional: (attributes & 0x10) !== 0, lastOffsetDelta, firstTimestamp, maxTimestamp,
    producerId, producerEpoch, baseSequence, recordCount, records, violations,
  };
}

/* ---------------------------------------------------------------- the broker */

export class KafkaTestBroker {
  readonly requests: RequestHeader[] = [];
  readonly batches: RecordBatch[] = [];
  readonly violations: string[] = [];
  readonly logs = new Map<string, StoredRecord[]>();
  /** Producer ids handed out by InitProducerId. */
  readonly producerIds: bigint[] = [];
  private readonly sequences = new Map<string, { next: number; batches: { base: number; count: number; offset: bigint }[] }>();
  private readonly topics = new Map<string, number>();
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private nextPid = 1000n;
  readonly nodeId: number;
  private readonly partitions: number;
  private readonly refuseRecord?: (rec: KafkaRecord) => boolean;
  port = 0;
  readonly host = '127.0.0.1';
  /** The next this-many Produce requests are processed (appended) but never answered: the
   * connection is closed instead, as when a broker dies between its log write and its reply. */
  loseProduceResponses = 0;
  /** With loseProduceResponses: also stop listening at that moment (the broker goes down). */
  stopWhenLosing = false;

  private constructor(opts: BrokerOptions) {
    this.nodeId = opts.nodeId ?? 1;
    this.partitions = opts.partitions ?? 1;
    this.refuseRecord = opts.refuseRecord;
  }

  static async start(opts: BrokerOptions = {}): Promise<KafkaTestBroker> {
    const b = new KafkaTestBroker(opts);
    await b.start();
    return b;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Listens (again, on the same port after a stop). */
  async start(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Closes the listener and every connection. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise((r) => server.close(r));
  }

  /** Records of a partition's log, in offset order. */
  log(topic: string, partition = 0): StoredRecord[] {
    return this.logs.get(`${topic}/${partition}`) ?? [];
  }

  private accept(sock: net.Socket) {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => {});
    let pending: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (size < 8 || size > 64 * 1024 * 1024) {
          this.violations.push(`request frame size ${size}`);
          sock.destroy();
          return;
        }
        if (pending.length < 4 + size) break;
        const frame = pending.subarray(4, 4 + size);
        pending = pending.subarray(4 + size);
        let resp: Buffer | null;
        try {
          resp = this.handle(frame, size);
        } catch (e) {
          this.violations.push(`malformed request: ${(e as Error).message}`);
          sock.destroy();
          return;
        }
        if (resp && this.loseProduceResponses > 0 && frame.readInt16BE(0) === API.Produce) {
          this.loseProduceResponses--;
          sock.destroy();
          if (this.stopWhenLosing) void this.stop();
          return;
        }
        if (resp) {
          const len = Buffer.alloc(4);
          len.writeInt32BE(resp.length);
          sock.write(Buffer.concat([len, resp]));
        }
      }
    });
  }

  private handle(frame: Buffer, size: number): Buffer | null {
    const r = new Reader(frame);
    const apiKey = r.i16();
    const apiVersion = r.i16();
    const correlationId = r.i32();
    const clientId = r.str();
    this.requests.push({ apiKey, apiVersion, correlationId, clientId, size });
    const w = new Writer().i32(correlationId);
    const range = SUPPORTED[apiKey];
    if (!range) throw new Error(`api key ${apiKey} is not implemented by the test broker`);
    if (apiKey === API.ApiVersions) return this.apiVersions(r, apiVersion, w);
    if (apiVersion < range[0] || apiVersion > range[1]) {
      throw new Error(`api key ${apiKey} version ${apiVersion} was not advertised (${range[0]}-${range[1]})`);
    }
    switch (apiKey) {
      case API.Metadata:
        return this.metadata(r, w);
      case API.InitProducerId:
        return this.initProducerId(r, w);
      case API.Produce:
        return this.produce(r, apiVersion, w);
    }
    return null;
  }

  private apiVersions(r: Reader, version: number, w: Writer): Buffer {
    const entries = Object.entries(SUPPORTED).map(([k, [min, max]]) => [Number(k), min, max] as const);
    if (version > 3) {
      // Unknown version: answer in v0 form with UNSUPPORTED_VERSION and our list, as brokers do.
      w.i16(ERR.UNSUPPORTED_VERSION).array([...entries], (x, [k, min, max]) => x.i16(k).i16(min).i16(max));
      return w.build();
    }
    if (version === 3) {
      r.skipTags(); // request header v2 tagged fields
      r.compactStr(); // client_software_name
      r.compactStr(); // client_software_version
      r.skipTags();
      w.i16(ERR.NONE).uvarint(entries.length + 1);
      for (const [k, min, max] of entries) w.i16(k).i16(min).i16(max).uvarint(0);
      return w.i32(0).uvarint(0).build();
    }
    w.i16(ERR.NONE).array([...entries], (x, [k, min, max]) => x.i16(k).i16(min).i16(max));
    if (version >= 1) w.i32(0); // throttle_time_ms
    return w.build();
  }

  private partitionsOf(topic: string): number {
    let n = this.topics.get(topic);
    if (n === undefined) {
      n = this.partitions;
      this.topics.set(topic, n);
    }
    return n;
  }

  private metadata(r: Reader, w: Writer): Buffer {
    const n = r.i32();
    const wanted: string[] = [];
    for (let i = 0; i < n; i++) wanted.push(r.str() ?? '');
    const topics = n < 0 ? [...this.topics.keys()] : wanted;
    w.array([0], (x) => x.i32(this.nodeId).str(this.host).i32(this.port).str(null));
    w.i32(this.nodeId); // controller
    w.array(topics, (x, t) => {
      const parts = Array.from({ length: this.partitionsOf(t) }, (_, i) => i);
      x.i16(ERR.NONE).str(t).i8(0);
      x.array(parts, (y, p) => y.i16(ERR.NONE).i32(p).i32(this.nodeId).array([this.nodeId], (z, id) => z.i32(id)).array([this.nodeId], (z, id) => z.i32(id)));
    });
    return w.build();
  }

  private initProducerId(r: Reader, w: Writer): Buffer {
    const transactionalId = r.str();
    r.i32(); // transaction timeout
    if (transactionalId !== null) this.violations.push(`unexpected transactional id ${transactionalId}`);
    const pid = this.nextPid++;
    this.producerIds.push(pid);
    return w.i32(0).i16(ERR.NONE).i64(pid).i16(0).build();
  }

  private produce(r: Reader, version: number, w: Writer): Buffer | null {
    const transactionalId = r.str();
    const acks = r.i16();
    r.i32(); // timeout
    if (transactionalId !== null) this.violations.push(`unexpected transactional id ${transactionalId}`);
    const results: { topic: string; parts: { partition: number; error: number; offset: bigint }[] }[] = [];
    const nt = r.i32();
    for (let t = 0; t < nt; t++) {
      const topic = r.str() ?? '';
      const parts: { partition: number; error: number; offset: bigint }[] = [];
      const np = r.i32();
      for (let p = 0; p < np; p++) {
        const partition = r.i32();
        const setSize = r.i32();
        const set = new Reader(setSize < 0 ? Buffer.alloc(0) : Buffer.from(r.bytes(setSize)));
        let error: number = ERR.NONE;
        let offset = -1n;
        if (partition < 0 || partition >= this.partitionsOf(topic)) error = ERR.UNKNOWN_TOPIC_OR_PARTITION;
        while (error === ERR.NONE && set.left > 0) {
          let decoded: ReturnType<typeof decodeRecordBatch>;
          try {
            decoded = decodeRecordBatch(set);
          } catch (e) {
            this.violations.push(`${topic}/${partition}: ${(e as Error).message}`);
            error = ERR.CORRUPT_MESSAGE;
            break;
          }
          const { violations, ...b } = decoded;
          for (const v of violations) this.violations.push(`${topic}/${partition}: ${v}`);
          const batch: RecordBatch = { ...b, topic, partition, apiVersion: version, acks, assignedOffset: -1n, errorCode: ERR.NONE, duplicate: false };
          if (b.crc !== b.crcComputed) batch.errorCode = ERR.CORRUPT_MESSAGE;
          else if (violations.length) batch.errorCode = ERR.INVALID_RECORD;
          else if (this.refuseRecord && b.records.some(this.refuseRecord)) batch.errorCode = ERR.MESSAGE_TOO_LARGE;
          else batch.errorCode = this.append(batch);
          this.batches.push(batch);
          error = batch.errorCode;
          if (offset < 0n) offset = batch.assignedOffset;
        }
        parts.push({ partition, error, offset });
      }
      results.push({ topic, parts });
    }
    if (acks === 0) return null;
    w.array(results, (x, t) => {
      x.str(t.topic).array(t.parts, (y, p) => {
        y.i32(p.partition).i16(p.error).i64(p.offset).i64(-1n);
        if (version >= 5) y.i64(0n); // log_start_offset
      });
    });
    return w.i32(0).build(); // throttle_time_ms
  }

  /** Appends a batch to its log, applying the idempotent producer's sequence rules. */
  private append(b: RecordBatch): number {
    const key = `${b.topic}/${b.partition}`;
    let log = this.logs.get(key);
    if (!log) this.logs.set(key, (log = []));
    if (b.producerId >= 0n) {
      if (!this.producerIds.includes(b.producerId)) return ERR.UNKNOWN_PRODUCER_ID;
      const sk = `${b.producerId}:${b.producerEpoch}:${key}`;
      let seq = this.sequences.get(sk);
      if (!seq) this.sequences.set(sk, (seq = { next: 0, batches: [] }));
      if (b.baseSequence !== seq.next) {
        const dup = seq.batches.find((x) => x.base === b.baseSequence && x.count === b.recordCount);
        if (dup) {
          b.duplicate = true;
          b.assignedOffset = dup.offset;
          return ERR.NONE;
        }
        return ERR.OUT_OF_ORDER_SEQUENCE_NUMBER;
      }
      seq.next += b.recordCount;
      seq.batches.push({ base: b.baseSequence, count: b.recordCount, offset: BigInt(log.length) });
    }
    b.assignedOffset = BigInt(log.length);
    for (const rec of b.records) log.push({ offset: BigInt(log.length), key: rec.key, value: rec.value });
    return ERR.NONE;
  }
}
