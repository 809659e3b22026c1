/**
 * TensorFlow.js backend choice.
 *
 * Order when nothing is forced: tfjs-node (native libtensorflow; an optional dependency that is
 * often not installed) → wasm (ships its own binaries, SIMD) → cpu (plain JS). The chosen backend
 * is process-wide in tfjs, so this is called once per process (every later call returns the
 * backend already chosen unless a different one is forced).
 *
 * Threads: tfjs-backend-wasm 4.x disables its pthread build under Node (its feature flag returns
 * false when IS_NODE; the emscripten workers are created from blob: URLs that Node's Worker
 * refuses), so one wasm backend uses one core. Use several processes or worker threads (one model
 * replica each) to use more cores.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { StnnError } from '../util/errors.js';

export type BackendName = 'node' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['node', 'wasm', 'cpu'];

export interface BackendInfo {
  /** tfjs backend name as tfjs reports it: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** @tensorflow/tfjs version. */
  version: string;
  /** Why a preferred backend was not taken (empty when the first choice worked). */
  notes: string[];
}

const require = createRequire(import.meta.url);
let current: BackendInfo | null = null;
let wasmRegistered = false;

/** Directory holding tfjs-backend-wasm's .wasm files (Node must be told, or it tries fetch()). */
export function wasmDir(): string {
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  // main is …/tfjs-backend-wasm/dist/index.js (or tf-backend-wasm.node.js): the .wasm files sit in dist/
  return path.dirname(main) + path.sep;
}

async function tryNode(notes: string[]): Promise<boolean> {
  try {
    // A variable specifier keeps TypeScript from requiring the optional package's types.
    const spec = '@tensorflow/tfjs-node';
    await import(spec);
    return await tf.setBackend('tensorflow');
  } catch (err) {
    notes.push(`tfjs-node unavailable: ${String((err as Error).message ?? err).split('\n')[0]}`);
    return false;
  }
}

async function tryWasm(notes: string[]): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (!wasmRegistered) {
      wasm.setWasmPaths(wasmDir());
      wasmRegistered = true;
    }
    const ok = await tf.setBackend('wasm');
    if (!ok) notes.push('wasm backend failed to initialise');
    else {
      patchWasmMatMul();
      patchWasmSlicing();
    }
    return ok;
  } catch (err) {
    notes.push(`wasm unavailable: ${String((err as Error).message ?? err).split('\n')[0]}`);
    return false;
  }
}

/**
 * Chooses and initialises the backend. `prefer` forces one: if it cannot be initialised the call
 * fails with STNN_CAPABILITY instead of silently falling back.
 */
export async function initBackend(prefer?: BackendName): Promise<BackendInfo> {
  if (prefer !== undefined && !BACKEND_NAMES.includes(prefer)) {
    throw new StnnError('STNN_USAGE', `--backend: expected one of ${BACKEND_NAMES.join('|')}, got '${String(prefer)}'`);
  }
  if (current && (prefer === undefined || tfName(prefer) === current.name)) return current;
  // production mode: no debug checks, and no console banners (the cpu backend advertises
  // tfjs-node on first use); the backend we run on is printed by the commands themselves
  tf.env().set('PROD', true);
  const notes: string[] = [];
  let ok = false;
  if (prefer === 'node') ok = await tryNode(notes);
  else if (prefer === 'wasm') ok = await tryWasm(notes);
  else if (prefer === 'cpu') ok = await tf.setBackend('cpu');
  else ok = (await tryNode(notes)) || (await tryWasm(notes)) || (await tf.setBackend('cpu'));
  if (!ok) {
    throw new StnnError('STNN_CAPABILITY', `backend '${prefer}' cannot be initialised: ${notes.join('; ') || 'unknown reason'}`);
  }
  await tf.ready();
  current = { name: tf.getBackend(), version: tf.version.tfjs, notes };
  return current;
}

let matMulPatched = false;

/**
 * The wasm BatchMatMul kernel is ~10× slower when asked to transpose an operand (measured here:
 * patchesᵀ·dy [7744×576]ᵀ·[7744×64] 380-700 ms, explicit transpose + plain matMul 32-80 ms), and
 * every matMul gradient asks for a transposed operand. This wraps the kernel so that a transposed
 * operand is first transposed by the Transpose kernel and the product runs on the fast path. Same
 * arithmetic, same result; only where the transpose happens changes.
 */
export function patchWasmMatMul(): boolean {
  if (matMulPatched) return true;
  const orig = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!orig || !transpose) return false;
  type Info = { dataId: object; shape: number[]; dtype: string };
  type Args = { inputs: Record<string, Info>; backend: { disposeData(id: object): unknown }; attrs: Record<string, unknown> };
  const run = (cfg: typeof orig, args: Args) => (cfg.kernelFunc as unknown as (a: Args) => Info)(args);
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    kernelFunc: ((args: Args) => {
      const { inputs, backend, attrs } = args;
      if (!attrs['transposeA'] && !attrs['transposeB']) return run(orig, args);
      const temps: Info[] = [];
      const flip = (x: Info): Info => {
        const r = x.shape.length;
        const perm = [...Array(r - 2).keys(), r - 1, r - 2];
        const y = run(transpose, { inputs: { x }, backend, attrs: { perm } });
        temps.push(y);
        return y;
      };
      const a = attrs['transposeA'] ? flip(inputs['a']!) : inputs['a']!;
      const b = attrs['transposeB'] ? flip(inputs['b']!) : inputs['b']!;
      try {
        return run(orig, { inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      } finally {
        for (const t of temps) backend.disposeData(t.dataId);
      }
    }) as unknown as tf.KernelFunc,
  });
  matMulPatched = true;
  return true;
}

