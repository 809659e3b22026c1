/**
 * `mkdir -p` for the directories of outputs and spools, one level at a time. Node 20's
 * fs.mkdirSync(dir, { recursive: true }) never returns for a path under /proc (mkdir there says
 * ENOENT, the parent exists, and it retries forever at 100 % CPU); here the first level that
 * cannot be made fails with its own error (ENOENT, EACCES, EROFS…).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The nearest existing path at or above `p` and its stat, with the levels below it that do not
 * exist (outermost first). Throws the stat error of anything but a missing level (EACCES, ELOOP…).
 */
export function nearestExisting(p: string): { path: string; stat: fs.Stats; missing: string[] } {
  const missing: string[] = [];
  let q = path.resolve(p);
  for (;;) {
    try {
      return { path: q, stat: fs.statSync(q), missing: missing.reverse() };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const up = path.dirname(q);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || up === q) throw e;
      missing.push(q);
      q = up;
    }
  }
}

/** The directories of `dir` that do not exist yet, outermost first; throws ENOTDIR for a file in the way. */
function missingLevels(dir: string): string[] {
  const { path: q, stat, missing } = nearestExisting(dir);
  if (!stat.isDirectory()) {
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${q}'`), { code: 'ENOTDIR', syscall: 'mkdir', path: q });
  }
  return missing;
}

/** Why a directory could not be made: 'cannot create directory /proc/x: ENOENT (no such file or directory)'. */
export function mkdirFailure(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOTDIR' || (err.code === 'EEXIST' && err.syscall === 'mkdir')) return `${err.path} is not a directory`;
  const text = (err.message ?? String(e)).replace(/^[A-Z]+: /, '').replace(/, \w+ '[^']*'$/, '');
  return err.code && err.path ? `cannot create directory ${err.path}: ${err.code} (${text})` : err.message ?? String(e);
}

/** Makes `dir` and its missing parents (mkdir -p); throws the error of the first level that fails. */
export function makeDirs(dir: string): void {
  for (const level of missingLevels(dir)) {
    try {
      fs.mkdirSync(level);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(level).isDirectory()) continue; // made meanwhile
      throw e;
    }
  }
}

/**
 * Whether makeDirs(dir) would work, without leaving anything behind: the first missing level is
 * made and removed at once (a permission check cannot tell that /proc refuses new directories).
 * Returns '' or the reason (mkdirFailure).
 */
export function probeDirs(dir: string): string {
  try {
    const first = missingLevels(dir)[0];
    if (first === undefined) return '';
    fs.mkdirSync(first);
    fs.rmdirSync(first);
    return '';
  } catch (e) {
    return mkdirFailure(e);
  }
}
