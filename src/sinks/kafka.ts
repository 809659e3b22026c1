/**
 * Kafka sink through kafkajs (pure JS): records are batched (batchSize, lingerMs) into one
 * produce call, gzip-compressed, keyed by network.community_id (so a flow's records land in one
 * partition), acks = all, kafkajs retries, and the idempotent producer (kafkajs requires
 * maxInFlightRequests 1 for it; the producer id comes from InitProducerId and the broker drops a
 * batch whose sequence it already appended).
 *
 * The spool keeps each record as `u16 BE key length · key · f64 timestamp · value`. The producer
 * outlives outages and a failed batch is re-sent as the very same records, so a batch the broker
 * had appended before the failure (reply lost) is recognised by its sequence and not logged
 * twice (tested). Guarantee: exactly-once into the log while the producer id lives; when the
 * broker rejects the id (UNKNOWN_PRODUCER_ID, OUT_OF_ORDER_SEQUENCE_NUMBER, fencing, or a
 * restart of the sensor) a new producer starts and the in-doubt batch may be logged twice:
 * at-least-once.
 */
import kafkajs from 'kafkajs';
import type { Producer } from 'kafkajs';
import { StnnError } from '../util/errors.js';
import { Delivery, LinkError, type Link, type SinkStats } from './delivery.js';
import { MemoryBacklog, Spool, type Backlog } from './spool.js';
import type { KafkaConfig, Sink } from './sink.js';

const { Kafka, CompressionTypes, Partitioners, logLevel } = kafkajs;

/**
 * Spool payload: u16 BE key length (0xffff = null key) · key · f64 BE timestamp (ms, when the
 * record was written: the Kafka record's timestamp, also after a replay) · value.
 */
export function encodeKafkaPayload(key: string | undefined, value: string, timestampMs = Date.now()): Buffer {
  const k = key === undefined ? null : Buffer.from(key.slice(0, 1024), 'utf8');
  const v = Buffer.from(value, 'utf8');
  const kl = k?.length ?? 0;
  const out = Buffer.allocUnsafe(2 + kl + 8 + v.length);
  out.writeUInt16BE(k ? kl : 0xffff, 0);
  if (k) k.copy(out, 2);
  out.writeDoubleBE(timestampMs, 2 + kl);
  v.copy(out, 2 + kl + 8);
  return out;
}

export function decodeKafkaPayload(p: Buffer): { key: Buffer | null; value: Buffer; timestamp: string } {
  const raw = p.readUInt16BE(0);
  const kl = raw === 0xffff ? 0 : raw;
  return {
    key: raw === 0xffff ? null : p.subarray(2, 2 + kl),
    timestamp: String(Math.round(p.readDoubleBE(2 + kl))),
    value: p.subarray(2 + kl + 8),
  };
}

/** Errors after which the producer id cannot go on (a new producer is made). */
const NEW_PRODUCER = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING', 'PRODUCER_FENCED']);

/** kafkajs error types that refuse the records themselves (resending cannot succeed). */
const REFUSED = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP']);

class KafkaLink implements Link {
  onDown?: (err: Error) => void;
  private producer: Producer | null = null;
  private connected = false;
  private readonly kafka: InstanceType<typeof Kafka>;

  constructor(private readonly cfg: KafkaConfig) {
    const retries = cfg.retries ?? 5;
    this.kafka = new Kafka({
      clientId: cfg.clientId ?? 'stnn-sensor',
      brokers: cfg.brokers,
      connectionTimeout: cfg.connectionTimeoutMs ?? 3000,
      requestTimeout: cfg.requestTimeoutMs ?? 10_000,
      retry: { retries, initialRetryTime: 100, maxRetryTime: 5000 },
      logLevel: logLevel.NOTHING,
    });
  }