let slicingPatched = false;

interface WasmInfo { dataId: object; shape: number[]; dtype: string }
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): WasmInfo;
  typedArrayFromHeap(info: WasmInfo): Float32Array | Int32Array | Uint8Array;
}

/** Copies the box `begin`…`begin+size` of `src` (shape `shape`, row-major) into `dst`. */
function copyBox(src: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> }, shape: number[], begin: number[], size: number[], dst: { set(a: ArrayLike<number>, o: number): void }): void {
  const rank = shape.length;
  if (rank === 0) {
    dst.set(src.subarray(0, 1), 0);
    return;
  }
  const strides = tf.util.computeStrides(shape);
  // merge the trailing dimensions that are taken whole into one contiguous run
  let inner = 1;
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === shape[k]) inner *= shape[k--]!;
  inner *= size[k]!;
  const outerRank = k;
  let count = 1;
  for (let d = 0; d < outerRank; d++) count *= size[d]!;
  const idx = new Array<number>(outerRank).fill(0);
  let o = 0;
  const base = begin[k]! * (k < rank - 1 ? strides[k]! : 1);
  for (let n = 0; n < count; n++) {
    let off = base;
    for (let d = 0; d < outerRank; d++) off += (begin[d]! + idx[d]!) * strides[d]!;
    dst.set(src.subarray(off, off + inner), o);
    o += inner;
    for (let d = outerRank - 1; d >= 0; d--) {
      if (++idx[d]! < size[d]!) break;
      idx[d] = 0;
    }
  }
}

/**
 * tfjs-backend-wasm's Slice (and SplitV and Unpack, which call it) first copies the WHOLE input out
 * of the wasm heap (readSync → HEAPU8.slice) and then picks the part: splitting a [256, 920] tensor
 * in 4 copies it 4 times, unstacking [5, 256, 920] 5 times (measured: 5.7 ms and 31 ms, against
 * 0.13 ms for an add of the same size). These replacements copy only the part, from a view of the
 * heap taken after the output is allocated (allocation may grow, and so move, the heap).
 * Numeric dtypes only; strings go to the original kernels.
 */
export function patchWasmSlicing(): boolean {
  if (slicingPatched) return true;
  const names = ['Slice', 'SplitV', 'Unpack'] as const;
  const orig = Object.fromEntries(names.map((n) => [n, tf.getKernel(n, 'wasm')]));
  if (names.some((n) => !orig[n])) return false;
  type Args = { inputs: Record<string, WasmInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> };
  const callOrig = (n: string, args: Args) => (orig[n]!.kernelFunc as unknown as (a: Args) => unknown)(args);
  const part = (backend: WasmBackendLike, x: WasmInfo, begin: number[], size: number[], outShape: number[]): WasmInfo => {
    const out = backend.makeOutput(outShape, x.dtype);
    copyBox(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
    return out;
  };
  const register = (name: string, fn: (args: Args) => unknown) => {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
  };
  register('Slice', (args) => {
    const x = args.inputs['x']!;
    if (x.dtype === 'string') return callOrig('Slice', args);
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, args.attrs['begin'] as number[], args.attrs['size'] as number[]);
    return part(args.backend, x, begin, size, size);
  });
  register('SplitV', (args) => {
    const x = args.inputs['x']!;
    if (x.dtype === 'string') return callOrig('SplitV', args);
    const axis = tf.util.parseAxisParam(args.attrs['axis'] as number, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, args.attrs['numOrSizeSplits'] as number[] | number, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = x.shape.slice();
      size[axis] = s;
      const out = part(args.backend, x, begin, size, size);
      begin[axis]! += s;
      return out;
    });
  });
  register('Unpack', (args) => {
    const x = args.inputs['value']!;
    if (x.dtype === 'string') return callOrig('Unpack', args);
    let axis = args.attrs['axis'] as number;
    if (axis < 0) axis += x.shape.length;
    const outShape = x.shape.filter((_, i) => i !== axis);
    const size = x.shape.slice();
    size[axis] = 1;
    const begin = new Array<number>(x.shape.length).fill(0);
    const outs: WasmInfo[] = [];
    for (let i = 0; i < x.shape[axis]!; i++) {
      begin[axis] = i;
      outs.push(part(args.backend, x, begin, size, outShape));
    }
    return outs;
  });
  slicingPatched = true;
  return true;
}

function tfName(b: BackendName): string {
  return b === 'node' ? 'tensorflow' : b;
}

/** One line for logs: "tfjs 4.22.0 backend wasm". */
export function describeBackend(info: BackendInfo): string {
  return `tfjs ${info.version} backend ${info.name}`;
}

/** Parses a --backend value (undefined → automatic). */
export function parseBackendOption(value: string | undefined): BackendName | undefined {
  if (value === undefined || value === 'auto') return undefined;
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new StnnError('STNN_USAGE', `--backend: expected auto|${BACKEND_NAMES.join('|')}, got '${value}'`);
}
