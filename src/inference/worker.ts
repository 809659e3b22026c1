/**
 * Inference worker (piscina): loads the Classifier of a model directory once, and again when
 * the pool's model generation changes (SIGHUP); scores the batches it is given.
 */
import { Classifier } from './classifier.js';
import type { BackendName } from '../model/engine.js';
import type { Verdict } from '../flow/record.js';

export interface InferenceTask {
  dir: string;
  backend: BackendName;
  /** Model generation: a higher one than the loaded one makes the worker reload. */
  generation: number;
  /** n × 115 raw features, row-major (moved to the worker). */
  X: Float32Array;
  n: number;
}

export interface InferenceResult {
  verdicts: Verdict[];
  /** Generation of the models that scored the batch. */
  generation: number;
  apps: string[];
  /** Set when loading failed: the first load (no verdicts), or a reload (old models kept). */
  error?: { code: string; message: string };
  /** Set when this task loaded models: how long it took, ms. */
  loadedMs?: number;
}

let current: Classifier | null = null;
let currentGen = -1;
let failedGen = -1;

export default async function infer(t: InferenceTask): Promise<InferenceResult> {
  let error: InferenceResult['error'];
  let loadedMs: number | undefined;
  if (t.generation > currentGen && t.generation !== failedGen) {
    const t0 = performance.now();
    try {
      const c = await Classifier.load(t.dir, t.backend);
      current?.dispose();
      current = c;
      currentGen = t.generation;
      loadedMs = performance.now() - t0;
    } catch (e) {
      failedGen = t.generation;
      const err = e as Error & { code?: string };
      error = { code: typeof err.code === 'string' ? err.code : 'STNN_MODEL', message: err.message };
    }
  }
  if (!current) {
    return { verdicts: [], generation: -1, apps: [], error: error ?? { code: 'STNN_MODEL', message: `${t.dir}: models not loaded` } };
  }
  const verdicts = await current.classify(t.X, t.n);
  const out: InferenceResult = { verdicts, generation: currentGen, apps: current.apps };
  if (error) out.error = error;
  if (loadedMs !== undefined) out.loadedMs = loadedMs;
  return out;
}
