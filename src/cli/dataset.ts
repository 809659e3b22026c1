/**
 * stnn dataset build <captures…> --labels FILE --out FILE [--split-by flow|file] [--seed N] [--fractions a,b,c]
 * stnn dataset info <dataset> [--json]
 */
import { buildDataset } from '../dataset/build.js';
import { readDataset, type Dataset } from '../dataset/io.js';
import { loadLabelRules } from '../dataset/labels.js';
import { DEFAULT_FRACTIONS, parseFractions, splitCounts, SPLIT_NAMES, type SplitBy } from '../dataset/split.js';
import { writeDataset } from '../dataset/io.js';
import { usageError } from '../util/errors.js';
import { checkOutputPath, intOption, parseCommand, type CommandSpec } from './args.js';
import { formatSummary } from './features.js';
import { Progress } from './progress.js';

const buildOptions = {
  labels: { type: 'string' },
  out: { type: 'string', short: 'o' },
  'split-by': { type: 'string', default: 'flow' },
  seed: { type: 'string', default: '1' },
  fractions: { type: 'string', default: DEFAULT_FRACTIONS.join(',') },
  'test-captures': { type: 'string', multiple: true },
  quiet: { type: 'boolean', short: 'q', default: false },
} as const;

const buildSpec: CommandSpec<typeof buildOptions> = {
  usage: 'stnn dataset build <capture|dir…> --labels FILE --out FILE [--split-by flow|file] [--seed N]',
  summary:
    'Extracts the TLS flows of the captures (directories: their .pcap/.pcapng/.cap files), labels each ' +
    'flow from its SNI with the YAML rules (unmatched → background; the SNI is kept for auditing, never ' +
    'a feature), splits the flows into train/validation/test with a seed, and writes a dataset file.',
  minPositionals: 1,
  options: buildOptions,
  help: {
    labels: 'YAML label rules (see conf/labels.example.yaml); required',
    out: 'dataset file to write (msgpack); required',
    'split-by': "'flow': stratified per class; 'file': each capture whole in one split (no leakage between flows of a session)",
    seed: 'seed of the split (integer)',
    fractions: 'train,validation,test shares (with --test-captures, e.g. 0.85,0.15,0)',
    'test-captures': 'capture or directory whose flows all go to the test split (repeatable): a test set from other sessions',
    quiet: 'no summary on stderr',
  },
};

const infoOptions = {
  json: { type: 'boolean', default: false },
} as const;

const infoSpec: CommandSpec<typeof infoOptions> = {
  usage: 'stnn dataset info <dataset>',
  summary: 'Prints what a dataset file holds: feature set, row count, labelling and split settings, and flows per class per split.',
  minPositionals: 1,
  options: infoOptions,
  help: { json: 'print the same as JSON' },
};

const TOP_USAGE =
  'usage: stnn dataset <build|info> …\n\n' +
  '  build <capture|dir…> --labels FILE --out FILE [--split-by flow|file] [--seed N]   make a labelled, split dataset\n' +
  '  info <dataset>                                                                   flows per class per split\n\n' +
  "'stnn dataset build --help' and 'stnn dataset info --help' give the options.\n";

export async function run(argv: string[]): Promise<number> {
  const sub = argv[0];
  if (sub === undefined) {
    process.stderr.write(TOP_USAGE);
    return 2;
  }
  if (sub === '--help' || sub === '-h') {
    process.stdout.write(TOP_USAGE);
    return 0;
  }
  if (sub === 'build') return build(argv.slice(1));
  if (sub === 'info') return info(argv.slice(1));
  throw usageError(`dataset: unknown subcommand '${sub}' (expected build or info)`);
}

async function build(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, buildSpec);
  if (!parsed) return 0;
  const v = parsed.values;
  if (!v.labels) throw usageError('dataset build: --labels FILE is required');
  if (!v.out) throw usageError('dataset build: --out FILE is required');
  // before the captures are read, not after; never over an input
  checkOutputPath('out', v.out, [...parsed.positionals, ...((v['test-captures'] as string[] | undefined) ?? []), v.labels]);
  const splitBy = v['split-by'] as string;
  if (splitBy !== 'flow' && splitBy !== 'file') throw usageError(`--split-by: expected 'flow' or 'file', got '${splitBy}'`);
  const seed = intOption('seed', v.seed, 1, 0, 0xffffffff);
  const fractions = parseFractions(v.fractions as string);
  const rules = loadLabelRules(v.labels); // fail on bad rules before reading captures
  const progress = new Progress(!v.quiet && process.stderr.isTTY === true);
  const t0 = process.hrtime.bigint();
  let result;
  try {
    result = await buildDataset(parsed.positionals, { rules, splitBy: splitBy as SplitBy, seed, fractions }, (p) =>
      progress.update(p.fileIndex + p.bytesRead / Math.max(1, p.totalBytes), p.files, p.file, p.frames),
    (v['test-captures'] as string[] | undefined) ?? []);
  } finally {
    progress.done();
  }
  writeDataset(v.out, result.dataset);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!v.quiet) {
    process.stderr.write(formatSummary(result.extract, secs));
    const c = result.counts;
    process.stderr.write(
      `stnn: dataset ${v.out}: ${c.kept} flows (TLS flows without SNI: ${c.noSni}, skipped with non-finite features: ${c.skippedNonFinite})\n`,
    );
    process.stderr.write(countsTable(result.dataset));
    for (const w of splitWarnings(result.dataset)) process.stderr.write(`stnn: warning: ${w}\n`);
  } else {
    for (const e of result.extract.errors) process.stderr.write(`stnn: ${e.message}\n`);
  }
  return result.extract.errors.length ? 1 : 0;
}

