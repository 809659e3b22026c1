/**
 * The sensor's wiring, in one place, the same for live capture and --pcap:
 *
 *   packet source ─► one SpscRing per shard ─► shard workers (piscina, decode → flow table)
 *     ─► msgpackr batches of FlowRecords (moved ArrayBuffers, one MessagePort per shard)
 *     ─► main thread: batching ─► inference pool (piscina) ─► toEcs(flow, verdict) ─► sinks
 *
 * Live, the source is the stnn-afpacket capture thread (drops and counts when a ring is full);
 * with --pcap, a producer thread reads the files and waits for room (lossless). The main thread
 * gets no per-packet callback. When inference falls behind, flows beyond inference.max_backlog
 * are emitted at once as 'unclassified' (counted): capture never waits for the models.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { AfPacketCapture, compileFilter, LINKTYPE_ETHERNET, loadAfPacketAddon, type AfPacketStats } from '../capture/afpacket.js';
import { createRingBuffer, SpscRing } from '../capture/ring.js';
import { checkCaptures } from '../flow/extract.js';
import { toEcs, type FlowRecord, type Verdict } from '../flow/record.js';
import { N_FEATURES } from '../features/names.js';
import { InferencePool } from '../inference/pool.js';
import { siblingModule } from '../util/paths.js';
import { checkSinkPaths, createSinks, type MultiSink, type SinkStats } from '../sinks/sink.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../sinks/syslog-format.js';
import { fromWireError, StnnError } from '../util/errors.js';
import type { SensorConfig } from './config.js';
import { SensorMetrics, type MetricsSnapshot } from './metrics.js';
import {
  C_ACTIVE_FLOWS, C_BYTES, C_ENDED, C_PACKETS, C_STALLS, CTL_FLUSH, CTL_INFLIGHT, CTL_STOP, controlSlots, DECODE_COUNTERS, END_REASONS, N_COUNTERS,
  type ProducerSummary, type ProducerTask, type ShardMessage, type ShardTask,
} from './protocol.js';
import { batchPackr } from './shard-worker.js';

export interface SensorOptions {
  config: SensorConfig;
  /** Capture files to replay instead of live capture. */
  pcap?: string[];
  /** One line per event (start-up, reload, drain, errors). */
  log: (msg: string) => void;
}

/** What Sensor.check found: the applications of the model directory (none without models). */
export interface CheckResult {
  apps: string[];
}

export interface SensorSummary {
  packets: number;
  bytes: number;
  kernelDrops: number;
  ringDrops: number;
  records: number;
  verdicts: Record<string, number>;
  unclassified: Record<string, number>;
  ended: Record<string, number>;
  /**
   * Per output, after it was flushed and closed (what a memory backlog still held is dropped);
   * `truncated`: syslog messages cut to max_message_bytes.
   */
  sinks: ({ name: string; truncated: number } & SinkStats)[];
  producer?: ProducerSummary;
  /** Frames skipped per unknown link type (link type number → frames), over all shards. */
  skippedLinkTypes: Record<string, number>;
}

/** A syslog message limit that holds a verdict record with its 115 features (2.3-2.7 kB of JSON, plus the header). */
export const FEATURES_MESSAGE_BYTES = 4096;

/** The longest the outputs may take to deliver their backlog and close at exit (TimeoutStopSec is 60). */
export const OUTPUTS_CLOSE_MS = 15_000;

export const UNCLASSIFIED: Readonly<Verdict> = Object.freeze({ app: 'unclassified', confidence: 0, candidates: [], decided_by: 'none' });

export class Sensor {
  /** Capture files that ended in an error (not a capture, truncated, corrupt). */
  inputErrors = 0;
  /**
   * The exit status those errors call for, the highest of their codes' (StnnError.exitCode):
   * 2 for a stream that is not a capture or is cut inside its header (STNN_BAD_INPUT), 1 for
   * a capture truncated later on (its flows read before the damage are written); 0 without.
   */
  exitCode = 0;

