import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configFrom, loadConfig } from '../../src/sensor/config.js';
import { StnnError } from '../../src/util/errors.js';
import { repoRoot } from '../helpers/paths.js';

function configError(doc: unknown, message: string, opts = {}) {
  assert.throws(() => configFrom(doc, 'conf/stnn.yaml', opts), (e: unknown) => {
    assert.ok(e instanceof StnnError);
    assert.equal(e.code, 'STNN_CONFIG');
    assert.equal(e.exitCode, 2);
    assert.equal(e.message, message);
    return true;
  });
}

test('errors name the file, the key and the reason', () => {
  configError({ capture: { interface: 'eth0', shards: 'x' } }, "conf/stnn.yaml: capture.shards: expected an integer from 1 to 64, got 'x'");
  configError({ capture: { interface: 'eth0', shards: 65 } }, 'conf/stnn.yaml: capture.shards: expected an integer from 1 to 64, got 65');
  configError({ capture: { interface: 'eth0', ring_bytes: 100000 } }, 'conf/stnn.yaml: capture.ring_bytes: expected a power of two, got 100000');
  configError({ capture: { interface: 'eth0', promiscuous: 'yes' } }, "conf/stnn.yaml: capture.promiscuous: expected true or false, got 'yes'");
  configError({ capture: { interface: 'eth0', snaplenn: 1 } },
    'conf/stnn.yaml: capture.snaplenn: unknown key (allowed: interface, shards, snaplen, promiscuous, bpf, block_size, block_count, fanout_group, ring_bytes)');
  configError({ capture: {} }, 'conf/stnn.yaml: capture.interface: missing (the interface to capture on, e.g. eth0; or run with --pcap FILE)');
  configError({ capture: { interface: 'eth0' }, flows: {} }, 'conf/stnn.yaml: flows: unknown section (allowed: capture, flow, inference, outputs, metrics, shutdown)');
  configError({ capture: { interface: 'eth0' }, inference: { backend: 'gpu' } }, "conf/stnn.yaml: inference.backend: expected one of node, wasm, cpu, got 'gpu'");
  configError({ capture: { interface: 'eth0' }, metrics: { listen: 'localhost' } },
    "conf/stnn.yaml: metrics.listen: expected host:port (e.g. 127.0.0.1:9464) or off, got 'localhost'");
  configError({ capture: { interface: 'eth0' }, outputs: [{ type: 'syslog', transport: 'tcp', port: 70000 }] },
    'conf/stnn.yaml: outputs[0].port: must be an integer from 1 to 65535, got 70000');
  configError({ capture: { interface: 'eth0' }, outputs: [] }, 'conf/stnn.yaml: outputs: expected a non-empty list of sinks (jsonl, syslog, kafka, null), got []');
  configError({ capture: { interface: 'eth0' }, shutdown: { flush_flows: 1 } }, 'conf/stnn.yaml: shutdown.flush_flows: expected true or false, got 1');
  configError([1], 'conf/stnn.yaml: (top level): expected a mapping of capture, flow, inference, outputs, metrics, shutdown');
});

test('defaults are filled in and each is reported once', () => {
  const seen: string[] = [];
  const c = configFrom({ capture: { shards: 4 } }, 'x.yaml', { pcap: true, onDefault: (k) => seen.push(k) });
  assert.equal(c.capture.interface, '');
  assert.equal(c.capture.shards, 4);
  assert.equal(c.capture.ringBytes, 16777216);
  assert.equal(c.capture.fanoutGroup, null);
  assert.deepEqual(c.flow, { idleTimeout: 120, activeTimeout: 1800, closedTimeout: 5, maxFlows: 262144, allFlows: false, tunnels: true });
  assert.deepEqual(c.inference, { models: null, backend: 'wasm', batchSize: 256, maxWaitMs: 50, maxBacklog: 20000, threads: 1 });
  assert.deepEqual(c.outputs, [{ type: 'jsonl', path: '-' }]);
  assert.deepEqual(c.metrics, { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(c.shutdown, { flushFlows: true });
  assert.equal(new Set(seen).size, seen.length);
  assert.ok(!seen.includes('capture.shards'));
  assert.ok(seen.includes('capture.snaplen') && seen.includes('inference.max_backlog') && seen.includes('outputs') && seen.includes('metrics.listen'));
  // capture: 6 (snaplen, promiscuous, bpf, block_size, block_count, ring_bytes), flow: 6, inference: 5, outputs, metrics.listen, shutdown.flush_flows
  assert.equal(seen.length, 20);
  const off = configFrom({ capture: { interface: 'eth1', fanout_group: 7 }, metrics: { listen: 'off' }, inference: { models: '/m' } }, 'x.yaml');
  assert.equal(off.metrics, null);
  assert.equal(off.capture.fanoutGroup, 7);
  assert.equal(off.inference.models, '/m');
  assert.deepEqual(configFrom({ capture: { interface: 'eth0' }, metrics: { listen: '[::1]:9100' } }, 'x').metrics, { host: '::1', port: 9100 });
});

test('the shipped conf/stnn.yaml is valid and sets every key', () => {
  const seen: string[] = [];
  const c = loadConfig(path.join(repoRoot(), 'conf', 'stnn.yaml'), { onDefault: (k) => seen.push(k) });
  assert.deepEqual(seen, []);
  assert.equal(c.capture.interface, 'eth0');
  assert.deepEqual(c.outputs.map((o) => o.type), ['jsonl', 'syslog']);
});

test('unreadable or malformed files give one line', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stnn-conf-'));
  const f = path.join(dir, 'bad.yaml');
  writeFileSync(f, 'capture: [unclosed\n');
  assert.throws(() => loadConfig(f), (e: unknown) => e instanceof StnnError && e.code === 'STNN_CONFIG' && e.message.startsWith(`${f}: not valid YAML: `) && !e.message.includes('\n'));
  assert.throws(() => loadConfig(path.join(dir, 'none.yaml')), (e: unknown) => e instanceof StnnError && e.message === `${path.join(dir, 'none.yaml')}: no such file`);
  rmSync(dir, { recursive: true });
});

test('outputs: `type: null` unquoted is YAML null: the error says to quote it; quoted it is the null sink', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stnn-conf-'));
  const f = path.join(dir, 'null.yaml');
  for (const v of ['null', '~', '']) {
    writeFileSync(f, `outputs:\n  - type: jsonl\n    path: /tmp/x.jsonl\n  - type: ${v}\n`);
    assert.throws(() => loadConfig(f, { pcap: true }), (e: unknown) => {
      assert.ok(e instanceof StnnError);
      assert.equal(e.exitCode, 2);
      assert.equal(e.message, `${f}: outputs[1].type: no value (YAML reads an unquoted null as no value: for the null sink write type: "null")`);
      return true;
    });
  }
  writeFileSync(f, 'outputs:\n  - name: x\n');
  assert.throws(() => loadConfig(f, { pcap: true }), (e: unknown) => e instanceof StnnError && e.message === `${f}: outputs[0].type: missing (one of jsonl, syslog, kafka, null)`);
  for (const q of ['"null"', "'null'"]) {
    writeFileSync(f, `outputs:\n  - type: ${q}\n`);
    assert.deepEqual(loadConfig(f, { pcap: true }).outputs, [{ type: 'null', name: 'null' }]);
  }
  rmSync(dir, { recursive: true });
});

