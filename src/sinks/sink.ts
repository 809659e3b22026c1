/**
 * Verdict sinks. A sink takes the ECS record of `toEcs` (src/flow/record.ts), serialises it once
 * and moves the bytes; it never blocks the sensor and never throws for a peer that is down.
 *
 *   jsonl   one JSON line per record, to a file (appended, fsync on flush) or stdout ('-')
 *   syslog  RFC 5424 over UDP, TCP (RFC 6587 octet counting) or a unix socket
 *   kafka   kafkajs producer: batched, gzip, keyed by network.community_id, acks=all, idempotent
 *   null    counts and discards (for measuring)
 *
 * syslog and kafka keep their backlog in a bounded on-disk spool when `spool` is given, else in
 * a bounded memory queue (`memoryBytes`). Every record goes through the backlog (write-ahead), so:
 *
 * Delivery guarantees
 * - Order: a sink delivers in write order, across outages and restarts.
 * - Peer down (sensor running) or sensor stopped cleanly (close()): each spooled record is handed
 *   to the transport exactly once; it leaves the spool when the transport accepted it. Past the
 *   spool's bound new records are dropped and counted (stats.dropped).
 * - Sensor crash: records in the spool survive (page cache; on disk after flush/close); the last
 *   batch accepted but not yet marked in the cursor is sent again: at-least-once.
 * - "Accepted" depends on the transport. TCP: the kernel took the bytes; plain syslog has no
 *   acknowledgement, so bytes still unread by a receiver that resets the connection are lost
 *   (measured: rsyslogd stopped by SIGTERM while a verdict was written every 2 ms lost 1-2
 *   verdicts per stop in 5 of 5 runs, none duplicated, order kept). UDP: nothing is known. Unix
 *   datagram: exact (the datagram is queued at the receiver or the send fails). Kafka: acks=all,
 *   exactly-once into the log while the idempotent producer id lives (kafka.ts).
 * - Memory backlog: lost at exit; what it still holds at close() is counted as dropped.
 */
import * as path from 'node:path';
import { StnnError } from '../util/errors.js';
import { probeDirs } from '../util/mkdirs.js';
import type { SinkStats } from './delivery.js';
import { checkSpoolDir, notCreatable, type SpoolOptions } from './spool.js';
import { JsonlSink } from './jsonl.js';
import { SyslogSink } from './syslog.js';
import { KafkaSink } from './kafka.js';

export type { SinkStats } from './delivery.js';
export type { SpoolOptions } from './spool.js';

export interface Sink {
  readonly name: string;
  write(rec: Record<string, unknown>): void;
  flush(): Promise<void>;
  /**
   * Delivers what it can and releases the output. `deadline` (Date.now() ms) bounds the whole
   * of it, shared by every output that closes at once (MultiSink); without it, the sink's own.
   */
  close(deadline?: number): Promise<void>;
  stats(): SinkStats;
}

interface Common {
  /** Name in logs and metrics (default: the type, e.g. 'syslog'). */
  name?: string;
  /** Receives one line per link failure/reconnect (syslog, kafka); default silent. */
  log?: (msg: string) => void;
}

export interface JsonlConfig extends Common {
  type: 'jsonl';
  /** File path (appended to) or '-' for stdout. */
  path: string | '-';
}

export interface SyslogConfig extends Common {
  type: 'syslog';
  transport: 'udp' | 'tcp' | 'unix';
  host?: string;
  port?: number;
  /** Unix socket path (default /dev/log). */
  path?: string;
  /** Unix socket type (default 'dgram', as /dev/log). */
  socketType?: 'dgram' | 'stream';
  appName?: string;
  facility?: string | number;
  severity?: string | number;
  hostname?: string;
  procId?: string | number;
  sdId?: string;
  /** Largest RFC 5424 message in bytes (default 2048). */
  maxMessageBytes?: number;
  /** Keep stnn.features in MSG (default false). */
  features?: boolean;
  bom?: boolean;
  spool?: SpoolOptions;
  /** Bound of the in-memory backlog when there is no spool (default 16 MiB). */
  memoryBytes?: number;
  batchSize?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Clock for the TIMESTAMP field (tests). */
  clock?: () => number;
}

