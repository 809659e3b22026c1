/**
 * Feature output formats of `stnn features`: JSON lines (ECS records), CSV (one
 * row per flow, a header of the feature names) and msgpack (for training sets).
 * Every format names the feature set: JSONL and msgpack in a first header record,
 * CSV in a leading '#' comment line and its column header.
 */
import { closeSync, writeSync } from 'node:fs';
import { openOutput } from '../cli/args.js';
import { writeFailed } from '../util/write-error.js';
import { Packr } from 'msgpackr';
import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../features/names.js';
import { ecsJson, type FlowRecord } from '../flow/record.js';

export type OutputFormat = 'jsonl' | 'csv' | 'msgpack';

export interface FlowWriter {
  write(f: FlowRecord): void;
  close(): Promise<void>;
}

export const HEADER_TYPE = 'stnn-features-header';

export function headerRecord(): Record<string, unknown> {
  return { '@metadata': { type: HEADER_TYPE, feature_set: FEATURE_SET_VERSION, feature_names: FEATURE_NAMES } };
}

export const CSV_META_COLUMNS = [
  'community_id', 'src_ip', 'src_port', 'dst_ip', 'dst_port', 'transport', 'vlan', 'start', 'end',
  'fwd_packets', 'fwd_bytes', 'bwd_packets', 'bwd_bytes', 'tls', 'sni', 'alpn', 'tls_version',
  'end_reason', 'handshake_packets', 'data_packets', 'file',
] as const;

/** RFC 4180 quoting: fields with comma, quote or line break are quoted, quotes doubled. */
export function csvField(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(f: FlowRecord): string {
  const meta: (string | number | undefined)[] = [
    f.communityId, f.srcIp, f.srcPort, f.dstIp, f.dstPort, f.transport, f.vlan,
    f.start.toFixed(6), f.end.toFixed(6), f.fwdPackets, f.fwdBytes, f.bwdPackets, f.bwdBytes,
    f.isTls ? 1 : 0, f.tls?.sni, f.tls?.alpnNegotiated, f.tls?.versionNegotiated,
    f.endReason, f.handshakePackets, f.dataPackets, f.file,
  ];
  const out = meta.map(csvField);
  for (let i = 0; i < f.features.length; i++) out.push(String(f.features[i]));
  return out.join(',') + '\n';
}

/**
 * Output is written synchronously (files with fs.writeSync through a 64 KiB
 * buffer; stdout, which Node writes synchronously for files and pipes on Linux),
 * so a long run never piles records up in memory behind a slow disk.
 */
class StreamWriter {
  private readonly fd: number | null;
  private readonly path: string;
  private failed = false;
  private pending: string[] = [];
  private pendingBytes = 0;
  constructor(path: string | undefined) {
    this.fd = path === undefined || path === '-' ? null : openOutput('out', path);
    this.path = path ?? '-';
  }
  /** Writes to the file; a failure is one StnnError naming the file (exit 1), never a stack trace. */
  private writeFile(data: string | Uint8Array): void {
    if (this.failed) return;
    try {
      // (two calls: writeSync's string and buffer overloads take no union)
      if (typeof data === 'string') writeSync(this.fd!, data);
      else writeSync(this.fd!, data);
    } catch (err) {
      this.failed = true;
      throw writeFailed(this.path, err);
    }
  }
  protected put(chunk: string | Uint8Array): void {
    if (this.fd === null) {
      process.stdout.write(chunk);
      return;
    }
    if (typeof chunk !== 'string') {
      this.drain();
      this.writeFile(chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= 65536) this.drain();
  }
  private drain(): void {
    if (this.fd === null || this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.writeFile(text);
  }
  close(): Promise<void> {
    try {
      this.drain();
    } finally {
      if (this.fd !== null) closeSync(this.fd);
    }
    return new Promise((resolve) => {
      if (this.fd === null) process.stdout.write('', () => resolve());
      else resolve();
    });
  }
}

class JsonlWriter extends StreamWriter implements FlowWriter {
  constructor(path?: string) {
    super(path);
    this.put(JSON.stringify(headerRecord()) + '\n');
  }
  write(f: FlowRecord): void {
    this.put(ecsJson(f) + '\n'); // JSON.stringify(toEcs(f)), built directly
  }
}

class CsvWriter extends StreamWriter implements FlowWriter {
  constructor(path?: string) {
    super(path);
    this.put(`# stnn feature_set=${FEATURE_SET_VERSION}\n`);
    this.put([...CSV_META_COLUMNS, ...FEATURE_NAMES].join(',') + '\n');
  }
  write(f: FlowRecord): void {
    this.put(csvRow(f));
  }
}

class MsgpackWriter extends StreamWriter implements FlowWriter {
  private readonly packr = new Packr({ useRecords: false });
  constructor(path?: string) {
    super(path);
    this.put(this.packr.pack({ type: HEADER_TYPE, feature_set: FEATURE_SET_VERSION, feature_names: FEATURE_NAMES }));
  }
  write(f: FlowRecord): void {
    const { features, ...rest } = f;
    this.put(this.packr.pack({ ...rest, features: Array.from(features) }));
  }
}

export function createWriter(format: OutputFormat, path?: string): FlowWriter {
  switch (format) {
    case 'jsonl': return new JsonlWriter(path);
    case 'csv': return new CsvWriter(path);
    case 'msgpack': return new MsgpackWriter(path);
  }
}
