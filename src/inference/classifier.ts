/**
 * The multi-class decision of STNN over a model directory: every one-class
 * model scores a batch of flows, then the voting list decides (voting.ts).
 * Used by `stnn classify`, `stnn demo` and the sensor's inference workers.
 */
import type * as tf from '@tensorflow/tfjs';
import { N_FEATURES } from '../features/names.js';
import type { FlowRecord, Verdict } from '../flow/record.js';
import { describeBackend, initBackend, type BackendName } from '../model/engine.js';
import { applyNormalizer } from '../model/normalize.js';
import { loadModels, type Manifest } from '../model/registry.js';
import { scoreNormalized } from '../model/score.js';
import { decide, type AppScore } from '../model/voting.js';

export class Classifier {
  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    private readonly models: Map<string, tf.LayersModel>,
    private readonly votingLists: Map<string, number[]>,
    readonly backend: string,
  ) {}

  static async load(dir: string, backend?: BackendName): Promise<Classifier> {
    const info = await initBackend(backend);
    const { manifest, models } = await loadModels(dir);
    const lists = new Map(Object.entries(manifest.apps).map(([app, e]) => [app, e.votingList]));
    return new Classifier(dir, manifest, models, lists, describeBackend(info));
  }

  get apps(): string[] {
    return [...this.models.keys()];
  }

  /** Verdicts for n flows whose features are rows of X (n × 115). */
  async classify(X: Float32Array, n: number): Promise<Verdict[]> {
    if (n === 0) return [];
    const Xn = applyNormalizer(this.manifest.normalizer, X, n);
    const perApp: { app: string; p: Float32Array; q: Float64Array }[] = [];
    for (const [app, model] of this.models) {
      const s = await scoreNormalized(model, Xn, n);
      perApp.push({ app, p: s.pTarget, q: s.q });
    }
    const out: Verdict[] = new Array(n);
    const scores: AppScore[] = perApp.map((a) => ({ app: a.app, p: 0, q: 0 }));
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < perApp.length; k++) {
        scores[k].p = perApp[k].p[i];
        scores[k].q = perApp[k].q[i];
      }
      out[i] = decide(scores, this.votingLists);
    }
    return out;
  }

  /** Verdicts for flow records. */
  async classifyRecords(flows: FlowRecord[]): Promise<Verdict[]> {
    const X = new Float32Array(flows.length * N_FEATURES);
    flows.forEach((f, i) => X.set(f.features, i * N_FEATURES));
    return this.classify(X, flows.length);
  }

  dispose(): void {
    for (const m of this.models.values()) m.dispose();
    this.models.clear();
  }
}
