import { spawnSync } from 'node:child_process';
import { shipped } from './paths.js';

/** Runs `stnn args…` in `cwd` to its end: exit status and both outputs. */
export function runStnn(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [shipped().stnn, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
