/**
 * Dataset file: one MessagePack map (plain MessagePack, no msgpackr extensions, so any msgpack
 * reader can open it):
 *
 *   format      'stnn-dataset/1'
 *   featureSet  feature-set version (features/names.ts FEATURE_SET_VERSION)
 *   names       feature names, d of them (115)
 *   n           number of rows (flows)
 *   X           bin: n·d float32, little-endian, row-major (row i = flow i's features)
 *   y           n labels (application name or 'background')
 *   split       bin: n bytes, 0 = train, 1 = validation, 2 = test
 *   file        n capture file names (source of each row)
 *   sni         n SNIs ('' when none): kept for labelling and auditing only, never a feature
 *   meta        free-form map (labels file, seed, split mode, extractor summary, …)
 *
 * readDataset checks every field and reports the first problem as a one-line StnnError naming the
 * file and the field.
 */
import { lstatSync, readFileSync, readlinkSync, realpathSync, renameSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { endianness } from 'node:os';
import { Packr } from 'msgpackr';
import { StnnError } from '../util/errors.js';

export const DATASET_FORMAT = 'stnn-dataset/1';

export interface Dataset {
  format: typeof DATASET_FORMAT;
  featureSet: string;
  names: string[];
  n: number;
  /** n × names.length, row-major */
  X: Float32Array;
  y: string[];
  split: Uint8Array;
  file: string[];
  sni: string[];
  meta: Record<string, unknown>;
}

const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });
const LITTLE = endianness() === 'LE';

function floatsToBytes(x: Float32Array): Uint8Array {
  if (LITTLE) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const out = new Uint8Array(x.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) dv.setFloat32(i * 4, x[i], true);
  return out;
}

