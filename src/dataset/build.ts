/**
 * `stnn dataset build`: captures → TLS flows → features + label (SNI rules) + split → Dataset.
 *
 * The collecting part (DatasetBuilder) works on FlowRecords from any source, so it is tested on
 * synthetic flows; `buildDataset` feeds it from the flow engine's extractor.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { extractFlows, type ExtractSummary } from '../flow/extract.js';
import type { FlowRecord } from '../flow/record.js';
import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../features/names.js';
import { StnnError } from '../util/errors.js';
import { DATASET_FORMAT, type Dataset } from './io.js';
import { labelFor, type LabelRules } from './labels.js';
import { DEFAULT_FRACTIONS, splitDataset, type SplitBy } from './split.js';

export interface BuildOptions {
  /** SNI rules that label the flows (required unless `labelOf` is given). */
  rules?: LabelRules;
  /** Labels a flow another way (e.g. from nDPI's results, dataset/ndpi.ts); asked for kept rows only. */
  labelOf?: (f: FlowRecord) => string;
  splitBy: SplitBy;
  seed: number;
  fractions?: readonly [number, number, number];
  /** Rows from these capture files go to the test split whatever the fractions say. */
  testFiles?: ReadonlySet<string>;
  /** Feature names and version (default: the engine's). */
  names?: readonly string[];
  featureSet?: string;
}

export interface BuildCounts {
  /** Flows handed to the builder. */
  seen: number;
  /** Rows kept. */
  kept: number;
  /** Not TLS: the paper keeps TLS flows only. */
  skippedNotTls: number;
  /** A feature was NaN/±∞ (or out of float32 range). */
  skippedNonFinite: number;
  /** TLS flows without an SNI (kept, labelled background). */
  noSni: number;
}

/** Accumulates labelled rows; memory grows with the number of kept flows only. */
export class DatasetBuilder {
  readonly counts: BuildCounts = { seen: 0, kept: 0, skippedNotTls: 0, skippedNonFinite: 0, noSni: 0 };
  private readonly d: number;
  private X: Float32Array;
  private readonly y: string[] = [];
  private readonly file: string[] = [];
  private readonly sni: string[] = [];

  constructor(private readonly opts: BuildOptions) {
    if (!opts.rules && !opts.labelOf) throw new StnnError('STNN_USAGE', 'dataset build: no labelling (rules or labelOf)');
    this.d = (opts.names ?? FEATURE_NAMES).length;
    this.X = new Float32Array(this.d * 1024);
  }

  add(f: FlowRecord): void {
    this.counts.seen++;
    if (!f.isTls) {
      this.counts.skippedNotTls++;
      return;
    }
    if (f.features.length !== this.d) {
      throw new StnnError('STNN_RUNTIME', `dataset build: a flow has ${f.features.length} features, expected ${this.d}`);
    }
    const row = this.y.length;
    if ((row + 1) * this.d > this.X.length) {
      const bigger = new Float32Array(this.X.length * 2);
      bigger.set(this.X);
      this.X = bigger;
    }
    const base = row * this.d;
    for (let j = 0; j < this.d; j++) {
      const v = Math.fround(f.features[j]);
      if (!Number.isFinite(v)) {
        this.counts.skippedNonFinite++;
        return;
      }
      this.X[base + j] = v;
    }
    const sni = f.tls?.sni ?? '';
    if (!sni) this.counts.noSni++;
    this.y.push(this.opts.labelOf ? this.opts.labelOf(f) : labelFor(this.opts.rules!, sni));
    this.file.push(f.file ?? '');
    this.sni.push(sni);
    this.counts.kept++;
  }

  /** Splits and returns the dataset; `meta` is merged into the dataset's meta. */
  finish(meta: Record<string, unknown> = {}): Dataset {
    const n = this.y.length;
    const fractions = this.opts.fractions ?? DEFAULT_FRACTIONS;
    const split = splitDataset(this.y, this.file, { by: this.opts.splitBy, seed: this.opts.seed, fractions });
    const testFiles = this.opts.testFiles;
    if (testFiles && testFiles.size > 0) {
      for (let i = 0; i < n; i++) if (testFiles.has(this.file[i])) split[i] = 2;
    }
    return {
      format: DATASET_FORMAT,
      featureSet: this.opts.featureSet ?? FEATURE_SET_VERSION,
      names: [...(this.opts.names ?? FEATURE_NAMES)],
      n,
      X: this.X.slice(0, n * this.d),
      y: this.y.slice(),
      split,
      file: this.file.slice(),
      sni: this.sni.slice(),
      meta: {
        ...(this.opts.rules ? { labels: this.opts.rules.file, labelRules: this.opts.rules.rules.length } : {}),
        splitBy: this.opts.splitBy,
        seed: this.opts.seed,
        fractions: [...fractions],
        counts: { ...this.counts },
        ...meta,
      },
    };
  }
}

const CAPTURE_EXT = /\.(pcap|pcapng|cap)$/i;

/** Expands directories to the capture files directly inside them (sorted); files pass as given. */
export function expandCaptures(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      throw new StnnError('STNN_BAD_INPUT', `${p}: cannot open: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (st.isDirectory()) {
      const files = readdirSync(p).filter((f) => CAPTURE_EXT.test(f)).sort();
      if (files.length === 0) throw new StnnError('STNN_BAD_INPUT', `${p}: no .pcap/.pcapng/.cap files in this directory`);
      for (const f of files) out.push(join(p, f));
    } else {
      out.push(p);
    }
  }
  return out;
}

export interface BuildResult {
  dataset: Dataset;
  counts: BuildCounts;
  extract: ExtractSummary;
}

/** Runs the flow engine over the captures and builds the dataset. */
export async function buildDataset(
  captures: string[],
  opts: BuildOptions,
  onProgress?: Parameters<typeof extractFlows>[1]['onProgress'],
  testCaptures: string[] = [],
): Promise<BuildResult> {
  const testFiles = expandCaptures(testCaptures);
  const files = [...expandCaptures(captures), ...testFiles];
  const builder = new DatasetBuilder({ ...opts, testFiles: new Set([...(opts.testFiles ?? []), ...testFiles]) });
  const extract = await extractFlows(files, { onFlow: (f) => builder.add(f), onProgress });
  const dataset = builder.finish({
    captures: files.length,
    extract: {
      frames: extract.frames,
      flows: extract.flows,
      tlsFlows: extract.tlsFlows,
      errors: extract.errors.map((e) => e.message),
    },
  });
  return { dataset, counts: builder.counts, extract };
}
