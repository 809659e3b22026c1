/**
 * Micro-benchmark of FlowStats (not a test): ns per add() and per write(), and the state bytes.
 * Each figure is the best of 3 runs (the machine is shared; the best run is the least disturbed).
 * Run: node --import tsx benchmarks/features.ts   (or node dist/benchmarks/features.js after a build)
 */
import { FlowStats, WINDOW } from '../src/features/flow-stats.js';
import { mulberry32 } from '../src/dataset/split.js';


// Pre-generated packets (web-like lengths, exponential gaps) so the timed loops only call add().
const N = 1 << 20;
const r = mulberry32(1);
const LEN = new Float64Array(N);
const TS = new Float64Array(N);
const DIR = new Uint8Array(N);
{
  let t = 0;
  for (let i = 0; i < N; i++) {
    const u = r();
    LEN[i] = u < 0.5 ? 52 : u < 0.8 ? 1500 : 60 + Math.floor(r() * 1441);
    t += -Math.log(1 - r()) * 0.01;
    TS[i] = t;
    DIR[i] = r() < 0.4 ? 0 : 1;
  }
}
const out = new Float64Array(115);

/** One flow object, `total` packets in flows of `perFlow` (state stays in cache). */
function hot(perFlow: number, total: number): number {
  const fs = new FlowStats();
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < total; ) {
    fs.reset();
    for (let i = 0; i < perFlow; i++, done++) {
      const j = done & (N - 1);
      fs.add(LEN[j], TS[j], DIR[j] as 0 | 1, i < 12 ? 0 : 1);
    }
  }
  return Number(process.hrtime.bigint() - t0) / total;
}

/**
 * `live` concurrent flows, packets dealt round-robin (as a sensor sees them); every flow ends
 * after `perFlow` packets with write() and reset(), and a new one takes its place.
 */
function interleaved(live: number, perFlow: number, total: number): number {
  const flows = Array.from({ length: live }, () => new FlowStats());
  const seen = new Int32Array(live);
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < total; done++) {
    const f = done % live;
    const fs = flows[f];
    const i = seen[f]++;
    const j = done & (N - 1);
    fs.add(LEN[j], TS[j], DIR[j] as 0 | 1, i < 12 ? 0 : 1);
    if (i + 1 === perFlow) {
      fs.write(out);
      fs.reset();
      seen[f] = 0;
    }
  }
  return Number(process.hrtime.bigint() - t0) / total;
}

function writeCost(perFlow: number, reps: number): number {
  const fs = new FlowStats();
  for (let i = 0; i < perFlow; i++) fs.add(LEN[i], TS[i], DIR[i] as 0 | 1, i < 12 ? 0 : 1);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) fs.write(out);
  return Number(process.hrtime.bigint() - t0) / reps;
}

const best = (f: () => number) => Math.min(f(), f(), f());
const TOTAL = 2_000_000;
hot(20, 500_000); // warm-up
hot(1000, 500_000);
interleaved(256, 100, 500_000);
console.log('FlowStats.add(), ns per packet, best of 3:');
console.log(`  one flow object, 20-packet flows (exact window):         ${best(() => hot(20, TOTAL)).toFixed(1)}`);
console.log(`  one flow object, 100000-packet flows (histograms, rings): ${best(() => hot(100_000, TOTAL)).toFixed(1)}`);
console.log(`  4096 live flows interleaved, 20 packets each, + write():  ${best(() => interleaved(4096, 20, TOTAL)).toFixed(1)}`);
console.log(`  4096 live flows interleaved, 500 packets each, + write(): ${best(() => interleaved(4096, 500, TOTAL)).toFixed(1)}`);
console.log(`FlowStats.write(): ${best(() => writeCost(20, 100_000)).toFixed(0)} ns (20-packet flow), ` +
  `${best(() => writeCost(5000, 100_000)).toFixed(0)} ns (flow past the window)`);
console.log(`state: ${FlowStats.BASE_BYTES} bytes per flow (window W=${WINDOW}), ` +
  `${FlowStats.STATE_BYTES} bytes max (STATE_BYTES, once past the window)`);
