/**
 * Spool behaviour of a sink against a plain TCP receiver (octet-counted frames, test/helpers/octet.ts):
 * bound and drop counting, replay after a sensor restart, JSON lines and null sinks, config errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createSink, createSinks, type SinkConfig } from '../../src/sinks/sink.js';
import type { JsonlSink } from '../../src/sinks/jsonl.js';
import { StnnError } from '../../src/util/errors.js';
import { SyslogFormatter } from '../../src/sinks/syslog-format.js';
import { record } from './fixtures.js';
import { octetFrames } from '../helpers/octet.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));

/** A syslog receiver on a fixed port that splits RFC 6587 octet-counted frames. */
class Receiver {
  msgs: string[] = [];
  private server: net.Server | null = null;
  private socks = new Set<net.Socket>();
  constructor(public port = 0) {}
  async start() {
    const server = net.createServer((s) => {
      this.socks.add(s);
      s.on('close', () => this.socks.delete(s));
      s.on('data', octetFrames((m) => this.msgs.push(m.toString('utf8'))));
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', r));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }
  async stop() {
    for (const s of this.socks) s.end();
    const server = this.server;
    this.server = null;
    if (server) await new Promise((r) => server.close(r));
  }
  /** Source ports of the received records minus the fixture base: the record numbers. */
  ids() {
    return this.msgs.map((m) => JSON.parse(m.slice(m.indexOf('\ufeff') + 1)).source.port - 51514);
  }
}

async function freePort() {
  const r = new Receiver();
  await r.start();
  await r.stop();
  return r.port;
}

test('receiver down from the start: the spool fills to its bound, the rest is dropped and counted; all kept arrive in order', async () => {
  const port = await freePort();
  const dir = tmp('stnn-bound-');
  const log: string[] = [];
  const cfg: SinkConfig = { type: 'syslog', name: 'siem', transport: 'tcp', port, hostname: 'h', procId: 1, clock: () => 0, spool: { dir, maxBytes: 64 * 1024 }, backoffMinMs: 30, backoffMaxMs: 60, log: (m) => log.push(m) };
  const sink = createSink(cfg);
  for (let i = 0; i < 100; i++) sink.write(record(i));
  await sleep(100);
  const st = sink.stats();
  const sizes = fs.readdirSync(dir).filter((f) => f.endsWith('.spool')).map((f) => fs.statSync(path.join(dir, f)).size);
  const onDisk = sizes.reduce((a, b) => a + b, 0);
  assert.equal(st.spoolBytes, onDisk);
  assert.ok(onDisk <= 64 * 1024);
  const kept = 100 - st.dropped;
  assert.ok(st.dropped > 0 && kept > 0, `dropped ${st.dropped}`);
  assert.ok(st.errors >= 1);
  assert.equal(st.sent, 0);
  const rx = new Receiver(port);
  await rx.start();
  const deadline = Date.now() + 5000;
  while (rx.msgs.length < kept && Date.now() < deadline) await sleep(20);
  await sink.close();
  await rx.stop();
  assert.deepEqual(rx.ids(), Array.from({ length: kept }, (_, i) => i), 'the first records are kept, in order, once');
  assert.equal(log[0], `siem: connect failed: connect ECONNREFUSED 127.0.0.1:${port}`);
  assert.equal(log.at(-1), `siem: connected, ${kept} records to replay`);
  assert.equal(sink.stats().sent, kept);
  assert.equal(sink.stats().spoolBytes, 0);
});

test('sensor restart: records spooled by one process are replayed by the next, once', async () => {
  const port = await freePort();
  const dir = tmp('stnn-restart-');
  const cfg: SinkConfig = { type: 'syslog', transport: 'tcp', port, hostname: 'h', procId: 1, spool: { dir }, backoffMinMs: 30, backoffMaxMs: 60 };
  const a = createSink(cfg);
  for (let i = 0; i < 10; i++) a.write(record(i));
  await a.close(); // receiver down: close persists the spool
  assert.equal(a.stats().sent, 0);
  const rx = new Receiver(port);
  await rx.start();
  const b = createSink(cfg);
  let deadline = Date.now() + 5000;
  while (rx.msgs.length < 10 && Date.now() < deadline) await sleep(20); // replayed without a new write
  assert.equal(rx.msgs.length, 10);
  for (let i = 10; i < 15; i++) b.write(record(i));
  await b.flush();
  deadline = Date.now() + 5000;
  while (rx.msgs.length < 15 && Date.now() < deadline) await sleep(20);
  await b.close();
  await sleep(50);
  await rx.stop();
  assert.deepEqual(rx.ids(), Array.from({ length: 15 }, (_, i) => i));
  assert.equal(b.stats().sent, 15);
});

test('without a spool, a down sink keeps a bounded memory backlog', async () => {
  const port = await freePort();
  const sink = createSink({ type: 'syslog', transport: 'tcp', port, hostname: 'h', procId: 1, memoryBytes: 5000, backoffMinMs: 30 });
  for (let i = 0; i < 10; i++) sink.write(record(i)); // ~1.1 KB each: 4 fit in 5000 bytes
  const st = sink.stats();
  assert.equal(st.dropped, 6);
  const f = new SyslogFormatter({ hostname: 'h', procId: 1 });
  const four = [0, 1, 2, 3].reduce((n, i) => n + f.format(record(i)).length, 0);
  assert.equal(st.spoolBytes, four);
  assert.ok(four <= 5000 && four + f.format(record(4)).length > 5000);
  await sink.close();
  assert.equal(sink.stats().dropped, 10, 'the 4 held in memory are lost at close, and counted');
  assert.equal(sink.stats().spoolBytes, 0, 'and no longer reported as waiting');
});

test('jsonl sink: one line per record, appended, features kept', async () => {
  const dir = tmp('stnn-jsonl-');
  const file = path.join(dir, 'v.jsonl');
  fs.writeFileSync(file, '{"old":1}\n');
  const sink = createSink({ type: 'jsonl', path: file });
  sink.write(record(1));
  sink.write(record(2));
  await sink.flush();
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.length, 4);
  assert.equal(lines[0], '{"old":1}');
  assert.equal(lines[3], '');
  assert.deepEqual(JSON.parse(lines[1]!), JSON.parse(JSON.stringify(record(1))));
  assert.deepEqual(JSON.parse(lines[2]!).stnn.features, [1.5, null, 3]);
  sink.write(record(3));
  await sink.close();
  assert.equal(fs.readFileSync(file, 'utf8').split('\n').length, 5, 'close flushes');
  assert.deepEqual(sink.stats(), { sent: 3, errors: 0, spooled: 0, dropped: 0, spoolBytes: 0 });
});

test('null sink counts; bad configs are STNN_CONFIG errors naming the field', async () => {
  const n = createSink({ type: 'null' });
  n.write(record(0));
  assert.equal(n.stats().sent, 1);
  const bad = (cfg: unknown, re: RegExp) =>
    assert.throws(
      () => createSink(cfg as SinkConfig),
      (e: unknown) => e instanceof StnnError && e.code === 'STNN_CONFIG' && e.exitCode === 2 && re.test(e.message),
    );
  bad({ type: 'smtp' }, /sinks\[\]\.type: unknown sink type "smtp"/);
  bad({ type: 'syslog', transport: 'sctp' }, /transport must be udp, tcp or unix/);
  bad({ type: 'syslog', transport: 'tcp', port: 70000 }, /port must be 1-65535/);
  bad({ type: 'syslog', transport: 'unix', socketType: 'seqpacket' }, /socketType/);
  bad({ type: 'syslog', transport: 'udp', maxMessageBytes: 200 }, /maxMessageBytes/);
  bad({ type: 'kafka', brokers: [], topic: 't' }, /brokers must be a non-empty list/);
  bad({ type: 'kafka', brokers: ['h:9092'], topic: 'a b' }, /topic must be/);
  bad({ type: 'kafka', brokers: ['h:9092'], topic: 't', compression: 'lz4' }, /compression must be/);
  // The sink makes a missing directory (as root it can make any), so the path that cannot be
  // opened is one under a regular file.
  const notDir = path.join(tmp('stnn-notdir-'), 'file');
  fs.writeFileSync(notDir, '');
  bad({ type: 'jsonl', path: path.join(notDir, 'x.jsonl') }, /cannot open .*\/file\/x\.jsonl: .*\/file is not a directory$/);
  bad({ type: 'syslog', transport: 'tcp', spool: { dir: '/tmp/x', maxBytes: 10 } }, /maxBytes must be at least 1024/);
});

test('a record that cannot be serialised is dropped and counted, never thrown', async () => {
  const cyclic = record(0) as Record<string, unknown>;
  cyclic.self = cyclic;
  const big = { ...record(1), n: 10n };
  const dir = tmp('stnn-bad-');
  const sinks = [
    createSink({ type: 'jsonl', path: path.join(dir, 'x.jsonl') }),
    createSink({ type: 'syslog', transport: 'tcp', port: await freePort(), backoffMinMs: 1000 }),
    createSink({ type: 'kafka', brokers: ['127.0.0.1:1'], topic: 't', backoffMinMs: 1000, connectionTimeoutMs: 100, retries: 1 }),
  ];
  for (const s of sinks) {
    s.write(cyclic);
    s.write(big);
    assert.equal(s.stats().dropped, 2, s.name);
    assert.equal(s.stats().errors, 2, s.name);
    await s.close();
  }
});

test('jsonl reopen after rotation; several sinks as one', async () => {
  const dir = tmp('stnn-multi-');
  const a = path.join(dir, 'a.jsonl');
  const b = path.join(dir, 'b.jsonl');
  const all = await createSinks([{ type: 'jsonl', path: a }, { type: 'jsonl', path: b }, { type: 'null' }]);
  all.write(record(1));
  await all.flush();
  fs.renameSync(a, a + '.1'); // logrotate
  await (all.sinks[0] as JsonlSink).reopen();
  all.write(record(2));
  await all.close();
  assert.equal(fs.readFileSync(a + '.1', 'utf8').split('\n').length, 2);
  assert.equal(JSON.parse(fs.readFileSync(a, 'utf8')).source.port, 51516);
  assert.equal(fs.readFileSync(b, 'utf8').split('\n').length, 3);
  assert.deepEqual(all.stats(), { sent: 6, errors: 0, spooled: 0, dropped: 0, spoolBytes: 0 });
  await assert.rejects(createSinks([{ type: 'jsonl', path: path.join(dir, 'c.jsonl') }, { type: 'jsonl', path: path.join(a, 'x') }]), /cannot open .*a\.jsonl\/x: .*a\.jsonl is not a directory$/);
});

test('a datagram too large for UDP is refused by the kernel: dropped and counted, the rest delivered in order', async () => {
  const dgram = await import('node:dgram');
  const rx = dgram.createSocket('udp4');
  const got: number[] = [];
  rx.on('message', (m) => got.push(JSON.parse(m.subarray(m.indexOf(0xef) + 3).toString('utf8')).source.port - 51514));
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
  const sink = createSink({ type: 'syslog', transport: 'udp', port: rx.address().port, maxMessageBytes: 100_000 });
  for (let i = 0; i < 5; i++) {
    const rec = record(i);
    if (i === 2) rec.file = { path: 'x'.repeat(80_000) }; // > 65507 bytes: EMSGSIZE
    sink.write(rec);
  }
  await sink.flush();
  await sleep(100);
  await sink.close();
  rx.close();
  assert.deepEqual(got, [0, 1, 3, 4]);
  const st = sink.stats();
  assert.equal(st.sent, 4);
  assert.equal(st.dropped, 1);
  assert.equal(st.errors, 2); // the refused batch of 5, then the single record
});

test('jsonl on stdout: a reader that goes away (| head) is counted, never a crash', async () => {
  const { spawn } = await import('node:child_process');
  const sinkUrl = new URL('../../src/sinks/sink.js', import.meta.url).href;
  const code =
    `const { createSink } = await import(${JSON.stringify(sinkUrl)});` +
    `const s = createSink({ type: 'jsonl', path: '-' });` +
    `for (let i = 0; i < 5000; i++) s.write({ i, pad: 'x'.repeat(200) });` +
    `await s.close(); console.error(JSON.stringify(s.stats()));`;
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.once('data', () => child.stdout.destroy()); // the reader leaves after its first chunk
  const rc = await new Promise((r) => child.on('exit', r));
  assert.equal(rc, 0, err);
  const st = JSON.parse(err.trim().split('\n').at(-1)!);
  assert.equal(st.sent + st.dropped, 5000);
  assert.ok(st.dropped > 0 && st.errors > 0, err);
});
