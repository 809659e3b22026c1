/**
 * The sensor's YAML configuration: read, validated, defaults filled in. Every error is one
 * STNN_CONFIG line `<file>: <key>: <reason>` (exit 2); every value taken from the defaults is
 * reported once through `onDefault` so the start-up log says what the sensor really runs with.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { sinkConfigFrom } from '../sinks/config.js';
import type { SinkConfig } from '../sinks/sink.js';
import { BACKEND_NAMES, type BackendName } from '../model/engine.js';
import { StnnError } from '../util/errors.js';

export interface CaptureConfig {
  /** Interface to capture on; '' only in --pcap mode. */
  interface: string;
  shards: number;
  snaplen: number;
  promiscuous: boolean;
  /** tcpdump-style filter, '' for none. */
  bpf: string;
  blockSize: number;
  blockCount: number;
  /** PACKET_FANOUT group id, or null for none. */
  fanoutGroup: number | null;
  /** Bytes of each shard's ring (a power of two). */
  ringBytes: number;
}

export interface FlowConfig {
  idleTimeout: number;
  activeTimeout: number;
  closedTimeout: number;
  /** Per shard. */
  maxFlows: number;
  allFlows: boolean;
  tunnels: boolean;
}

export interface InferenceConfig {
  /** Model directory, or null: features-only sensor (every verdict 'unclassified'). */
  models: string | null;
  backend: BackendName;
  batchSize: number;
  maxWaitMs: number;
  maxBacklog: number;
  threads: number;
}

export interface SensorConfig {
  file: string;
  capture: CaptureConfig;
  flow: FlowConfig;
  inference: InferenceConfig;
  outputs: SinkConfig[];
  /** host and port of the Prometheus endpoint, or null when off. */
  metrics: { host: string; port: number } | null;
  shutdown: { flushFlows: boolean };
}

type Raw = Record<string, unknown>;

const SECTIONS = ['capture', 'flow', 'inference', 'outputs', 'metrics', 'shutdown'] as const;

const shown = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

class Reader {
  constructor(
    readonly file: string,
    readonly onDefault: (key: string, value: unknown) => void,
  ) {}

  fail(key: string, why: string): never {
    throw new StnnError('STNN_CONFIG', `${this.file}: ${key}: ${why}`);
  }

  section(root: Raw, name: string, keys: readonly string[]): Raw {
    const v = root[name];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(name, `expected a mapping, got ${shown(v)}`);
    for (const k of Object.keys(v as Raw)) {
      if (!keys.includes(k)) this.fail(`${name}.${k}`, `unknown key (allowed: ${keys.join(', ')})`);
    }
    return v as Raw;
  }

  private dflt<T>(key: string, value: T): T {
    this.onDefault(key, value);
    return value;
  }

  int(o: Raw, key: string, name: string, min: number, max: number, dflt: number): number {
    const v = o[name];
    if (v === undefined || v === null) return this.dflt(`${key}.${name}`, dflt);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(`${key}.${name}`, `expected an integer from ${min} to ${max}, got ${shown(v)}`);
    }
    return v as number;
  }

  num(o: Raw, key: string, name: string, min: number, max: number, dflt: number): number {
    const v = o[name];
    if (v === undefined || v === null) return this.dflt(`${key}.${name}`, dflt);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.fail(`${key}.${name}`, `expected a number from ${min} to ${max}, got ${shown(v)}`);
    }
    return v as number;
  }

  bool(o: Raw, key: string, name: string, dflt: boolean): boolean {
    const v = o[name];
    if (v === undefined || v === null) return this.dflt(`${key}.${name}`, dflt);
    if (typeof v !== 'boolean') this.fail(`${key}.${name}`, `expected true or false, got ${shown(v)}`);
    return v as boolean;
  }

  str(o: Raw, key: string, name: string, dflt: string | null): string | null {
    const v = o[name];
    if (v === undefined || v === null) return dflt === null ? null : this.dflt(`${key}.${name}`, dflt);
    if (typeof v !== 'string') this.fail(`${key}.${name}`, `expected a string, got ${shown(v)}`);
    return v as string;
  }
}

const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

