/**
 * Live sensor end to end (root only): two network namespaces joined by a veth pair, a real TLS
 * server (openssl s_server) in one, real clients (curl, openssl s_client; TLS 1.2 and 1.3) in
 * the other, `stnn sensor` capturing on the server's veth inside its namespace, and tcpdump
 * writing the same traffic to a pcap at the same time. The verdict records must reach a real
 * rsyslogd (over its unix stream socket, which crosses namespaces) and a JSON lines file, with
 * the clients' SNI and the packet counts and community ids that the flow engine finds in
 * tcpdump's pcap. SIGTERM with a connection still open: that flow ends as 'shutdown' and still
 * reaches both sinks; the sensor exits 0.
 *
 * And on the loopback interface (conf/try.yaml's `lo`, in a namespace of its own): the kernel
 * shows packet sockets every loopback packet twice (sent, then received); the sensor's packet
 * counts per direction must be tcpdump's, which keeps one copy.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afpacketLoadError } from '../../src/capture/afpacket.js';
import { extractFlows } from '../../src/flow/extract.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { Rsyslog, rsyslogSkipReason } from '../helpers/rsyslog.js';
import { killSensors, readJsonl, sleep, spawnSensor, until } from './helpers.js';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, AF_PACKET); CI runs as root';
  for (const c of ['ip', 'openssl', 'curl', 'tcpdump']) if (!has(c)) return `${c} is not installed`;
  const r = rsyslogSkipReason();
  if (r) return r;
  const e = afpacketLoadError();
  if (e) return `the stnn-afpacket addon is not built: ${e}`;
  return false;
}
const skip = skipReason();
if (skip) console.log(`# skipping the live sensor test: ${skip}`);

const id = process.pid % 100000;
const NS_S = `stnnS${id}`;
const NS_C = `stnnC${id}`;
const NS_L = `stnnL${id}`;
const VETH_S = `svs${id}`;
const VETH_C = `svc${id}`;
const net = `10.${200 + (id % 50)}.${Math.floor(id / 50) % 250}`;
const SERVER = `${net}.1`;
const CLIENT = `${net}.2`;
const PORT = 8443;

let dir = '';
let rsyslog: Rsyslog | null = null;
const procs: ChildProcess[] = [];

function sh(args: string[]): void {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr || r.stdout}`);
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(tmpdir(), 'stnn-sensor-live-'));
  sh(['ip', 'netns', 'add', NS_S]);
  sh(['ip', 'netns', 'add', NS_C]);
  sh(['ip', 'link', 'add', VETH_S, 'type', 'veth', 'peer', 'name', VETH_C]);
  sh(['ip', 'link', 'set', VETH_S, 'netns', NS_S]);
  sh(['ip', 'link', 'set', VETH_C, 'netns', NS_C]);
  sh(['ip', '-n', NS_S, 'addr', 'add', `${SERVER}/24`, 'dev', VETH_S]);
  sh(['ip', '-n', NS_C, 'addr', 'add', `${CLIENT}/24`, 'dev', VETH_C]);
  for (const [ns, dev] of [[NS_S, VETH_S], [NS_C, VETH_C]] as const) {
    sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  sh(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=stnn.test',
    '-addext', 'subjectAltName=DNS:*.stnn.test', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]);
  rsyslog = await Rsyslog.start();
});

after(async () => {
  killSensors();
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await rsyslog?.dispose();
  if (skip) return;
  spawnSync('ip', ['netns', 'del', NS_S]);
  spawnSync('ip', ['netns', 'del', NS_C]);
  spawnSync('ip', ['netns', 'del', NS_L]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function inNs(ns: string, args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const p = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: [stdin, 'pipe', 'pipe'] });
  p.stdout!.resume();
  p.stderr!.resume();
  procs.push(p);
  return p;
}

/**
 * In namespace `ns`: tcpdump on `iface` (the reference, into `pcap`) and the sensor with `cfg`,
 * both running and capturing when this resolves.
 */
async function startBeside(ns: string, iface: string, cfg: string, pcap: string) {
  const tcpdump = inNs(ns, ['tcpdump', '-i', iface, '-U', '-s', '0', '-w', pcap, `tcp port ${PORT}`]);
  const sensor = spawnSensor(['--config', cfg], ['ip', 'netns', 'exec', ns]);
  procs.push(sensor.child);
  await until(() => /capturing on /.test(sensor.stderr()) || !sensor.running(), 20_000, 'the sensor to start');
  assert.ok(sensor.running(), `the sensor exited: ${sensor.stderr()}`);
  await until(() => existsSync(pcap) && statSync(pcap).size >= 24, 10_000, 'tcpdump to start');
  await sleep(500);
  return { tcpdump, sensor };
}

