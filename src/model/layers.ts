/**
 * Fast 3D convolution and pooling for shallow volumes, as tfjs-layers layers.
 *
 * tf.conv3d runs at ~0.3 GMAC/s in the wasm and cpu backends; conv2d runs more than ten times
 * faster. The STNN volumes are only 1 or 2 deep, so the 3D operations are rewritten with 2D ones
 * on a "depth-folded" rank-4 layout:
 *
 *   a rank-5 NDHWC tensor [B, D, H, W, C]  ⇔  a rank-4 tensor [B, H, W, D·C], channel d·C + c.
 *
 * conv3d (kernel 3×3×3, stride 1, 'same') of such a volume: output depth o reads input depths
 * o−1, o, o+1 with kernel depth slices 0, 1, 2. So output o = Σ_i conv2d(x_i, K[i − o + 1]) over
 * the i in range; all of them at once is ONE conv2d of the folded input with a block kernel of
 * shape [3, 3, D·Cin, D·Cout] whose block (i, o) is K[i − o + 1] (zero when |i − o| > 1). For
 * D ≤ 2 no block is zero, so this does exactly the multiply-adds conv3d would do on the volume,
 * minus the ones that fall on the zero padding.
 *
 * max-pool 2×2×2 'same' (stride 2): output depth j is the max of depths 2j and 2j+1 (the last one
 * alone when D is odd), after a 2×2 'same' maxPool2d that works per channel.
 *
 * The weights keep conv3d's own shape [3, 3, 3, Cin, Cout] (so they mean what a Conv3D's would),
 * gradients come from autodiff through slice/concat/conv2d, and both layers serialise through
 * the usual tfjs-layers registry.
 */
import * as tf from '@tensorflow/tfjs';

type Kwargs = Record<string, unknown>;

/** Filter gradient of a 3×3 stride-1 'same' conv2d by im2col: patchesᵀ · dy, one matMul. */
function conv2dFilterGrad3x3(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, cin] = x.shape;
  const cout = dy.shape[3];
  const padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  const cols: tf.Tensor4D[] = [];
  for (let kh = 0; kh < 3; kh++) {
    for (let kw = 0; kw < 3; kw++) cols.push(tf.slice(padded, [0, kh, kw, 0], [b, h, w, cin]));
  }
  const patches = tf.reshape(tf.concat(cols, 3), [b * h * w, 9 * cin]);
  const g = tf.matMul(patches, tf.reshape(dy, [b * h * w, cout]), true, false);
  return tf.reshape(g, [3, 3, cin, cout]);
}

/**
 * conv2d, 3×3 kernel, stride 1, 'same'. The wasm backend has no Conv2DBackpropFilter kernel, so
 * there the filter gradient is computed with ops it has (pad, slice, concat, matMul) and the input
 * gradient with a forward conv2d (see gradFunc).
 */
export function conv2dSame3x3(x: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D {
  if (tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) !== undefined) return tf.conv2d(x, k, 1, 'same');
  return customConv(x, k) as tf.Tensor4D;
}

const customConv = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor4D;
  const k = args[1] as tf.Tensor4D;
  const save = args[2] as tf.GradSaveFunc;
  save([x, k]);
  return {
    value: tf.conv2d(x, k, 1, 'same'),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor4D;
      const [sx, sk] = saved as [tf.Tensor4D, tf.Tensor4D];
      // Input gradient of a stride-1 'same' 3×3 conv: the conv of dy with the kernel rotated by
      // 180° and its channel axes swapped. As a forward conv2d this takes the backend's fast
      // path (wasm's Conv2DBackpropInput is ~10× slower than its Conv2D on these shapes).
      const flipped = tf.transpose(tf.reverse(sk, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
      return [tf.conv2d(g, flipped, 1, 'same'), conv2dFilterGrad3x3(sx, g)];
    },
  };
});

/** [B, D, H, W, C] → [B, H, W, D·C]. */
export function foldDepth(x: tf.Tensor5D): tf.Tensor4D {
  const [b, d, h, w, c] = x.shape;
  return tf.tidy(() => tf.reshape(tf.transpose(x, [0, 2, 3, 1, 4]), [b, h, w, d * c]));
}

