/**
 * Model directory:
 *
 *   DIR/manifest.json      format, feature set, architecture, normaliser, engine, apps
 *   DIR/<app>/model.json   tfjs-layers topology + weights manifest (tfjs' own layout), and
 *                          weightsSha256, the SHA-256 of weights.bin, checked at load
 *   DIR/<app>/weights.bin  float32 weights (8-bit after 'stnn models quantize')
 *   DIR/<app>/curve.csv    per-epoch loss/accuracy of the training that made it
 *
 * All applications of a directory share one architecture, feature set and normaliser (see
 * normalize.ts). Writing an application never touches another one: its files go to a temporary
 * directory renamed into place, then the manifest is rewritten atomically (temp file + rename).
 * Files are read and written with node:fs (tfjs' file:// handlers exist only in tfjs-node).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { FEATURE_SET_VERSION } from '../features/names.js';
import { StnnError } from '../util/errors.js';
import { processAlive } from '../util/process.js';
import { appNameProblem } from '../util/app-name.js';
import { checkNormalizer, type Normalizer } from './normalize.js';
import { ARCH_KINDS, ARCH_SIZES, N_FEATURES, type ArchKind, type ArchSize } from './stnn.js';
export { scoreBatch, scoreBatchDetailed, type Scores } from './score.js';

/** Bumped when the directory layout or manifest meaning changes incompatibly. */
export const MODEL_FORMAT_VERSION = 'stnn-models/1';
export const MANIFEST = 'manifest.json';

export interface Arch {
  kind: ArchKind;
  size: ArchSize;
}

export interface AppEntry {
  /** Sub-directory (relative to the model directory) holding model.json and weights.bin. */
  dir: string;
  /** v_j for the 7 gaps (voting.ts). */
  votingList: number[];
  /** ISO time of the end of training. */
  trainedAt: string;
  /** Validation metrics and training facts (free-form numbers). */
  metrics: Record<string, number>;
  /** Row counts the model was trained on. */
  dataSummary: Record<string, unknown>;
}

export interface Manifest {
  format: typeof MODEL_FORMAT_VERSION;
  featureSet: string;
  arch: Arch;
  normalizer: Normalizer;
  apps: Record<string, AppEntry>;
  engine: { tfjs: string; backend: string };
  createdAt: string;
  updatedAt: string;
}

/** What a directory must match: this build's feature set, and optionally an architecture. */
export interface Expectation {
  featureSet?: string;
  arch?: Arch;
}


/** Checks an application name (it becomes a directory name). */
export function checkAppName(app: string): string {
  const problem = appNameProblem(app);
  if (problem) throw new StnnError('STNN_USAGE', `application name ${problem}`);
  return app;
}