function runInNs(ns: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', input, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const exited = (p: ChildProcess) =>
  p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('close', () => r()));

test('live capture on a veth: verdicts with SNI, packet counts and community ids reach rsyslog and JSON lines; SIGTERM flushes open flows', { skip, timeout: 90_000 }, async () => {
  const out = path.join(dir, 'verdicts.jsonl');
  const pcap = path.join(dir, 'tcpdump.pcap');
  const cfg = path.join(dir, 'stnn.yaml');
  writeFileSync(cfg, [
    `capture: { interface: ${VETH_S}, shards: 2, bpf: "tcp port ${PORT}" }`,
    'flow: { closed_timeout: 1 }',
    'outputs:',
    `  - { type: jsonl, path: ${JSON.stringify(out)} }`,
    `  - { type: syslog, transport: unix, socket_type: stream, path: ${JSON.stringify(rsyslog!.streamPath)}, app_name: stnn }`,
    'metrics: { listen: "127.0.0.1:9464" }',
    'shutdown: { flush_flows: true }',
    '',
  ].join('\n'));

  const server = inNs(NS_S, ['openssl', 's_server', '-accept', String(PORT), '-cert', path.join(dir, 'cert.pem'), '-key', path.join(dir, 'key.pem'), '-www', '-quiet']);
  const { tcpdump, sensor } = await startBeside(NS_S, VETH_S, cfg, pcap);

  // Four closed connections: curl and s_client, TLS 1.2 and 1.3, each with its own SNI.
  const url = (host: string) => [`--resolve`, `${host}:${PORT}:${SERVER}`, `https://${host}:${PORT}/`];
  const curl12 = runInNs(NS_C, ['curl', '-sk', '--tlsv1.2', '--tls-max', '1.2', '-o', '/dev/null', '-w', '%{http_code}', ...url('curl12.stnn.test')]);
  assert.equal(curl12.stdout, '200', curl12.stderr);
  const curl13 = runInNs(NS_C, ['curl', '-sk', '--tlsv1.3', '-o', '/dev/null', '-w', '%{http_code}', ...url('curl13.stnn.test')]);
  assert.equal(curl13.stdout, '200', curl13.stderr);
  for (const [v, sni] of [['-tls1_2', 'ossl12.stnn.test'], ['-tls1_3', 'ossl13.stnn.test']] as const) {
    const r = runInNs(NS_C, ['openssl', 's_client', '-connect', `${SERVER}:${PORT}`, '-servername', sni, v, '-quiet'], 'GET / HTTP/1.0\r\n\r\n');
    assert.match(r.stdout, /HTTP\/1\.0 200 ok/i, r.stderr);
  }
  const closedSnis = ['curl12.stnn.test', 'curl13.stnn.test', 'ossl12.stnn.test', 'ossl13.stnn.test'];
  // Closed flows end 'fin' one second (closed_timeout) after their last packet, on the wall clock.
  await until(() => readJsonl(out).length >= 4, 15_000, 'four verdict records');

  const metrics = runInNs(NS_S, ['curl', '-s', 'http://127.0.0.1:9464/metrics']).stdout;
  assert.match(metrics, /^stnn_flows_ended_total\{reason="fin"\} 4$/m);
  assert.match(metrics, /^stnn_verdicts_total\{application="unclassified"\} 4$/m);
  assert.match(metrics, /^stnn_unclassified_flows_total\{cause="no_model"\} 4$/m);
  assert.match(metrics, /^stnn_ring_drops_total 0$/m);
  assert.match(metrics, /^stnn_kernel_drops_total 0$/m);
  assert.match(metrics, /^stnn_loopback_duplicates_total 0$/m, 'a veth keeps its outgoing packets');
  assert.match(metrics, /^stnn_sink_records_total\{sink="jsonl"\} 4$/m);
  assert.match(metrics, /^stnn_active_flows 0$/m);

  // A fifth connection stays open (TLS 1.3 handshake done, stdin held open) across SIGTERM.
  const open = inNs(NS_C, ['openssl', 's_client', '-connect', `${SERVER}:${PORT}`, '-servername', 'open.stnn.test', '-tls1_3'], 'pipe');
  await sleep(1500);
  sensor.child.kill('SIGTERM');
  const fin = await sensor.exited;
  assert.equal(fin.code, 0, fin.stderr);
  assert.match(fin.stderr, /SIGTERM received/);
  await sleep(300);
  tcpdump.kill('SIGINT');
  await exited(tcpdump);
  open.kill('SIGKILL');
  server.kill('SIGKILL');

  // The flow engine on tcpdump's pcap of the same traffic: the reference.
  const ref = new Map<string, FlowRecord>();
  await extractFlows([pcap], { onFlow: (f) => ref.set(f.communityId, f) });
  assert.equal(ref.size, 5);

  const recs = readJsonl(out);
  assert.equal(recs.length, 5);
  const bySni = new Map(recs.map((r) => [r.tls?.client?.server_name as string, r]));
  assert.deepEqual([...bySni.keys()].sort(), [...closedSnis, 'open.stnn.test'].sort());
  for (const [sni, r] of bySni) {
    const e = ref.get(r.network.community_id);
    assert.ok(e, `${sni}: community id ${r.network.community_id} not in tcpdump's capture`);
    assert.equal(e.tls?.sni, sni);
    assert.equal(r.source.ip, CLIENT);
    assert.equal(r.destination.ip, SERVER);
    assert.equal(r.destination.port, PORT);
    assert.equal(r.source.port, e.srcPort);
    assert.equal(r.source.packets, e.fwdPackets, `${sni}: client packets`);
    assert.equal(r.destination.packets, e.bwdPackets, `${sni}: server packets`);
    assert.equal(r.source.bytes, e.fwdBytes, `${sni}: client bytes`);
    assert.equal(r.destination.bytes, e.bwdBytes, `${sni}: server bytes`);
    assert.equal(r.stnn.verdict.app, 'unclassified');
    assert.equal(r.stnn.end_reason, sni === 'open.stnn.test' ? 'shutdown' : 'fin');
    assert.ok(r.source.packets >= 4 && r.destination.packets >= 3, `${sni}: ${r.source.packets}/${r.destination.packets}`);
  }
  assert.equal(bySni.get('curl12.stnn.test')!.tls.version, '1.2');
  assert.equal(bySni.get('ossl12.stnn.test')!.tls.version, '1.2');
  assert.equal(bySni.get('curl13.stnn.test')!.tls.version, '1.3');
  assert.equal(bySni.get('ossl13.stnn.test')!.tls.version, '1.3');

  // The same five verdicts at rsyslogd, with SNI and community id in the structured data.
  const lines = await rsyslog!.waitFor(5, 10_000);
  assert.equal(lines.length, 5);
  for (const [sni, r] of bySni) {
    const line = lines.find((l) => l.includes(`sni="${sni}"`));
    assert.ok(line, `no syslog message for ${sni}`);
    assert.ok(line.includes(`community_id="${r.network.community_id}"`), line);
    assert.ok(line.includes(' stnn '), line);
    const json = JSON.parse(line.slice(line.indexOf('{')));
    assert.equal(json.source.packets, r.source.packets);
    assert.equal(json.destination.packets, r.destination.packets);
    assert.equal(json.stnn.end_reason, r.stnn.end_reason);
  }
});

