import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { sinkConfigFrom } from '../../src/sinks/config.js';
import { StnnError } from '../../src/util/errors.js';

test('sink sections from YAML become typed configs', () => {
  const doc = parse(`
sinks:
  - type: jsonl
    path: /var/log/stnn/verdicts.jsonl
  - type: syslog
    transport: tcp
    host: 10.0.0.5
    port: 6514
    max_message_bytes: 4096
    spool: { dir: /var/lib/stnn/spool/syslog, max_bytes: 1048576 }
  - type: kafka
    brokers: [k1:9092, k2:9092]
    topic: stnn.verdicts
    linger_ms: 20
  - type: "null"
`) as { sinks: unknown[] };
  const cfgs = doc.sinks.map((s, i) => sinkConfigFrom(s, `sinks[${i}]`));
  assert.deepEqual(cfgs, [
    { type: 'jsonl', path: '/var/log/stnn/verdicts.jsonl' },
    { type: 'syslog', transport: 'tcp', host: '10.0.0.5', port: 6514, maxMessageBytes: 4096, spool: { dir: '/var/lib/stnn/spool/syslog', maxBytes: 1048576 } },
    { type: 'kafka', brokers: ['k1:9092', 'k2:9092'], topic: 'stnn.verdicts', lingerMs: 20 },
    { type: 'null' },
  ]);
});

test('errors name the key and the reason', () => {
  const bad = (raw: unknown, msg: string) =>
    assert.throws(
      () => sinkConfigFrom(raw, 'sinks[2]'),
      (e: unknown) => e instanceof StnnError && e.code === 'STNN_CONFIG' && e.message === msg,
    );
  bad('x', 'sinks[2]: must be a mapping with a type (jsonl, syslog, kafka, null)');
  bad({ type: 'mail' }, 'sinks[2].type: must be one of jsonl, syslog, kafka, null, got "mail"');
  bad({ type: 'jsonl' }, 'sinks[2].path: missing');
  bad({ type: 'jsonl', path: 'a', colour: 1 }, 'sinks[2].colour: unknown key (allowed: type, name, path)');
  bad({ type: 'syslog', transport: 'tcp', port: '514' }, 'sinks[2].port: must be an integer from 1 to 65535, got "514"');
  bad({ type: 'syslog', transport: 'udp', max_message_bytes: 70000 }, 'sinks[2].max_message_bytes: must be an integer from 480 to 65507, got 70000');
  bad({ type: 'syslog', transport: 'tcp', spool: { max_bytes: 5000 } }, 'sinks[2].spool.dir: missing');
  bad({ type: 'syslog', transport: 'tcp', appName: 'x' }, 'sinks[2].appName: unknown key (write it app_name)');
  bad({ type: 'kafka', brokers: ['k1:9092'], topic: 't', spool: { dir: 'd', maxBytes: 1 } }, 'sinks[2].spool.maxBytes: unknown key (write it max_bytes)');
  bad({ type: 'syslog', transport: 'tcp', features: 'yes' }, 'sinks[2].features: must be true or false, got "yes"');
  bad({ type: 'kafka', brokers: ['k1:9092', 'k2'], topic: 't' }, 'sinks[2].brokers[1]: must be host:port, got "k2"');
  bad({ type: 'kafka', brokers: ['k1:9092'], topic: 't', compression: 'zstd' }, 'sinks[2].compression: must be one of gzip, none, got "zstd"');
});
