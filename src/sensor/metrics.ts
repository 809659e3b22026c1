/**
 * Prometheus metrics (prom-client) on the sensor's own registry. The hot paths keep plain
 * counters (per-shard Float64Arrays, dotted names in protocol.ts); collect() sums a snapshot
 * of them when Prometheus scrapes. Only the two inference histograms are observed directly.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { StnnError } from '../util/errors.js';
import { END_REASONS } from './protocol.js';

export interface MetricsSnapshot {
  packets: number;
  bytes: number;
  kernelDrops: number;
  ringDrops: number;
  /** Live on a loopback interface: outgoing copies skipped (each packet is also seen incoming). */
  loopbackDuplicates: number;
  activeFlows: number;
  ended: Record<string, number>;
  /** DecodeCounters' fields summed over the shards: link layers, protocols, fragments, skips. */
  decode: Record<string, number>;
  /** Times a shard waited for the main thread to take its batches. */
  shardStalls: number;
  verdicts: Record<string, number>;
  /** Flows emitted unclassified, by why: backlog (inference behind), no_model, error, not_tls (flow.all_flows). */
  unclassified: Record<string, number>;
  sinks: { name: string; sent: number; errors: number; dropped: number; spoolBytes: number }[];
}

export class SensorMetrics {
  readonly registry = new Registry();
  readonly batchSize: Histogram;
  readonly latency: Histogram;
  private server: Server | null = null;

  constructor(snapshot: () => MetricsSnapshot) {
    const r = this.registry;
    let snap: MetricsSnapshot | null = null;
    let snapAt = 0;
    // One snapshot per scrape, shared by every metric's collect().
    const get = (): MetricsSnapshot => {
      const now = Date.now();
      if (!snap || now - snapAt > 200) {
        snap = snapshot();
        snapAt = now;
      }
      return snap;
    };
    const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter, s: MetricsSnapshot) => void) =>
      new Counter({ name, help, labelNames, registers: [r], collect() { this.reset(); fill(this, get()); } });
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, s: MetricsSnapshot) => void) =>
      new Gauge({ name, help, labelNames, registers: [r], collect() { this.reset(); fill(this, get()); } });

    counter('stnn_packets_total', 'Packets taken by the shard workers', [], (c, s) => c.inc(s.packets));
    counter('stnn_bytes_total', 'Wire bytes of those packets', [], (c, s) => c.inc(s.bytes));
    counter('stnn_kernel_drops_total', 'Packets the kernel dropped (PACKET_STATISTICS)', [], (c, s) => c.inc(s.kernelDrops));
    counter('stnn_ring_drops_total', 'Packets dropped because a shard ring was full', [], (c, s) => c.inc(s.ringDrops));
    counter('stnn_loopback_duplicates_total', 'Outgoing copies of loopback packets skipped (each is kept as received)', [], (c, s) => c.inc(s.loopbackDuplicates));
    gauge('stnn_active_flows', 'Flows held in the flow tables', [], (g, s) => g.set(s.activeFlows));
    counter('stnn_flows_ended_total', 'Flows ended, by reason', ['reason'], (c, s) => {
      for (const reason of END_REASONS) c.inc({ reason }, s.ended[reason] ?? 0);
    });
    counter('stnn_decode_total', 'Decoder counts by kind: link layers and protocols seen, fragments, frames skipped and why', ['kind'], (c, s) => {
      for (const [kind, n] of Object.entries(s.decode)) c.inc({ kind }, n);
    });
    counter('stnn_shard_stalls_total', 'Times a shard waited because the main thread was behind taking its flow batches', [], (c, s) => c.inc(s.shardStalls));
    counter('stnn_verdicts_total', 'Verdict records emitted, by application', ['application'], (c, s) => {
      for (const [application, n] of Object.entries(s.verdicts)) c.inc({ application }, n);
    });
    counter('stnn_unclassified_flows_total', 'Flows emitted without scoring, by cause', ['cause'], (c, s) => {
      for (const [cause, n] of Object.entries(s.unclassified)) c.inc({ cause }, n);
    });
    counter('stnn_sink_records_total', 'Records a sink delivered', ['sink'], (c, s) => {
      for (const k of s.sinks) c.inc({ sink: k.name }, k.sent);
    });
    counter('stnn_sink_errors_total', 'Sink failures (connect errors, link losses, refused records)', ['sink'], (c, s) => {
      for (const k of s.sinks) c.inc({ sink: k.name }, k.errors);
    });
    counter('stnn_sink_dropped_total', 'Records a sink dropped (backlog full, refused)', ['sink'], (c, s) => {
      for (const k of s.sinks) c.inc({ sink: k.name }, k.dropped);
    });
    gauge('stnn_sink_spool_bytes', 'Bytes waiting in a sink backlog (spool depth)', ['sink'], (g, s) => {
      for (const k of s.sinks) g.set({ sink: k.name }, k.spoolBytes);
    });
    this.batchSize = new Histogram({
      name: 'stnn_inference_batch_size', help: 'Flows per inference batch', registers: [r],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
    });
    this.latency = new Histogram({
      name: 'stnn_inference_latency_seconds', help: 'Time from submitting a batch to its verdicts', registers: [r],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
  }

  /** Serves GET /metrics on host:port; fails with STNN_CONFIG when the address cannot be bound. */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
        res.writeHead(404).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (e: Error) => res.writeHead(500).end(`${e.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new StnnError('STNN_CONFIG', `metrics.listen: cannot listen on ${host}:${port} (${e.code ?? e.message})`)));
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const a = server.address();
    return { host, port: typeof a === 'object' && a ? a.port : port };
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
}