function manifestPath(dir: string): string {
  return path.join(dir, MANIFEST);
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new StnnError('STNN_RUNTIME', `${file}: cannot write: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function sameArch(a: Arch, b: Arch): boolean {
  return a.kind === b.kind && a.size === b.size;
}

function archText(a: Arch): string {
  return `${a.kind}/${a.size}`;
}

/** Parses and checks manifest.json (null when the directory has none). */
export function readManifest(dir: string, expect: Expectation = {}): Manifest | null {
  const file = manifestPath(dir);
  if (!existsSync(file)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new StnnError('STNN_MODEL', `${file}: not readable JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const m = raw as Partial<Manifest> | null;
  const bad = (field: string, why: string): never => {
    throw new StnnError('STNN_MODEL', `${file}: ${field}: ${why}`);
  };
  if (!m || typeof m !== 'object' || Array.isArray(m)) bad('(top level)', 'expected an object');
  if (m!.format !== MODEL_FORMAT_VERSION) bad('format', `expected '${MODEL_FORMAT_VERSION}', got '${String(m!.format)}'`);
  if (typeof m!.featureSet !== 'string') bad('featureSet', 'missing');
  const want = expect.featureSet ?? FEATURE_SET_VERSION;
  if (m!.featureSet !== want) {
    throw new StnnError('STNN_MODEL', `${file}: feature-set '${m!.featureSet}' does not match this build's '${want}' (retrain the models)`);
  }
  const a = m!.arch as Partial<Arch> | undefined;
  if (!a || !ARCH_KINDS.includes(a.kind as ArchKind) || !ARCH_SIZES.includes(a.size as ArchSize)) {
    bad('arch', `expected {kind: ${ARCH_KINDS.join('|')}, size: ${ARCH_SIZES.join('|')}}, got ${JSON.stringify(a)}`);
  }
  if (expect.arch && !sameArch(a as Arch, expect.arch)) {
    throw new StnnError('STNN_MODEL', `${file}: architecture '${archText(a as Arch)}' does not match the requested '${archText(expect.arch)}'`);
  }
  const normalizer = checkNormalizer(m!.normalizer, N_FEATURES, file);
  if (!m!.apps || typeof m!.apps !== 'object' || Array.isArray(m!.apps)) bad('apps', 'expected an object');
  for (const [app, e] of Object.entries(m!.apps!)) {
    if (appNameProblem(app)) bad(`apps.${app}`, 'not a valid application name');
    if (!e || typeof e.dir !== 'string' || e.dir !== app) bad(`apps.${app}.dir`, `expected '${app}'`);
    if (!Array.isArray(e.votingList) || !e.votingList.every((v) => typeof v === 'number' && v >= 0 && v <= 1)) {
      bad(`apps.${app}.votingList`, 'expected numbers in [0, 1]');
    }
  }
  return { ...(m as Manifest), normalizer };
}

/**
 * SHA-256 (hex) of a weights file's bytes, stored in its model.json as `weightsSha256`: TensorFlow.js
 * takes any bytes of the right length (and ignores bytes past the end), so without it a damaged
 * or replaced weights.bin would load and silently give other verdicts.
 */
export function weightsDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Serialises a model to {model.json, weights.bin} contents. */
async function modelFiles(model: tf.LayersModel): Promise<{ json: string; weights: Uint8Array }> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const a = artifacts as unknown as tf.io.ModelArtifacts;
  const data = a.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(a.weightData);
  const json = JSON.stringify({
    modelTopology: a.modelTopology,
    format: a.format ?? 'layers-model',
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy ?? null,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs ?? [] }],
    weightsSha256: weightsDigest(new Uint8Array(data)),
  });
  return { json, weights: new Uint8Array(data) };
}

async function loadModelFiles(dir: string, where: string): Promise<tf.LayersModel> {
  let json: { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[]; weightsSha256?: string };
  let weights: Buffer;
  try {
    json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    weights = readFileSync(path.join(dir, 'weights.bin'));
  } catch (err) {
    throw new StnnError('STNN_MODEL', `${where}: cannot read model files in ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message.split('\n')[0]}`);
  }
  // Directories written before the digest existed have none: they load as before.
  if (json.weightsSha256 !== undefined && json.weightsSha256 !== weightsDigest(weights)) {
    throw new StnnError('STNN_MODEL', `${where}: ${path.join(dir, 'weights.bin')} does not match the SHA-256 in its model.json (the file is damaged or was replaced)`);
  }
  const specs = json.weightsManifest?.flatMap((g) => g.weights) ?? [];
  try {
    const buf = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
    return await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: buf }));
  } catch (err) {
    throw new StnnError('STNN_MODEL', `${where}: cannot load the model in ${dir}: ${(err as Error).message.split('\n')[0]}`);
  }
}

export interface SaveInfo {
  featureSet: string;
  arch: Arch;
  normalizer: Normalizer;
  engine: { tfjs: string; backend: string };
  entry: Omit<AppEntry, 'dir'>;
  /** Extra files to put next to the model (name → contents), e.g. curve.csv. */
  extraFiles?: Record<string, string | Uint8Array>;
}

/**
 * Writes (or replaces) one application's model and its manifest entry. An existing directory must
 * have the same feature set, architecture and normaliser.
 */
