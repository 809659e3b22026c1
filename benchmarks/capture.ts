/**
 * Live capture benchmark (not a test; root only). Builds one large capture from the corpus's
 * Ethernet captures (frames of at most 1514 bytes, captured whole, as DESIGN.md says tcpreplay
 * needs; the IPv4 addresses of each repetition shifted so repeated flows stay distinct), then
 * replays it with `tcpreplay --topspeed` from one network namespace onto a veth pair (MTU 9000)
 * while, in the other namespace on the same interface and in the same run, `stnn sensor` (null
 * sink, no model: capture + flows + features) and `tcpdump -w /dev/null` both capture.
 * Prints the achieved packets/s, kernel drops, ring drops and unclassified flows side by side.
 *
 *   node --import tsx benchmarks/capture.ts [--packets 1000000] [--shards 2] [--models DIR]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { newRawFrame, openCapture } from '../src/capture/reader.js';
import { StnnError } from '../src/util/errors.js';

const { values } = parseArgs({
  options: {
    packets: { type: 'string', default: '1000000' },
    shards: { type: 'string', default: '2' },
    models: { type: 'string' },
    corpus: { type: 'string' },
  },
});
const target = Number(values.packets);
const shards = Number(values.shards);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = existsSync(path.join(here, '..', 'package.json')) ? path.join(here, '..') : path.join(here, '..', '..');
const corpus = values.corpus ?? path.join(root, '..', 'shared', 'corpus', 'ndpi', 'pcap');

if (process.getuid?.() !== 0) {
  console.error('benchmarks/capture: needs root (network namespaces, AF_PACKET, tcpreplay)');
  process.exit(2);
}
for (const c of ['ip', 'tcpreplay', 'tcpdump']) {
  if (spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0) {
    console.error(`benchmarks/capture: ${c} is not installed`);
    process.exit(2);
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'stnn-bench-capture-'));
const merged = path.join(dir, 'merged.pcap');

/** Writes the merged capture: whole Ethernet frames ≤ 1514 bytes, repeated up to `target`. */
function buildCapture(): { packets: number; bytes: number; files: number } {
  const frames: Uint8Array[] = [];
  let files = 0;
  for (const name of readdirSync(corpus).sort()) {
    let reader;
    try {
      reader = openCapture(path.join(corpus, name));
    } catch {
      continue;
    }
    const f = newRawFrame();
    let used = false;
    try {
      while (reader.next(f)) {
        if (f.linkType !== 1 || f.capLen > 1514 || f.capLen !== f.wireLen || f.capLen < 14) continue;
        frames.push(f.buf.slice(f.off, f.off + f.capLen));
        used = true;
      }
    } catch (e) {
      if (!(e instanceof StnnError)) throw e;
    } finally {
      reader.close();
    }
    if (used) files++;
  }
  const fd = openSync(merged, 'w');
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(1, 20);
  writeSync(fd, hdr);
  const rec = Buffer.alloc(16);
  let packets = 0;
  let bytes = 0;
  const chunk: Buffer[] = [];
  let chunkBytes = 0;
  for (let rep = 0; packets < target; rep++) {
    for (const fr of frames) {
      if (packets >= target) break;
      const b = Buffer.from(fr);
      // IPv4 without VLAN: shift the second octet of both addresses by the repetition number.
      if (rep > 0 && b.length >= 34 && b[12] === 0x08 && b[13] === 0x00) {
        b[27] = (b[27]! + rep) & 0xff;
        b[31] = (b[31]! + rep) & 0xff;
      }
      const t = packets * 2; // 2 µs apart (tcpreplay --topspeed ignores it)
      rec.writeUInt32LE(Math.floor(t / 1e6), 0);
      rec.writeUInt32LE(t % 1e6, 4);
      rec.writeUInt32LE(b.length, 8);
      rec.writeUInt32LE(b.length, 12);
      chunk.push(Buffer.from(rec), b);
      chunkBytes += 16 + b.length;
      packets++;
      bytes += b.length;
      if (chunkBytes > 1 << 22) {
        writeSync(fd, Buffer.concat(chunk));
        chunk.length = 0;
        chunkBytes = 0;
      }
    }
    if (frames.length === 0) break;
  }
  writeSync(fd, Buffer.concat(chunk));
  closeSync(fd);
  return { packets, bytes, files };
}

