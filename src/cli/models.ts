/**
 * stnn models list --models DIR
 * stnn models remove --models DIR NAME…
 */
import { quantizeModelDir } from '../model/quantize.js';
import { listApps, removeApp } from '../model/registry.js';
import { usageError } from '../util/errors.js';
import { parseCommand, type CommandSpec } from './args.js';

const options = {
  models: { type: 'string', short: 'm' },
  json: { type: 'boolean', default: false },
  dtype: { type: 'string', default: 'uint8' },
} as const;

const spec: CommandSpec<typeof options> = {
  usage: 'stnn models list|remove|quantize --models DIR [NAME…]',
  summary:
    "'list' prints the model directory's architecture, feature set and applications with their " +
    "validation metrics and voting lists; 'remove NAME…' deletes those applications' models; " +
    "'quantize' stores every application's weights as 8-bit integers (4× smaller files, loaded as usual).",
  minPositionals: 1,
  options,
  help: {
    models: 'model directory (required)',
    json: 'list: print the manifest as JSON',
    dtype: 'quantize: uint8 (4× smaller) or uint16 (2×)',
  },
};

const fmt = (x: unknown, digits = 3) => (typeof x === 'number' ? x.toFixed(digits) : '-');

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, spec);
  if (!parsed) return 0;
  const v = parsed.values;
  const [sub, ...names] = parsed.positionals;
  if (!v.models) throw usageError('models: --models DIR is required');
  if (sub === 'list') {
    if (names.length) throw usageError(`models list: unexpected argument '${names[0]}'`);
    const { manifest, apps } = listApps(v.models);
    if (v.json) {
      process.stdout.write(JSON.stringify(manifest, null, 2) + '\n');
      return 0;
    }
    const out = [
      `models: ${v.models}`,
      `feature set ${manifest.featureSet}, architecture ${manifest.arch.kind}/${manifest.arch.size}, trained with tfjs ${manifest.engine.tfjs} (${manifest.engine.backend})`,
      `${apps.length} application(s)`,
    ];
    if (apps.length) {
      out.push(['app'.padEnd(24), 'trained at'.padEnd(24), 'train +/-'.padEnd(13), 'val acc', 'prec ', 'recall', 'voting list'].join(' '));
      for (const [app, e] of apps) {
        const d = e.dataSummary as Record<string, unknown>;
        out.push([
          app.padEnd(24), e.trainedAt.padEnd(24), `${String(d['trainPositive'] ?? '-')}/${String(d['trainNegative'] ?? '-')}`.padEnd(13),
          fmt(e.metrics['valAcc']).padEnd(7), fmt(e.metrics['valPrecision']).padEnd(5), fmt(e.metrics['valRecall']).padEnd(6),
          e.votingList.map((x) => x.toFixed(2)).join(' '),
        ].join(' '));
      }
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  }
  if (sub === 'remove') {
    if (names.length === 0) throw usageError('models remove: name the application(s) to remove');
    for (const name of names) {
      removeApp(v.models, name);
      process.stderr.write(`stnn: removed ${name} from ${v.models}\n`);
    }
    return 0;
  }
  if (sub === 'quantize') {
    if (names.length) throw usageError(`models quantize: unexpected argument '${names[0]}'`);
    const dtype = v.dtype as string;
    if (dtype !== 'uint8' && dtype !== 'uint16') throw usageError(`--dtype: expected uint8 or uint16, got '${dtype}'`);
    for (const r of quantizeModelDir(v.models, dtype)) {
      process.stderr.write('already' in r
        ? `stnn: ${r.app}: already quantized (${r.already}), left as it is\n`
        : `stnn: ${r.app}: ${r.before} → ${r.after} bytes of weights\n`);
    }
    return 0;
  }
  throw usageError(`models: expected 'list', 'remove' or 'quantize', got '${String(sub)}'`);
}
