/**
 * The evaluation report: one self-contained HTML file (inline CSS and SVG, no script, no external
 * resource) plus the same numbers as JSON beside it.
 *
 * Charts: confusion matrix heatmap (row-normalised colour, counts written in the cells), per-class
 * precision/recall/F1 bars, training curves per application (loss and accuracy per epoch, from the
 * trainer's CSV: epoch,loss,acc,val_loss,val_acc), and the paper's Table III (maximum P_target vs
 * voting list) extended with the plain argmax and the random-forest baseline.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { StnnError } from '../util/errors.js';
import type { PaperMetrics } from './metrics.js';

export interface CurveRow {
  epoch: number;
  loss: number;
  acc: number;
  val_loss: number;
  val_acc: number;
}

export interface TrainingCurve {
  app: string;
  rows: CurveRow[];
  source?: string;
}

export interface MethodResult {
  /** Row label, e.g. 'Voting list'. */
  name: string;
  classes: string[];
  cm: number[][];
  metrics: PaperMetrics;
  /** How the decisions were reached (flows per case), for the STNN rules. */
  decidedBy?: { single: number; vote: number; none: number };
  /** Free-form details (forest size, training time…). */
  details?: Record<string, string | number>;
}

export interface ReportData {
  title: string;
  generated: string;
  dataset: { path: string; featureSet: string; split: string; flows: number; classCounts?: Record<string, number> };
  models?: { dir: string; apps: string[]; info?: Record<string, string | number> };
  /** STNN with the voting list: the main result. */
  voting: MethodResult;
  /** STNN with the maximum-P_target rule among the classifiers that say true (Table III). */
  maxP: MethodResult;
  /** STNN, plain argmax of P_target over all classifiers (never unknown). */
  argmax?: MethodResult;
  forest?: MethodResult;
  votingLists?: { app: string; list: number[]; called?: number[] }[];
  curves: TrainingCurve[];
  notes?: string[];
}

const CURVE_COLUMNS = ['epoch', 'loss', 'acc', 'val_loss', 'val_acc'] as const;

/** Parses the trainer's per-epoch CSV (header required; columns in any order; extra columns ignored). */
export function parseTrainingCsv(text: string, file: string): CurveRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new StnnError('STNN_BAD_INPUT', `${file}: empty training log`);
  const head = lines[0].split(',').map((s) => s.trim());
  const col = CURVE_COLUMNS.map((c) => head.indexOf(c));
  const missing = CURVE_COLUMNS.filter((_, k) => col[k] < 0);
  if (missing.length) throw new StnnError('STNN_BAD_INPUT', `${file}: line 1: missing column(s) ${missing.join(', ')}`);
  return lines.slice(1).map((line, k) => {
    const cells = line.split(',');
    const vals = col.map((c) => Number(cells[c]));
    const bad = vals.findIndex((v, j) => cells[col[j]] === undefined || cells[col[j]].trim() === '' || Number.isNaN(v));
    if (bad >= 0) throw new StnnError('STNN_BAD_INPUT', `${file}: line ${k + 2}: ${CURVE_COLUMNS[bad]}: not a number`);
    return { epoch: vals[0], loss: vals[1], acc: vals[2], val_loss: vals[3], val_acc: vals[4] };
  });
}

export function readTrainingCsv(path: string, app: string): TrainingCurve {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StnnError('STNN_BAD_INPUT', `${path}: cannot read training log: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { app, rows: parseTrainingCsv(text, path), source: path };
}

// ---- HTML helpers ----

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '–');
const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '–');
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '–');

/** White → deep blue. */
function heat(v: number): string {
  const t = Math.max(0, Math.min(1, v));
  const r = Math.round(255 + (8 - 255) * t);
  const g = Math.round(255 + (48 - 255) * t);
  const b = Math.round(255 + (107 - 255) * t);
  return `rgb(${r},${g},${b})`;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];

function heatmapSvg(m: MethodResult, rejectLabel = 'unknown'): string {
  const n = m.classes.length;
  const cell = n > 14 ? 28 : 40;
  const labelW = Math.min(200, 14 + 7.5 * Math.max(...m.classes.map((c) => c.length)));
  const top = labelW;
  const W = labelW + n * cell + 10;
  const H = top + n * cell + 30;
  const colName = (c: string) => (c === 'background' ? rejectLabel : c);
  const parts: string[] = [`<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="confusion matrix ${esc(m.name)}">`];
  m.classes.forEach((c, j) => {
    const x = labelW + j * cell + cell / 2;
    parts.push(`<text x="${x}" y="${top - 6}" transform="rotate(-60 ${x} ${top - 6})" class="lbl">${esc(colName(c))}</text>`);
  });
  m.cm.forEach((row, i) => {
    const sum = row.reduce((a, b) => a + b, 0);
    const y = top + i * cell;
    parts.push(`<text x="${labelW - 6}" y="${y + cell / 2 + 4}" text-anchor="end" class="lbl">${esc(m.classes[i])}</text>`);
    row.forEach((v, j) => {
      const share = sum > 0 ? v / sum : 0;
      const x = labelW + j * cell;
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell - 1}" height="${cell - 1}" fill="${heat(share)}"${i === j ? ' stroke="#333"' : ''}><title>${esc(m.classes[i])} → ${esc(colName(m.classes[j]))}: ${v} (${pct(share)} of the row)</title></rect>`,
      );
      if (v > 0) parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" class="num" fill="${share > 0.5 ? '#fff' : '#111'}">${v}</text>`);
    });
  });
  parts.push(`<text x="${labelW}" y="${H - 8}" class="axis">rows: true class · columns: prediction · colour: share of the row</text>`);
  parts.push('</svg>');
  return parts.join('');
}

