import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../features/names.js';
import { checkCaptures, extractFlows, type ExtractSummary } from '../flow/extract.js';
import { createWriter, type FlowWriter, type OutputFormat } from '../output/writers.js';
import { usageError } from '../util/errors.js';
import { checkOutputPath, numOption, intOption, parseCommand, type CommandSpec } from './args.js';
import { Progress } from './progress.js';

const options = {
  format: { type: 'string', default: 'jsonl' },
  'all-flows': { type: 'boolean', default: false },
  'no-tunnels': { type: 'boolean', default: false },
  out: { type: 'string', short: 'o' },
  'idle-timeout': { type: 'string' },
  'active-timeout': { type: 'string' },
  'closed-timeout': { type: 'string' },
  'max-flows': { type: 'string' },
  'list-names': { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
} as const;

const spec: CommandSpec<typeof options> = {
  usage: 'stnn features <capture…> [--format jsonl|csv|msgpack] [--all-flows] [--out FILE]',
  summary:
    'Reads pcap/pcapng files, follows TCP flows and their TLS records, and writes the 115 STNN ' +
    'statistics of every TLS flow (5 views × 23 statistics) with the flow\'s addresses, SNI and end reason. ' +
    'A summary goes to stderr.',
  minPositionals: 0,
  options,
  help: {
    format: 'output format: jsonl (ECS records), csv (a row per flow), msgpack',
    'all-flows': 'also write flows that are not TLS',
    'no-tunnels': 'do not open tunnels (IP-in-IP, GRE, VXLAN, GTP-U): report the outer packets\' flows',
    out: 'write to FILE instead of stdout',
    'idle-timeout': 'seconds without packets that end a flow (default 120)',
    'active-timeout': 'seconds after which a long flow is reported and continued (default 1800)',
    'closed-timeout': 'seconds a FIN/RST-closed flow waits for its last packets (default 5)',
    'max-flows': 'most flows tracked at once; past it the longest idle is evicted (default 262144)',
    'list-names': 'print the feature set version and the 115 feature names, then exit',
    quiet: 'no summary on stderr',
  },
};

/** `skipped link types: 9999 (4779 frames), …` for the frames skipped per unknown link type, or null when none were. */
export function skippedLinkTypesLine(skipped: Record<string, number> | undefined): string | null {
  if (!skipped || Object.keys(skipped).length === 0) return null;
  return `skipped link types: ${Object.entries(skipped).map(([k, n]) => `${k} (${n} frames)`).join(', ')}`;
}

export function formatSummary(s: ExtractSummary, seconds: number): string {
  const reasons = Object.entries(s.endReasons).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  const d = s.decode as Record<string, unknown>;
  const lines = [
    `files ${s.files}, frames ${s.frames}, IP packets ${s.ipPackets} in ${seconds.toFixed(2)} s`,
    `flows ${s.flows} (TLS ${s.tlsFlows}, other ${s.nonTlsFlows}), written ${s.emitted}; ended by: ${reasons}`,
  ];
  const skipped = skippedLinkTypesLine(d.skipped_linktypes as Record<string, number> | undefined);
  if (skipped) lines.push(skipped);
  const notable = Object.entries(d).filter(([k, v]) => typeof v === 'number' && v > 0 && /frag|trunc|bad|unknown|error|short/.test(k));
  if (notable.length) lines.push(`decode: ${notable.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const e of s.errors) lines.push(`error: ${e.message}`);
  return lines.map((l) => `stnn: ${l}`).join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, spec);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v['list-names']) {
    process.stdout.write(`# ${FEATURE_SET_VERSION}\n${FEATURE_NAMES.join('\n')}\n`);
    return 0;
  }
  const files = parsed.positionals;
  if (files.length === 0) throw usageError(`missing capture file: ${spec.usage}`);
  const format = String(v.format) as OutputFormat;
  if (!['jsonl', 'csv', 'msgpack'].includes(format)) {
    throw usageError(`--format: expected jsonl, csv or msgpack, got '${format}'`);
  }
  const flow = {
    idleTimeout: numOption('idle-timeout', v['idle-timeout'] as string | undefined, 120, 0.001),
    activeTimeout: numOption('active-timeout', v['active-timeout'] as string | undefined, 1800, 0.001),
    closedTimeout: numOption('closed-timeout', v['closed-timeout'] as string | undefined, 5, 0),
    maxFlows: intOption('max-flows', v['max-flows'] as string | undefined, 262144, 1),
  };
  const out = v.out as string | undefined;
  if (out !== undefined && out !== '-') checkOutputPath('out', out, files); // never over an input capture
  const progress = new Progress(!v.quiet && process.stderr.isTTY === true);
  const t0 = process.hrtime.bigint();
  checkCaptures(files); // a bad input fails before any output is opened or truncated
  // The output opens once the first input is open and recognised: a FIFO or pipe is only
  // validated then, and a bad one must not leave a header record or a truncated --out file.
  let writer: FlowWriter | null = null;
  let summary: ExtractSummary;
  try {
    summary = await extractFlows(files, {
      allFlows: Boolean(v['all-flows']),
      tunnels: !v['no-tunnels'],
      flow,
      onOpen: () => {
        writer ??= createWriter(format, v.out as string | undefined);
      },
      onFlow: (f) => writer!.write(f),
      onProgress: (p) => progress.update(p.fileIndex + p.bytesRead / Math.max(1, p.totalBytes), p.files, p.file, p.frames),
    });
  } finally {
    progress.done();
    await (writer as FlowWriter | null)?.close();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!v.quiet) process.stderr.write(formatSummary(summary, secs));
  else for (const e of summary.errors) process.stderr.write(`stnn: ${e.message}\n`);
  return summary.errors.length ? 1 : 0;
}