/** [B, H, W, D·C] → [B, D, H, W, C]. */
export function unfoldDepth(x: tf.Tensor4D, depth: number): tf.Tensor5D {
  const [b, h, w, dc] = x.shape;
  const c = dc / depth;
  return tf.tidy(() => tf.transpose(tf.reshape(x, [b, h, w, depth, c]), [0, 3, 1, 2, 4]));
}

/**
 * Block kernel [3, 3, D·Cin, D·Cout] of a 3×3×3 conv3d kernel [3, 3, 3, Cin, Cout] for depth D.
 */
export function blockKernel(kernel: tf.Tensor, depth: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [kd, kh, kw, cin, cout] = kernel.shape;
    if (kd !== 3) throw new Error(`blockKernel: kernel depth must be 3, got ${kd}`);
    const slices: tf.Tensor4D[] = [];
    for (let k = 0; k < 3; k++) {
      slices.push(tf.reshape(tf.slice(kernel, [k, 0, 0, 0, 0], [1, kh, kw, cin, cout]), [kh, kw, cin, cout]));
    }
    if (depth === 1) return slices[1]!;
    let zeros: tf.Tensor4D | null = null;
    const columns: tf.Tensor4D[] = [];
    for (let o = 0; o < depth; o++) {
      const rows: tf.Tensor4D[] = [];
      for (let i = 0; i < depth; i++) {
        const k = i - o + 1;
        if (k >= 0 && k <= 2) rows.push(slices[k]!);
        else rows.push((zeros ??= tf.zeros([kh, kw, cin, cout])));
      }
      columns.push(tf.concat(rows, 2));
    }
    return tf.concat(columns, 3);
  });
}

export interface DepthConv3dArgs {
  filters: number;
  /** Depth D of the (folded) input volume. */
  depth: number;
  /** 'leakyrelu' or 'linear'. */
  activation?: 'leakyrelu' | 'linear';
  /** Leaky ReLU slope for x < 0 (tf.leakyRelu's alpha). */
  alpha?: number;
  seed?: number;
  name?: string;
}

/**
 * conv3d with a 3×3×3 kernel, stride 1, padding 'same', on a depth-folded input [B, H, W, D·Cin]
 * giving [B, H, W, D·Cout]. Kernel weight shape [3, 3, 3, Cin, Cout] like tf.conv3d's filter.
 */
export class DepthConv3d extends tf.layers.Layer {
  static readonly className = 'StnnDepthConv3d';
  readonly filters: number;
  readonly depth: number;
  readonly activation: 'leakyrelu' | 'linear';
  readonly alpha: number;
  readonly seed: number | undefined;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: DepthConv3dArgs) {
    super({ name: args.name });
    if (!Number.isInteger(args.filters) || args.filters < 1) throw new Error(`DepthConv3d: bad filters ${args.filters}`);
    if (!Number.isInteger(args.depth) || args.depth < 1) throw new Error(`DepthConv3d: bad depth ${args.depth}`);
    this.filters = args.filters;
    this.depth = args.depth;
    this.activation = args.activation ?? 'leakyrelu';
    this.alpha = args.alpha ?? 0.2;
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const folded = shape[shape.length - 1];
    if (shape.length !== 4 || folded == null || folded % this.depth !== 0) {
      throw new Error(`DepthConv3d: expected [B, H, W, D·C] with D=${this.depth}, got [${shape.join(', ')}]`);
    }
    const cin = folded / this.depth;
    // conv3d fan-in/out: Glorot uniform over the full 3×3×3 receptive field, like a Conv3D layer.
    const limit = Math.sqrt(6 / (27 * cin + 27 * this.filters));
    this.kernel = this.addWeight('kernel', [3, 3, 3, cin, this.filters], 'float32',
      tf.initializers.randomUniform({ minval: -limit, maxval: limit, seed: this.seed }));
    this.bias = this.addWeight('bias', [this.filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [s[0]!, s[1]!, s[2]!, this.depth * this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      if (kwargs['training'] !== true) {
        // Inference: one fused kernel (conv + bias + activation) with the block kernel built once
        // per weight value (a tf.Variable gets a new dataId whenever it is assigned). The fused
        // kernel's gradient does not support leaky ReLU, so training takes the unfused path below.
        const [k, b] = this.inferenceWeights();
        return tf.fused.conv2d({
          x, filter: k, strides: 1, pad: 'same', bias: b,
          activation: this.activation === 'leakyrelu' ? 'leakyrelu' : 'linear',
          leakyreluAlpha: this.alpha,
        });
      }
      const k = blockKernel(this.kernel!.read(), this.depth);
      const b = this.depth === 1 ? this.bias!.read() : tf.tile(this.bias!.read(), [this.depth]);
      const y = tf.add(conv2dSame3x3(x, k), b);
      return this.activation === 'leakyrelu' ? tf.leakyRelu(y, this.alpha) : y;
    });
  }

  private cache: { kernelId: object; biasId: object; k: tf.Tensor4D; b: tf.Tensor } | null = null;

  private inferenceWeights(): [tf.Tensor4D, tf.Tensor] {
    const kv = this.kernel!.read();
    const bv = this.bias!.read();
    if (!this.cache || this.cache.kernelId !== kv.dataId || this.cache.biasId !== bv.dataId) {
      this.dropCache();
      const k = tf.keep(blockKernel(kv, this.depth));
      const b = tf.keep(this.depth === 1 ? bv.clone() : tf.tile(bv, [this.depth]));
      this.cache = { kernelId: kv.dataId, biasId: bv.dataId, k, b };
    }
    return [this.cache.k, this.cache.b];
  }

  private dropCache(): void {
    if (!this.cache) return;
    this.cache.k.dispose();
    this.cache.b.dispose();
    this.cache = null;
  }

  override dispose(): ReturnType<tf.layers.Layer['dispose']> {
    const r = super.dispose();
    if (r.refCountAfterDispose === 0) this.dropCache();
    return r;
  }

  override getConfig(): tf.serialization.ConfigDict {
    const cfg: tf.serialization.ConfigDict = {
      filters: this.filters, depth: this.depth, activation: this.activation, alpha: this.alpha,
    };
    if (this.seed !== undefined) cfg['seed'] = this.seed;
    return { ...super.getConfig(), ...cfg };
  }
}