export async function saveApp(dir: string, app: string, model: tf.LayersModel, info: SaveInfo): Promise<Manifest> {
  checkAppCompatible(dir, info);
  const staged = await writeAppFiles(dir, app, model, info.extraFiles);
  return installApp(dir, app, staged, info);
}

/** Fails unless the directory (if it has a manifest) can take a model made with `info`. */
function checkAppCompatible(dir: string, info: Pick<SaveInfo, 'featureSet' | 'arch' | 'normalizer'>): Manifest | null {
  const old = readManifest(dir, { featureSet: info.featureSet, arch: info.arch });
  if (old && JSON.stringify(old.normalizer) !== JSON.stringify(info.normalizer)) {
    throw new StnnError('STNN_MODEL', `${manifestPath(dir)}: normalizer: the directory's normaliser differs from the one this model was trained with`);
  }
  return old;
}

/** Temporary entries in a model directory: `.NAME.tmp-PID` or `.NAME.tmp-PID-THREAD`, and `manifest.json.tmp-PID`. */
const TEMP_ENTRY = /^(?:\..+|manifest\.json)\.(?:tmp|old)-(\d+)(?:-\d+)?$/;

/**
 * This thread's staging directory for an application: its files are written there (training
 * writes its curve into it as it goes) and renamed into place by installApp.
 */
export function stagingDir(dir: string, app: string): string {
  checkAppName(app);
  return path.join(dir, `.${app}.tmp-${process.pid}-${threadId}`);
}

/**
 * Removes temporary entries left in a model directory: by processes that are gone (a training
 * killed or interrupted), or with `ownPid`, this process's (on SIGINT). Returns their names.
 */
export function removeTempEntries(dir: string, ownPid?: number): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_ENTRY.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (ownPid !== undefined ? pid !== ownPid : pid === process.pid || processAlive(pid)) continue;
    const aside = /^\.(.+)\.old-\d+$/.exec(name);
    if (aside && !existsSync(path.join(dir, aside[1]!))) {
      // killed between moving the previous model aside and putting the new one in place: the
      // manifest still describes the previous one, so it goes back
      renameSync(path.join(dir, name), path.join(dir, aside[1]!));
    } else {
      rmSync(path.join(dir, name), { recursive: true, force: true });
    }
    removed.push(name);
  }
  return removed;
}

/**
 * The first half of saveApp: the application's files (model.json, weights.bin, extra files) in
 * its staging directory (made if needed; what is already there, such as a training curve, stays).
 * Returns that directory. Files of different applications never collide, so several trainers
 * (worker threads) may write at once; installApp, one caller at a time, puts them in place.
 */
export async function writeAppFiles(dir: string, app: string, model: tf.LayersModel, extraFiles: Record<string, string | Uint8Array> = {}): Promise<string> {
  const staged = stagingDir(dir, app);
  mkdirSync(staged, { recursive: true });
  const { json, weights } = await modelFiles(model);
  writeFileSync(path.join(staged, 'model.json'), json);
  writeFileSync(path.join(staged, 'weights.bin'), weights);
  for (const [name, body] of Object.entries(extraFiles)) writeFileSync(path.join(staged, path.basename(name)), body);
  return staged;
}

/**
 * The second half of saveApp: puts a staged application in place and writes its manifest entry.
 * Synchronous from start to end, so a signal handler (which runs between tasks) cannot see the
 * files and the manifest disagree. The previous files of the application are kept until the new
 * ones are in place: when a rename fails, the directory is as it was.
 */