  readonly done: Promise<SensorSummary>;
  metricsAddress: { host: string; port: number } | null = null;
  private readonly cfg: SensorConfig;
  private readonly log: (msg: string) => void;
  private readonly rings: SpscRing[] = [];
  private readonly counters: Float64Array[] = [];
  private readonly decode: Float64Array[] = [];
  private readonly control: Int32Array;
  private capture: AfPacketCapture | null = null;
  private captureStats: AfPacketStats | null = null;
  private sinks: MultiSink | null = null;
  private pool: InferencePool | null = null;
  private shardPool: Piscina | null = null;
  private producerPool: Piscina | null = null;
  private metrics: SensorMetrics | null = null;
  private readonly ports: MessagePort[] = [];
  private readonly shardTasks: Promise<unknown>[] = [];
  private shardsLeft = 0;
  private shardsDone!: () => void;
  private producer: Promise<ProducerSummary> | null = null;
  private stopping = false;
  // inference batching
  private pending: FlowRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private health: NodeJS.Timeout | null = null;
  private backlog = 0;
  private readonly inflight = new Set<Promise<void>>();
  private records = 0;
  private readonly verdicts: Record<string, number> = {};
  private readonly unclassified: Record<string, number> = { backlog: 0, no_model: 0, error: 0, not_tls: 0 };

  private constructor(opts: SensorOptions) {
    this.cfg = opts.config;
    this.log = opts.log;
    this.control = new Int32Array(new SharedArrayBuffer(controlSlots(this.cfg.capture.shards) * 4));
    const shardsDone = new Promise<void>((r) => (this.shardsDone = r));
    this.done = shardsDone.then(() => this.finish());
  }

  /**
   * Opens the capture (or checks the files), the sinks, the inference pool and the metrics
   * endpoint, then starts the shard workers and the packet source. Errors are StnnErrors
   * (bad config, missing interface or capability: exit 2); whatever was opened is closed.
   */
  static async start(opts: SensorOptions): Promise<Sensor> {
    const s = new Sensor(opts);
    try {
      await s.open(opts.pcap);
    } catch (e) {
      await s.teardown().catch(() => {});
      throw e;
    }
    return s;
  }

  /**
   * Every start-up check of start() (the interface and capability when live, the capture files
   * and the filter for a replay, the metrics address, the models, the outputs' paths), then
   * closes what it opened: no output is opened, no file or spool is made, nothing is sent.
   */
  static async check(opts: SensorOptions): Promise<CheckResult> {
    const s = new Sensor(opts);
    try {
      await s.open(opts.pcap, true);
      return { apps: s.pool?.apps ?? [] };
    } finally {
      await s.teardown().catch(() => {});
    }
  }

