/**
 * Micro-benchmark of FlowStats (not a test): ns per add() for short flows (inside the exact
 * window), long flows (past it: histograms and sample rings), and write(); plus the state bytes.
 * Run: node --import tsx benchmarks/features.ts   (or node dist/benchmarks/features.js)
 */
import { FlowStats, WINDOW } from '../src/features/flow-stats.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Pre-generated packets so that the timed loop only calls add().
const N = 1 << 20;
const r = mulberry32(1);
const LEN = new Float64Array(N);
const TS = new Float64Array(N);
const DIR = new Uint8Array(N);
let t = 0;
for (let i = 0; i < N; i++) {
  const u = r();
  LEN[i] = u < 0.5 ? 52 : u < 0.8 ? 1500 : 60 + Math.floor(r() * 1441);
  t += -Math.log(1 - r()) * 0.01;
  TS[i] = t;
  DIR[i] = r() < 0.4 ? 0 : 1;
}

/** ns per add() over `total` packets cut into flows of `perFlow` packets, reusing `flows` objects. */
function bench(perFlow: number, total: number, flows: number, withWrite: boolean): number {
  const pool = Array.from({ length: flows }, () => new FlowStats());
  const out = new Float64Array(115);
  let k = 0;
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < total; ) {
    const fs = pool[k++ % flows];
    fs.reset();
    for (let i = 0; i < perFlow; i++, done++) {
      const j = done & (N - 1);
      fs.add(LEN[j], TS[j], DIR[j] as 0 | 1, i < 12 ? 0 : 1);
    }
    if (withWrite) fs.write(out);
  }
  return Number(process.hrtime.bigint() - t0) / total;
}

function benchWrite(perFlow: number, reps: number): number {
  const fs = new FlowStats();
  for (let i = 0; i < perFlow; i++) fs.add(LEN[i], TS[i], DIR[i] as 0 | 1, i < 12 ? 0 : 1);
  const out = new Float64Array(115);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) fs.write(out);
  return Number(process.hrtime.bigint() - t0) / reps;
}

const TOTAL = 4_000_000;
bench(20, 500_000, 64, true); // warm-up
bench(1000, 500_000, 64, true);
const rows: [string, number, number][] = [
  ['20-packet flows (inside the exact window)', 20, 1024],
  ['200-packet flows (extension taken and replayed once per flow)', 200, 1024],
  ['100000-packet flows (histograms and sample rings)', 100_000, 4],
];
console.log(`FlowStats.add(), ns per packet (${TOTAL} packets each; reset() per flow included):`);
for (const [name, per, flows] of rows) {
  const a = bench(per, TOTAL, flows, false);
  const w = bench(per, TOTAL, flows, true);
  console.log(`  ${name}: ${a.toFixed(1)} ns; with write() at each flow end: ${w.toFixed(1)} ns`);
}
console.log(`FlowStats.write(): ${benchWrite(20, 200_000).toFixed(0)} ns (flow of 20 packets), ` +
  `${benchWrite(5000, 200_000).toFixed(0)} ns (flow past the window)`);
console.log(`state: ${FlowStats.BASE_BYTES} bytes per flow (window W=${WINDOW}), ` +
  `${FlowStats.STATE_BYTES} bytes max (STATE_BYTES, once past the window)`);
