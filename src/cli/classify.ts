import { checkCaptures, extractFlows, type ExtractSummary } from '../flow/extract.js';
import { toEcs, type FlowRecord, type Verdict } from '../flow/record.js';
import { Classifier } from '../inference/classifier.js';
import { parseBackendOption } from '../model/engine.js';
import { usageError } from '../util/errors.js';
import { writeFailed } from '../util/write-error.js';
import { checkOutputPath, intOption, openOutput, parseCommand, type CommandSpec } from './args.js';
import { formatSummary } from './features.js';
import { Progress } from './progress.js';
import { closeSync, writeSync } from 'node:fs';

const options = {
  models: { type: 'string', short: 'm' },
  out: { type: 'string', short: 'o' },
  batch: { type: 'string' },
  backend: { type: 'string' },
  features: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
} as const;

const spec: CommandSpec<typeof options> = {
  usage: 'stnn classify <capture…> --models DIR [--out FILE] [--batch N] [--backend auto|node|wasm|cpu]',
  summary:
    'Classifies the TLS flows of captures with the one-class models of DIR and the voting list: ' +
    'one verdict record (ECS JSON line) per flow; a summary per application on stderr.',
  options,
  help: {
    models: 'model directory (manifest.json + one model per application)',
    out: 'write verdict records to FILE instead of stdout',
    batch: 'flows scored per forward pass (default 256)',
    backend: 'TensorFlow.js backend: auto (the fastest available), node, wasm or cpu',
    features: 'include the 115 features in each record',
    quiet: 'no summary on stderr',
  },
};

export interface AppTally {
  flows: number;
  bySingle: number;
  byVote: number;
  confidence: number;
}

export function tallyTable(tally: Map<string, AppTally>): string {
  const rows = [...tally.entries()].sort((a, b) => b[1].flows - a[1].flows);
  const total = rows.reduce((s, [, t]) => s + t.flows, 0);
  const lines = [`${'application'.padEnd(16)} ${'flows'.padStart(7)} ${'share'.padStart(7)} ${'single'.padStart(7)} ${'vote'.padStart(7)} ${'mean conf'.padStart(9)}`];
  for (const [app, t] of rows) {
    lines.push(`${app.padEnd(16)} ${String(t.flows).padStart(7)} ${((100 * t.flows) / Math.max(1, total)).toFixed(1).padStart(6)}% ${String(t.bySingle).padStart(7)} ${String(t.byVote).padStart(7)} ${(t.confidence / Math.max(1, t.flows)).toFixed(3).padStart(9)}`);
  }
  return lines.join('\n') + '\n';
}

export function addTally(tally: Map<string, AppTally>, v: Verdict): void {
  const t = tally.get(v.app) ?? { flows: 0, bySingle: 0, byVote: 0, confidence: 0 };
  t.flows++;
  if (v.decided_by === 'single') t.bySingle++;
  if (v.decided_by === 'vote') t.byVote++;
  t.confidence += v.confidence;
  tally.set(v.app, t);
}

/**
 * Runs extraction and classification together: flows are scored in batches as
 * they end, so memory stays bounded on large captures.
 */
export async function classifyCaptures(
  files: string[],
  clf: Classifier,
  batch: number,
  onVerdict: (f: FlowRecord, v: Verdict) => void,
  onProgress?: Parameters<typeof extractFlows>[1]['onProgress'],
): Promise<ExtractSummary> {
  let pending: FlowRecord[] = [];
  const flush = async () => {
    const all = pending;
    pending = [];
    for (let i = 0; i < all.length; i += batch) {
      const chunk = all.slice(i, i + batch);
      const verdicts = await clf.classifyRecords(chunk);
      chunk.forEach((f, j) => onVerdict(f, verdicts[j]));
    }
  };
  return extractFlows(files, {
    onFlow: (f) => { pending.push(f); },
    drain: flush,
    onProgress,
  });
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, spec);
  if (!parsed) return 0;
  const v = parsed.values;
  const files = parsed.positionals;
  if (files.length === 0) throw usageError(`missing capture file: ${spec.usage}`);
  if (!v.models) throw usageError('--models: required (a directory made by stnn train)');
  const batch = intOption('batch', v.batch, 256, 1, 65536);
  const backend = parseBackendOption(v.backend);
  if (v.out && v.out !== '-') checkOutputPath('out', v.out, files); // never over an input capture
  checkCaptures(files);
  const clf = await Classifier.load(v.models, backend);
  // the output opens (and an existing file is emptied) only once the models and the backend are up
  let fd: number | null;
  try {
    fd = v.out && v.out !== '-' ? openOutput('out', v.out) : null;
  } catch (err) {
    clf.dispose();
    throw err;
  }
  if (!v.quiet) process.stderr.write(`stnn: ${clf.apps.length} application${clf.apps.length === 1 ? '' : 's'} (${clf.apps.join(', ')}), backend ${clf.backend}\n`);
  const put = (s: string) => {
    if (fd === null) {
      process.stdout.write(s); // a failure: bin/stnn.js's stdout error handler (one line, exit 1)
      return;
    }
    try {
      writeSync(fd, s);
    } catch (err) {
      throw writeFailed(v.out!, err);
    }
  };
  const tally = new Map<string, AppTally>();
  const progress = new Progress(!v.quiet && process.stderr.isTTY === true);
  const t0 = process.hrtime.bigint();
  let summary: ExtractSummary;
  try {
    summary = await classifyCaptures(files, clf, batch, (f, verdict) => {
      addTally(tally, verdict);
      put(JSON.stringify(toEcs(f, verdict, { features: v.features })) + '\n');
    }, (p) => progress.update(p.fileIndex + p.bytesRead / Math.max(1, p.totalBytes), p.files, p.file, p.frames));
  } finally {
    progress.done();
    if (fd !== null) closeSync(fd);
    clf.dispose();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!v.quiet) {
    process.stderr.write(formatSummary(summary, secs));
    process.stderr.write(tallyTable(tally));
  } else {
    for (const e of summary.errors) process.stderr.write(`stnn: ${e.message}\n`);
  }
  return summary.errors.length ? 1 : 0;
}
