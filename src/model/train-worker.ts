/**
 * Training worker (piscina), for `stnn train --jobs N`: trains one application per task in this
 * thread's own tfjs backend (one wasm backend uses one core, see engine.ts) and writes its files;
 * the main thread records the returned manifest entry.
 */
import { initBackend, type BackendName } from './engine.js';
import { toWireError, type WireError } from '../util/errors.js';
import { trainApp, type TrainAppResult, type TrainAppTask } from './train-app.js';

export interface TrainWorkerTask extends TrainAppTask {
  /** Forced backend; absent: the automatic choice. */
  backend?: BackendName;
  /** Per-epoch lines on stderr. */
  verbose: boolean;
}

/** The application's result, or why it failed (an error thrown here would lose its code). */
export type TrainWorkerResult = { result: TrainAppResult } | { error: WireError };

export default async function train(t: TrainWorkerTask): Promise<TrainWorkerResult> {
  try {
    await initBackend(t.backend);
    const log = t.verbose ? (s: string) => process.stderr.write(`stnn: ${s}\n`) : undefined;
    return { result: await trainApp(t, { log }) };
  } catch (e) {
    return { error: toWireError(e) };
  }
}