const NS_S = `stnnBS${process.pid}`;
const NS_C = `stnnBC${process.pid}`;
const VS = `sbs${process.pid % 100000}`;
const VC = `sbc${process.pid % 100000}`;
const sh = (args: string[]) => {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const procs: ChildProcess[] = [];

function cleanup(): void {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  spawnSync('ip', ['netns', 'del', NS_S]);
  spawnSync('ip', ['netns', 'del', NS_C]);
  rmSync(dir, { recursive: true, force: true });
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.split(' ').pop());
  return sum;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const cap = buildCapture();
  console.log(`capture: ${cap.packets} frames, ${cap.bytes} bytes from ${cap.files} corpus files (${((performance.now() - t0) / 1000).toFixed(1)} s to build)`);

  sh(['ip', 'netns', 'add', NS_S]);
  sh(['ip', 'netns', 'add', NS_C]);
  sh(['ip', 'link', 'add', VS, 'mtu', '9000', 'type', 'veth', 'peer', 'name', VC, 'mtu', '9000']);
  sh(['ip', 'link', 'set', VS, 'netns', NS_S]);
  sh(['ip', 'link', 'set', VC, 'netns', NS_C]);
  sh(['ip', '-n', NS_S, 'link', 'set', VS, 'up']);
  sh(['ip', '-n', NS_C, 'link', 'set', VC, 'up']);
  sh(['ip', '-n', NS_S, 'link', 'set', 'lo', 'up']);

  const cfg = path.join(dir, 'bench.yaml');
  writeFileSync(cfg, [
    `capture: { interface: ${VS}, shards: ${shards}, block_size: 1048576, block_count: 64, ring_bytes: 67108864 }`,
    values.models ? `inference: { models: ${JSON.stringify(values.models)} }` : '',
    'outputs: [{ type: "null" }]',
    'metrics: { listen: "127.0.0.1:9464" }',
    '',
  ].join('\n'));
  const ts = import.meta.url.endsWith('.ts');
  const runner = path.join(root, ts ? 'src/sensor/entry.ts' : 'dist/src/sensor/entry.js');
  const sensor = spawn('ip', ['netns', 'exec', NS_S, process.execPath, ...(ts ? ['--import', 'tsx'] : []), runner, '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(sensor);
  let sensorErr = '';
  sensor.stderr!.on('data', (d: Buffer) => (sensorErr += d.toString()));
  const tcpdump = spawn('ip', ['netns', 'exec', NS_S, 'tcpdump', '-i', VS, '-n', '-s', '0', '-B', '65536', '-w', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(tcpdump);
  let tcpdumpErr = '';
  tcpdump.stderr!.on('data', (d: Buffer) => (tcpdumpErr += d.toString()));
  for (let i = 0; !/capturing on /.test(sensorErr); i++) {
    if (sensor.exitCode !== null || i > 600) throw new Error(`sensor did not start: ${sensorErr}`);
    await sleep(50);
  }
  await sleep(1000);

  const r = spawnSync('ip', ['netns', 'exec', NS_C, 'tcpreplay', '--topspeed', '-i', VC, merged], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tcpreplay: ${r.stderr}`);
  const replay = r.stdout;
  const secs = Number(/Actual: \d+ packets \(\d+ bytes\) sent in ([\d.]+) seconds/.exec(replay)?.[1] ?? NaN);
  const sent = Number(/Actual: (\d+) packets/.exec(replay)?.[1] ?? NaN);
  const rated = Number(/Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(replay)?.[1] ?? NaN);
  // Let the shards work through their rings and the capture thread through the kernel ring.
  let last = -1;
  let text = '';
  for (let i = 0; i < 120; i++) {
    await sleep(500);
    text = sh(['ip', 'netns', 'exec', NS_S, 'curl', '-s', 'http://127.0.0.1:9464/metrics']);
    const p = metric(text, 'stnn_packets_total');
    if (p === last) break;
    last = p;
  }
  sensor.kill('SIGTERM');
  tcpdump.kill('SIGINT');
  await Promise.all([sensor, tcpdump].map((p) => new Promise((res) => (p.exitCode !== null ? res(null) : p.once('close', res)))));

  const sPackets = metric(text, 'stnn_packets_total');
  const sKernel = metric(text, 'stnn_kernel_drops_total');
  const sRing = metric(text, 'stnn_ring_drops_total');
  // Flow records and unclassified flows: the final counts (open flows are flushed at stop).
  const doneLine = /(\d+) flow records, (\d+) unclassified/.exec(sensorErr);
  const sRecords = doneLine ? Number(doneLine[1]) : metric(text, 'stnn_verdicts_total');
  const sUncl = doneLine ? Number(doneLine[2]) : metric(text, 'stnn_unclassified_flows_total');
  const tdCaptured = Number(/(\d+) packets? captured/.exec(tcpdumpErr)?.[1] ?? NaN);
  const tdDropped = Number(/(\d+) packets? dropped by kernel/.exec(tcpdumpErr)?.[1] ?? NaN);
  const done = /done: .*/.exec(sensorErr)?.[0] ?? '(no summary)';

  console.log(`tcpreplay --topspeed: ${sent} packets in ${secs} s = ${rated} packets/s`);
  console.log('');
  console.log('                       stnn sensor     tcpdump -w /dev/null');
  console.log(`packets captured       ${String(sPackets).padEnd(15)} ${tdCaptured}`);
  console.log(`packets/s (replay)     ${String(Math.round(sPackets / secs)).padEnd(15)} ${Math.round(tdCaptured / secs)}`);
  console.log(`kernel drops           ${String(sKernel).padEnd(15)} ${tdDropped}`);
  console.log(`ring drops             ${String(sRing).padEnd(15)} -`);
  console.log(`flow records (final)   ${String(sRecords).padEnd(15)} -`);
  console.log(`unclassified flows     ${String(sUncl).padEnd(15)} -`);
  console.log(`missing vs sent        ${String(sent - sPackets).padEnd(15)} ${sent - tdCaptured}`);
  console.log(`sensor: ${done}`);
  console.log(`shards: ${shards}, models: ${values.models ?? 'none (features-only)'}`);
}

main().then(cleanup, (e) => {
  console.error(e instanceof Error ? e.message : e);
  cleanup();
  process.exitCode = 1;
});