  private async open(pcap: string[] | undefined, checkOnly = false): Promise<void> {
    const { capture: cc, inference: ic } = this.cfg;
    const live = !pcap || pcap.length === 0;
    // Regular files are checked up front; FIFOs and pipes when the producer opens them.
    if (!live) checkCaptures(pcap!);
    // A replay checks the configuration the live sensor would run with: a filter that does not
    // compile is the live capture's error. Only when the addon is built: without it live capture
    // fails anyway (and says why), a replay does not need it. The filter is not applied to the
    // replayed frames.
    if (!live && cc.bpf && loadAfPacketAddon()) {
      try {
        compileFilter(cc.bpf, cc.snaplen, LINKTYPE_ETHERNET);
      } catch (e) {
        throw e instanceof StnnError ? new StnnError(e.code, `afpacket: ${e.message}`) : e;
      }
    }
    for (let k = 0; k < cc.shards; k++) {
      this.rings.push(new SpscRing(createRingBuffer(cc.ringBytes)));
      this.counters.push(new Float64Array(new SharedArrayBuffer(N_COUNTERS * 8)));
      this.decode.push(new Float64Array(new SharedArrayBuffer(DECODE_COUNTERS.length * 8)));
    }
    if (live) {
      this.capture = AfPacketCapture.open({
        interface: cc.interface,
        rings: this.rings,
        blockSize: cc.blockSize,
        blockCount: cc.blockCount,
        snapLen: cc.snaplen,
        promiscuous: cc.promiscuous,
        ...(cc.bpf ? { filter: cc.bpf } : {}),
        ...(cc.fanoutGroup !== null ? { fanoutGroup: cc.fanoutGroup } : {}),
      });
    }
    let metricsLine = '';
    if (this.cfg.metrics) {
      this.metrics = new SensorMetrics(() => this.snapshot());
      try {
        this.metricsAddress = await this.metrics.listen(this.cfg.metrics.host, this.cfg.metrics.port);
      } catch (e) {
        throw e instanceof StnnError ? new StnnError(e.code, `${this.cfg.file}: ${e.message}`) : e;
      }
      metricsLine = `metrics on http://${this.metricsAddress.host}:${this.metricsAddress.port}/metrics`;
    }
    // The models, and the sinks' paths, before any sink is opened: a bad model directory or
    // output path leaves no verdict file, spool directory or cursor behind.
    if (ic.models) {
      try {
        this.pool = await InferencePool.open({ dir: ic.models, backend: ic.backend, threads: ic.threads, log: this.log });
      } catch (e) {
        // named as every other configuration error: the file and the key, then why
        throw e instanceof StnnError ? new StnnError(e.code, `${this.cfg.file}: inference.models: ${e.message}`) : e;
      }
    }
    checkSinkPaths(this.cfg.outputs, this.cfg.file);
    for (const o of this.cfg.outputs) {
      // A record with its 115 features is 2.3-2.7 kB of JSON (measured on the shipped sample):
      // under a smaller limit every such message would be cut, and no longer parse.
      const limit = o.type === 'syslog' ? o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES : 0;
      if (o.type === 'syslog' && o.features && limit < FEATURES_MESSAGE_BYTES) {
        this.log(`warning: sink ${o.name ?? o.type}: features: true with max_message_bytes ${limit}: records with features are about 2.5 kB and will be cut (set max_message_bytes to ${FEATURES_MESSAGE_BYTES} or more)`);
      }
    }
    if (checkOnly) return;
    this.sinks = await createSinks(this.cfg.outputs.map((o) => ({ ...o, log: (m: string) => this.log(`sink ${m}`) })));
    if (this.pool) {
      this.log(`models from ${ic.models}: ${this.pool.apps.length} applications (${this.pool.apps.join(', ')}), ${ic.threads} inference thread(s)`);
    } else {
      this.log("no inference.models configured: features-only sensor, every verdict is 'unclassified'");
    }
    if (metricsLine) this.log(metricsLine);
    Atomics.store(this.control, CTL_FLUSH, this.cfg.shutdown.flushFlows ? 1 : 0);

    this.shardPool = new Piscina({
      filename: siblingModule(import.meta.url, 'shard-worker'),
      minThreads: cc.shards,
      maxThreads: cc.shards,
      idleTimeout: 2 ** 31 - 1,
    });
    this.shardsLeft = cc.shards;
    for (let k = 0; k < cc.shards; k++) {
      const ch = new MessageChannel();
      this.ports.push(ch.port1);
      ch.port1.on('message', (m: ShardMessage) => this.onShardMessage(m));
      const task: ShardTask = {
        shard: k,
        ringSab: this.rings[k]!.sab,
        countersSab: this.counters[k]!.buffer as SharedArrayBuffer,
        decodeSab: this.decode[k]!.buffer as SharedArrayBuffer,
        controlSab: this.control.buffer as SharedArrayBuffer,
        port: ch.port2,
        linkType: this.capture ? this.capture.linkType : 1,
        live,
        flow: {
          idleTimeout: this.cfg.flow.idleTimeout,
          activeTimeout: this.cfg.flow.activeTimeout,
          closedTimeout: this.cfg.flow.closedTimeout,
          maxFlows: this.cfg.flow.maxFlows,
          allFlows: this.cfg.flow.allFlows,
        },
        tunnels: this.cfg.flow.tunnels,
        batchSize: Math.min(ic.batchSize, 1024),
        maxWaitMs: Math.max(ic.maxWaitMs, 1),
      };
      this.shardTasks.push(
        this.shardPool.run(task, { transferList: [ch.port2] }).catch((e: Error) => {
          this.log(`shard ${k} failed: ${e.message}`);
          this.shardFinished(k);
        }),
      );
    }

    if (live) {
      this.capture!.start();
      this.log(`capturing on ${cc.interface} with ${cc.shards} shard(s)`);
      // The capture thread keeps running through socket errors (e.g. the link went down): say so.
      let lastError = '';
      this.health = setInterval(() => {
        if (!this.capture || this.captureStats) return;
        const e = this.capture.stats().lastError;
        if (e !== lastError) this.log(e ? `capture on ${cc.interface}: ${e}` : `capture on ${cc.interface}: recovered`);
        lastError = e;
      }, 2000);
      this.health.unref();
    } else {
      this.producerPool = new Piscina({ filename: siblingModule(import.meta.url, 'producer-worker'), minThreads: 1, maxThreads: 1 });
      const task: ProducerTask = {
        files: pcap!,
        ringSabs: this.rings.map((r) => r.sab),
        controlSab: this.control.buffer as SharedArrayBuffer,
      };
      this.producer = this.producerPool.run(task) as Promise<ProducerSummary>;
      this.producer.then(
        (p) => {
          for (const w of p.errors) this.inputError(fromWireError(w), 'capture file');
          // A reader cut short by a stop is not an input error (p.stopped: CTL_STOP was set).
          if (p.failed && !p.stopped) this.inputError(fromWireError(p.failed), 'pcap reader failed');
        },
        (e: Error) => {
          // The worker itself failed (it returns its reading errors): a runtime failure.
          if (!this.stopping) this.inputError(new StnnError('STNN_RUNTIME', e.message), 'pcap reader failed');
          for (const r of this.rings) r.close();
        },
      );
      this.log(`replaying ${pcap!.length} capture file(s) with ${cc.shards} shard(s)`);
    }
  }