export interface LoadOptions {
  /** --pcap mode: capture.interface is not needed. */
  pcap?: boolean;
  onDefault?: (key: string, value: unknown) => void;
}

/** Reads and validates a config file. */
export function loadConfig(file: string, opts: LoadOptions = {}): SensorConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StnnError('STNN_CONFIG', `${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(e)})`}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new StnnError('STNN_CONFIG', `${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return configFrom(doc ?? {}, file, opts);
}

/** Validates a parsed document (`file` names it in errors). */
export function configFrom(doc: unknown, file: string, opts: LoadOptions = {}): SensorConfig {
  const r = new Reader(file, opts.onDefault ?? (() => {}));
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) r.fail('(top level)', `expected a mapping of ${SECTIONS.join(', ')}`);
  const root = doc as Raw;
  for (const k of Object.keys(root)) {
    if (!(SECTIONS as readonly string[]).includes(k)) r.fail(k, `unknown section (allowed: ${SECTIONS.join(', ')})`);
  }

  const c = r.section(root, 'capture', [
    'interface', 'shards', 'snaplen', 'promiscuous', 'bpf', 'block_size', 'block_count', 'fanout_group', 'ring_bytes',
  ]);
  let iface = r.str(c, 'capture', 'interface', null);
  if (iface === null || iface === '') {
    if (!opts.pcap) r.fail('capture.interface', 'missing (the interface to capture on, e.g. eth0; or run with --pcap FILE)');
    iface = '';
  } else if (iface.length > 15 || /[\s/]/.test(iface)) {
    r.fail('capture.interface', `not an interface name, got ${shown(iface)}`);
  }
  const blockSize = r.int(c, 'capture', 'block_size', 4096, 1 << 30, 1 << 20);
  if (!pow2(blockSize)) r.fail('capture.block_size', `expected a power of two (a whole number of pages), got ${blockSize}`);
  const ringBytes = r.int(c, 'capture', 'ring_bytes', 1 << 16, 1 << 30, 1 << 24);
  if (!pow2(ringBytes)) r.fail('capture.ring_bytes', `expected a power of two, got ${ringBytes}`);
  const fanout = c['fanout_group'];
  let fanoutGroup: number | null = null;
  if (fanout !== undefined && fanout !== null) fanoutGroup = r.int(c, 'capture', 'fanout_group', 0, 65535, 0);
  const capture: CaptureConfig = {
    interface: iface,
    shards: r.int(c, 'capture', 'shards', 1, 64, 2),
    snaplen: r.int(c, 'capture', 'snaplen', 96, 262144, 65535),
    promiscuous: r.bool(c, 'capture', 'promiscuous', true),
    bpf: r.str(c, 'capture', 'bpf', '') ?? '',
    blockSize,
    blockCount: r.int(c, 'capture', 'block_count', 2, 65536, 64),
    fanoutGroup,
    ringBytes,
  };

  const f = r.section(root, 'flow', ['idle_timeout', 'active_timeout', 'closed_timeout', 'max_flows', 'all_flows', 'tunnels']);
  const flow: FlowConfig = {
    idleTimeout: r.num(f, 'flow', 'idle_timeout', 1, 86400, 120),
    activeTimeout: r.num(f, 'flow', 'active_timeout', 1, 86400 * 7, 1800),
    closedTimeout: r.num(f, 'flow', 'closed_timeout', 0, 3600, 5),
    maxFlows: r.int(f, 'flow', 'max_flows', 1, 1 << 24, 262144),
    allFlows: r.bool(f, 'flow', 'all_flows', false),
    tunnels: r.bool(f, 'flow', 'tunnels', true),
  };

  const i = r.section(root, 'inference', ['models', 'backend', 'batch_size', 'max_wait_ms', 'max_backlog', 'threads']);
  // Given but empty (`models:` is a YAML null, or "") is a mistake, not "no models": it would
  // silently turn every verdict into 'unclassified'. Leaving the key out means no models.
  if (Object.hasOwn(i, 'models') && (i['models'] === null || (typeof i['models'] === 'string' && i['models'].trim() === ''))) {
    r.fail('inference.models', 'empty (omit the key to run without models)');
  }
  const models = r.str(i, 'inference', 'models', null);
  const backend = r.str(i, 'inference', 'backend', 'wasm') as string;
  if (!(BACKEND_NAMES as readonly string[]).includes(backend)) {
    r.fail('inference.backend', `expected one of ${BACKEND_NAMES.join(', ')}, got ${shown(backend)}`);
  }
  const inference: InferenceConfig = {
    models,
    backend: backend as BackendName,
    batchSize: r.int(i, 'inference', 'batch_size', 1, 65536, 256),
    maxWaitMs: r.int(i, 'inference', 'max_wait_ms', 0, 60_000, 50),
    maxBacklog: r.int(i, 'inference', 'max_backlog', 1, 10_000_000, 20_000),
    threads: r.int(i, 'inference', 'threads', 1, 64, 1),
  };

  const o = root['outputs'];
  let outputs: SinkConfig[];
  if (o === undefined || o === null) {
    outputs = [{ type: 'jsonl', path: '-' }];
    r.onDefault('outputs', '[{type: jsonl, path: -}] (JSON lines on stdout)');
  } else {
    if (!Array.isArray(o) || o.length === 0) r.fail('outputs', `expected a non-empty list of sinks (jsonl, syslog, kafka, null), got ${shown(o)}`);
    outputs = (o as unknown[]).map((s, k) => {
      try {
        return sinkConfigFrom(s, `outputs[${k}]`);
      } catch (e) {
        if (e instanceof StnnError) throw new StnnError('STNN_CONFIG', `${file}: ${e.message}`);
        throw e;
      }
    });
    // Every output has its own name: it labels its metrics, its log lines and its exit summary
    // line. An unnamed one is named after its type, with -2, -3 … when the type repeats.
    const taken = new Map<string, number>();
    outputs.forEach((c, k) => {
      if (c.name === undefined) return;
      if (taken.has(c.name)) r.fail(`outputs[${k}].name`, `'${c.name}' is also the name of outputs[${taken.get(c.name)}] (names label the metrics and logs of each output)`);
      taken.set(c.name, k);
    });
    outputs.forEach((c, k) => {
      if (c.name !== undefined) return;
      let name: string = c.type;
      for (let n = 2; taken.has(name); n++) name = `${c.type}-${n}`;
      c.name = name;
      taken.set(name, k);
    });
    // Two jsonl outputs on one file (or both on stdout) would interleave and clobber each
    // other's lines: same resolved path, or the same device and inode when the file exists.
    const files: { key: string; id: string; dev?: string }[] = [];
    outputs.forEach((c, k) => {
      if (c.type !== 'jsonl' || typeof c.path !== 'string' || c.path === '') return;
      const id = c.path === '-' ? '-' : resolvePath(c.path);
      let dev: string | undefined;
      if (id !== '-') {
        try {
          const st = statSync(id);
          dev = `${st.dev}:${st.ino}`;
        } catch {
          // not there yet: the resolved path alone decides
        }
      }
      const same = files.find((f) => f.id === id || (dev !== undefined && f.dev === dev));
      if (same) r.fail(`outputs[${k}].path`, `the same file as ${same.key}.path`);
      files.push({ key: `outputs[${k}]`, id, dev });
    });
  }

  let metrics: SensorConfig['metrics'];
  const m = r.section(root, 'metrics', ['listen']);
  const listen = r.str(m, 'metrics', 'listen', '127.0.0.1:9464')!;
  if (listen === 'off') metrics = null;
  else {
    const mm = /^(\[[0-9a-fA-F:.]+\]|[^:\s\[\]]+):(\d{1,5})$/.exec(listen);
    const port = mm ? Number(mm[2]) : NaN;
    if (!mm || port < 0 || port > 65535) r.fail('metrics.listen', `expected host:port (e.g. 127.0.0.1:9464) or off, got ${shown(listen)}`);
    metrics = { host: mm![1]!.replace(/^\[|\]$/g, ''), port };
  }

  const s = r.section(root, 'shutdown', ['flush_flows']);
  const shutdown = { flushFlows: r.bool(s, 'shutdown', 'flush_flows', true) };

  return { file, capture, flow, inference, outputs, metrics, shutdown };
}
