import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { labelFor, loadLabelRules } from '../dataset/labels.js';
import { BACKGROUND, confusionMatrix, evalLabels, paperMetrics, UNKNOWN } from '../eval/metrics.js';
import { checkCaptures, extractFlows } from '../flow/extract.js';
import type { FlowRecord, Verdict } from '../flow/record.js';
import { Classifier } from '../inference/classifier.js';
import { parseBackendOption } from '../model/engine.js';
import { packageRoot } from '../util/paths.js';
import { parseCommand, type CommandSpec } from './args.js';
import { usageError } from '../util/errors.js';
import { addTally, classifyCaptures, tallyTable, type AppTally } from './classify.js';
import { formatSummary } from './features.js';

const root = packageRoot();
const options = {
  capture: { type: 'string', default: join(root, 'data', 'testbed', 'sample.pcap') },
  labels: { type: 'string', default: join(root, 'data', 'testbed', 'labels.yaml') },
  models: { type: 'string' },
  backend: { type: 'string' },
} as const;

const spec: CommandSpec<typeof options> = {
  usage: 'stnn demo [--capture FILE] [--labels FILE] [--models DIR]',
  summary:
    'The main job on the embedded default: reads the shipped capture, and classifies its TLS flows with ' +
    'the shipped model directory when there is one, printing a table per application and the accuracy ' +
    'against the capture\'s labels (its SNI rules). Without a model it prints the flows per labelled application.',
  options,
  help: {
    capture: 'capture to read (default: the shipped testbed sample)',
    labels: 'SNI label rules for the accuracy (default: the sample\'s)',
    models: 'model directory (default: the shipped models/default)',
    backend: 'TensorFlow.js backend: auto (the fastest available), node, wasm or cpu',
  },
};

/** The shipped files (absolute, under the package) shortened for display; a path the user gave, as given. */
const rel = (p: string) => (p.startsWith(root) ? relative(process.cwd(), p) || p : p);
const DEFAULT_MODELS = join(root, 'models', 'default');

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, spec);
  if (!parsed) return 0;
  const v = parsed.values;
  if (parsed.positionals.length) throw usageError(`demo: unexpected argument '${parsed.positionals[0]}' (use --capture FILE)`);
  const capture = v.capture!;
  // the shipped model is optional; a directory the user names must exist
  const modelsDir = v.models ?? DEFAULT_MODELS;
  const rules = loadLabelRules(v.labels!);
  checkCaptures([capture]); // a missing or foreign capture fails before any output (a FIFO when opened)
  const t0 = process.hrtime.bigint();
  const hasModel = v.models !== undefined || existsSync(join(modelsDir, 'manifest.json'));
  process.stdout.write(`stnn demo: ${rel(capture)}, labels ${rel(v.labels!)}\n`);

  if (!hasModel) {
    const byApp = new Map<string, FlowRecord[]>();
    const summary = await extractFlows([capture], {
      onFlow: (f) => {
        const app = labelFor(rules, f.tls?.sni);
        const list = byApp.get(app);
        if (list) list.push(f); else byApp.set(app, [f]);
      },
    });
    process.stdout.write(`no model shipped at ${rel(modelsDir)}: showing the TLS flows per labelled application (train one with 'stnn train', see the README)\n`);
    process.stdout.write(`${'application'.padEnd(14)} ${'flows'.padStart(5)} ${'pkts/flow'.padStart(10)} ${'kB/flow'.padStart(9)} ${'secs/flow'.padStart(9)} ${'TLS 1.3'.padStart(7)}\n`);
    for (const [app, fs] of [...byApp].sort()) {
      const n = fs.length;
      const pk = fs.reduce((s, f) => s + f.fwdPackets + f.bwdPackets, 0) / n;
      const kb = fs.reduce((s, f) => s + f.fwdBytes + f.bwdBytes, 0) / n / 1000;
      const secs = fs.reduce((s, f) => s + (f.end - f.start), 0) / n;
      const v13 = fs.filter((f) => f.tls?.versionNegotiated === 'TLSv1.3').length;
      process.stdout.write(`${app.padEnd(14)} ${String(n).padStart(5)} ${pk.toFixed(1).padStart(10)} ${kb.toFixed(1).padStart(9)} ${secs.toFixed(2).padStart(9)} ${String(v13).padStart(7)}\n`);
    }
    process.stdout.write('\n' + formatSummary(summary, Number(process.hrtime.bigint() - t0) / 1e9));
    return summary.errors.length ? 1 : 0;
  }

  const clf = await Classifier.load(modelsDir, parseBackendOption(v.backend));
  process.stdout.write(`model ${v.models ?? rel(modelsDir)}: ${clf.apps.length} applications (${clf.apps.join(', ')}), ${clf.manifest.arch.kind}/${clf.manifest.arch.size}, backend ${clf.backend}\n`);
  const apps = clf.apps;
  const truth: string[] = [];
  const pred: string[] = [];
  const tally = new Map<string, AppTally>();
  let summary;
  try {
    summary = await classifyCaptures([capture], clf, 256, (f: FlowRecord, verdict: Verdict) => {
      truth.push(labelFor(rules, f.tls?.sni));
      pred.push(verdict.app);
      addTally(tally, verdict);
    });
  } finally {
    clf.dispose();
  }
  process.stdout.write('\nverdicts per application:\n' + tallyTable(tally));
  process.stdout.write('\n' + accuracyLines(truth, pred, apps));
  process.stdout.write('\n' + formatSummary(summary, Number(process.hrtime.bigint() - t0) / 1e9));
  return summary.errors.length ? 1 : 0;
}

