/**
 * The fixed, named order of the 115 STNN features (paper Table I × 5 objects, DESIGN.md
 * "Features"). One table, used by every writer (CSV header, JSONL/msgpack metadata) and by
 * FlowStats.write(): feature j of object v sits at index v * N_COLS + j.
 *
 * Bump FEATURE_SET_VERSION whenever a name, the order or a definition changes, so that a
 * model trained on one feature set is never fed another.
 */

/** Version of the feature definitions and order; written next to every feature output. */
export const FEATURE_SET_VERSION = 'stnn-115/1';

/** The five objects (rows), in order: all packets, forward (client→server), backward, handshake phase, data phase. */
export const OBJECT_NAMES = ['all', 'fwd', 'bwd', 'hs', 'data'] as const;
export type ObjectName = (typeof OBJECT_NAMES)[number];

const SEQUENCES = ['len', 'cumlen', 'iat', 'cumiat'] as const;
const MOMENTS = ['min', 'max', 'mean', 'median', 'std'] as const;

/** The 23 statistics (columns) of one object, in order. */
export const STAT_NAMES: readonly string[] = Object.freeze([
  ...SEQUENCES.flatMap((s) => MOMENTS.map((m) => `${s}_${m}`)),
  'pkt_count',
  'pkt_per_sec',
  'bytes_per_sec',
]);

export const N_ROWS = 5;
export const N_COLS = 23;
export const N_FEATURES = 115;

/** `${object}_${stat}`, row-major: object 0's 23 statistics, then object 1's, … */
export const FEATURE_NAMES: readonly string[] = Object.freeze(
  OBJECT_NAMES.flatMap((o) => STAT_NAMES.map((s) => `${o}_${s}`)),
);

/** Column index of each statistic inside a row (STAT.len_median === 3, …). */
export const STAT = Object.freeze({
  len_min: 0, len_max: 1, len_mean: 2, len_median: 3, len_std: 4,
  cumlen_min: 5, cumlen_max: 6, cumlen_mean: 7, cumlen_median: 8, cumlen_std: 9,
  iat_min: 10, iat_max: 11, iat_mean: 12, iat_median: 13, iat_std: 14,
  cumiat_min: 15, cumiat_max: 16, cumiat_mean: 17, cumiat_median: 18, cumiat_std: 19,
  pkt_count: 20, pkt_per_sec: 21, bytes_per_sec: 22,
} as const);

/** Row index of each object (OBJ.fwd === 1, …). */
export const OBJ = Object.freeze({ all: 0, fwd: 1, bwd: 2, hs: 3, data: 4 } as const);

/** Index of a named feature in the 115-vector, or -1. */
export function featureIndex(name: string): number {
  return FEATURE_NAMES.indexOf(name);
}

if (STAT_NAMES.length !== N_COLS || FEATURE_NAMES.length !== N_FEATURES || OBJECT_NAMES.length !== N_ROWS) {
  throw new Error('features/names: table sizes disagree');
}
for (const [k, v] of Object.entries(STAT)) {
  if (STAT_NAMES[v] !== k) throw new Error(`features/names: STAT.${k} does not point at its name`);
}
