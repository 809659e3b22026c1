/**
 * The paper's voting list (§III.A.4, eq. 1; DESIGN.md "Voting list") and the three-case online
 * decision (§III.B), plus the maximum-P_target rule the paper compares it with (§IV.C, Table III).
 *
 * Conventions fixed here (everything else in the project relies on them):
 * - A one-class classifier "says true" when P_target > threshold (strictly; with the default 0.5
 *   this is P_target > P_non-target, the softmax argmax; an exact 0.5 tie is "false").
 * - q = P_target / P_non-target. Callers that have both softmax outputs (or the logits: q =
 *   exp(z_target − z_non)) should pass q, because 1 − P_target computed from a float32 P_target
 *   saturates near 1 (float32 spacing below 1 is 6e-8, so q cannot be told apart above ~1.7e7 and
 *   is coarse near the 10^6 gap edge). Without q it is derived as p / (1 − p); P_non-target = 0
 *   gives q = ∞ (the last gap).
 * - Gap j (0-based) is (10^j, 10^(j+1)] for j = 0…5 and (10^6, ∞) for j = 6, except that gap 0
 *   also takes q ≤ 0 and NaN (the paper's first gap starts at 0, and a bad score must not index
 *   outside the list).
 */
import type { Verdict, VerdictCandidate } from '../flow/record.js';
import { StnnError } from '../util/errors.js';

export const GAP_COUNT = 7;

/** Upper bounds of gaps 0…5 (gap 6 is open). Literal constants: Math.log10 is not exact at 10^k. */
const GAP_UPPER = [1e1, 1e2, 1e3, 1e4, 1e5, 1e6] as const;

/** Gap index 0…6 of q: (0,10] → 0, (10,100] → 1, …, (10^5,10^6] → 5, (10^6, ∞] → 6. */
export function gapIndex(q: number): number {
  if (!(q > GAP_UPPER[0])) return 0; // also q ≤ 0 and NaN
  for (let j = 1; j < GAP_UPPER.length; j++) if (q <= GAP_UPPER[j]) return j;
  return GAP_COUNT - 1;
}

/** q = P_target / P_non-target from P_target alone (P_non-target = 1 − p; 0 → ∞). */
export function qFromP(p: number): number {
  const non = 1 - p;
  if (non <= 0) return p > 0 ? Infinity : 0;
  return p / non;
}

export interface VotingCalibration {
  /** v_ij for j = 0…6 (what the manifest stores and `decide` reads). */
  votingList: number[];
  /** |C_i| per gap: calibration flows the classifier called true with q in the gap. */
  called: number[];
  /** |T| per gap: those among them that truly belong to the classifier's application. */
  correct: number[];
  /** Precision over all gaps together (Σ correct / Σ called; 0 when nothing was called true). */
  precision: number;
  /** Gaps that had no calls and took the fallback value. */
  emptyGaps: number[];
}

/**
 * Eq. 1 on a calibration set (the validation split): for each gap j, the share of the flows this
 * classifier called true with q in gap j that truly are its application.
 *
 * A gap without any call has no evidence. It gets the classifier's overall precision on the
 * calibration set (all gaps pooled): that is the best estimate of how often a "true" from this
 * classifier is right when nothing more specific is known. 0 would make the classifier lose every
 * vote exactly when it is most sure (the top gaps are the ones that tend to be empty on small
 * calibration sets), and 1 would claim a certainty never observed. A classifier that called nothing
 * true at all gets 0 everywhere (no evidence that its "true" is ever right).
 *
 * `q` optionally gives P_target / P_non-target per flow (see the module note); otherwise it is
 * derived from pTarget.
 */
export function calibrateVotingListDetailed(
  pTarget: ArrayLike<number>,
  isPositive: ArrayLike<number | boolean>,
  threshold = 0.5,
  q?: ArrayLike<number>,
): VotingCalibration {
  if (pTarget.length !== isPositive.length || (q && q.length !== pTarget.length)) {
    throw new StnnError(
      'STNN_BAD_INPUT',
      `voting list calibration: ${pTarget.length} scores but ${isPositive.length} labels${q ? ` and ${q.length} quotients` : ''}`,
    );
  }
  const called = new Array<number>(GAP_COUNT).fill(0);
  const correct = new Array<number>(GAP_COUNT).fill(0);
  for (let k = 0; k < pTarget.length; k++) {
    const p = pTarget[k];
    if (!(p > threshold)) continue;
    const g = gapIndex(q ? q[k] : qFromP(p));
    called[g]++;
    if (isPositive[k]) correct[g]++;
  }
  const totalCalled = called.reduce((a, b) => a + b, 0);
  const totalCorrect = correct.reduce((a, b) => a + b, 0);
  const precision = totalCalled > 0 ? totalCorrect / totalCalled : 0;
  const emptyGaps: number[] = [];
  const votingList = called.map((c, j) => {
    if (c > 0) return correct[j] / c;
    emptyGaps.push(j);
    return precision;
  });
  return { votingList, called, correct, precision, emptyGaps };
}

