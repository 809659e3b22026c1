/**
 * Shrinks a model directory's weights for shipping: every float32 weight tensor
 * is stored as uint8 with a per-tensor affine map (value ≈ q · scale + min), the
 * weights-manifest "quantization" entry that TensorFlow.js dequantizes when it
 * loads the model (so loading needs nothing special). A 4× smaller file; the
 * per-weight error is at most scale / 2 = (max − min) / 510.
 *
 * uint16 (2×, error (max − min) / 131070) is there for models that need it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StnnError } from '../util/errors.js';
import { readManifest, weightsDigest } from './registry.js';

export type QuantDtype = 'uint8' | 'uint16';

interface Spec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

/** Quantizes one tensor's values; returns the bytes and the map. */
export function quantizeTensor(values: Float32Array, dtype: QuantDtype): { bytes: Uint8Array; min: number; scale: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (values.length === 0) { min = 0; max = 0; }
  const levels = dtype === 'uint8' ? 255 : 65535;
  const scale = max > min ? (max - min) / levels : 1;
  const out = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    out[i] = Math.min(levels, Math.max(0, Math.round((values[i] - min) / scale)));
  }
  // tfjs reads the quantized values with the platform's (little-endian) typed arrays
  return { bytes: new Uint8Array(out.buffer), min, scale };
}

/**
 * Rewrites one application's model.json + weights.bin with quantized weights; returns [before,
 * after] bytes, or the stored dtype when every weight is quantized already (the model is left as
 * it is: an application added to a shipped 8-bit directory is the usual case).
 */
export function quantizeAppDir(appDir: string, dtype: QuantDtype): [number, number] | string {
  const jsonPath = join(appDir, 'model.json');
  const binPath = join(appDir, 'weights.bin');
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as { weightsManifest: { paths: string[]; weights: Spec[] }[]; weightsSha256?: string };
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const done = specs.filter((w) => w.quantization);
  if (specs.length > 0 && done.length === specs.length) return done[0]!.quantization!.dtype;
  const bin = readFileSync(binPath);
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const group of json.weightsManifest) {
    for (const spec of group.weights) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      if (spec.quantization) {
        throw new StnnError('STNN_MODEL', `${jsonPath}: weight ${spec.name} is already quantized (${spec.quantization.dtype})`);
      }
      if (spec.dtype !== 'float32') {
        const bytes = count * 4; // int32 tensors (none in these models) pass through
        parts.push(bin.subarray(off, off + bytes));
        off += bytes;
        continue;
      }
      const values = new Float32Array(bin.buffer.slice(bin.byteOffset + off, bin.byteOffset + off + count * 4));
      off += count * 4;
      const q = quantizeTensor(values, dtype);
      spec.quantization = { dtype, min: q.min, scale: q.scale };
      parts.push(q.bytes);
    }
  }
  if (off !== bin.length) throw new StnnError('STNN_MODEL', `${binPath}: ${bin.length} bytes, the manifest describes ${off}`);
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  json.weightsSha256 = weightsDigest(out);
  writeFileSync(binPath + '.tmp', out);
  writeFileSync(jsonPath + '.tmp', JSON.stringify(json));
  renameSync(binPath + '.tmp', binPath);
  renameSync(jsonPath + '.tmp', jsonPath);
  return [bin.length, out.length];
}

export type QuantizeOutcome = { app: string; before: number; after: number } | { app: string; already: string };

/** Quantizes every application of a model directory that is not quantized yet. */
export function quantizeModelDir(dir: string, dtype: QuantDtype): QuantizeOutcome[] {
  const manifest = readManifest(dir);
  if (!manifest) throw new StnnError('STNN_MODEL', `${dir}/manifest.json: no model manifest`);
  return Object.entries(manifest.apps).map(([app, e]) => {
    const r = quantizeAppDir(join(dir, e.dir), dtype);
    return typeof r === 'string' ? { app, already: r } : { app, before: r[0], after: r[1] };
  });
}
