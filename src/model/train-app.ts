/**
 * One application's whole training, as `stnn train` does it: the one-class model (train.ts), its
 * voting list calibrated on the validation split, validation metrics, and its files written into
 * its staging directory in the model directory (registry.stagingDir; the training curve goes
 * there epoch by epoch). The staged files and the manifest entry are returned, not installed:
 * the caller installs them (registry.installApp), so that several of these can run at once in
 * worker threads (train-worker.ts) with one writer of the directory's manifest.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Normalizer } from './normalize.js';
import { stagingDir, writeAppFiles, type AppEntry } from './registry.js';
import { trainOneClass, type EpochStats, type TrainOptions } from './train.js';
import { calibrateVotingListDetailed } from './voting.js';

/** What trainOneClass needs (without callbacks, so that it can be posted to a worker), and where to write. */
export interface TrainAppTask extends Omit<TrainOptions, 'y' | 'onEpoch' | 'onBatch' | 'curveCsv' | 'learningRate' | 'normalizer'> {
  /** Model directory the application's files go to. */
  dir: string;
  /** Dataset file name, recorded in the entry's data summary. */
  dataset: string;
  y: string[];
  learningRate: number;
  normalizer: Normalizer;
}

export interface TrainAppResult {
  app: string;
  /** The staging directory holding model.json, weights.bin and curve.csv. */
  staged: string;
  entry: Omit<AppEntry, 'dir'>;
  /** The line that sums the training up (epochs, validation figures, voting list, time). */
  summary: string;
  /** Set when the validation split had no flows of the application. */
  warning?: string;
}

export interface TrainAppHooks {
  /** One line per epoch. */
  log?: (line: string) => void;
  onBatch?: (epoch: number, batch: number, batches: number) => void;
  /** Called before each epoch line (a progress bar clears itself). */
  beforeLog?: () => void;
}

export async function trainApp(t: TrainAppTask, hooks: TrainAppHooks = {}): Promise<TrainAppResult> {
  const { app } = t;
  const staged = stagingDir(t.dir, app);
  rmSync(staged, { recursive: true, force: true });
  mkdirSync(staged, { recursive: true });
  const curve = path.join(staged, 'curve.csv');
  const t0 = performance.now();
  let result;
  try {
    result = await trainOneClass({
      app, X: t.X, y: t.y, split: t.split, kind: t.kind, size: t.size, seed: t.seed, epochs: t.epochs,
      batchSize: t.batchSize, patience: t.patience, balance: t.balance, learningRate: t.learningRate,
      normalizer: t.normalizer, curveCsv: curve, onBatch: hooks.onBatch,
      onEpoch: (e: EpochStats) => {
        hooks.beforeLog?.();
        hooks.log?.(`${app} epoch ${e.epoch}: loss ${e.loss.toFixed(4)} acc ${e.acc.toFixed(4)} val_loss ${e.valLoss.toFixed(4)} val_acc ${e.valAcc.toFixed(4)} (${e.seconds.toFixed(1)} s, ${Math.round(e.samples / e.seconds)} samples/s)`);
      },
    });
  } catch (err) {
    hooks.beforeLog?.();
    rmSync(staged, { recursive: true, force: true });
    throw err;
  }
  let ok = false;
  try {
    const seconds = (performance.now() - t0) / 1000;
    const cal = calibrateVotingListDetailed(result.valScores, result.valIsPositive, 0.5, result.valQ);
    let tp = 0, fp = 0, fn = 0;
    for (let k = 0; k < result.valScores.length; k++) {
      const said = result.valScores[k]! > 0.5;
      if (said && result.valIsPositive[k]) tp++;
      else if (said) fp++;
      else if (result.valIsPositive[k]) fn++;
    }
    const best = result.history[result.bestEpoch - 1]!;
    const metrics = {
      valLoss: best.valLoss, valAcc: best.valAcc,
      valPrecision: tp + fp > 0 ? tp / (tp + fp) : 0,
      valRecall: tp + fn > 0 ? tp / (tp + fn) : 0,
      bestEpoch: result.bestEpoch, epochs: result.history.length,
      trainSeconds: Number(seconds.toFixed(3)),
      samplesPerSecond: Math.round(result.history.reduce((a, h) => a + h.samples, 0) / result.history.reduce((a, h) => a + h.seconds, 0)),
    };
    await writeAppFiles(t.dir, app, result.model);
    const entry: Omit<AppEntry, 'dir'> = {
      votingList: cal.votingList, trainedAt: new Date().toISOString(), metrics,
      dataSummary: { ...result.data, dataset: t.dataset, seed: t.seed, calledPerGap: cal.called, correctPerGap: cal.correct },
    };
    const out: TrainAppResult = {
      app, staged, entry,
      summary: `${app}: ${metrics.epochs} epochs (best ${metrics.bestEpoch}), val acc ${metrics.valAcc.toFixed(4)}, precision ${metrics.valPrecision.toFixed(3)}, recall ${metrics.valRecall.toFixed(3)}, voting list [${cal.votingList.map((x) => x.toFixed(3)).join(' ')}], ${seconds.toFixed(1)} s`,
    };
    if (result.data.validationPositive === 0) {
      out.warning = `warning: ${app}: the validation split has no flows of this application, so its recall is unknown and its voting list has no positive evidence (rebuild the dataset with more ${app} flows or another split)`;
    }
    ok = true;
    return out;
  } finally {
    if (!ok) rmSync(staged, { recursive: true, force: true });
    result.model.dispose();
  }
}