test('live capture on loopback: each packet counted once per direction, as tcpdump -i lo counts it; the outgoing copies are counted as skipped', { skip, timeout: 90_000 }, async () => {
  sh(['ip', 'netns', 'add', NS_L]);
  sh(['ip', '-n', NS_L, 'link', 'set', 'lo', 'up']);
  const out = path.join(dir, 'lo-verdicts.jsonl');
  const pcap = path.join(dir, 'lo-tcpdump.pcap');
  const cfg = path.join(dir, 'lo.yaml');
  writeFileSync(cfg, [
    `capture: { interface: lo, shards: 2, bpf: "tcp port ${PORT}" }`,
    'flow: { closed_timeout: 1 }',
    'outputs:',
    `  - { type: jsonl, path: ${JSON.stringify(out)} }`,
    'metrics: { listen: "127.0.0.1:9465" }',
    '',
  ].join('\n'));
  const server = inNs(NS_L, ['openssl', 's_server', '-accept', `127.0.0.1:${PORT}`, '-cert', path.join(dir, 'cert.pem'), '-key', path.join(dir, 'key.pem'), '-www', '-quiet']);
  const { tcpdump, sensor } = await startBeside(NS_L, 'lo', cfg, pcap);

  const url = (host: string) => ['--resolve', `${host}:${PORT}:127.0.0.1`, `https://${host}:${PORT}/`];
  const c13 = runInNs(NS_L, ['curl', '-sk', '--tlsv1.3', '-o', '/dev/null', '-w', '%{http_code}', ...url('lo13.stnn.test')]);
  assert.equal(c13.stdout, '200', c13.stderr);
  const c12 = runInNs(NS_L, ['curl', '-sk', '--tlsv1.2', '--tls-max', '1.2', '-o', '/dev/null', '-w', '%{http_code}', ...url('lo12.stnn.test')]);
  assert.equal(c12.stdout, '200', c12.stderr);
  const os = runInNs(NS_L, ['openssl', 's_client', '-connect', `127.0.0.1:${PORT}`, '-servername', 'loossl.stnn.test', '-tls1_3', '-quiet'], 'GET / HTTP/1.0\r\n\r\n');
  assert.match(os.stdout, /HTTP\/1\.0 200 ok/i, os.stderr);
  await until(() => readJsonl(out).length >= 3, 15_000, 'three verdict records');
  await sleep(300);
  const metrics = runInNs(NS_L, ['curl', '-s', 'http://127.0.0.1:9465/metrics']).stdout;
  sensor.child.kill('SIGTERM');
  const fin = await sensor.exited;
  assert.equal(fin.code, 0, fin.stderr);
  tcpdump.kill('SIGINT');
  await exited(tcpdump);
  server.kill('SIGKILL');

  // tcpdump -i lo of the same traffic: the reference, one copy of each packet
  const ref = new Map<string, FlowRecord>();
  const refSummary = await extractFlows([pcap], { onFlow: (f) => ref.set(f.communityId, f) });
  assert.equal(ref.size, 3);
  const recs = readJsonl(out);
  assert.equal(recs.length, 3);
  let refPackets = 0;
  for (const r of recs) {
    const sni = r.tls?.client?.server_name as string;
    const e = ref.get(r.network.community_id);
    assert.ok(e, `${sni}: community id ${r.network.community_id} not in tcpdump's capture`);
    assert.equal(e.tls?.sni, sni);
    assert.equal(r.source.ip, '127.0.0.1');
    assert.equal(r.destination.port, PORT);
    assert.equal(r.source.packets, e.fwdPackets, `${sni}: client packets (tcpdump -i lo: ${e.fwdPackets})`);
    assert.equal(r.destination.packets, e.bwdPackets, `${sni}: server packets (tcpdump -i lo: ${e.bwdPackets})`);
    assert.equal(r.source.bytes, e.fwdBytes, `${sni}: client bytes`);
    assert.equal(r.destination.bytes, e.bwdBytes, `${sni}: server bytes`);
    assert.equal(r.stnn.end_reason, 'fin');
    assert.ok(e.fwdPackets >= 6 && e.bwdPackets >= 5, `${sni}: ${e.fwdPackets}/${e.bwdPackets}`);
    refPackets += e.fwdPackets + e.bwdPackets;
    console.log(`# lo ${sni}: sensor ${r.source.packets}/${r.destination.packets} packets, tcpdump -i lo ${e.fwdPackets}/${e.bwdPackets}`);
  }
  assert.deepEqual(recs.map((r) => r.tls.client.server_name).sort(), ['lo12.stnn.test', 'lo13.stnn.test', 'loossl.stnn.test']);
  assert.equal(refSummary.frames, refPackets, 'tcpdump saw only these flows');
  // every packet taken once, its outgoing twin skipped and counted
  assert.match(metrics, new RegExp(`^stnn_packets_total ${refPackets}$`, 'm'));
  assert.match(metrics, new RegExp(`^stnn_loopback_duplicates_total ${refPackets}$`, 'm'));
  assert.match(metrics, /^stnn_kernel_drops_total 0$/m);
  assert.match(metrics, /^stnn_ring_drops_total 0$/m);
  assert.match(fin.stderr, new RegExp(`done: ${refPackets} packets, `));
});