export interface DepthMaxPool3dArgs {
  depth: number;
  name?: string;
}

/**
 * max-pool 2×2×2, stride 2, padding 'same', on a depth-folded input [B, H, W, D·C] giving
 * [B, ⌈H/2⌉, ⌈W/2⌉, ⌈D/2⌉·C].
 */
export class DepthMaxPool3d extends tf.layers.Layer {
  static readonly className = 'StnnDepthMaxPool3d';
  readonly depth: number;

  constructor(args: DepthMaxPool3dArgs) {
    super({ name: args.name });
    if (!Number.isInteger(args.depth) || args.depth < 1) throw new Error(`DepthMaxPool3d: bad depth ${args.depth}`);
    this.depth = args.depth;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const half = (v: number | null) => (v == null ? null : Math.ceil(v / 2));
    const c = s[3]! / this.depth;
    return [s[0]!, half(s[1]!), half(s[2]!), Math.ceil(this.depth / 2) * c];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const p = tf.maxPool(x, 2, 2, 'same');
      if (this.depth === 1) return p;
      const c = x.shape[3] / this.depth;
      const [b, h, w] = p.shape;
      const outs: tf.Tensor4D[] = [];
      for (let d = 0; d < this.depth; d += 2) {
        const a = tf.slice(p, [0, 0, 0, d * c], [b, h, w, c]);
        outs.push(d + 1 < this.depth ? tf.maximum(a, tf.slice(p, [0, 0, 0, (d + 1) * c], [b, h, w, c])) : a);
      }
      return outs.length === 1 ? outs[0]! : tf.concat(outs, 3);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), depth: this.depth };
  }
}

