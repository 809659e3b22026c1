/**
 * Start-up errors of `stnn sensor`: one line on stderr, exit 2, nothing else printed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afpacketLoadError } from '../../src/capture/afpacket.js';
import { repoRoot } from '../helpers/paths.js';
import { killSensors, sensorArgv, spawnSensor } from './helpers.js';

let dir = '';
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'stnn-sensor-err-'));
  chmodSync(dir, 0o755);
});
after(() => {
  killSensors();
  rmSync(dir, { recursive: true, force: true });
});

function conf(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text, { mode: 0o644 });
  return f;
}

function runSensor(args: string[], prefix: string[] = []) {
  const argv = [...prefix, process.execPath, ...sensorArgv(args)];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

function expectOneLine(r: { code: number | null; stderr: string; stdout: string }, line: string) {
  assert.equal(r.stderr, `${line}\n`);
  assert.equal(r.stdout, '');
  assert.equal(r.code, 2);
}

test('a bad value names the file, the key and the reason', () => {
  const f = conf('bad.yaml', 'capture:\n  interface: eth0\n  shards: x\n');
  expectOneLine(runSensor(['--config', f]), `stnn: ${f}: capture.shards: expected an integer from 1 to 64, got 'x'`);
  const g = conf('sink.yaml', 'capture: { interface: eth0 }\noutputs:\n  - { type: syslog, transport: carrier-pigeon }\n');
  expectOneLine(runSensor(['--config', g]), `stnn: ${g}: outputs[0].transport: must be one of udp, tcp, unix, got "carrier-pigeon"`);
  expectOneLine(runSensor([]), 'stnn: --config: missing (the YAML configuration, e.g. conf/stnn.yaml)');
  expectOneLine(runSensor(['--config', path.join(dir, 'none.yaml')]), `stnn: ${path.join(dir, 'none.yaml')}: no such file`);
  const m = conf('models.yaml', 'inference:\n  models:\noutputs: [{ type: "null" }]\n');
  expectOneLine(runSensor(['--config', m, '--pcap', path.join(repoRoot(), 'data', 'testbed', 'sample.pcap')]),
    `stnn: ${m}: inference.models: empty (omit the key to run without models)`);
  const p = conf('pcap.yaml', 'metrics: { listen: off }\n');
  expectOneLine(runSensor(['--config', p, '--pcap', path.join(dir, 'none.pcap')]), `stnn: ${path.join(dir, 'none.pcap')}: no such file`);
});

test('two jsonl outputs on the same file (or both on stdout) are a config error at start and in --check', () => {
  const sample = path.join(repoRoot(), 'data', 'testbed', 'sample.pcap');
  const out = path.join(dir, 'same', 'v.jsonl');
  const rel = path.relative(process.cwd(), out);
  const f = conf('same.yaml', `metrics: { listen: off }\noutputs:\n  - { type: jsonl, path: ${JSON.stringify(out)} }\n  - { type: "null" }\n  - { type: jsonl, path: ${JSON.stringify(rel)} }\n`);
  const line = `stnn: ${f}: outputs[2].path: the same file as outputs[0].path`;
  expectOneLine(runSensor(['--config', f, '--pcap', sample, '--check']), line);
  expectOneLine(runSensor(['--config', f, '--pcap', sample]), line);
  assert.ok(!existsSync(out));
  const s = conf('stdout2.yaml', 'metrics: { listen: off }\noutputs:\n  - { type: jsonl, path: "-" }\n  - { type: jsonl, path: "-" }\n');
  expectOneLine(runSensor(['--config', s, '--pcap', sample, '--check']), `stnn: ${s}: outputs[1].path: the same file as outputs[0].path`);
});

const addon = afpacketLoadError();
const liveSkip = addon ? `the stnn-afpacket addon is not built: ${addon}` : process.getuid?.() !== 0 ? 'needs root to drop privileges' : false;

test('a missing interface is one line, exit 2', { skip: liveSkip }, () => {
  const f = conf('noif.yaml', 'capture: { interface: nosuch0 }\nmetrics: { listen: off }\noutputs: [{ type: "null" }]\n');
  expectOneLine(runSensor(['--config', f]), 'stnn: afpacket: no such network interface: nosuch0');
  expectOneLine(runSensor(['--config', f, '--check']), 'stnn: afpacket: no such network interface: nosuch0');
});

test('--check on a live interface opens it and exits 0, having written nothing', { skip: liveSkip }, () => {
  const out = path.join(dir, 'live-check', 'v.jsonl');
  const f = conf('check.yaml', `capture: { interface: lo }\nmetrics: { listen: off }\noutputs: [{ type: jsonl, path: ${JSON.stringify(out)} }]\n`);
  const r = runSensor(['--config', f, '--check']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').at(-1),
    `stnn sensor: ${f}: configuration checked: capture on lo, no models, outputs jsonl; nothing was captured, written or sent`);
  assert.ok(!existsSync(path.dirname(out)), 'the output directory is not made');
});

const setprivSkip = liveSkip || (spawnSync('sh', ['-c', 'command -v setpriv']).status !== 0 ? 'setpriv (util-linux) is not installed' : false);

test('without CAP_NET_RAW: one line naming the capability, exit 2', { skip: setprivSkip }, () => {
  const f = conf('lo.yaml', 'capture: { interface: lo }\nmetrics: { listen: off }\noutputs: [{ type: "null" }]\n');
  const line = 'stnn: afpacket: capturing on lo needs the CAP_NET_RAW capability (socket(AF_PACKET): Operation not permitted)';
  // An unprivileged user (nobody), and root with CAP_NET_RAW removed from its bounding set.
  expectOneLine(runSensor(['--config', f], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all']), line);
  expectOneLine(runSensor(['--config', f], ['setpriv', '--inh-caps=-net_raw', '--bounding-set=-net_raw']), line);
});

test('a metrics address in use is one line naming the key, exit 2', async () => {
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as import('node:net').AddressInfo).port;
  try {
    // An empty but valid pcap (global header only), so no capture is needed.
    const pcap = path.join(dir, 'empty.pcap');
    const hdr = Buffer.alloc(24);
    hdr.writeUInt32LE(0xa1b2c3d4, 0);
    hdr.writeUInt16LE(2, 4);
    hdr.writeUInt16LE(4, 6);
    hdr.writeUInt32LE(65535, 16);
    hdr.writeUInt32LE(1, 20);
    writeFileSync(pcap, hdr);
    const f = conf('port.yaml', `metrics: { listen: "127.0.0.1:${port}" }\noutputs: [{ type: "null" }]\n`);
    const r = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const argv = sensorArgv(['--config', f, '--pcap', pcap]);
      const c = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d));
      c.stderr.on('data', (d: Buffer) => (stderr += d));
      c.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expectOneLine(r, `stnn: ${f}: metrics.listen: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
  } finally {
    srv.close();
  }
});

/**
 * `--pcap` on a FIFO: the stream is only checked when the producer thread opens it, yet the
 * exit status is what the error calls for, as for the same bytes in a regular file (checked at
 * start) and as the offline commands give: 2 for bad input, 1 for a capture cut later on.
 */