export function installApp(dir: string, app: string, staged: string, info: Omit<SaveInfo, 'extraFiles'>): Manifest {
  checkAppName(app);
  const old = checkAppCompatible(dir, info);
  const final = path.join(dir, app);
  const aside = path.join(dir, `.${app}.old-${process.pid}`);
  const fail = (err: unknown, what: string): never => {
    rmSync(staged, { recursive: true, force: true });
    throw new StnnError('STNN_RUNTIME', `${final}: cannot ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  };
  const hadOld = existsSync(final);
  if (hadOld) {
    rmSync(aside, { recursive: true, force: true });
    try { renameSync(final, aside); } catch (err) { fail(err, 'move the previous model aside'); }
  }
  try {
    renameSync(staged, final);
  } catch (err) {
    if (hadOld) renameSync(aside, final);
    fail(err, 'put the new model in place');
  }
  const now = new Date().toISOString();
  const m: Manifest = old ?? {
    format: MODEL_FORMAT_VERSION,
    featureSet: info.featureSet,
    arch: info.arch,
    normalizer: info.normalizer,
    apps: {},
    engine: info.engine,
    createdAt: now,
    updatedAt: now,
  };
  m.apps[app] = { dir: app, ...info.entry };
  m.engine = info.engine;
  m.updatedAt = now;
  try {
    writeAtomic(manifestPath(dir), JSON.stringify(m, null, 2) + '\n');
  } catch (err) {
    // the manifest still describes the previous model: put its files back
    rmSync(final, { recursive: true, force: true });
    if (hadOld) renameSync(aside, final);
    throw err;
  }
  if (hadOld) rmSync(aside, { recursive: true, force: true });
  return m;
}

/**
 * Loads every application's model. Fails with a clear STNN_MODEL error when the directory has no
 * manifest, was built for another feature set or architecture, or a model's topology is not the
 * manifest's architecture.
 */
export async function loadModels(dir: string, expect: Expectation = {}): Promise<{ manifest: Manifest; models: Map<string, tf.LayersModel> }> {
  const manifest = readManifest(dir, expect);
  if (!manifest) throw new StnnError('STNN_MODEL', `${manifestPath(dir)}: no model manifest (train with 'stnn train … --models ${dir}')`);
  // A directory whose applications were all removed would call every flow unknown: say so instead.
  if (Object.keys(manifest.apps).length === 0) {
    throw new StnnError('STNN_MODEL', `${manifestPath(dir)}: no applications in this model directory (train some with 'stnn train … --models ${dir}')`);
  }
  const models = new Map<string, tf.LayersModel>();
  const want = `stnn_${manifest.arch.kind}_${manifest.arch.size}`;
  for (const app of Object.keys(manifest.apps).sort()) {
    const m = await loadModelFiles(path.join(dir, manifest.apps[app]!.dir), manifestPath(dir));
    const inShape = m.inputs[0]?.shape;
    if (m.name !== want || inShape?.length !== 2 || inShape[1] !== N_FEATURES) {
      m.dispose();
      for (const other of models.values()) other.dispose();
      throw new StnnError('STNN_MODEL', `${path.join(dir, app, 'model.json')}: architecture '${m.name}' does not match the manifest's '${want}'`);
    }
    models.set(app, m);
  }
  return { manifest, models };
}

/** Removes one application (its files and manifest entry). */
export function removeApp(dir: string, app: string): Manifest {
  const m = readManifest(dir);
  if (!m) throw new StnnError('STNN_MODEL', `${manifestPath(dir)}: no model manifest`);
  if (!m.apps[app]) throw new StnnError('STNN_USAGE', `${manifestPath(dir)}: no application '${app}' (have: ${Object.keys(m.apps).sort().join(', ') || 'none'})`);
  const sub = m.apps[app]!.dir;
  delete m.apps[app];
  m.updatedAt = new Date().toISOString();
  writeAtomic(manifestPath(dir), JSON.stringify(m, null, 2) + '\n');
  rmSync(path.join(dir, sub), { recursive: true, force: true });
  return m;
}

/** Applications of a directory with their entries, sorted by name. */
export function listApps(dir: string): { manifest: Manifest; apps: [string, AppEntry][] } {
  const m = readManifest(dir);
  if (!m) throw new StnnError('STNN_MODEL', `${manifestPath(dir)}: no model manifest`);
  return { manifest: m, apps: Object.entries(m.apps).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
}