tf.serialization.registerClass(DepthConv3d as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
tf.serialization.registerClass(DepthMaxPool3d as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

export interface LstmStacksArgs {
  /** Number of independent LSTM stacks (2 in STNN). */
  stacks: number;
  /** Layers per stack. */
  layers: number;
  units: number;
  /** Timesteps (rows of the input matrix) and features per timestep. */
  timesteps: number;
  features: number;
  /** Each stack's last hidden state goes through dense `side·side` and becomes a side×side map. */
  side: number;
  seed?: number;
  name?: string;
}

/**
 * S independent LSTM stacks over the same input, each followed by dense(side²) reshaped to
 * side×side; the S maps are the channels of the output [B, side, side, S] (= the folded
 * side×side×S×1 volume). Each stack is exactly S × (Keras LSTM(return_sequences) × (layers−1),
 * LSTM, Dense, Reshape) with recurrent_activation sigmoid and gate order i, f, c, o.
 *
 * Why not S Keras LSTMs: tfjs-layers runs ~40 small ops per timestep and stack, and the wasm
 * backend's batched matMul is ~15× slower than its 2-D one. Here all stacks run side by side in
 * one 2-D state h = [h_1 … h_S] (B × S·U), so a timestep of all stacks is one 2-D matMul and ~11
 * element-wise ops, and each layer's input projection is one matMul for all timesteps.
 *
 * Weight layout (2-D, all stacks together):
 *   kernel_l    [in_l, 4·S·U]    in_0 = features (every stack reads the same row), else S·U
 *   recurrent_l [S·U, 4·S·U]
 *   bias_l      [4·S·U]
 *   map_kernel  [S·U, side²·S],  map_bias [side²·S]
 * Columns are gate-major then stack: column g·S·U + s·U + u is gate g (i, f, c, o) of unit u of
 * stack s; map column p·S + s is pixel p of stack s's map. Rows of kernel_l (l ≥ 1), recurrent_l
 * and map_kernel are stack s's units s·U … s·U+U−1. Blocks that would connect two different stacks
 * are zero and stay zero: in training the weights are multiplied by a constant block mask (so
 * their gradient is 0 too); in inference they are used as stored.
 */
export class LstmStacks extends tf.layers.Layer {
  static readonly className = 'StnnLstmStacks';
  readonly cfg: Required<Omit<LstmStacksArgs, 'name' | 'seed'>> & { seed?: number };
  private w: { kernel: tf.LayerVariable; recurrent: tf.LayerVariable; bias: tf.LayerVariable }[] = [];
  private mapKernel: tf.LayerVariable | null = null;
  private mapBias: tf.LayerVariable | null = null;
  private masks: { gates: tf.Tensor2D; map: tf.Tensor2D } | null = null;

  constructor(args: LstmStacksArgs) {
    super({ name: args.name });
    for (const k of ['stacks', 'layers', 'units', 'timesteps', 'features', 'side'] as const) {
      if (!Number.isInteger(args[k]) || args[k] < 1) throw new Error(`LstmStacks: bad ${k} ${args[k]}`);
    }
    this.cfg = {
      stacks: args.stacks, layers: args.layers, units: args.units, timesteps: args.timesteps,
      features: args.features, side: args.side, seed: args.seed,
    };
  }

  /** 1 where row stack == column stack. Gate matrices [S·U, 4·S·U]; map [S·U, side²·S]. */
  private buildMasks(): { gates: tf.Tensor2D; map: tf.Tensor2D } {
    const { stacks: S, units: U, side } = this.cfg;
    const M = side * side;
    const g = new Float32Array(S * U * 4 * S * U);
    const m = new Float32Array(S * U * M * S);
    for (let r = 0; r < S * U; r++) {
      const sr = Math.floor(r / U);
      for (let c = 0; c < 4 * S * U; c++) if (Math.floor((c % (S * U)) / U) === sr) g[r * 4 * S * U + c] = 1;
      for (let c = 0; c < M * S; c++) if (c % S === sr) m[r * M * S + c] = 1;
    }
    return { gates: tf.keep(tf.tensor2d(g, [S * U, 4 * S * U])), map: tf.keep(tf.tensor2d(m, [S * U, M * S])) };
  }

  override build(): void {
    const { stacks: S, layers, units: U, features: F, side } = this.cfg;
    const M = side * side;
    let seed = this.cfg.seed;
    const next = () => (seed === undefined ? undefined : ++seed);
    // Glorot-uniform limits of ONE stack's matrices (fan-in, fan-out of that stack).
    const uniform = (fanIn: number, fanOut: number) => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return tf.initializers.randomUniform({ minval: -limit, maxval: limit, seed: next() });
    };
    this.w = [];
    for (let l = 0; l < layers; l++) {
      const fin = l === 0 ? F : S * U;
      const kernel = this.addWeight(`kernel_${l}`, [fin, 4 * S * U], 'float32', uniform(l === 0 ? F : U, 4 * U));
      const recurrent = this.addWeight(`recurrent_${l}`, [S * U, 4 * S * U], 'float32', uniform(U, 4 * U));
      // forget-gate bias 1 (Keras unit_forget_bias), the others 0: set below
      const bias = this.addWeight(`bias_${l}`, [4 * S * U], 'float32', tf.initializers.zeros());
      this.w.push({ kernel, recurrent, bias });
    }
    this.mapKernel = this.addWeight('map_kernel', [S * U, M * S], 'float32', uniform(U, M));
    this.mapBias = this.addWeight('map_bias', [M * S], 'float32', tf.initializers.zeros());
    this.masks ??= this.buildMasks();
    tf.tidy(() => {
      const fb = tf.concat([tf.zeros([S * U]), tf.ones([S * U]), tf.zeros([2 * S * U])]);
      for (const [l, { kernel, recurrent, bias }] of this.w.entries()) {
        bias.write(fb);
        recurrent.write(tf.mul(recurrent.read(), this.masks!.gates));
        if (l > 0) kernel.write(tf.mul(kernel.read(), this.masks!.gates));
      }
      this.mapKernel!.write(tf.mul(this.mapKernel!.read(), this.masks!.map));
    });
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [s[0]!, this.cfg.side, this.cfg.side, this.cfg.stacks];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const { stacks: S, layers, units: U, timesteps: T, features: F, side } = this.cfg;
      const SU = S * U;
      const training = kwargs['training'] === true;
      this.masks ??= this.buildMasks();
      const masked = (v: tf.LayerVariable, mask: tf.Tensor2D) => (training ? tf.mul(v.read(), mask) : v.read()) as tf.Tensor2D;
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor;
      const B = x.shape[0]!;
      // time-major rows: [T·B, F], so timestep t is the contiguous block of rows t·B … t·B+B−1
      let seq = tf.reshape(tf.transpose(tf.reshape(x, [B, T, F]), [1, 0, 2]), [T * B, F]) as tf.Tensor2D;
      let h: tf.Tensor2D | null = null;
      for (let l = 0; l < layers; l++) {
        const { kernel, recurrent, bias } = this.w[l]!;
        const K = l === 0 ? (kernel.read() as tf.Tensor2D) : masked(kernel, this.masks.gates);
        const R = masked(recurrent, this.masks.gates);
        const proj = tf.reshape(tf.add(tf.matMul(seq, K), bias.read()), [T, B, 4 * SU]);
        const steps = tf.unstack(proj, 0) as tf.Tensor2D[];
        let c: tf.Tensor2D | null = null;
        h = null;
        const hs: tf.Tensor2D[] = [];
        for (let t = 0; t < T; t++) {
          const z: tf.Tensor2D = h ? tf.add(steps[t]!, tf.matMul(h, R)) : steps[t]!;
          const [zi, zf, zc, zo] = tf.split(z, 4, 1) as tf.Tensor2D[];
          const ig = tf.mul(tf.sigmoid(zi!), tf.tanh(zc!)) as tf.Tensor2D;
          const cNew: tf.Tensor2D = c ? tf.add(tf.mul(tf.sigmoid(zf!), c), ig) : ig;
          const hNew = tf.mul(tf.sigmoid(zo!), tf.tanh(cNew)) as tf.Tensor2D;
          c = cNew;
          h = hNew;
          if (l < layers - 1) hs.push(hNew);
        }
        if (l < layers - 1) seq = tf.concat(hs, 0); // [T·B, S·U], time-major
      }
      const maps = tf.add(tf.matMul(h!, masked(this.mapKernel!, this.masks.map)), this.mapBias!.read()); // [B, side²·S]
      return tf.reshape(maps, [B, side, side, S]);
    });
  }

  override dispose(): ReturnType<tf.layers.Layer['dispose']> {
    const r = super.dispose();
    if (r.refCountAfterDispose === 0 && this.masks) {
      this.masks.gates.dispose();
      this.masks.map.dispose();
      this.masks = null;
    }
    return r;
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { seed, ...rest } = this.cfg;
    return { ...super.getConfig(), ...rest, ...(seed !== undefined ? { seed } : {}) };
  }
}

tf.serialization.registerClass(LstmStacks as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