test('--pcap FIFO: not a capture or cut in its header is exit 2, cut later is exit 1, one line naming the file', { timeout: 60_000 }, async () => {
  const sample = readFileSync(path.join(repoRoot(), 'data', 'testbed', 'sample.pcap'));
  const f = conf('fifo.yaml', 'metrics: { listen: off }\noutputs: [{ type: "null" }]\n');
  const cases: Array<[string, Uint8Array, number, string]> = [
    ['garbage', Buffer.from('garbage, not a capture at all'), 2, 'not a pcap or pcapng file (magic 0x67617262)'],
    ['cut10', sample.subarray(0, 10), 2, 'truncated pcap file header (10 bytes, need 24)'],
    ['cut100k', sample.subarray(0, 100_000), 1, 'truncated record at byte offset 98738 (record of 1530 bytes, 1262 present)'],
  ];
  for (const [name, bytes, code, reason] of cases) {
    const data = path.join(dir, `${name}.bin`);
    writeFileSync(data, bytes);
    const fifo = path.join(dir, `${name}.fifo`);
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', data, fifo], { stdio: 'ignore' });
    const s = spawnSensor(['--config', f, '--pcap', fifo]);
    const r = await s.exited;
    writer.kill('SIGKILL');
    assert.equal(r.code, code, `${name}: ${r.stderr}`);
    const errors = r.stderr.split('\n').filter((l) => l.includes(reason));
    const what = code === 2 ? 'pcap reader failed' : 'capture file';
    assert.deepEqual(errors, [`stnn sensor: ${what}: ${fifo}: ${reason}`], r.stderr);
    // the flows read before the damage are still counted (16 in the first 100 kB of the sample)
    assert.match(r.stderr, code === 2 ? /done: 0 packets, 0 bytes, 0 flow records/ : /done: 247 packets, 94762 bytes, 16 flow records/);
    // the same bytes as a regular file: the same status, before the sensor starts
    const file = runSensor(['--config', f, '--pcap', data]);
    assert.equal(file.code, code, file.stderr);
  }
});