/**
 * The demo's accuracy against the labels, counted over the flows labelled with one of the model's
 * applications only: a flow labelled background, or with an application the model does not have,
 * is "right" as 'unknown' in the paper's metrics, so a model whose applications never occur in
 * the capture would score 100 % by rejecting everything. Those flows are reported on their own
 * line; with no flow of the model's applications there is no accuracy, and a warning says so.
 */
export function accuracyLines(truth: string[], pred: string[], apps: string[]): string {
  const modelled = new Set(apps);
  const idx = truth.map((t, i) => (modelled.has(t) ? i : -1)).filter((i) => i >= 0);
  const lines: string[] = [];
  const others = truth.length - idx.length;
  const outside = [...new Set(truth.filter((t) => !modelled.has(t) && t !== BACKGROUND))].sort();
  if (idx.length === 0) {
    lines.push(
      `warning: none of the ${truth.length} flows is labelled with one of the model's applications (${apps.join(', ')}): ` +
        `there is no accuracy to measure (labels here: ${[...new Set(truth)].sort().join(', ') || 'none'})`,
    );
  } else {
    const correct = idx.filter((i) => pred[i] === truth[i]).length;
    lines.push(`accuracy against the labels: ${correct}/${idx.length} flows of the model's applications = ${((100 * correct) / idx.length).toFixed(1)} %`);
    const e = evalLabels(truth, pred, apps);
    const m = paperMetrics(confusionMatrix(e.truth, e.pred, e.classes), e.classes);
    lines.push(`macroP ${m.macroP.toFixed(3)}  macroR ${m.macroR.toFixed(3)}  macroF1 ${m.macroF1.toFixed(3)}  average accuracy ${m.avgAccuracy.toFixed(3)}  unknown ${(100 * m.unknownRate).toFixed(1)} %`);
  }
  if (others > 0) {
    const rejected = truth.filter((t, i) => !modelled.has(t) && pred[i] === UNKNOWN).length;
    const what = outside.length ? `background or applications the model does not have (${outside.join(', ')})` : 'background';
    lines.push(`not counted: ${others} flow${others === 1 ? '' : 's'} labelled ${what}; ${rejected} of ${others === 1 ? 'it' : 'them'} called unknown`);
  }
  return lines.join('\n') + '\n';
}