test('inference.models given but empty (YAML null, "") is an error naming the key; left out, the sensor runs without models', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stnn-conf-'));
  const f = path.join(dir, 'models.yaml');
  for (const v of ['', '~', 'null', '""', "''", '"  "']) {
    writeFileSync(f, `inference:\n  models: ${v}\n  threads: 1\n`);
    assert.throws(() => loadConfig(f, { pcap: true }), (e: unknown) => {
      assert.ok(e instanceof StnnError);
      assert.equal(e.code, 'STNN_CONFIG');
      assert.equal(e.exitCode, 2);
      assert.equal(e.message, `${f}: inference.models: empty (omit the key to run without models)`);
      return true;
    }, `models: ${v}`);
  }
  // left out: no models (a features-only sensor), as documented
  for (const text of ['inference:\n  threads: 2\n', 'inference:\n', 'metrics: { listen: off }\n']) {
    writeFileSync(f, text);
    assert.equal(loadConfig(f, { pcap: true }).inference.models, null, text);
  }
  writeFileSync(f, 'inference:\n  models: /opt/models\n');
  assert.equal(loadConfig(f, { pcap: true }).inference.models, '/opt/models');
  rmSync(dir, { recursive: true });
});

test('outputs: each has its own name (unnamed ones after their type, -2 for a repeat); a repeated explicit name is an error', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stnn-conf-'));
  const f = path.join(dir, 'names.yaml');
  writeFileSync(f, [
    'outputs:',
    '  - { type: syslog, transport: udp, port: 5514 }',
    '  - { type: syslog, transport: tcp, port: 5515 }',
    '  - { type: syslog, transport: tcp, port: 5516, name: syslog-2 }',
    '  - { type: jsonl, path: "-" }',
    '',
  ].join('\n'));
  // the explicit syslog-2 keeps its name, so the second unnamed syslog becomes syslog-3
  assert.deepEqual(loadConfig(f, { pcap: true }).outputs.map((o) => o.name), ['syslog', 'syslog-3', 'syslog-2', 'jsonl']);
  writeFileSync(f, 'outputs:\n  - { type: "null", name: a }\n  - { type: jsonl, path: "-", name: a }\n');
  assert.throws(() => loadConfig(f, { pcap: true }), (e: unknown) => e instanceof StnnError && e.exitCode === 2 &&
    e.message === `${f}: outputs[1].name: 'a' is also the name of outputs[0] (names label the metrics and logs of each output)`);
  rmSync(dir, { recursive: true });
});

test('two jsonl outputs on one file: by resolved path, by device and inode, and stdout twice', () => {
  const d = mkdtempSync(path.join(tmpdir(), 'stnn-conf-same-'));
  try {
    const file = path.join(d, 'v.jsonl');
    writeFileSync(file, '');
    symlinkSync(file, path.join(d, 'link.jsonl'));
    const jsonl = (p: string) => ({ type: 'jsonl', path: p });
    configError({ capture: { interface: 'eth0' }, outputs: [jsonl(file), jsonl(path.join(d, '.', 'v.jsonl'))] },
      'conf/stnn.yaml: outputs[1].path: the same file as outputs[0].path');
    configError({ capture: { interface: 'eth0' }, outputs: [jsonl(file), { type: 'null' }, jsonl(path.join(d, 'link.jsonl'))] },
      'conf/stnn.yaml: outputs[2].path: the same file as outputs[0].path');
    configError({ capture: { interface: 'eth0' }, outputs: [jsonl('-'), jsonl(file), jsonl('-')] },
      'conf/stnn.yaml: outputs[2].path: the same file as outputs[0].path');
    const ok = configFrom({ capture: { interface: 'eth0' }, outputs: [jsonl('-'), jsonl(file), jsonl(path.join(d, 'w.jsonl'))] }, 'x.yaml');
    assert.equal(ok.outputs.length, 3);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