  /**
   * The producer lives across outages, so that its producer id and sequence numbers do too: the
   * batch that was in flight when the link failed is re-sent (same records, see Delivery) with
   * the same sequence, and the broker drops it if it had already appended it.
   */
  async connect(): Promise<void> {
    if (!this.producer) {
      const idempotent = this.cfg.idempotent ?? true;
      this.producer = this.kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        idempotent,
        maxInFlightRequests: idempotent ? 1 : undefined,
        retry: { retries: Math.max(1, this.cfg.retries ?? 5), initialRetryTime: 100, maxRetryTime: 5000 },
      });
    }
    await this.producer.connect();
    this.connected = true;
  }

  async send(msgs: Buffer[]): Promise<void> {
    const producer = this.producer;
    if (!producer || !this.connected) throw new LinkError(`kafka ${this.cfg.brokers.join(',')}: not connected`, 0);
    const messages = msgs.map((m) => decodeKafkaPayload(m));
    try {
      await producer.send({
        topic: this.cfg.topic,
        messages,
        acks: -1,
        compression: (this.cfg.compression ?? 'gzip') === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        timeout: this.cfg.requestTimeoutMs ?? 10_000,
      });
    } catch (e) {
      const type = (e as { type?: string; cause?: { type?: string } }).type ?? (e as { cause?: { type?: string } }).cause?.type;
      if (type !== undefined && NEW_PRODUCER.has(type)) {
        // The broker no longer accepts this producer's sequence: start over with a new id.
        this.producer = null;
        this.connected = false;
        void producer.disconnect().catch(() => {});
      }
      throw new LinkError(`kafka ${this.cfg.topic}: ${(e as Error).message}`, 0, type !== undefined && REFUSED.has(type));
    }
  }

  /** After a failure: keep the producer (id, sequences); the next connect() reuses it. */
  async reset(): Promise<void> {
    this.connected = false;
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    this.connected = false;
    if (producer) await producer.disconnect().catch(() => {});
  }
}

export class KafkaSink implements Sink {
  readonly name: string;
  private readonly delivery: Delivery;
  private readonly clock: () => number;
  private readonly requestTimeoutMs: number;

  constructor(cfg: KafkaConfig) {
    this.clock = cfg.clock ?? Date.now;
    this.requestTimeoutMs = cfg.requestTimeoutMs ?? 10_000;
    this.name = cfg.name ?? 'kafka';
    const where = `sink ${this.name}`;
    if (!Array.isArray(cfg.brokers) || cfg.brokers.length === 0 || !cfg.brokers.every((b) => typeof b === 'string' && /^[^:\s]+:\d{1,5}$/.test(b))) {
      throw new StnnError('STNN_CONFIG', `${where}: brokers must be a non-empty list of host:port, got ${JSON.stringify(cfg.brokers)}`);
    }
    if (typeof cfg.topic !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(cfg.topic)) {
      throw new StnnError('STNN_CONFIG', `${where}: topic must be 1-249 characters of [A-Za-z0-9._-], got ${JSON.stringify(cfg.topic)}`);
    }
    if (cfg.compression !== undefined && cfg.compression !== 'gzip' && cfg.compression !== 'none') {
      throw new StnnError('STNN_CONFIG', `${where}: compression must be 'gzip' or 'none', got ${JSON.stringify(cfg.compression)}`);
    }
    const backlog: Backlog = cfg.spool ? new Spool(cfg.spool) : new MemoryBacklog(cfg.memoryBytes ?? 16 * 1024 * 1024);
    this.delivery = new Delivery(this.name, new KafkaLink(cfg), backlog, {
      batchSize: cfg.batchSize ?? 500,
      lingerMs: cfg.lingerMs ?? 50,
      batchBytes: 900 * 1024,
      backoffMinMs: cfg.backoffMinMs ?? 500,
      backoffMaxMs: cfg.backoffMaxMs,
      log: cfg.log,
    });
  }

  write(rec: Record<string, unknown>): void {
    const net = rec.network as Record<string, unknown> | undefined;
    const key = typeof net?.community_id === 'string' ? net.community_id : undefined;
    let payload: Buffer;
    try {
      payload = encodeKafkaPayload(key, JSON.stringify(rec), this.clock());
    } catch {
      this.delivery.stats.errors++; // not serialisable (cycle, BigInt): never a crash
      this.delivery.stats.dropped++;
      return;
    }
    this.delivery.write(payload);
  }

  flush(): Promise<void> {
    return this.delivery.flush(15_000);
  }

  /**
   * Delivers until `deadline` (default 15 s from now), stopping sooner when the broker has
   * acknowledged nothing for a request timeout (10 s by default).
   */
  close(deadline?: number): Promise<void> {
    return this.delivery.close({ deadline: deadline ?? Date.now() + 15_000, idleMs: this.requestTimeoutMs, peerMs: 1000 });
  }

  stats(): SinkStats {
    return { ...this.delivery.stats };
  }

  get up(): boolean {
    return this.delivery.up;
  }
}
