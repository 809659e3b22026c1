// Deterministic pseudo-random numbers for the testbed: every parameter of a run comes from
// (seed, label) so that the same command plans the same sessions.

/** 32-bit FNV-1a of a string. */
export function fnv1a32(str) {
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A generator seeded from a number and a label (mulberry32). */
export class Rng {
  constructor(seed, label = '') {
    this.state = fnv1a32(`${seed}/${label}`) || 0x9e3779b9;
  }
  /** Next 32-bit unsigned integer. */
  u32() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next() {
    return this.u32() / 4294967296;
  }
  /** Uniform in [lo, hi). */
  uniform(lo, hi) {
    return lo + (hi - lo) * this.next();
  }
  /** Integer uniform in [lo, hi] (both included). */
  int(lo, hi) {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** Log-uniform in [lo, hi): sizes spread over orders of magnitude. */
  logUniform(lo, hi) {
    return Math.exp(this.uniform(Math.log(lo), Math.log(hi)));
  }
  /** Exponential with the given mean. */
  exp(mean) {
    return -mean * Math.log(1 - this.next());
  }
  /** Normal (Box-Muller). */
  normal(mean, sd) {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** true with probability p. */
  chance(p) {
    return this.next() < p;
  }
  /** One element of a list. */
  pick(list) {
    return list[Math.floor(this.next() * list.length)];
  }
  /** One key of {key: weight}. */
  weighted(weights) {
    const entries = Object.entries(weights);
    let total = 0;
    for (const [, w] of entries) total += w;
    let x = this.next() * total;
    for (const [k, w] of entries) {
      if ((x -= w) < 0) return k;
    }
    return entries[entries.length - 1][0];
  }
}
