/**
 * `stnn sensor --config conf/stnn.yaml [--pcap FILE…]`: the live sensor (or the same pipeline
 * fed from capture files). Signals: SIGTERM/SIGINT drain and exit 0, SIGHUP reloads the models.
 */
import { parseCommand } from './args.js';
import { loadConfig } from '../sensor/config.js';
import { Sensor } from '../sensor/pipeline.js';
import { skippedLinkTypesLine } from './features.js';
import { usageError } from '../util/errors.js';

const spec = {
  usage: 'stnn sensor --config FILE [--pcap FILE …]',
  summary:
    'Capture on the configured interface (AF_PACKET), follow flows in shard workers, classify ended TLS flows ' +
    'with the model directory and write verdict records to the configured outputs, with Prometheus metrics. ' +
    'With --pcap, the same pipeline reads capture files instead and exits at their end. ' +
    'SIGTERM/SIGINT drain and exit; SIGHUP reloads the models.',
  options: {
    config: { type: 'string' as const, short: 'c' },
    pcap: { type: 'string' as const, multiple: true },
    check: { type: 'boolean' as const },
  },
  help: {
    config: 'YAML configuration (see conf/stnn.yaml)',
    pcap: 'read this pcap/pcapng file instead of capturing (repeatable; further files may follow as arguments)',
    check: 'check the configuration as a start would (interface and capability, or the --pcap files; filter, metrics address, models, output paths), then exit: nothing is captured, written or sent',
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, spec);
  if (!parsed) return 0;
  const configFile = parsed.values.config;
  if (!configFile) throw usageError('--config: missing (the YAML configuration, e.g. conf/stnn.yaml)');
  const pcap = [...(parsed.values.pcap ?? [])];
  if (parsed.positionals.length > 0) {
    if (pcap.length === 0) throw usageError(`unexpected argument '${parsed.positionals[0]}' (capture files go after --pcap)`);
    pcap.push(...parsed.positionals);
  }
  const log = (msg: string) => process.stderr.write(`stnn sensor: ${msg}\n`);
  const defaults: string[] = [];
  const config = loadConfig(configFile, {
    pcap: pcap.length > 0,
    onDefault: (key, value) => defaults.push(`${key}=${typeof value === 'string' ? value || "''" : JSON.stringify(value)}`),
  });
  // One line, logged with the first start-up line, so that a start-up error stays a single line.
  const flushDefaults = () => {
    if (defaults.length) log(`defaults for the keys not set: ${defaults.splice(0).join(' ')}`);
  };
  if (parsed.values.check) {
    // warnings of the configuration (e.g. a syslog limit too small for features) are printed too
    const r = await Sensor.check({ config, pcap, log: (m) => { flushDefaults(); log(m); } });
    flushDefaults();
    const source = pcap.length ? `a replay of ${pcap.length} file(s)` : `capture on ${config.capture.interface}`;
    const models = config.inference.models ? `models ${config.inference.models} (${r.apps.length} applications: ${r.apps.join(', ')})` : 'no models';
    log(`${configFile}: configuration checked: ${source}, ${models}, outputs ${config.outputs.map((o) => o.name ?? o.type).join(', ')}; nothing was captured, written or sent`);
    return 0;
  }
  const sensor = await Sensor.start({ config, pcap, log: (m) => { flushDefaults(); log(m); } });
  flushDefaults();
  const onStop = (sig: string) => () => {
    log(`${sig} received`);
    void sensor.stop();
  };
  const onTerm = onStop('SIGTERM');
  const onInt = onStop('SIGINT');
  const onHup = () => {
    sensor.reload().catch((e: Error) => log(`reload failed: ${e.message}`));
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  try {
    const s = await sensor.done;
    const uncl = Object.values(s.unclassified).reduce((a, b) => a + b, 0);
    log(
      `done: ${s.packets} packets, ${s.bytes} bytes, ${s.records} flow records, ${uncl} unclassified, ` +
        `kernel drops ${s.kernelDrops}, ring drops ${s.ringDrops}`,
    );
    // frames of a link type the decoder does not know, named as `stnn features` names them
    const skipped = skippedLinkTypesLine(s.skippedLinkTypes);
    if (skipped) log(skipped);
    // When an output lost records or failed, one line per output says how many it delivered.
    if (s.sinks.some((k) => k.dropped > 0 || k.errors > 0)) {
      for (const k of s.sinks) {
        const left = k.spoolBytes > 0 ? `, ${k.spoolBytes} bytes left in the spool` : '';
        log(`sink ${k.name}: sent ${k.sent}, dropped ${k.dropped}, errors ${k.errors}${left}`);
      }
    }
    for (const k of s.sinks) if (k.truncated > 0) log(`sink ${k.name}: ${k.truncated} messages cut to max_message_bytes`);
    // like `stnn features`: flows read before a damaged file's error are written, the run reports
    // it (exit 1); a stream that is not a capture is bad input (exit 2), as offline
    let code = sensor.exitCode;
    // records an output lost to its errors (a full disk, a receiver down without a spool) fail the run
    const lost = s.sinks.filter((k) => k.errors > 0 && k.dropped > 0);
    if (lost.length > 0) {
      log(`exit status 1: records lost to output errors (${lost.map((k) => `${k.name}: ${k.dropped}`).join(', ')})`);
      code = Math.max(code, 1);
    }
    return code;
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
  }
}