  /** Logs one line and raises the exit status to the error's (2 bad input, 1 truncated or runtime). */
  private inputError(e: StnnError, what: string): void {
    this.inputErrors++;
    this.exitCode = Math.max(this.exitCode, e.exitCode);
    this.log(`${what}: ${e.message}`);
  }

  private readonly doneShards = new Set<number>();
  /** Frames skipped per unknown link type, from the shards' final decode counters. */
  private readonly skippedLinkTypes: Record<string, number> = {};
  private shardFinished(k: number): void {
    if (this.doneShards.has(k)) return;
    this.doneShards.add(k);
    this.ports[k]?.close();
    if (--this.shardsLeft === 0) this.shardsDone();
  }

  private onShardMessage(m: ShardMessage): void {
    if (m.type === 'batch') {
      const recs = batchPackr.unpack(new Uint8Array(m.buf)) as FlowRecord[];
      // Taken: the shard may post another (see MAX_INFLIGHT_BATCHES).
      Atomics.sub(this.control, CTL_INFLIGHT + m.shard, 1);
      Atomics.notify(this.control, CTL_INFLIGHT + m.shard);
      for (const r of recs) this.accept(r);
    } else if (m.type === 'done') {
      const lt = m.decode['skipped_linktypes'];
      if (lt && typeof lt === 'object') {
        for (const [t, n] of Object.entries(lt)) this.skippedLinkTypes[t] = (this.skippedLinkTypes[t] ?? 0) + n;
      }
      this.shardFinished(m.shard);
    }
  }

  private accept(rec: FlowRecord): void {
    this.records++;
    // flow.all_flows: the models are for TLS flows only; any other flow is written unscored.
    if (!rec.isTls) return this.emit(rec, UNCLASSIFIED, 'not_tls');
    if (!this.pool) return this.emit(rec, UNCLASSIFIED, 'no_model');
    if (this.backlog >= this.cfg.inference.maxBacklog) return this.emit(rec, UNCLASSIFIED, 'backlog');
    this.backlog++;
    this.pending.push(rec);
    if (this.pending.length >= this.cfg.inference.batchSize) this.submit();
    else if (!this.timer) this.timer = setTimeout(() => this.submit(), this.cfg.inference.maxWaitMs);
  }

  private emit(rec: FlowRecord, v: Verdict, cause?: string): void {
    if (cause) this.unclassified[cause] = (this.unclassified[cause] ?? 0) + 1;
    this.verdicts[v.app] = (this.verdicts[v.app] ?? 0) + 1;
    this.sinks!.write(toEcs(rec, v));
  }

