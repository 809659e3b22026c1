/**
 * Benchmark (not a test): packets per second of `stnn features` against
 * ndpiReader on the same capture in the same run, and bytes of flow state per
 * active flow.
 *
 *   npm run build && node --expose-gc dist/benchmarks/flow-engine.js [--runs 3] [--copies 10]
 *
 * The capture: every Ethernet capture of the shared corpus merged in time order
 * (mergecap), then that merge N times over, each copy shifted in time by
 * 2·10^9 s (editcap -t) so that its flows start after the previous copy's ended,
 * written as pcapng (64-bit timestamps). Built once into $STNN_BENCH_DIR
 * (default /tmp/stnn-bench). Needs Debian's wireshark-common (mergecap, editcap)
 * and libndpi-bin (ndpiReader).
 *
 * Timings on a shared machine are noisy: both tools run alternately, and each
 * run's CPU time (user + sys, from bash's `times`) is reported beside the wall
 * time; the ratio is taken on CPU time and on wall time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openCapture, newRawFrame } from '../src/capture/reader.js';
import { decodeFrame, DecodeCounters, DecodedPacket } from '../src/decode/index.js';
import { FlowStats } from '../src/features/flow-stats.js';
import { FlowTable } from '../src/flow/table.js';
import { corpusDir, repoRoot } from '../test/helpers/paths.js';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const runs = opt('runs', 3);
const copies = opt('copies', 10);
const benchDir = process.env.STNN_BENCH_DIR ?? '/tmp/stnn-bench';

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function etherCaptures(): string[] {
  const dir = join(corpusDir(), 'ndpi', 'pcap');
  const out: string[] = [];
  const frame = newRawFrame();
  for (const name of readdirSync(dir).sort()) {
    if (!/\.(pcap|pcapng|cap)$/.test(name)) continue;
    try {
      const r = openCapture(join(dir, name));
      let ether = true;
      let n = 0;
      try {
        while (r.next(frame)) { n++; if (frame.linkType !== 1) { ether = false; break; } }
      } catch { /* truncated: what was read decides */ }
      r.close();
      if (ether && n > 0) out.push(join(dir, name));
    } catch { /* not a capture */ }
  }
  return out;
}

function buildCapture(): string {
  mkdirSync(benchDir, { recursive: true });
  const target = join(benchDir, `merged${copies}.pcapng`);
  if (existsSync(target)) return target;
  const files = etherCaptures();
  const one = join(benchDir, 'merged1.pcap');
  execFileSync('mergecap', ['-F', 'pcap', '-w', one, ...files], { stdio: 'inherit' });
  const parts: string[] = [];
  for (let k = 0; k < copies; k++) {
    const part = join(benchDir, `copy${k}.pcapng`);
    execFileSync('editcap', ['-F', 'pcapng', '-t', String(k * 2e9), one, part]);
    parts.push(part);
  }
  execFileSync('mergecap', ['-a', '-F', 'pcapng', '-w', target, ...parts]);
  for (const p of parts) unlinkSync(p);
  console.log(`built ${target} from ${files.length} Ethernet captures × ${copies}`);
  return target;
}

/** Runs a command under bash, returns wall and CPU (user+sys of children) seconds. */
function timed(cmd: string): { wall: number; cpu: number } {
  const script = `TIMEFORMAT='%R %U %S'; { time ${cmd} >/dev/null 2>/dev/null ; } 2>&1`;
  const out = execFileSync('bash', ['-c', script], { encoding: 'utf8' }).trim().split('\n').pop()!;
  const [r, u, s] = out.split(' ').map(Number);
  return { wall: r, cpu: u + s };
}

function countFrames(path: string): number {
  const r = openCapture(path);
  const f = newRawFrame();
  let n = 0;
  while (r.next(f)) n++;
  r.close();
  return n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function flowStateBytes(path: string): { flows: number; perFlow: number; statsBase: number; statsMax: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return { flows: 0, perFlow: NaN, statsBase: FlowStats.BASE_BYTES, statsMax: FlowStats.STATE_BYTES };
  // hold every flow of the first merged copy (no timeouts), all flows with statistics
  const table = new FlowTable({ idleTimeout: 1e12, activeTimeout: 1e12, closedTimeout: 1e12, maxFlows: 1e7, allFlows: true }, () => {});
  const r = openCapture(path);
  const frame = newRawFrame();
  const pkt = new DecodedPacket();
  const c = new DecodeCounters();
  gc();
  const before = process.memoryUsage();
  let n = 0;
  while (r.next(frame) && n < 100000) {
    n++;
    if (decodeFrame(frame, pkt, c)) table.onPacket(pkt);
  }
  gc();
  const after = process.memoryUsage();
  r.close();
  const bytes = (after.heapUsed - before.heapUsed) + (after.arrayBuffers - before.arrayBuffers);
  return { flows: table.size, perFlow: bytes / table.size, statsBase: FlowStats.BASE_BYTES, statsMax: FlowStats.STATE_BYTES };
}

async function main() {
  for (const cmd of ['mergecap', 'editcap', 'ndpiReader']) {
    if (!have(cmd)) {
      console.error(`benchmark needs ${cmd}: apt-get install wireshark-common libndpi-bin`);
      process.exit(2);
    }
  }
  const capture = buildCapture();
  const frames = countFrames(capture);
  const stnn = `node ${resolve(repoRoot(), 'bin', 'stnn.js')} features ${capture} --out /dev/null --quiet`;
  const ndpi = `ndpiReader -i ${capture} -q`;
  const res = { stnn: [] as { wall: number; cpu: number }[], ndpi: [] as { wall: number; cpu: number }[] };
  for (let i = 0; i < runs; i++) {
    res.ndpi.push(timed(ndpi));
    res.stnn.push(timed(stnn));
  }
  const row = (name: string, xs: { wall: number; cpu: number }[]) => {
    const wall = median(xs.map((x) => x.wall));
    const cpu = median(xs.map((x) => x.cpu));
    console.log(`${name.padEnd(12)} wall ${wall.toFixed(2).padStart(6)} s  ${(frames / wall / 1e3).toFixed(0).padStart(6)} k pkt/s   cpu ${cpu.toFixed(2).padStart(6)} s  ${(frames / cpu / 1e3).toFixed(0).padStart(6)} k pkt/s`);
    return { wall, cpu };
  };
  console.log(`capture: ${capture}, ${frames} frames; ${runs} runs each, medians; load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const a = row('ndpiReader', res.ndpi);
  const b = row('stnn', res.stnn);
  console.log(`ratio stnn/ndpiReader (throughput): cpu ${(a.cpu / b.cpu).toFixed(2)}×, wall ${(a.wall / b.wall).toFixed(2)}×`);
  const st = flowStateBytes(capture);
  console.log(`flow state: ${st.flows} active flows held, ${st.perFlow.toFixed(0)} bytes each on the heap (FlowStats typed state ${st.statsBase} bytes, ${st.statsMax} past ${32} packets)`);
}

main().catch((e) => { console.error(e); process.exit(1); });