function barsSvg(m: PaperMetrics): string {
  const cls = m.perClass;
  const labelW = Math.min(200, 14 + 7.5 * Math.max(...cls.map((c) => c.cls.length + (c.inMacro ? 0 : 2))));
  const barH = 7;
  const groupH = 3 * barH + 8;
  const plotW = 360;
  const W = labelW + plotW + 60;
  const H = 30 + cls.length * groupH + 20;
  const keys = [
    ['precision', 'P'],
    ['recall', 'R'],
    ['f1', 'F1'],
  ] as const;
  const parts: string[] = [`<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="per-class precision recall F1">`];
  keys.forEach(([, short], k) => {
    parts.push(`<rect x="${labelW + k * 60}" y="6" width="10" height="10" fill="${COLORS[k]}"/><text x="${labelW + k * 60 + 14}" y="15" class="lbl">${short}</text>`);
  });
  for (let t = 0; t <= 4; t++) {
    const x = labelW + (plotW * t) / 4;
    parts.push(`<line x1="${x}" y1="24" x2="${x}" y2="${H - 16}" class="grid"/><text x="${x}" y="${H - 4}" text-anchor="middle" class="axis">${(t / 4).toFixed(2)}</text>`);
  }
  cls.forEach((c, i) => {
    const y0 = 28 + i * groupH;
    parts.push(`<text x="${labelW - 6}" y="${y0 + groupH / 2}" text-anchor="end" class="lbl">${esc(c.cls)}${c.inMacro ? '' : ' *'}</text>`);
    keys.forEach(([key], k) => {
      const v = c[key];
      parts.push(
        `<rect x="${labelW}" y="${y0 + k * barH}" width="${(plotW * v).toFixed(1)}" height="${barH - 1}" fill="${COLORS[k]}"><title>${esc(c.cls)} ${key} ${f4(v)}</title></rect>`,
      );
    });
    parts.push(`<text x="${labelW + plotW + 4}" y="${y0 + groupH / 2}" class="axis">F1 ${f3(c.f1)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Round tick values (steps of 1, 2 or 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 0.5;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(lo / step + 1e-9) * step;
  const out: number[] = [];
  for (let v = start; v < hi + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function lineChartSvg(title: string, series: { name: string; xs: number[]; ys: number[] }[], xLabel: string): string {
  const W = 340;
  const H = 200;
  const L = 44;
  const R = 10;
  const T = 22;
  const B = 30;
  const all = series.flatMap((s) => s.ys).filter(Number.isFinite);
  const xsAll = series.flatMap((s) => s.xs);
  const parts: string[] = [`<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`];
  parts.push(`<text x="${L}" y="14" class="lbl">${esc(title)}</text>`);
  if (all.length === 0 || xsAll.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="axis">no data</text></svg>`);
    return parts.join('');
  }
  const ticks = niceTicks(Math.min(...all), Math.max(...all));
  const yMin = ticks[0];
  const yMax = ticks[ticks.length - 1];
  const xMin = Math.min(...xsAll);
  const xMaxData = Math.max(...xsAll);
  const xMax = xMaxData === xMin ? xMin + 1 : xMaxData;
  const px = (x: number) => L + ((x - xMin) / (xMax - xMin)) * (W - L - R);
  const py = (y: number) => T + (1 - (y - yMin) / (yMax - yMin)) * (H - T - B);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  for (const v of ticks) {
    parts.push(`<line x1="${L}" y1="${py(v).toFixed(1)}" x2="${W - R}" y2="${py(v).toFixed(1)}" class="grid"/><text x="${L - 4}" y="${(py(v) + 3).toFixed(1)}" text-anchor="end" class="axis">${v.toFixed(digits)}</text>`);
  }
  parts.push(`<text x="${L}" y="${H - 4}" class="axis">${xMin}</text><text x="${W - R}" y="${H - 4}" text-anchor="end" class="axis">${xMaxData}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle" class="axis">${esc(xLabel)}</text>`);
  series.forEach((s, k) => {
    const pts = s.xs.map((x, i) => (Number.isFinite(s.ys[i]) ? `${px(x).toFixed(1)},${py(s.ys[i]).toFixed(1)}` : '')).filter(Boolean);
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS[k % COLORS.length]}" stroke-width="1.8"><title>${esc(s.name)}</title></polyline>`);
    if (pts.length === 1) {
      const [x, y] = pts[0].split(',');
      parts.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${COLORS[k % COLORS.length]}"/>`);
    }
    parts.push(`<rect x="${W - R - 150 + k * 75}" y="6" width="10" height="3" fill="${COLORS[k % COLORS.length]}"/><text x="${W - R - 136 + k * 75}" y="11" class="axis">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function curvesHtml(c: TrainingCurve): string {
  const xs = c.rows.map((r) => r.epoch);
  const last = c.rows[c.rows.length - 1];
  return (
    `<div class="curve"><h3>${esc(c.app)}</h3>` +
    lineChartSvg('loss', [
      { name: 'train', xs, ys: c.rows.map((r) => r.loss) },
      { name: 'validation', xs, ys: c.rows.map((r) => r.val_loss) },
    ], 'epoch') +
    lineChartSvg('accuracy', [
      { name: 'train', xs, ys: c.rows.map((r) => r.acc) },
      { name: 'validation', xs, ys: c.rows.map((r) => r.val_acc) },
    ], 'epoch') +
    (last ? `<p class="small">${c.rows.length} epochs; last: loss ${f4(last.loss)}, acc ${f4(last.acc)}, val_loss ${f4(last.val_loss)}, val_acc ${f4(last.val_acc)}</p>` : '') +
    `</div>`
  );
}

function comparisonTable(rows: MethodResult[]): string {
  const head = '<tr><th></th><th>macroP</th><th>macroR</th><th>macroF1</th><th>average accuracy</th><th>accuracy</th><th>mean F1</th><th>unknown rate</th><th>app flows rejected</th></tr>';
  const body = rows
    .map((r) => {
      const m = r.metrics;
      return `<tr><th>${esc(r.name)}</th><td>${f4(m.macroP)}</td><td>${f4(m.macroR)}</td><td>${f4(m.macroF1)}</td><td>${f4(m.avgAccuracy)}</td><td>${f4(m.accuracy)}</td><td>${f4(m.meanF1)}</td><td>${pct(m.unknownRate)}</td><td>${pct(m.appUnknownRate)}</td></tr>`;
    })
    .join('');
  return `<table class="cmp">${head}${body}</table>`;
}

function perClassTable(m: PaperMetrics): string {
  const head = '<tr><th>class</th><th>support</th><th>predicted</th><th>precision</th><th>recall</th><th>F1</th><th>accuracy (1-vs-rest)</th></tr>';
  const body = m.perClass
    .map((c) => `<tr${c.inMacro ? '' : ' class="muted"'}><th>${esc(c.cls)}${c.inMacro ? '' : ' *'}</th><td>${c.support}</td><td>${c.predicted}</td><td>${f4(c.precision)}</td><td>${f4(c.recall)}</td><td>${f4(c.f1)}</td><td>${f4(c.accuracy)}</td></tr>`)
    .join('');
  return `<table>${head}${body}</table>`;
}

function kv(obj: Record<string, string | number> | undefined): string {
  if (!obj) return '';
  return `<table class="kv">${Object.entries(obj).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('')}</table>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1150px;color:#111;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:8px 0}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f6f6f6;text-align:left}
table.cmp td{font-variant-numeric:tabular-nums}.muted{color:#777}.small{font-size:12px;color:#555}
svg text.lbl{font-size:12px;fill:#222}svg text.num{font-size:11px}svg text.axis{font-size:10px;fill:#555}svg line.grid{stroke:#e4e4e4}
.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}.curve{border:1px solid #eee;padding:6px 10px;border-radius:4px}
.hl{background:#f3f8ff}
`;

/** Renders the report as one HTML document. */
export function renderReport(d: ReportData): string {
  const methods = [d.maxP, d.voting, ...(d.argmax ? [d.argmax] : []), ...(d.forest ? [d.forest] : [])];
  const dsInfo: Record<string, string | number> = {
    dataset: d.dataset.path,
    'feature set': d.dataset.featureSet,
    'evaluated split': d.dataset.split,
    flows: d.dataset.flows,
  };
  if (d.dataset.classCounts) {
    dsInfo['flows per label'] = Object.entries(d.dataset.classCounts)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  }
  const out: string[] = [];
  out.push(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(d.title)}</title><style>${CSS}</style></head><body>`);
  out.push(`<h1>${esc(d.title)}</h1><p class="small">generated ${esc(d.generated)}</p>`);
  out.push(`<div class="row">${kv(dsInfo)}${d.models ? kv({ models: d.models.dir, applications: d.models.apps.join(', '), ...(d.models.info ?? {}) }) : ''}</div>`);

  out.push('<h2>Voting list vs maximum P<sub>target</sub> (the paper\'s Table III)</h2>');
  out.push(comparisonTable(methods));
  out.push(
    '<p class="small">Macro averages (eqs. 2–5) run over the applications; the background class (flows of no modelled application, whose right answer is <i>unknown</i>) is left out of them but counts in accuracy, and a background flow claimed by an application is a false positive of that application. ' +
      '<i>Maximum P</i> keeps the three cases and takes the largest P<sub>target</sub> among the classifiers that say true; <i>argmax</i> takes the largest P<sub>target</sub> of all classifiers and never answers unknown.</p>',
  );
  const db = d.voting.decidedBy;
  if (db) out.push(`<p>Decisions: ${db.single} by a single classifier, ${db.vote} by vote, ${db.none} unknown (no classifier said true).</p>`);

  out.push(`<h2>STNN (${esc(d.voting.name)}): confusion matrix</h2>`);
  out.push(`<div class="row">${heatmapSvg(d.voting)}</div>`);
  out.push('<h2>Per-class precision, recall, F1</h2>');
  out.push(`<div class="row">${barsSvg(d.voting.metrics)}${perClassTable(d.voting.metrics)}</div>`);
  out.push('<p class="small">* not in the macro averages.</p>');

  if (d.votingLists && d.votingLists.length) {
    out.push('<h2>Voting lists (v<sub>ij</sub>, eq. 1)</h2>');
    const gaps = ['(0,10]', '(10,10²]', '(10²,10³]', '(10³,10⁴]', '(10⁴,10⁵]', '(10⁵,10⁶]', '(10⁶,∞)'];
    out.push(
      `<table><tr><th>application</th>${gaps.map((g) => `<th>${g}</th>`).join('')}</tr>${d.votingLists
        .map((v) => `<tr><th>${esc(v.app)}</th>${v.list.map((x, j) => `<td title="${v.called ? `${v.called[j]} calibration flows called true` : ''}">${f3(x)}</td>`).join('')}</tr>`)
        .join('')}</table>`,
    );
  }

  out.push('<h2>Training curves</h2>');
  if (d.curves.length === 0) out.push('<p class="small">No training log found next to the models.</p>');
  else out.push(`<div class="row">${d.curves.map(curvesHtml).join('')}</div>`);

  if (d.forest) {
    out.push(`<h2>Random-forest baseline (${esc(d.forest.name)})</h2>`);
    out.push(kv(d.forest.details));
    out.push(`<div class="row">${heatmapSvg(d.forest, 'background')}${barsSvg(d.forest.metrics)}</div>`);
  }
  out.push(`<h2>STNN (${esc(d.maxP.name)}): confusion matrix</h2><div class="row">${heatmapSvg(d.maxP)}</div>`);
  if (d.notes && d.notes.length) out.push(`<h2>Notes</h2><ul>${d.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
  out.push('</body></html>\n');
  return out.join('\n');
}

/** JSON path next to an HTML report: report.html → report.json. */
export function jsonPathFor(htmlPath: string): string {
  return /\.html?$/i.test(htmlPath) ? htmlPath.replace(/\.html?$/i, '.json') : `${htmlPath}.json`;
}

/** Writes the HTML report and its JSON twin; returns both paths. */
export function writeReport(htmlPath: string, d: ReportData): { html: string; json: string } {
  const json = jsonPathFor(htmlPath);
  try {
    writeFileSync(htmlPath, renderReport(d));
    writeFileSync(json, JSON.stringify(d, null, 1) + '\n');
  } catch (err) {
    throw new StnnError('STNN_RUNTIME', `${htmlPath}: cannot write report: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { html: htmlPath, json };
}