  /** Sends the pending flows (up to one batch) to the inference pool. */
  private submit(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.cfg.inference.batchSize);
      const n = batch.length;
      const X = new Float32Array(n * N_FEATURES);
      for (let i = 0; i < n; i++) X.set(batch[i]!.features, i * N_FEATURES);
      this.metrics?.batchSize.observe(n);
      const t0 = performance.now();
      const p = this.pool!.classify(X, n).then(
        (vs) => {
          this.metrics?.latency.observe((performance.now() - t0) / 1000);
          for (let i = 0; i < n; i++) this.emit(batch[i]!, vs[i]!);
        },
        (e: Error) => {
          this.log(`inference failed for a batch of ${n} flows (emitted unclassified): ${e.message}`);
          for (const r of batch) this.emit(r, UNCLASSIFIED, 'error');
        },
      ).finally(() => {
        this.backlog -= n;
        this.inflight.delete(p);
      });
      this.inflight.add(p);
      if (this.pending.length < this.cfg.inference.batchSize) break;
    }
    if (this.pending.length > 0 && !this.timer) this.timer = setTimeout(() => this.submit(), this.cfg.inference.maxWaitMs);
  }

  /** SIGHUP: the inference threads load the model directory again; no flow is lost. */
  async reload(): Promise<void> {
    if (!this.pool) {
      this.log('reload: no inference.models configured, nothing to reload');
      return;
    }
    this.log(`reloading models from ${this.cfg.inference.models}`);
    await this.pool.reload();
  }

  /**
   * SIGTERM/SIGINT: stop the packet source; the shard workers drain their rings and end the
   * open flows as 'shutdown' when shutdown.flush_flows is set; `done` resolves when every
   * verdict is written and the sinks are flushed and closed.
   */
  stop(): Promise<SensorSummary> {
    if (!this.stopping) {
      this.stopping = true;
      this.log('stopping: draining the pipeline');
      Atomics.store(this.control, CTL_STOP, 1);
      if (this.capture) this.captureStats = this.capture.stop();
      // The producer closes the rings when it sees CTL_STOP; close them here too in case it is
      // blocked reading a FIFO or pipe (what it pushes after this is not read). Such a thread
      // cannot be interrupted: the process exits once the writer closes its end.
      else for (const r of this.rings) r.close();
    }
    return this.done;
  }

  private async finish(): Promise<SensorSummary> {
    if (this.capture && !this.captureStats) this.captureStats = this.capture.stop();
    this.stopping = true;
    const producer = this.producer
      ? await Promise.race([this.producer.catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000).unref())])
      : undefined;
    await Promise.all(this.shardTasks);
    while (this.pending.length > 0 || this.inflight.size > 0) {
      if (this.pending.length > 0) this.submit();
      await Promise.all([...this.inflight]);
    }
    const summary = this.summary();
    if (producer) summary.producer = producer;
    await this.teardown();
    summary.sinks = this.sinkStats();
    return summary;
  }

  private async teardown(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.health) clearInterval(this.health);
    if (this.capture && !this.captureStats) this.captureStats = this.capture.stop();
    if (this.sinks) {
      // One budget for the whole shutdown of the outputs, shared by all of them: each delivers
      // what its receiver takes (a syslog stream stops once the receiver has taken nothing for
      // 1 s), then closes; what is left is counted as dropped or stays in its spool.
      const deadline = Date.now() + OUTPUTS_CLOSE_MS;
      await this.sinks.close(deadline).catch((e: Error) => this.log(`sink close: ${e.message}`));
    }
    for (const p of this.ports) p.close();
    await Promise.all([
      this.pool?.close(),
      this.shardPool?.destroy(),
      // A producer blocked on a FIFO read cannot be joined; do not wait for it.
      this.producerPool ? Promise.race([this.producerPool.destroy(), new Promise((r) => setTimeout(r, 1000).unref())]) : undefined,
      this.metrics?.close(),
    ]);
  }

  private capStats(): AfPacketStats | null {
    return this.captureStats ?? (this.capture ? this.capture.stats() : null);
  }

  private summary(): SensorSummary {
    const s = this.snapshot();
    return {
      packets: s.packets, bytes: s.bytes, kernelDrops: s.kernelDrops, ringDrops: s.ringDrops, records: this.records,
      verdicts: { ...this.verdicts }, unclassified: { ...this.unclassified }, ended: s.ended, sinks: this.sinkStats(),
      skippedLinkTypes: { ...this.skippedLinkTypes }, // (integer keys: in numeric order)
    };
  }

  private sinkStats(): ({ name: string; truncated: number } & SinkStats)[] {
    return (this.sinks?.sinks ?? []).map((k) => {
      const { sent, errors, spooled, dropped, spoolBytes, truncated } = k.stats() as SinkStats & { truncated?: number };
      return { name: k.name, sent, errors, spooled, dropped, spoolBytes, truncated: truncated ?? 0 };
    });
  }

  /** Every counter summed over the shards, now. */
  snapshot(): MetricsSnapshot {
    let packets = 0, bytes = 0, active = 0, stalls = 0;
    const ended: Record<string, number> = {};
    for (const r of END_REASONS) ended[r] = 0;
    for (const c of this.counters) {
      packets += c[C_PACKETS]!;
      bytes += c[C_BYTES]!;
      active += c[C_ACTIVE_FLOWS]!;
      stalls += c[C_STALLS]!;
      END_REASONS.forEach((r, i) => (ended[r]! += c[C_ENDED + i]!));
    }
    const decode: Record<string, number> = {};
    DECODE_COUNTERS.forEach((name, i) => (decode[name] = this.decode.reduce((a, d) => a + d[i]!, 0)));
    const cs = this.capStats();
    const ringDrops = cs ? cs.ringDrops.reduce((a, b) => a + b, 0) : this.rings.reduce((a, r) => a + r.dropped, 0);
    const sinks = this.sinkStats();
    return {
      packets, bytes, kernelDrops: cs ? cs.kernelDrops : 0, ringDrops, loopbackDuplicates: cs ? cs.loopbackDuplicates : 0,
      activeFlows: active, ended, decode, shardStalls: stalls,
      verdicts: { ...this.verdicts }, unclassified: { ...this.unclassified }, sinks,
    };
  }
}
