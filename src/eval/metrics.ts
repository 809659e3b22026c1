/**
 * Multi-class metrics: the paper's eqs. 2–5 (macroP, macroR, macroF1, average accuracy) and the
 * usual ones next to them (overall accuracy, mean per-class F1), from a confusion matrix.
 *
 * How 'unknown' and 'background' enter (decided here, used by `stnn eval`):
 * - 'background' is the true class of flows that belong to no modelled application (unmatched by
 *   the label rules, or labelled with an application that has no classifier). The right answer for
 *   such a flow is 'unknown' (no classifier claims it). `evalLabels` therefore maps the prediction
 *   'unknown' onto the class 'background': in the matrix the background row holds the truly
 *   background flows and the background column holds the 'unknown' predictions.
 * - An application flow predicted 'unknown' is a miss: it lowers that application's recall (and
 *   lowers background precision, since it lands in the background column).
 * - The macro averages (eqs. 2–5) and meanF1 run over the application classes only, as in the
 *   paper, whose n classes are its applications: background is not an application, and rejecting
 *   it correctly shows in overall accuracy, in the background row, and in the applications'
 *   precision (a background flow claimed by an application is a false positive of that application).
 *   Classes with no true flow and no prediction carry no information and are left out of the
 *   averages (they are still listed with zeros).
 * - A ratio with a zero denominator is 0 (precision of a never-predicted class, recall of a class
 *   with no flows, F1 when P + R = 0), the usual convention.
 * - accuracy (overall) = trace / total over every class, background included.
 * - unknownRate = share of all flows predicted 'unknown' (the background column / total);
 *   appUnknownRate = share of application flows predicted 'unknown' (their misses by rejection).
 */
import { StnnError } from '../util/errors.js';

export const BACKGROUND = 'background';
export const UNKNOWN = 'unknown';

/** cm[i][j] = number of flows whose true class is classes[i] and predicted class is classes[j]. */
export function confusionMatrix(truth: string[], pred: string[], classes: string[]): number[][] {
  if (truth.length !== pred.length) {
    throw new StnnError('STNN_BAD_INPUT', `confusion matrix: ${truth.length} true labels but ${pred.length} predictions`);
  }
  const index = new Map<string, number>();
  classes.forEach((c, i) => {
    if (index.has(c)) throw new StnnError('STNN_BAD_INPUT', `confusion matrix: class '${c}' listed twice`);
    index.set(c, i);
  });
  const cm = classes.map(() => new Array<number>(classes.length).fill(0));
  for (let k = 0; k < truth.length; k++) {
    const i = index.get(truth[k]);
    const j = index.get(pred[k]);
    if (i === undefined || j === undefined) {
      const which = i === undefined ? `true label '${truth[k]}'` : `prediction '${pred[k]}'`;
      throw new StnnError('STNN_BAD_INPUT', `confusion matrix: ${which} (row ${k}) is not one of the classes`);
    }
    cm[i][j]++;
  }
  return cm;
}

/**
 * Prepares labels for `confusionMatrix`/`paperMetrics`: truths that are not one of `apps` become
 * 'background', predictions 'unknown' become 'background'. Returns the classes as the apps (in the
 * given order) followed by 'background'.
 */
export function evalLabels(truth: string[], pred: string[], apps: string[]): { truth: string[]; pred: string[]; classes: string[] } {
  const known = new Set(apps);
  if (known.has(BACKGROUND) || known.has(UNKNOWN)) {
    throw new StnnError('STNN_BAD_INPUT', `'${BACKGROUND}' and '${UNKNOWN}' are reserved and cannot be application names`);
  }
  return {
    truth: truth.map((t) => (known.has(t) ? t : BACKGROUND)),
    pred: pred.map((p) => (p === UNKNOWN || !known.has(p) ? BACKGROUND : p)),
    classes: [...apps, BACKGROUND],
  };
}

export interface ClassMetrics {
  cls: string;
  precision: number;
  recall: number;
  f1: number;
  /** One-vs-rest accuracy (TP + TN) / total. */
  accuracy: number;
  /** True flows of the class (row sum). */
  support: number;
  /** Flows predicted as the class (column sum). */
  predicted: number;
  /** Counted in the macro averages. */
  inMacro: boolean;
}

export interface PaperMetrics {
  /** eq. 2 */
  macroP: number;
  /** eq. 3 */
  macroR: number;
  /** eq. 4: 2·macroP·macroR / (macroP + macroR) */
  macroF1: number;
  /** eq. 5: mean of per-class one-vs-rest accuracy */
  avgAccuracy: number;
  /** trace / total */
  accuracy: number;
  /** mean of per-class F1 */
  meanF1: number;
  perClass: ClassMetrics[];
  /** share of all flows predicted 'unknown' (0 when there is no reject class) */
  unknownRate: number;
  /** share of application flows predicted 'unknown' */
  appUnknownRate: number;
  total: number;
  /** classes averaged in the macro metrics */
  macroClasses: string[];
}

const div = (a: number, b: number) => (b > 0 ? a / b : 0);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/**
 * Metrics of a confusion matrix (see the module note). `rejectClass` is the class that stands for
 * "no application" (its column = 'unknown' predictions); it is left out of the macro averages.
 * It defaults to 'background' when present among the classes; pass null to average every class.
 */
export function paperMetrics(cm: number[][], classes: string[], rejectClass: string | null = BACKGROUND): PaperMetrics {
  const n = classes.length;
  if (cm.length !== n || cm.some((row) => row.length !== n)) {
    throw new StnnError('STNN_BAD_INPUT', `metrics: confusion matrix is not ${n}×${n} for ${n} classes`);
  }
  const reject = rejectClass === null ? -1 : classes.indexOf(rejectClass);
  const rowSum = cm.map((row) => row.reduce((a, b) => a + b, 0));
  const colSum = classes.map((_, j) => cm.reduce((a, row) => a + row[j], 0));
  const total = rowSum.reduce((a, b) => a + b, 0);
  let trace = 0;
  for (let i = 0; i < n; i++) trace += cm[i][i];

  const perClass: ClassMetrics[] = classes.map((cls, i) => {
    const tp = cm[i][i];
    const fp = colSum[i] - tp;
    const fn = rowSum[i] - tp;
    const tn = total - tp - fp - fn;
    const precision = div(tp, tp + fp);
    const recall = div(tp, tp + fn);
    return {
      cls,
      precision,
      recall,
      f1: div(2 * precision * recall, precision + recall),
      accuracy: div(tp + tn, total),
      support: rowSum[i],
      predicted: colSum[i],
      inMacro: i !== reject && (rowSum[i] > 0 || colSum[i] > 0),
    };
  });
  const macro = perClass.filter((c) => c.inMacro);
  const macroP = mean(macro.map((c) => c.precision));
  const macroR = mean(macro.map((c) => c.recall));
  const appFlows = reject >= 0 ? total - rowSum[reject] : total;
  let appUnknown = 0;
  if (reject >= 0) for (let i = 0; i < n; i++) if (i !== reject) appUnknown += cm[i][reject];
  return {
    macroP,
    macroR,
    macroF1: div(2 * macroP * macroR, macroP + macroR),
    avgAccuracy: mean(macro.map((c) => c.accuracy)),
    accuracy: div(trace, total),
    meanF1: mean(macro.map((c) => c.f1)),
    perClass,
    unknownRate: reject >= 0 ? div(colSum[reject], total) : 0,
    appUnknownRate: div(appUnknown, appFlows),
    total,
    macroClasses: macro.map((c) => c.cls),
  };
}
