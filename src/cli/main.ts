import { StnnError } from '../util/errors.js';

export { onStdoutError } from '../util/write-error.js';

type Runner = (argv: string[]) => Promise<number>;

/** Commands load lazily so `stnn features` never pays for TensorFlow. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Runner> }> = {
  demo: {
    summary: 'the main job on the embedded default: the shipped capture (and model) — what npm start runs',
    load: async () => (await import('./demo.js')).run,
  },
  features: {
    summary: 'write the 115 STNN features of the TLS flows in captures (jsonl, csv, msgpack)',
    load: async () => (await import('./features.js')).run,
  },
  dataset: {
    summary: 'build a labelled training set from captures (dataset build), or describe one (dataset info)',
    load: async () => (await import('./dataset.js')).run,
  },
  train: {
    summary: 'train one-class models (one per application) and their voting lists into a model directory',
    load: async () => (await import('./train.js')).run,
  },
  models: {
    summary: 'list or remove the applications of a model directory, or quantize its weights to 8 bits',
    load: async () => (await import('./models.js')).run,
  },
  classify: {
    summary: 'classify the TLS flows of captures with a model directory: verdict records as JSON lines',
    load: async () => (await import('./classify.js')).run,
  },
  sensor: {
    summary: 'the live sensor: AF_PACKET (or --pcap) → flow workers → batched inference → sinks, with metrics',
    load: async () => (await import('./sensor.js')).run,
  },
  eval: {
    summary: 'evaluate a model directory on a dataset: the paper\'s metrics, voting list vs max P, baselines',
    load: async () => (await import('./eval.js')).run,
  },
};

function usage(): string {
  const lines = ['usage: stnn <command> [options]   (stnn <command> --help for its options)', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  if (cmd === '--version') {
    process.stdout.write('stnn-sensor 0.1.0\n');
    return 0;
  }
  try {
    if (!cmd) throw new StnnError('STNN_USAGE', `missing command\n${usage()}`);
    const entry = COMMANDS[cmd];
    if (!entry) throw new StnnError('STNN_USAGE', `unknown command '${cmd}' (see stnn --help)`);
    const run = await entry.load();
    return await run(argv.slice(1));
  } catch (err) {
    if (err instanceof StnnError) {
      process.stderr.write(`stnn: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
