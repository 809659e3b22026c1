/**
 * The batching inference pool: piscina threads that each hold the Classifier of one model
 * directory (worker.ts). classify() moves a feature matrix to a free thread and resolves with its
 * verdicts; reload() makes every thread load the directory again before its next batch, so a
 * SIGHUP swaps models without dropping a flow (batches in flight finish on the old models).
 */
import { Piscina } from 'piscina';
import type { BackendName } from '../model/engine.js';
import type { Verdict } from '../flow/record.js';
import { StnnError, fromWireError } from '../util/errors.js';
import { siblingModule } from '../util/paths.js';
import type { InferenceResult, InferenceTask } from './worker.js';

export interface InferencePoolOptions {
  dir: string;
  backend: BackendName;
  threads: number;
  /** Receives one line when a reload fails (the old models stay) or succeeds. */
  log?: (msg: string) => void;
}

export class InferencePool {
  private readonly pool: Piscina<InferenceTask, InferenceResult>;
  private generation = 0;
  private reportedGen = 0;
  apps: string[] = [];

  private constructor(private readonly opts: InferencePoolOptions) {
    this.pool = new Piscina({
      filename: siblingModule(import.meta.url, 'worker'),
      minThreads: opts.threads,
      maxThreads: opts.threads,
      idleTimeout: 2 ** 31 - 1,
    });
  }

  /** Starts the threads and loads the models in each (fails with STNN_MODEL like Classifier.load). */
  static async open(opts: InferencePoolOptions): Promise<InferencePool> {
    const p = new InferencePool(opts);
    try {
      const rs = await Promise.all(Array.from({ length: opts.threads }, () => p.run(new Float32Array(0), 0)));
      const bad = rs.find((r) => r.error);
      if (bad?.error) throw fromWireError(bad.error, 'STNN_MODEL');
      p.apps = rs[0]!.apps;
    } catch (e) {
      await p.close();
      throw e;
    }
    return p;
  }

  private run(X: Float32Array, n: number): Promise<InferenceResult> {
    const task: InferenceTask = { dir: this.opts.dir, backend: this.opts.backend, generation: this.generation, X, n };
    return this.pool.run(task, { transferList: X.byteLength > 0 ? [X.buffer as ArrayBuffer] : [] });
  }

  /** Verdicts for n rows of X (n × 115); X's buffer is moved to the worker. */
  async classify(X: Float32Array, n: number): Promise<Verdict[]> {
    const r = await this.run(X, n);
    this.note(r);
    if (r.generation < 0) {
      throw new StnnError('STNN_MODEL', r.error?.message ?? `${this.opts.dir}: models not loaded`);
    }
    return r.verdicts;
  }

  private note(r: InferenceResult): void {
    if (r.error && r.generation >= 0) this.opts.log?.(`model reload failed, still using the previous models: ${r.error.message}`);
    else if (r.loadedMs !== undefined && r.generation > this.reportedGen) {
      this.reportedGen = r.generation;
      this.apps = r.apps;
      this.opts.log?.(`models reloaded from ${this.opts.dir} (${r.apps.length} applications: ${r.apps.join(', ')})`);
    }
  }

  /** Next batches use freshly loaded models; each thread is asked to load them now. */
  reload(): Promise<void> {
    this.generation++;
    return Promise.all(Array.from({ length: this.opts.threads }, () => this.run(new Float32Array(0), 0).then((r) => this.note(r))))
      .then(() => {});
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