/** Eq. 1: the voting list (length GAP_COUNT) of one classifier; see calibrateVotingListDetailed. */
export function calibrateVotingList(
  pTarget: Float32Array | number[],
  isPositive: ArrayLike<number | boolean>,
  threshold = 0.5,
  q?: ArrayLike<number>,
): number[] {
  return calibrateVotingListDetailed(pTarget, isPositive, threshold, q).votingList;
}

/** One classifier's output for one flow. `q` as in the module note (optional). */
export interface AppScore {
  app: string;
  p: number;
  q?: number;
}

function checkList(app: string, list: number[] | undefined): number[] {
  if (!list || list.length !== GAP_COUNT) {
    throw new StnnError(
      'STNN_MODEL',
      list ? `voting list of '${app}' has ${list.length} values, expected ${GAP_COUNT}` : `no voting list for application '${app}'`,
    );
  }
  return list;
}

/** Ranks candidates: larger vote, then larger q, then larger p, then app name (determinism). */
function byVote(a: VerdictCandidate, b: VerdictCandidate): number {
  return b.vote - a.vote || cmpDesc(a.q, b.q) || b.p - a.p || (a.app < b.app ? -1 : a.app > b.app ? 1 : 0);
}

/** Descending order that copes with Infinity (∞ − ∞ is NaN). */
function cmpDesc(x: number, y: number): number {
  return x === y ? 0 : x > y ? -1 : 1;
}

function candidatesOf(scores: AppScore[], votingLists: Map<string, number[]> | null, threshold: number): VerdictCandidate[] {
  const out: VerdictCandidate[] = [];
  for (const s of scores) {
    if (!(s.p > threshold)) continue;
    const q = s.q ?? qFromP(s.p);
    const vote = votingLists ? checkList(s.app, votingLists.get(s.app))[gapIndex(q)] : 0;
    out.push({ app: s.app, p: s.p, q, vote });
  }
  return out;
}

function unknownVerdict(scores: AppScore[]): Verdict {
  let maxP = 0;
  for (const s of scores) if (s.p > maxP) maxP = s.p;
  // Confidence of 'unknown' = 1 − the largest P_target: the P_non-target of the classifier that
  // came closest to claiming the flow.
  return { app: 'unknown', confidence: 1 - maxP, candidates: [], decided_by: 'none' };
}

/**
 * The paper's online decision (§III.B):
 * - no classifier says true → 'unknown', decided_by 'none', no candidates;
 * - exactly one → its application, decided_by 'single';
 * - several → the one with the largest v_i,gap(q_i) (ties: larger q, then larger p, then name),
 *   decided_by 'vote'.
 * `candidates` are the classifiers that said true, best first, each with p, q and its vote.
 * `confidence` is the chosen classifier's P_target in both the single and the vote case, so that it
 * means the same thing whatever decided; the vote itself is in the candidate.
 */
export function decide(scores: AppScore[], votingLists: Map<string, number[]>, threshold = 0.5): Verdict {
  const cands = candidatesOf(scores, votingLists, threshold);
  if (cands.length === 0) return unknownVerdict(scores);
  if (cands.length === 1) return { app: cands[0].app, confidence: cands[0].p, candidates: cands, decided_by: 'single' };
  cands.sort(byVote);
  return { app: cands[0].app, confidence: cands[0].p, candidates: cands, decided_by: 'vote' };
}

/**
 * The "maximum P_target" rule of the paper's Table III comparison.
 *
 * Reading of §IV.C: the voting list is the paper's mechanism for the case where several classifiers
 * say true, and Table III swaps only that mechanism for the usual "take the largest P_target". So the
 * default `among: 'claimed'` keeps the three cases (none true → unknown, one → it) and picks the
 * largest P_target among the classifiers that said true (ties: larger q, then name); the two rules
 * then differ only on flows claimed by several classifiers, which isolates the effect of the list.
 * `among: 'all'` is the plain multi-class argmax over every classifier (never 'unknown'), reported
 * beside it for completeness. decided_by is 'single'/'vote' as in `decide` ('vote' meaning "several
 * claimed it"), candidates are ordered by P_target and carry vote 0 (no list is consulted).
 */
export function decideMaxP(scores: AppScore[], threshold = 0.5, among: 'claimed' | 'all' = 'claimed'): Verdict {
  const cands = candidatesOf(scores, null, among === 'all' ? -Infinity : threshold);
  if (cands.length === 0) return unknownVerdict(scores);
  cands.sort((a, b) => b.p - a.p || cmpDesc(a.q, b.q) || (a.app < b.app ? -1 : a.app > b.app ? 1 : 0));
  const claimed = among === 'all' ? cands.filter((c) => c.p > threshold).length : cands.length;
  return {
    app: cands[0].app,
    confidence: cands[0].p,
    candidates: cands,
    decided_by: claimed > 1 ? 'vote' : 'single',
  };
}