function bytesToFloats(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  if (LITTLE) {
    new Uint8Array(out.buffer).set(b);
  } else {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  return out;
}

/** Checks the in-memory shape (same rules as reading); `where` prefixes the message. */
export function validateDataset(ds: Dataset, where: string): void {
  const bad = (field: string, why: string): never => {
    throw new StnnError('STNN_BAD_INPUT', `${where}: ${field}: ${why}`);
  };
  if (ds.format !== DATASET_FORMAT) bad('format', `expected '${DATASET_FORMAT}', got '${String(ds.format)}'`);
  if (typeof ds.featureSet !== 'string' || !ds.featureSet) bad('featureSet', 'missing');
  if (!Array.isArray(ds.names) || ds.names.length === 0 || ds.names.some((s) => typeof s !== 'string')) bad('names', 'expected a non-empty list of feature names');
  if (!Number.isSafeInteger(ds.n) || ds.n < 0) bad('n', `expected a row count, got ${String(ds.n)}`);
  const d = ds.names.length;
  if (!(ds.X instanceof Float32Array) || ds.X.length !== ds.n * d) {
    bad('X', `expected ${ds.n}×${d} float32 values, got ${ds.X instanceof Float32Array ? ds.X.length : typeof ds.X}`);
  }
  for (let i = 0; i < ds.X.length; i++) {
    if (!Number.isFinite(ds.X[i])) bad('X', `row ${Math.floor(i / d)}, feature ${ds.names[i % d]}: not a finite number`);
  }
  const strings = (field: 'y' | 'file' | 'sni') => {
    const v = ds[field];
    if (!Array.isArray(v) || v.length !== ds.n) bad(field, `expected ${ds.n} strings, got ${Array.isArray(v) ? v.length : typeof v}`);
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') bad(field, `row ${i}: not a string`);
  };
  strings('y');
  strings('file');
  strings('sni');
  for (let i = 0; i < ds.n; i++) if (ds.y[i] === '') bad('y', `row ${i}: empty label`);
  if (!(ds.split instanceof Uint8Array) || ds.split.length !== ds.n) bad('split', `expected ${ds.n} bytes`);
  for (let i = 0; i < ds.n; i++) if (ds.split[i] > 2) bad('split', `row ${i}: ${ds.split[i]} is not 0 (train), 1 (validation) or 2 (test)`);
  if (typeof ds.meta !== 'object' || ds.meta === null || Array.isArray(ds.meta)) bad('meta', 'expected a map');
}

/** Serialises a dataset (validated first). */
export function encodeDataset(ds: Dataset): Buffer {
  validateDataset(ds, 'dataset');
  // copy: msgpackr reuses its output buffer on the next pack()
  return Buffer.from(packr.pack({
    format: ds.format,
    featureSet: ds.featureSet,
    names: ds.names,
    n: ds.n,
    X: floatsToBytes(ds.X),
    y: ds.y,
    split: ds.split,
    file: ds.file,
    sni: ds.sni,
    meta: ds.meta,
  }));
}

/** Parses a dataset file's bytes; `path` names the file in errors. */
export function decodeDataset(buf: Uint8Array, path: string): Dataset {
  let raw: unknown;
  try {
    raw = packr.unpack(buf);
  } catch (err) {
    throw new StnnError('STNN_BAD_INPUT', `${path}: not a stnn dataset (MessagePack: ${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw new StnnError('STNN_BAD_INPUT', `${path}: not a stnn dataset (top level is not a map)`);
  }
  const r = raw as Record<string, unknown>;
  if (r.format !== DATASET_FORMAT) {
    throw new StnnError('STNN_BAD_INPUT', `${path}: format: expected '${DATASET_FORMAT}', got ${r.format === undefined ? 'none' : `'${String(r.format)}'`}`);
  }
  const bin = (field: string): Uint8Array => {
    const v = r[field];
    if (!(v instanceof Uint8Array)) throw new StnnError('STNN_BAD_INPUT', `${path}: ${field}: expected binary data`);
    return v;
  };
  const X = bin('X');
  if (X.byteLength % 4 !== 0) throw new StnnError('STNN_BAD_INPUT', `${path}: X: ${X.byteLength} bytes is not a whole number of float32`);
  const ds: Dataset = {
    format: DATASET_FORMAT,
    featureSet: r.featureSet as string,
    names: r.names as string[],
    n: r.n as number,
    X: bytesToFloats(X),
    y: r.y as string[],
    split: new Uint8Array(bin('split')),
    file: r.file as string[],
    sni: r.sni as string[],
    meta: (r.meta ?? {}) as Record<string, unknown>,
  };
  validateDataset(ds, path);
  return ds;
}

/**
 * Where an atomic write of `path` must rename its temp file to: the path itself when absent or a
 * regular file; a symlink's final target (so the link stays a link and the file it names is
 * written); null when the path is something else (character device, FIFO, socket), which is
 * written into directly — renaming over /dev/null would replace the device with a file.
 */
export function atomicTarget(path: string): string | null {
  let p = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    let l;
    try {
      l = lstatSync(p);
    } catch {
      return p; // absent: created by the rename
    }
    if (l.isFile()) return p;
    if (!l.isSymbolicLink()) return null;
    try {
      const st = statSync(p);
      return st.isFile() ? realpathSync(p) : null;
    } catch {
      p = resolve(dirname(p), readlinkSync(p)); // dangling link: create the file it names
    }
  }
  return resolve(path); // a link loop: the write fails (ELOOP) and names the path
}

/** Writes atomically (temporary file, then rename) where the path allows it (see atomicTarget). */
export function writeDataset(path: string, ds: Dataset): void {
  const buf = encodeDataset(ds);
  const target = atomicTarget(path);
  const tmp = target === null ? null : join(dirname(target), `${basename(target)}.tmp-${process.pid}`);
  try {
    if (tmp === null) {
      writeFileSync(path, buf);
    } else {
      writeFileSync(tmp, buf);
      renameSync(tmp, target!);
    }
  } catch (err) {
    if (tmp !== null) {
      try {
        unlinkSync(tmp);
      } catch {
        /* not created */
      }
    }
    throw new StnnError('STNN_RUNTIME', `${path}: cannot write dataset: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export interface ReadOptions {
  /** Fail unless the file's feature set is this one. */
  featureSet?: string;
}

export function readDataset(path: string, opts: ReadOptions = {}): Dataset {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new StnnError('STNN_BAD_INPUT', `${path}: cannot read dataset: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const ds = decodeDataset(buf, path);
  if (opts.featureSet !== undefined && ds.featureSet !== opts.featureSet) {
    throw new StnnError('STNN_BAD_INPUT', `${path}: featureSet: built with '${ds.featureSet}', this program uses '${opts.featureSet}' (rebuild the dataset)`);
  }
  return ds;
}

/** Row indices of one split (0 train, 1 validation, 2 test). */
export function splitRows(ds: Pick<Dataset, 'n' | 'split'>, which: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < ds.n; i++) if (ds.split[i] === which) out.push(i);
  return out;
}

/** Copies the given rows' features into one contiguous Float32Array (rows × d). */
export function gatherRows(ds: Pick<Dataset, 'X' | 'names'>, rows: readonly number[]): Float32Array {
  const d = ds.names.length;
  const out = new Float32Array(rows.length * d);
  for (let k = 0; k < rows.length; k++) out.set(ds.X.subarray(rows[k] * d, rows[k] * d + d), k * d);
  return out;
}