export interface KafkaConfig extends Common {
  type: 'kafka';
  brokers: string[];
  topic: string;
  clientId?: string;
  compression?: 'gzip' | 'none';
  /** Records per produce request (default 500). */
  batchSize?: number;
  /** Wait for a fuller batch, ms (default 50). */
  lingerMs?: number;
  /** Idempotent producer (default true; kafkajs then sends one request at a time). */
  idempotent?: boolean;
  /** kafkajs retries per request (default 5; unlimited when idempotent, as kafkajs requires). */
  retries?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  spool?: SpoolOptions;
  memoryBytes?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Clock for record timestamps, ms (tests). */
  clock?: () => number;
}

export interface NullConfig extends Common {
  type: 'null';
}

export type SinkConfig = JsonlConfig | SyslogConfig | KafkaConfig | NullConfig;

export class NullSink implements Sink {
  private sent = 0;
  constructor(readonly name = 'null') {}
  write(_rec: Record<string, unknown>): void {
    this.sent++;
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  stats(): SinkStats {
    return { sent: this.sent, errors: 0, spooled: 0, dropped: 0, spoolBytes: 0 };
  }
}

/** Several sinks as one: each record goes to every sink; stats are summed (per sink: `.sinks`). */
export class MultiSink implements Sink {
  constructor(
    readonly sinks: Sink[],
    readonly name = 'sinks',
  ) {}
  write(rec: Record<string, unknown>): void {
    for (const s of this.sinks) s.write(rec);
  }
  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush()));
  }
  async close(deadline?: number): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close(deadline)));
  }
  stats(): SinkStats {
    const t: SinkStats = { sent: 0, errors: 0, spooled: 0, dropped: 0, spoolBytes: 0 };
    for (const s of this.sinks) {
      const x = s.stats();
      t.sent += x.sent;
      t.errors += x.errors;
      t.spooled += x.spooled;
      t.dropped += x.dropped;
      t.spoolBytes += x.spoolBytes;
    }
    return t;
  }
}

/**
 * Checks, without creating anything, the files and directories that building these sinks would
 * make: each jsonl file can be opened for append (or made, with its directories), each spool
 * directory can be made, is not given twice and is not locked by another running process.
 * Errors are STNN_CONFIG, worded as the sinks' own. The sensor calls it before building any
 * sink, so that a bad path in one output leaves no file made for another. Where a message names
 * the output's key (outputs[k]…), `file`, the configuration file, goes first.
 */
export function checkSinkPaths(cfgs: SinkConfig[], file?: string): void {
  const at = (key: string) => (file ? `${file}: ${key}` : key);
  const spools = new Set<string>();
  for (const [k, c] of cfgs.entries()) {
    if (c.type === 'jsonl' && typeof c.path === 'string' && c.path !== '' && c.path !== '-') {
      const why = notCreatable(c.path, 'file');
      if (why) throw new StnnError('STNN_CONFIG', `sink ${c.name ?? 'jsonl'}: cannot open ${c.path}: ${why}`);
      const made = probeDirs(path.dirname(c.path)); // what a permission check cannot tell (e.g. under /proc)
      if (made) throw new StnnError('STNN_CONFIG', `${at(`outputs[${k}].path`)}: sink ${c.name ?? 'jsonl'}: cannot open ${c.path}: ${made}`);
    } else if ((c.type === 'syslog' || c.type === 'kafka') && c.spool) {
      checkSpoolDir(c.spool.dir, spools, at(`outputs[${k}].spool.dir`));
    }
  }
}

/** Builds every sink of a config list; if one fails, those already built are closed. */
export async function createSinks(cfgs: SinkConfig[]): Promise<MultiSink> {
  const built: Sink[] = [];
  try {
    for (const c of cfgs) built.push(createSink(c));
  } catch (e) {
    await Promise.all(built.map((s) => s.close().catch(() => {})));
    throw e;
  }
  return new MultiSink(built);
}

export function createSink(cfg: SinkConfig): Sink {
  switch (cfg.type) {
    case 'jsonl':
      return new JsonlSink(cfg);
    case 'syslog':
      return new SyslogSink(cfg);
    case 'kafka':
      return new KafkaSink(cfg);
    case 'null':
      return new NullSink(cfg.name);
    default:
      throw new StnnError('STNN_CONFIG', `sinks[].type: unknown sink type ${JSON.stringify((cfg as { type?: unknown }).type)} (jsonl, syslog, kafka, null)`);
  }
}
