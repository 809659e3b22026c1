/**
 * `stnn sensor --pcap` and its outputs at the edges: a TCP receiver that never closes its side,
 * outputs that are down without a spool (the summary counts what each output lost), and a
 * configuration check that fails (bad models, bad output path, bad capture.bpf) without leaving
 * files behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afpacketLoadError } from '../../src/capture/afpacket.js';
import { repoRoot } from '../helpers/paths.js';
import { udpFrame, writePcap } from '../helpers/pcapgen.js';
import { killSensors, readJsonl, spawnSensor, type Finished } from './helpers.js';
import { octetFrames } from '../helpers/octet.js';
import { setTimeout as sleep } from 'node:timers/promises';

const sample = path.join(repoRoot(), 'data', 'testbed', 'sample.pcap');
let dir = '';

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'stnn-sensor-outputs-'));
});
after(() => {
  killSensors();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function conf(name: string, lines: string[]): string {
  const f = path.join(dir, name);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

/** The sensor's run, or a rejection when it has not exited after `ms` (it is then killed). */
async function runWithin(args: string[], ms: number): Promise<Finished> {
  const s = spawnSensor(args);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      s.child.kill('SIGKILL');
      reject(new Error(`the sensor had not exited after ${ms} ms; stderr:\n${s.stderr()}`));
    }, ms);
  });
  try {
    return await Promise.race([s.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** stderr without the start-up line listing the defaults. */
const lines = (stderr: string) => stderr.split('\n').filter((l) => l && !l.startsWith('stnn sensor: defaults for the keys not set:'));

const DONE = 'stnn sensor: done: 4779 packets, 3739204 bytes, 38 flow records, 38 unclassified, kernel drops 0, ring drops 0';

test('a syslog TCP receiver that never closes its side: every record arrives, the sensor exits 0 by itself', async () => {
  // allowHalfOpen: the receiver reads our FIN but never sends its own.
  const got: string[] = [];
  let sawFin = false;
  const conns = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    conns.add(s);
    s.on('data', octetFrames((m) => got.push(m.toString('utf8'))));
    s.on('end', () => (sawFin = true));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  try {
    const cfg = conf('halfopen.yaml', [
      'metrics: { listen: off }',
      `outputs: [{ type: syslog, transport: tcp, host: 127.0.0.1, port: ${port} }]`,
    ]);
    const r = await runWithin(['--config', cfg, '--pcap', sample], 30_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.signal, null);
    assert.equal(lines(r.stderr).at(-1), DONE);
    assert.equal(got.length, 38);
    assert.equal(new Set(got.map((m) => JSON.parse(m.slice(m.indexOf('{'))).network.community_id)).size, 38);
    assert.ok(sawFin, 'the sensor sent its FIN');
  } finally {
    for (const s of conns) s.destroy();
    srv.close();
  }
});

/** N one-packet UDP flows (all_flows writes a record for each). */
function udpFlows(name: string, n: number): string {
  const frames = [];
  for (let i = 0; i < n; i++) {
    const src = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    frames.push({ ts: 1000 + i * 0.001, bytes: udpFrame({ src, dst: '192.0.2.1', sport: 1024 + (i % 50000), dport: 53, payload: 'x' }) });
  }
  const f = path.join(dir, name);
  writePcap(f, frames);
  return f;
}

/** Counts the RFC 6587 octet-counted frames a receiver reads. */
function frameCounter(): { feed: (d: Buffer) => void; count: () => number } {
  let n = 0;
  return { feed: octetFrames(() => n++), count: () => n };
}

const FLOWS = 8000;
/** 8000 records of about 1.1 kB (features included): more than the kernel's socket buffers hold. */
const stallConf = (name: string, port: number) => conf(name, [
  'metrics: { listen: off }',
  'flow: { all_flows: true }',
  `outputs: [{ type: syslog, name: siem, transport: tcp, host: 127.0.0.1, port: ${port}, features: true }]`,
]);

test('a syslog TCP receiver that accepts but never reads: the sensor exits 0 within 1 s of idle output, what was not taken counted as dropped', async () => {
  const pcap = udpFlows('stall.pcap', FLOWS);
  const conns: net.Socket[] = [];
  const srv = net.createServer({ pauseOnConnect: true }, (s) => {
    conns.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  try {
    const t0 = Date.now();
    const r = await runWithin(['--config', stallConf('stall.yaml', port), '--pcap', pcap], 60_000);
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    const l = lines(r.stderr);
    assert.equal(l.at(-2), `stnn sensor: done: ${FLOWS} packets, ${FLOWS * 43} bytes, ${FLOWS} flow records, ${FLOWS} unclassified, kernel drops 0, ring drops 0`);
    const m = /^stnn sensor: sink siem: sent (\d+), dropped (\d+), errors 0$/.exec(l.at(-1) ?? '');
    assert.ok(m, r.stderr);
    const [sent, dropped] = [Number(m[1]), Number(m[2])];
    assert.equal(sent + dropped, FLOWS);
    assert.ok(sent > 0 && dropped > 0, `sent ${sent}, dropped ${dropped}`);
    // Start-up and reading take about 1.5 s here; the outputs then take at most 1 s of no
    // progress to give up (before: a 5 s flush, another 5 s flush in close, then 1 s: ~13 s).
    assert.ok(took < 6000, `the sensor took ${took} ms`);
    // What was counted as sent, the kernel took: the receiver gets all of it once it reads, and
    // at most the rest of the one send (64 KiB, under 60 of these records) that was cut off.
    assert.equal(conns.length, 1);
    const rx = frameCounter();
    conns[0]!.on('data', rx.feed);
    const ended = new Promise((res) => conns[0]!.once('close', res));
    conns[0]!.resume();
    await ended;
    assert.ok(rx.count() >= sent && rx.count() - sent < 60, `received ${rx.count()}, counted as sent ${sent}`);
  } finally {
    for (const s of conns) s.destroy();
    srv.close();
  }
});

test('a syslog TCP receiver that reads slowly gets every record before the sensor exits', async () => {
  const pcap = udpFlows('slow.pcap', FLOWS);
  const rx = frameCounter();
  let bytes = 0;
  const conns: net.Socket[] = [];
  // One read of at most 64 KiB every 20 ms: the 9 MB take several seconds (a flush bounded at
  // 1 s would lose most of them).
  const srv = net.createServer({ pauseOnConnect: true }, (s) => {
    conns.push(s);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      rx.feed(d);
      s.pause();
      setTimeout(() => s.resume(), 20);
    });
    setTimeout(() => s.resume(), 20);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  try {
    const t0 = Date.now();
    const r = await runWithin(['--config', stallConf('slow.yaml', port), '--pcap', pcap], 60_000);
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lines(r.stderr).at(-1), `stnn sensor: done: ${FLOWS} packets, ${FLOWS * 43} bytes, ${FLOWS} flow records, ${FLOWS} unclassified, kernel drops 0, ring drops 0`);
    const ended = new Promise((res) => (conns[0]!.closed ? res(null) : conns[0]!.once('close', res)));
    await ended;
    assert.equal(rx.count(), FLOWS);
    assert.ok(bytes > 8_000_000, `${bytes} bytes`);
    assert.ok(took > 2000, `the receiver cannot have read ${bytes} bytes in ${took} ms`);
  } finally {
    for (const s of conns) s.destroy();
    srv.close();
  }
});

test('outputs down without a spool: the summary says per output what was sent and dropped, unix socket errors are named, exit 1', async () => {
  const free = net.createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const port = (free.address() as net.AddressInfo).port;
  await new Promise((r) => free.close(r)); // nothing listens there now
  const out = path.join(dir, 'down', 'verdicts.jsonl');
  const nosock = path.join(dir, 'down', 'nosock');
  // One connect attempt each within the run (the next would be a minute later).
  const cfg = conf('down.yaml', [
    'metrics: { listen: off }',
    'outputs:',
    `  - { type: jsonl, path: ${JSON.stringify(out)} }`,
    `  - { type: syslog, name: siem, transport: tcp, host: 127.0.0.1, port: ${port}, backoff_min_ms: 60000 }`,
    `  - { type: syslog, name: devlog, transport: unix, path: ${JSON.stringify(nosock)}, backoff_min_ms: 60000 }`,
  ]);
  const r = await runWithin(['--config', cfg, '--pcap', sample], 60_000);
  assert.equal(r.code, 1, r.stderr); // records lost to output errors
  assert.equal(readJsonl(out).length, 38);
  const l = lines(r.stderr);
  assert.ok(l.includes(`stnn sensor: sink siem: connect failed: connect ECONNREFUSED 127.0.0.1:${port}`), r.stderr);
  assert.ok(l.includes(`stnn sensor: sink devlog: link down: unix datagram socket ${nosock}: ENOENT (no such socket)`), r.stderr);
  assert.deepEqual(l.slice(-5), [
    DONE,
    'stnn sensor: sink jsonl: sent 38, dropped 0, errors 0',
    'stnn sensor: sink siem: sent 0, dropped 38, errors 1',
    'stnn sensor: sink devlog: sent 0, dropped 38, errors 1',
    'stnn sensor: exit status 1: records lost to output errors (siem: 38, devlog: 38)',
  ]);
});

test('all outputs fine: no per-output lines after the summary', async () => {
  const out = path.join(dir, 'fine.jsonl');
  const cfg = conf('fine.yaml', ['metrics: { listen: off }', `outputs: [{ type: jsonl, path: ${JSON.stringify(out)} }, { type: "null" }]`]);
  const r = await runWithin(['--config', cfg, '--pcap', sample], 60_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lines(r.stderr).at(-1), DONE);
  assert.equal(readJsonl(out).length, 38);
});

function expectOneLine(r: Finished, line: string) {
  assert.equal(r.stderr, `${line}\n`);
  assert.equal(r.stdout, '');
  assert.equal(r.code, 2);
}

test('a configuration that fails its check creates no verdict file, spool directory or cursor', async () => {
  const base = path.join(dir, 'nofiles');
  mkdirSync(base);
  const models = path.join(base, 'models');
  const outputs = [
    'outputs:',
    `  - { type: jsonl, path: ${JSON.stringify(path.join(base, 'log', 'verdicts.jsonl'))} }`,
    `  - { type: syslog, transport: tcp, port: 1, spool: { dir: ${JSON.stringify(path.join(base, 'spool', 'syslog'))} } }`,
  ];
  const noModels = conf('nomodels.yaml', ['metrics: { listen: off }', `inference: { models: ${JSON.stringify(models)} }`, ...outputs]);
  expectOneLine(await runWithin(['--config', noModels, '--pcap', sample], 60_000),
    `stnn: ${noModels}: inference.models: ${models}/manifest.json: no model manifest (train with 'stnn train … --models ${models}')`);
  assert.deepEqual(readdirSync(base), []);

  // --check: the same checks, and with a good model directory exit 0 having written nothing
  expectOneLine(await runWithin(['--config', noModels, '--pcap', sample, '--check'], 60_000),
    `stnn: ${noModels}: inference.models: ${models}/manifest.json: no model manifest (train with 'stnn train … --models ${models}')`);
  const shipped = path.join(repoRoot(), 'models', 'default');
  const good = conf('good.yaml', ['metrics: { listen: off }', `inference: { models: ${JSON.stringify(shipped)} }`, ...outputs]);
  const ok = await runWithin(['--config', good, '--pcap', sample, '--check'], 60_000);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, '');
  assert.equal(lines(ok.stderr).at(-1), `stnn sensor: ${good}: configuration checked: a replay of 1 file(s), models ${shipped} ` +
    '(8 applications: audio, chat, download, rest, update, upload, video, web), outputs jsonl, syslog; nothing was captured, written or sent');
  assert.deepEqual(readdirSync(base), [], 'no verdict file, spool or cursor');

  // The last output's spool cannot be made (a regular file is in the way): the first output's
  // file is not made either.
  writeFileSync(path.join(base, 'file'), '');
  const badSpool = conf('badspool.yaml', [
    'metrics: { listen: off }',
    'outputs:',
    `  - { type: jsonl, path: ${JSON.stringify(path.join(base, 'log', 'verdicts.jsonl'))} }`,
    `  - { type: syslog, transport: tcp, port: 1, spool: { dir: ${JSON.stringify(path.join(base, 'file', 'spool'))} } }`,
  ]);
  expectOneLine(await runWithin(['--config', badSpool, '--pcap', sample], 60_000),
    `stnn: spool ${path.join(base, 'file', 'spool')}: ${path.join(base, 'file')} is not a directory`);
  const badFile = conf('badfile.yaml', [
    'metrics: { listen: off }',
    'outputs:',
    `  - { type: syslog, transport: tcp, port: 1, spool: { dir: ${JSON.stringify(path.join(base, 'spool'))} } }`,
    `  - { type: jsonl, path: ${JSON.stringify(path.join(base, 'file', 'v.jsonl'))} }`,
  ]);
  expectOneLine(await runWithin(['--config', badFile, '--pcap', sample], 60_000),
    `stnn: sink jsonl: cannot open ${path.join(base, 'file', 'v.jsonl')}: ${path.join(base, 'file')} is not a directory`);
  const twice = conf('twice.yaml', [
    'metrics: { listen: off }',
    'outputs:',
    `  - { type: jsonl, path: ${JSON.stringify(path.join(base, 'log', 'v.jsonl'))} }`,
    `  - { type: syslog, transport: tcp, port: 1, spool: { dir: ${JSON.stringify(path.join(base, 'spool'))} } }`,
    `  - { type: syslog, transport: udp, port: 1, spool: { dir: ${JSON.stringify(path.join(base, 'spool'))} } }`,
  ]);
  expectOneLine(await runWithin(['--config', twice, '--pcap', sample], 60_000),
    `stnn: spool ${path.join(base, 'spool')}: already used by another sink of this process`);
  assert.deepEqual(readdirSync(base), ['file']);
});

const addon = afpacketLoadError();

test('--pcap checks capture.bpf as the live capture does: a bad filter is one line, exit 2', { skip: addon ? `the stnn-afpacket addon is not built: ${addon}` : false }, async () => {
  const out = path.join(dir, 'bpf', 'v.jsonl');
  const bad = conf('bpf.yaml', ['metrics: { listen: off }', "capture: { bpf: 'tcp prt 443' }", `outputs: [{ type: jsonl, path: ${JSON.stringify(out)} }]`]);
  expectOneLine(await runWithin(['--config', bad, '--pcap', sample], 60_000),
    "stnn: afpacket: filter 'tcp prt 443': can't parse filter expression: syntax error");
  assert.deepEqual(readJsonl(out), []);
  const good = conf('bpf-ok.yaml', ['metrics: { listen: off }', "capture: { bpf: 'tcp port 443' }", `outputs: [{ type: jsonl, path: ${JSON.stringify(out)} }]`]);
  const r = await runWithin(['--config', good, '--pcap', sample], 60_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readJsonl(out).length, 38);
});

test('syslog with features under a too small max_message_bytes: a warning at start, the cut messages counted at exit', async () => {
  const dgram = await import('node:dgram');
  const rx = dgram.createSocket('udp4');
  const sizes: number[] = [];
  rx.on('message', (m) => sizes.push(m.length));
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
  const port = rx.address().port;
  try {
    const small = conf('feat-small.yaml', ['metrics: { listen: off }', `inference: { models: ${JSON.stringify(path.join(repoRoot(), 'models', 'default'))} }`,
      `outputs: [{ type: syslog, transport: udp, port: ${port}, features: true, name: siem }]`]);
    const r = await runWithin(['--config', small, '--pcap', sample], 60_000);
    assert.equal(r.code, 0, r.stderr);
    const l = lines(r.stderr);
    assert.ok(l.includes('stnn sensor: warning: sink siem: features: true with max_message_bytes 2048: records with features are about 2.5 kB ' +
      'and will be cut (set max_message_bytes to 4096 or more)'), r.stderr);
    assert.equal(l.at(-1), 'stnn sensor: sink siem: 38 messages cut to max_message_bytes');
    await sleep(200);
    assert.equal(sizes.length, 38);
    assert.ok(sizes.every((n) => n === 2048), `every datagram at the limit: ${[...new Set(sizes)]}`);

    // at 4096 nothing is cut and there is no warning
    sizes.length = 0;
    const big = conf('feat-big.yaml', ['metrics: { listen: off }', `inference: { models: ${JSON.stringify(path.join(repoRoot(), 'models', 'default'))} }`,
      `outputs: [{ type: syslog, transport: udp, port: ${port}, features: true, max_message_bytes: 4096, name: siem }]`]);
    const r2 = await runWithin(['--config', big, '--pcap', sample], 60_000);
    assert.equal(r2.code, 0, r2.stderr);
    assert.doesNotMatch(r2.stderr, /warning|cut to/);
    await sleep(200);
    assert.equal(sizes.length, 38);
    assert.ok(sizes.every((n) => n < 4096));
  } finally {
    rx.close();
  }
});