export interface DatasetInfo {
  path: string;
  format: string;
  featureSet: string;
  features: number;
  flows: number;
  files: number;
  withSni: number;
  meta: Record<string, unknown>;
  classes: { cls: string; train: number; validation: number; test: number; total: number }[];
  totals: { train: number; validation: number; test: number; total: number };
}

export function datasetInfo(ds: Dataset, path: string): DatasetInfo {
  const counts = splitCounts(ds.y, ds.split);
  const classes = [...counts.entries()]
    .map(([cls, c]) => ({ cls, train: c[0], validation: c[1], test: c[2], total: c[0] + c[1] + c[2] }))
    .sort((a, b) => (a.cls === 'background' ? 1 : 0) - (b.cls === 'background' ? 1 : 0) || b.total - a.total || (a.cls < b.cls ? -1 : 1));
  const totals = { train: 0, validation: 0, test: 0, total: 0 };
  for (const c of classes) {
    totals.train += c.train;
    totals.validation += c.validation;
    totals.test += c.test;
    totals.total += c.total;
  }
  return {
    path,
    format: ds.format,
    featureSet: ds.featureSet,
    features: ds.names.length,
    flows: ds.n,
    files: new Set(ds.file).size,
    withSni: ds.sni.filter((s) => s !== '').length,
    meta: ds.meta,
    classes,
    totals,
  };
}

/** Applications that some split lacks (training needs train and validation flows of an app). */
export function splitWarnings(ds: Dataset): string[] {
  const info = datasetInfo(ds, '');
  const apps = info.classes.filter((c) => c.cls !== 'background');
  const out: string[] = [];
  const noVal = apps.filter((c) => c.validation === 0).map((c) => c.cls);
  const noTest = apps.filter((c) => c.test === 0).map((c) => c.cls);
  if (noVal.length) {
    const advice = ds.meta?.splitBy === 'file' ? 'use --split-by flow or more captures' : 'label more flows of it or give validation a larger share (--fractions)';
    out.push(`no validation flows for ${noVal.join(', ')}: training needs them (early stopping, voting list); ${advice}`);
  }
  if (noTest.length) out.push(`no test flows for ${noTest.join(', ')}: 'stnn eval' cannot measure them`);
  return out;
}

export function countsTable(ds: Dataset): string {
  const info = datasetInfo(ds, '');
  const w = Math.max(5, ...info.classes.map((c) => c.cls.length));
  const head = ['class'.padEnd(w), ...SPLIT_NAMES.map((s) => s.padStart(10)), 'total'.padStart(10)].join(' ');
  const row = (name: string, c: { train: number; validation: number; test: number; total: number }) =>
    [name.padEnd(w), ...[c.train, c.validation, c.test, c.total].map((x) => String(x).padStart(10))].join(' ');
  return [head, ...info.classes.map((c) => row(c.cls, c)), row('all', info.totals)].join('\n') + '\n';
}

async function info(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, infoSpec);
  if (!parsed) return 0;
  if (parsed.positionals.length !== 1) throw usageError(`dataset info: expected one dataset file, got ${parsed.positionals.length}`);
  const path = parsed.positionals[0];
  const ds = readDataset(path);
  const i = datasetInfo(ds, path);
  if (parsed.values.json) {
    process.stdout.write(JSON.stringify(i, null, 2) + '\n');
    return 0;
  }
  const m = ds.meta;
  const lines = [
    `${path}: ${i.format}, feature set ${i.featureSet} (${i.features} features)`,
    `${i.flows} flows from ${i.files} capture files, ${i.withSni} with an SNI`,
  ];
  if (m.labels !== undefined) lines.push(`labels ${String(m.labels)}, split by ${String(m.splitBy)}, seed ${String(m.seed)}, fractions ${String(m.fractions)}`);
  process.stdout.write(lines.join('\n') + '\n\n' + countsTable(ds));
  for (const w of splitWarnings(ds)) process.stdout.write(`warning: ${w}\n`);
  return 0;
}
